// SmoothQuant: migrate activation outliers into the weights (s = max|X|^a / max|W|^(1-a))
// and W8A8 fake quantization (weights absmax per-channel/per-tensor, activations absmax
// per-token/per-tensor, optional quantization of q/k/v outputs = the BMM inputs).
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "models/causal_lm.h"
#include "quant/calib_stats.h"
#include "quant/act_quant.h"
#include "quant/linear_quant.h"

namespace qs {

struct SmoothGroup {
    std::string norm;                  // HF name of the norm whose output is smoothed
    std::vector<std::string> linears;  // the Linears it feeds
    at::Tensor scales;                 // float32 [in] (CPU)
};

// s = (act_max^alpha / weight_max^(1-alpha)).clamp(1e-5), weight_max = max over the fed
// Linears of max_i |W[i, j]| (clamped at 1e-5); norm weight and bias /= s, Linear weights *= s.
at::Tensor smooth_scales(const at::Tensor& act_max, const std::vector<at::Tensor>& weights, double alpha);
// Smooths norm->q/k/v and norm->fc1 (LLaMA: norm->gate/up) of every block, using max |x| from
// the calibration statistics of the first Linear of each group.
std::vector<SmoothGroup> smooth_model(CausalLM& model, const CalibStats& stats, double alpha);
// The same, one block at a time (block-wise sessions): check_smoothable once, then smooth_block
// per block; replay_smooth_block folds recorded scales again (bit-identical weights).
void check_smoothable(const CausalLM& model, double alpha);
std::vector<SmoothGroup> smooth_block(DecoderBlock& b, const CalibStats& stats, double alpha);
void replay_smooth_block(DecoderBlock& b, const std::vector<SmoothGroup>& groups);
// norm /= s, Linear weights *= s (the fold itself).
void apply_smooth(Norm& n, const std::vector<Linear*>& fcs, const at::Tensor& s);

// Activation fake quantization hooks on every decoder Linear (weights are quantized by the
// weight method, RTN or GPTQ).
void install_activation_quant(CausalLM& model, const ActQuant& act);
void install_activation_quant(DecoderBlock& block, const ActQuant& act);

}  // namespace qs
