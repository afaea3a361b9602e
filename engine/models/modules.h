// Building blocks of the decoder-only models: Linear (addressable by its HF name,
// observable and swappable), Norm (LayerNorm / RMSNorm) and the decoder block layout.
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>

namespace qs {

struct Linear;
// Called with the input of a Linear during forward (calibration statistics, AWQ inputs).
using LinearObserver = std::function<void(const Linear&, const at::Tensor& input)>;

// A weight stored in a packed/quantized form that is dequantized on the fly.
struct PackedWeight {
    virtual ~PackedWeight() = default;
    virtual at::Tensor dequantize(c10::ScalarType dtype) const = 0;  // [out, in]
    virtual int64_t storage_bytes() const = 0;
    virtual std::string format() const = 0;  // "awq-gemm", "int8"
};

struct Linear {
    std::string name;   // HF module name, e.g. "model.layers.3.self_attn.q_proj"
    at::Tensor weight;  // [out, in]; undefined when the layer is absent or packed
    at::Tensor bias;    // undefined when the layer has no bias
    std::shared_ptr<const PackedWeight> packed;
    int64_t in_features = 0, out_features = 0;
    std::string source_type;  // how the source file stores the weight: "BF16", "Q4_K" (GGUF), "awq-gemm"
    // Optional fake-quant hooks set by quantization methods (activation / BMM-input quant).
    std::function<at::Tensor(const at::Tensor&)> input_fn;
    std::function<at::Tensor(const at::Tensor&)> output_fn;
    const LinearObserver* observer = nullptr;  // owned by the model
    // Part of the architecture even while its weight is not in memory (a block of a
    // block-sequential session between passes). Set by the loader.
    bool exists = false;

    bool present() const { return exists || weight.defined() || packed != nullptr; }
    at::Tensor dense_weight() const;  // weight, or the packed weight dequantized
    at::Tensor forward(const at::Tensor& x) const;
};

struct Norm {
    enum class Kind { Layer, RMS };
    Kind kind = Kind::Layer;
    std::string name;         // HF module name, e.g. "model.layers.0.input_layernorm"
    at::Tensor weight, bias;  // weight undefined for non-affine LayerNorm
    double eps = 1e-5;
    int64_t dim = 0;
    bool present() const { return dim > 0; }
    at::Tensor forward(const at::Tensor& x) const;
};

// One decoder layer. OPT: up = fc1, down = fc2, no gate. LLaMA: gate/up/down.
struct DecoderBlock {
    Norm attn_norm;  // OPT self_attn_layer_norm, LLaMA input_layernorm
    Norm mlp_norm;   // OPT final_layer_norm,    LLaMA post_attention_layernorm
    Linear q, k, v, o;
    Linear gate, up, down;
    bool gated() const { return gate.present(); }
    // False while the block's tensors are not in memory (block-sequential sessions).
    bool loaded = true;
    // Drops every tensor and hook (the structure stays): loaded becomes false.
    void unload();
};

}  // namespace qs
