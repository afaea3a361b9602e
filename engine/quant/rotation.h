// Rotation-based quantization (QuaRot R1, the seed notebook's "Rotation Based Quantization"):
// fuse the norms into the Linears that read them, then rotate the residual stream by an
// orthogonal R (x' = x R) so that outlier channels are spread over all channels, while the
// model computes the same function.
//
// All functions assign new tensors to the model (never in place), so a snapshot of the
// original tensor handles stays valid for undo. The arithmetic is done in float64 on the
// model's device (float32 on MPS) and each tensor is cast back to its dtype once.
// The model is changed only after every new tensor was computed: an error or a cancel
// leaves it untouched.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "core/progress.h"
#include "models/causal_lm.h"
#include "quant/hadamard.h"
#include "quant/rotation_kind.h"  // enum class RotationKind { Random, Hadamard, PlainHadamard }

namespace qs {

struct RotationInfo {
    // "random orthogonal (seed 0)", "randomized Hadamard 12x64 (seed 0)",
    // "random orthogonal (seed 0; no Hadamard construction for size 100)"
    std::string kind_used;
    int64_t size = 0;          // hidden size (order of R)
    bool hadamard = false;     // a Hadamard matrix was used
    std::string construction;  // e.g. "Paley I (q=11) 12 x Sylvester 64"; "" for random orthogonal
};

// Fuses every norm's scale (and LayerNorm bias) into the Linears that read its output:
//   LLaMA family: input_layernorm -> q,k,v; post_attention_layernorm -> gate,up; norm -> lm_head
//   OPT (pre-LN): self_attn_layer_norm -> q,k,v; final_layer_norm -> fc1; final norm -> lm_head
//   (or project_out when present). W' = W diag(g); b' = b + W beta (a bias is created when the
//   Linear has none, e.g. lm_head). Each norm keeps its eps and gets a unit weight.
// LayerNorm models (OPT) also get a mean-zero residual stream: token and position embeddings
// (or project_in's output) are mean-centred and the residual writers (out_proj, fc2) lose
// their output-channel mean (W' = W - mean_rows(W), b' = b - mean(b)); each LayerNorm then
// becomes an RMS norm, which is exact for mean-zero inputs.
// A tied lm_head is untied (lm_head gets its own tensor). model.config is not changed (so
// CausalLM::restore_state undoes everything): an exporter must write tie_word_embeddings from
// model.tied(), not from the config.
// Throws qs::Error for post-LN OPT ("rotation needs a pre-LN model; <model> is post-LN
// (do_layer_norm_before=false)"), for a LayerNorm model without a final norm, and for packed
// (already quantized) Linears. Logits are unchanged up to rounding.
void fuse_norms(CausalLM& model);

// fuse_norms, then rotates the residual stream by an orthogonal R of order hidden_size:
// embeddings E' = E R (OPT: positions too; project_in: W' = R^T W), readers (q,k,v,gate,up /
// fc1, lm_head or project_out) W' = W R, writers (o, down / fc2) W' = R^T W and b' = b R.
// Hadamard falls back to a random orthogonal matrix when no construction exists for the
// order (reported in kind_used). Logits are unchanged up to rounding (fp32: ~1e-5).
RotationInfo rotate_model(CausalLM& model, RotationKind kind, uint64_t seed, const Progress& progress = {});

// The steps of rotate_model, for a session that rebuilds the working weights block by block
// (each step assigns its new tensors at once). plan_rotation validates the model (as
// rotate_model does) and decides, from the model as it is now (before any block is fused),
// whether the residual stream is mean-centred; with rotate=false the plan only fuses norms.
struct RotationPlan {
    at::Tensor r;  // [n, n] in `work` on `device`; undefined: fuse only
    bool centre = false;
    c10::Device device = c10::Device(c10::kCPU);
    c10::ScalarType work = c10::ScalarType::Double;  // float32 on MPS (no float64 there)
    c10::ScalarType dtype = c10::ScalarType::Float;  // the model's dtype
};
RotationPlan plan_rotation(CausalLM& model, RotationKind kind, uint64_t seed, bool rotate,
                           RotationInfo* info = nullptr);
void rotate_inputs(CausalLM& model, const RotationPlan& plan);  // embeddings / project_in
void rotate_block(CausalLM& model, DecoderBlock& block, const RotationPlan& plan);
void rotate_head(CausalLM& model, const RotationPlan& plan);  // final norm -> lm_head / project_out

// The seed notebook's hidden-state plot: mean |h| per hidden channel of hidden_states[layer]
// (0 = embeddings output, i = input of block i, num_layers = output of the last block, before
// the final norm; note that Hugging Face's last hidden_states entry is after the final norm)
// over the tokens of ids [1, T] (or [T]) from position `skip` on. float32 [hidden] on CPU.
at::Tensor hidden_state_mean_abs(const CausalLM& model, const at::Tensor& ids, int64_t layer, int64_t skip = 0);

// max / mean of a per-channel profile (e.g. hidden_state_mean_abs): the outlier measure.
double outlier_ratio(const at::Tensor& per_channel);

}  // namespace qs
