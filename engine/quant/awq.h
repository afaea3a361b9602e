// AWQ: the seed notebook's salient-channel experiments and llm-awq's auto-scale search and
// auto-clip (with AutoAWQ's duo_scaling as an option). All functions assign new tensors to
// the model (never in place), so a snapshot of the original tensors stays valid.
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/progress.h"
#include "models/causal_lm.h"
#include "quant/calib_stats.h"
#include "quant/linear_quant.h"

namespace qs {

// Indices of the floor(fraction * in) input channels with the largest importance.
at::Tensor salient_channels(const at::Tensor& importance, double fraction);

// (a) RTN, but the salient input channels of each Linear keep their original weights.
void awq_keep_salient(CausalLM& model, const CalibStats& stats, const QuantSpec& spec, double fraction,
                      bool include_lm_head = false);
// (b) multiply salient channels by `factor`, quantize, divide back (the seed's s = 1..4).
void awq_scale_salient(CausalLM& model, const CalibStats& stats, const QuantSpec& spec, double fraction, double factor,
                       bool include_lm_head = false);
// The same two operations on one weight (for previews): returns the fake-quantized weight.
at::Tensor awq_keep_weight(const at::Tensor& w, const at::Tensor& salient, const QuantSpec& spec);
at::Tensor awq_scale_weight(const at::Tensor& w, const at::Tensor& salient, double factor, const QuantSpec& spec);

struct AwqGroup;

struct AwqOptions {
    QuantSpec spec;
    // Mixed precision (MethodConfig::overrides): a Linear's own spec, used when the scale search
    // quantizes it and for its clip search; a skipped Linear is not quantized during the search
    // (the loss sees it in full precision) and not clipped. AutoAWQ uses one w_bit for every
    // Linear; with no overrides this is exactly that.
    std::map<std::string, QuantSpec> linear_spec;
    std::set<std::string> skipped;
    const QuantSpec& spec_of(const std::string& linear) const;
    bool clip = false;         // auto_clip after scaling
    bool duo_scaling = false;  // AutoAWQ: scales = x^r / (w^(1-r) + 1e-4)
    int n_grid = 20;
    int64_t chunk = 16;         // calibration samples per forward during the search (memory bound only)
    double max_shrink = 0.5;    // clip grid: max|w| * (1 - i/n_grid), i < max_shrink * n_grid
    int64_t clip_tokens = 512;  // tokens sampled for the clip search
    // Groups whose inspected module is the scaled Linear itself (out_proj, OPT fc1, fc2/down_proj):
    // compute the output MSE from the Gram matrix X^T X (float64) instead of re-running the
    // Linear on every calibration token for each of the n_grid ratios. Same loss up to float
    // rounding (tests: <= 1e-5 relative); used when the calibration set has >= 4x more tokens
    // than the Linear has inputs (else the direct form is cheaper); false = always direct.
    bool gram_loss = true;
    // Called right after each group's search (before its scales are folded), e.g. to draw its
    // loss curve while the search goes on. Runs on the searching thread.
    std::function<void(const AwqGroup&)> on_group;
    // Block-sequential sessions: called before block i is searched (it must then be in
    // model.blocks[i], with the weights the search starts from) and after its scales and clips
    // were folded (the block may be dropped then). Empty for a model held in memory.
    std::function<void(size_t)> acquire_block, release_block;
};

// One scaled group of a block: prev_op -> linears, searched on the inspected module.
struct AwqGroup {
    int64_t block = 0;
    std::string prev_op;               // HF name of the norm or Linear the scales fold into
    std::vector<std::string> linears;  // HF names of the scaled Linears
    std::string inspected;             // module whose output MSE is minimised
    std::vector<double> loss;          // loss for ratio = i / n_grid
    int best = -1;                     // index of the chosen ratio
    double best_ratio = 0;
    at::Tensor scales;       // float32 [in] (CPU)
    bool gram_loss = false;  // the loss was computed from X^T X (AwqOptions::gram_loss)
};

struct AwqClip {
    std::string linear;
    at::Tensor max_val;  // float32 [out, n_groups] (CPU)
    QuantSpec spec;      // the Linear's spec when clipped (its groups)
};

// Clamps l.weight to [-max_val, max_val] per output row and quantization group of `spec`.
void apply_clip(Linear& l, const at::Tensor& max_val_cpu, const QuantSpec& spec);

struct AwqResult {
    std::vector<AwqGroup> groups;
    std::vector<AwqClip> clips;
    std::vector<std::string> notes;  // e.g. skipped v->o groups (GQA)
    double seconds = 0;
};

// Runs the llm-awq search block by block over the calibration blocks [N, T] and folds the
// chosen scales (and clips) into the model. Weights are NOT quantized here: quantize after.
AwqResult awq_auto(CausalLM& model, const at::Tensor& calib_blocks, const AwqOptions& opts,
                   const Progress& progress = {});

// Folds the scales and clips an awq_auto run recorded for block `index` into `block` again, in
// the same order: from the same starting weights this gives bit-identical weights.
void replay_awq_block(DecoderBlock& block, int64_t index, const AwqResult& result);

}  // namespace qs
