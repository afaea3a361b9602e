#include "eval/kl_divergence.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace qs {

nlohmann::json kl_stats_json(const KlStats& k) {
    return {{"mean", k.mean}, {"median", k.median},       {"p99_9", k.p99_9},
            {"max", k.max},   {"top1_agreement", k.top1}, {"tokens", k.tokens}};
}

namespace {
std::string shape_str(const at::Tensor& t) {
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + "]";
}
}  // namespace

at::Tensor token_kl(const at::Tensor& base_logits, const at::Tensor& logits, int64_t* agree) {
    c10::InferenceMode guard;
    if (!base_logits.sizes().equals(logits.sizes()) || logits.dim() < 1)
        throw Error("KL divergence: base logits " + shape_str(base_logits) + " and quantized logits " +
                    shape_str(logits) + " differ in shape");
    const int64_t V = logits.size(-1);
    at::Tensor lb = at::log_softmax(base_logits.reshape({-1, V}).to(at::kFloat), -1);
    at::Tensor lq = at::log_softmax(logits.reshape({-1, V}).to(at::kFloat), -1);
    at::Tensor kl = (lb.exp() * (lb - lq)).sum(-1);
    if (agree) *agree += lb.argmax(-1).eq(lq.argmax(-1)).sum().item<int64_t>();
    return kl.cpu().contiguous();
}

double percentile_sorted(const std::vector<float>& v, double fraction) {
    if (v.empty()) throw Error("percentile of an empty set");
    if (fraction <= 0) return v.front();
    if (fraction >= 1) return v.back();
    const double p = fraction * static_cast<double>(v.size() - 1);
    const size_t i = static_cast<size_t>(p);
    const double f = p - static_cast<double>(i);
    const size_t j = std::min(i + 1, v.size() - 1);
    return (1 - f) * static_cast<double>(v[i]) + f * static_cast<double>(v[j]);
}

void KlAccumulator::add(const at::Tensor& base_logits, const at::Tensor& logits) {
    at::Tensor kl = token_kl(base_logits, logits, &agree_);
    const float* p = kl.data_ptr<float>();
    kl_.insert(kl_.end(), p, p + kl.numel());
}

KlStats KlAccumulator::stats() const {
    KlStats s;
    s.tokens = tokens();
    if (kl_.empty()) return s;
    std::vector<float> v = kl_;
    std::sort(v.begin(), v.end());
    double sum = 0;
    for (float x : kl_) sum += x;
    s.mean = sum / static_cast<double>(v.size());
    s.median = percentile_sorted(v, 0.5);
    s.p99_9 = percentile_sorted(v, 0.999);
    s.max = v.back();
    s.top1 = static_cast<double>(agree_) / static_cast<double>(v.size());
    return s;
}

}  // namespace qs
