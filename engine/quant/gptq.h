// GPTQ (Frantar et al. 2022), as the IST-DASLab reference code computes it (gptq.py
// GPTQ.fasterquant, quant.py Quantizer, llama.py llama_sequential):
//
// - per Linear, H = 2/N sum_j X_j^T X_j over the N calibration samples (the reference's running
//   form: H *= n/(n+1); n += 1; H += (sqrt(2/n) x)^T (sqrt(2/n) x)), float32;
// - dead inputs (H_ii = 0): H_ii = 1, W[:, i] = 0; optional act-order (columns by descending
//   H_ii); dampening H += 0.01 * mean(diag H) * I; Hinv = upper Cholesky factor of H^-1;
// - columns quantized one at a time in blocks of 128, the error (w - q) / Hinv_ii spread over
//   the block's remaining columns at once and over the later columns once per block (lazy batch);
// - the quantizer grid of the reference (quant.py, per channel): min/max over the row (or group)
//   *including 0*; asymmetric scale = (max - min) / (2^b - 1), zero = round(-min / scale);
//   symmetric: max = max(|min|, max), min = -max where min < 0, zero = 2^(b-1) (codes 0..2^b-1);
//   q = clamp(round(w / scale) + zero, 0, 2^b - 1), w' = scale * (q - zero);
// - groups along the input dimension: parameters from the (already updated) weights when a
//   group's first column is reached (the columns of the current 128-block as they were when the
//   block started, exactly as the reference reads W), or static groups from the original weights;
// - decoder blocks in order, each Linear's calibration inputs coming from the already quantized
//   earlier blocks; within a block "true sequential" groups k,v,q -> o -> up,gate -> down (LLaMA)
//   / q,k,v -> out -> fc1 -> fc2 (OPT), each seeing the Linears quantized before it.
//
// loss (the reference's "error"): sum over the weights of (w - q)^2 / Hinv_ii^2 / 2.
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/progress.h"
#include "models/causal_lm.h"
#include "quant/quant_spec.h"

namespace qs {

struct GptqLinear;

struct GptqOptions {
    int bits = 4;
    int64_t group_size = 128;  // -1 = per channel (one scale per output row)
    bool symmetric = false;
    bool act_order = false;       // --act-order: columns by descending H_ii
    bool static_groups = false;   // --static-groups: group parameters from the original weights
    bool true_sequential = true;  // quantize k,v,q -> o -> up,gate -> down in turn (reference --true-sequential)
    int64_t block_size = 128;
    double percdamp = 0.01;
    int64_t chunk = 16;  // calibration samples per forward (memory only; H is accumulated per sample)
    // Block-sequential sessions: called before block i is quantized (it must then be in
    // model.blocks[i] with its pre-quantization weights) and after (the block may be dropped).
    std::function<void(size_t)> acquire_block, release_block;
    // Called after each Linear is quantized (the GUI's per-Linear loss and progress).
    std::function<void(const GptqLinear&, int64_t done, int64_t total)> on_linear;
    // Mixed precision (MethodConfig::overrides): a Linear's own spec (bits, group size), and the
    // Linears left unquantized: a skipped Linear keeps its transformed weight, which feeds the
    // later Linears and blocks as every other weight does; it gets no GptqLinear.
    std::map<std::string, QuantSpec> linear_spec;
    std::set<std::string> skipped;

    // From a QuantSpec: per-group or per-channel; throws qs::Error for per-tensor.
    static GptqOptions from_spec(const QuantSpec& spec);
    // These options with bits / group size / symmetry of `linear`'s spec (linear_spec).
    GptqOptions for_linear(const std::string& linear) const;
};

// One quantized Linear: integer codes, the grid of each group, and which group each input
// column belongs to (act-order permutes columns, so groups need not be contiguous).
struct GptqLinear {
    std::string name;
    int64_t block = 0;
    at::Tensor codes;  // uint8 [out, in], 0..2^b-1
    at::Tensor scale;  // float32 [out, n_groups]
    at::Tensor zero;   // float32 [out, n_groups] (integer values)
    at::Tensor g_idx;  // int32 [in]: group of each input column (original order)
    double loss = 0;   // the reference's error: sum (w - q)^2 / Hinv_ii^2 / 2
    double seconds = 0;
    int64_t samples = 0;  // calibration samples in H
    // scale * (q - zero) in float32 (bit for bit the reference's Q), cast to dtype.
    at::Tensor dequantize(c10::ScalarType dtype = c10::ScalarType::Float) const;
};

struct GptqResult {
    std::vector<GptqLinear> linears;  // in quantization order
    double seconds = 0;
    const GptqLinear* find(const std::string& name) const;
};

// Accumulates the reference's H over samples (each [T, in] or [1, T, in]).
class GptqHessian {
  public:
    explicit GptqHessian(int64_t columns, c10::Device device);
    void add_sample(const at::Tensor& x);  // one calibration sample
    const at::Tensor& h() const { return h_; }
    int64_t samples() const { return n_; }

  private:
    at::Tensor h_;
    int64_t n_ = 0;
};

// GPTQ of one weight matrix W [out, in] with its H [in, in] (fasterquant). H is not modified.
GptqLinear gptq_quantize_weight(const at::Tensor& w, const at::Tensor& h, const GptqOptions& o);

// GPTQ over the whole model, block by block (llama_sequential / opt_sequential): calib int64
// [N, T]; every decoder Linear's weight is replaced by its quantized weight (model dtype).
GptqResult gptq_model(CausalLM& model, const at::Tensor& calib, const GptqOptions& o, const Progress& progress = {});

}  // namespace qs
