// The original weights of a loaded model, served from the memory-mapped checkpoint instead of
// a second copy in memory (issue #12). A model's tensors start as these originals; methods
// replace tensors (never write in place), and the session puts the originals back on reset.
//
// get(name) returns the original tensor in the model's dtype on the model's device:
//  - CPU, same dtype as stored, aligned: a zero-copy view of the mapped file (costs no memory
//    beyond the page cache; release() drops its pages from the process's RSS);
//  - otherwise the tensor the model received at load (or at the last reset) while anything still
//    holds it (a weak reference: no extra copy is ever kept), else converted/uploaded anew.
// All methods are thread-safe: previews and statistics read originals on worker threads while
// the session changes the model's working weights.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/util/intrusive_ptr.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace qs {

class Checkpoint;
class GgufModel;

class OriginalWeights {
  public:
    OriginalWeights(std::shared_ptr<const Checkpoint> ck, c10::Device device, c10::ScalarType dtype);
    // A GGUF file: originals are dequantized from the mapped file on demand (never zero-copy).
    OriginalWeights(std::shared_ptr<const GgufModel> gguf, c10::Device device, c10::ScalarType dtype);

    // canonical (HF, "model."-prefixed) name -> name stored in the checkpoint
    void add(const std::string& canonical, const std::string& stored);
    bool has(const std::string& canonical) const;
    const std::string& stored_name(const std::string& canonical) const;  // throws qs::Error if unknown

    at::Tensor get(const std::string& canonical) const;
    // The same tensor on another device/dtype, without touching the weak registry (previews read
    // float32 on the CPU whatever the model's device).
    at::Tensor get_as(const std::string& canonical, c10::Device device, c10::ScalarType dtype) const;
    // Records that `t` (what get() returned) is now the model's tensor for `canonical`, so that a
    // later get() returns it again while it is alive instead of converting anew.
    void remember(const std::string& canonical, const at::Tensor& t) const;
    // True when `t` is the original tensor of `canonical` (same storage as get() would return).
    bool is_original(const std::string& canonical, const at::Tensor& t) const;

    // Drops the mapped pages of a zero-copy tensor (no-op for others) / of the whole checkpoint.
    void release(const at::Tensor& t) const;
    void release_all() const;

    int64_t parameter_count() const;               // of the distinct stored tensors (tied weights once)
    bool zero_copy() const { return zero_copy_; }  // originals are views of the mapped file
    c10::Device device() const { return device_; }
    c10::ScalarType dtype() const { return dtype_; }

  private:
    at::Tensor fetch(const std::string& stored, c10::Device device, c10::ScalarType dtype) const;

    std::string label() const;  // the folder or file, for errors
    std::shared_ptr<const Checkpoint> ck_;
    std::shared_ptr<const GgufModel> gguf_;
    c10::Device device_;
    c10::ScalarType dtype_;
    bool zero_copy_ = false;
    std::map<std::string, std::string> names_;
    using Weak = c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>;
    mutable std::mutex mutex_;
    mutable std::map<std::string, Weak> alive_;
};

}  // namespace qs
