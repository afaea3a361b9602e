#include "models/original_weights.h"

#include <set>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/gguf_model.h"
#include "io/safetensors.h"

namespace qs {

OriginalWeights::OriginalWeights(std::shared_ptr<const Checkpoint> ck, c10::Device device, c10::ScalarType dtype)
    : ck_(std::move(ck)), device_(device), dtype_(dtype) {
    zero_copy_ = device_.is_cpu();
}

OriginalWeights::OriginalWeights(std::shared_ptr<const GgufModel> gguf, c10::Device device, c10::ScalarType dtype)
    : gguf_(std::move(gguf)), device_(device), dtype_(dtype) {}

std::string OriginalWeights::label() const { return ck_ ? ck_->dir() : gguf_->path(); }

void OriginalWeights::add(const std::string& canonical, const std::string& stored) {
    names_[canonical] = stored;
    if (zero_copy_ && ck_) {
        const TensorInfo& ti = ck_->info(stored);
        if (safetensors_to_scalar(ti.dtype) != dtype_) zero_copy_ = false;
    }
}

bool OriginalWeights::has(const std::string& canonical) const { return names_.count(canonical) != 0; }

const std::string& OriginalWeights::stored_name(const std::string& canonical) const {
    auto it = names_.find(canonical);
    if (it == names_.end()) throw Error(label() + ": the model has no original tensor '" + canonical + "'");
    return it->second;
}

at::Tensor OriginalWeights::fetch(const std::string& stored, c10::Device device, c10::ScalarType dtype) const {
    c10::InferenceMode guard;
    if (gguf_) {
        at::Tensor t = gguf_->load(stored, dtype);  // dequantized, HF layout
        return device.is_cpu() ? t : t.to(device);
    }
    const TensorInfo& ti = ck_->info(stored);
    if (device.is_cpu() && safetensors_to_scalar(ti.dtype) == dtype) {
        at::Tensor v = ck_->view(stored);
        if (v.defined()) return v;
    }
    at::Tensor t = ck_->load(stored, dtype);  // copies slice by slice, dropping mapped pages
    return device.is_cpu() ? t : t.to(device);
}

at::Tensor OriginalWeights::get(const std::string& canonical) const {
    const std::string& stored = stored_name(canonical);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = alive_.find(canonical);
        if (it != alive_.end()) {
            auto strong = it->second.lock();
            if (strong) return at::Tensor(std::move(strong));
        }
    }
    return fetch(stored, device_, dtype_);
}

at::Tensor OriginalWeights::get_as(const std::string& canonical, c10::Device device, c10::ScalarType dtype) const {
    c10::InferenceMode guard;
    if (device == device_ && dtype == dtype_) return get(canonical);
    const std::string& stored = stored_name(canonical);
    if (device.is_cpu() && ck_) {
        at::Tensor v = ck_->view(stored);
        if (v.defined()) {
            at::Tensor out = v.to(dtype);
            if (out.is_same(v)) return v;
            ck_->release(v);
            return out;
        }
    }
    return fetch(stored, device, dtype);
}

void OriginalWeights::remember(const std::string& canonical, const at::Tensor& t) const {
    if (!t.defined()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    Weak w(t.getIntrusivePtr());
    auto it = alive_.find(canonical);
    if (it == alive_.end())
        alive_.emplace(canonical, std::move(w));
    else
        it->second = std::move(w);
}

bool OriginalWeights::is_original(const std::string& canonical, const at::Tensor& t) const {
    if (!t.defined()) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = alive_.find(canonical);
    if (it == alive_.end()) return false;
    auto strong = it->second.lock();
    return strong && strong.get() == t.unsafeGetTensorImpl();
}

int64_t OriginalWeights::parameter_count() const {
    std::set<std::string> stored;
    for (const auto& kv : names_) stored.insert(kv.second);
    int64_t n = 0;
    for (const auto& s : stored) {
        int64_t e = 1;
        for (int64_t d : ck_ ? ck_->info(s).shape : gguf_->info(s).shape) e *= d;
        n += e;
    }
    return n;
}

void OriginalWeights::release(const at::Tensor& t) const {
    if (ck_) ck_->release(t);
}
void OriginalWeights::release_all() const {
    if (ck_) ck_->release_all();
}

}  // namespace qs
