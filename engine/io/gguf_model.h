// A GGUF file seen as a Hugging Face checkpoint: the config.json transformers would write for
// it, Hugging Face tensor names and shapes, and each tensor dequantized on demand in HF layout
// (llama.cpp's q/k row permutation undone). Architectures: llama (LLaMA, SmolLM, Mistral-style)
// and qwen2. This is the whole interface the model loader needs (models/model_loader.cpp).
#pragma once
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/gguf.h"

namespace qs {

struct GgufModelTensor {
    std::string hf_name;          // "model.layers.0.self_attn.q_proj.weight"
    std::string gguf_name;        // "blk.0.attn_q.weight"
    std::vector<int64_t> shape;   // HF (torch) shape
    uint32_t ggml_type = 0;       // storage type in the file (GgmlType)
    int64_t unpermute_heads = 0;  // > 0: rows are in llama.cpp's rotary order for this many heads
    std::string type_name() const { return ggml_type_name(ggml_type); }
};

class GgufModel {
  public:
    // Throws qs::Error naming the file and the key/tensor for unsupported architectures,
    // missing metadata, unexpected tensors or shapes, and split (multi-file) GGUFs.
    explicit GgufModel(const std::string& path);

    const std::string& path() const { return file_->path(); }
    const GgufFile& file() const { return *file_; }
    std::shared_ptr<const GgufFile> shared_file() const { return file_; }
    // The config.json transformers would use: model_type, architectures, sizes, rope, tokens.
    const nlohmann::json& hf_config() const { return config_; }
    const std::vector<GgufModelTensor>& tensors() const { return tensors_; }  // file order
    bool has(const std::string& hf_name) const { return index_.count(hf_name) != 0; }
    const GgufModelTensor& info(const std::string& hf_name) const;  // throws if absent
    // Dequantized (bit-exact float32 values, then converted to dtype), in HF layout.
    at::Tensor load(const std::string& hf_name, c10::ScalarType dtype) const;
    // The storage type that holds most of the Linear weights ("Q4_1"), for summaries.
    std::string main_type() const;
    std::vector<std::string> warnings;  // e.g. tensors ignored

  private:
    std::shared_ptr<GgufFile> file_;
    nlohmann::json config_;
    std::vector<GgufModelTensor> tensors_;
    std::map<std::string, size_t> index_;
};

}  // namespace qs
