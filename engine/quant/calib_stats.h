// Per-input-channel activation statistics of every Linear, gathered in one pass over the
// calibration blocks: mean |x| (AWQ importance) and max |x| (SmoothQuant), plus a small
// sample of input rows per Linear for output-error previews.
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <string>

#include "core/progress.h"
#include "models/causal_lm.h"

namespace qs {

struct ChannelStats {
    at::Tensor mean_abs;       // float32 [in] on CPU: mean over all calibration tokens of |x|
    at::Tensor max_abs;        // float32 [in] on CPU: max over all calibration tokens of |x|
    at::Tensor sample_inputs;  // float32 [k, in] on CPU: k evenly spaced calibration tokens
    int64_t tokens = 0;
};

struct CalibStats {
    std::map<std::string, ChannelStats> per_linear;           // by HF Linear name
    std::string calibration;                                  // description of the calibration set used
    int64_t samples_done = 0, samples_total = 0;              // calibration blocks seen (< total: a partial snapshot)
    const ChannelStats& at(const std::string& linear) const;  // throws qs::Error if absent
};

struct CalibPassOptions {
    // Calibration blocks per pass over the decoder blocks (0 = all: block-major, each decoder block
    // loaded once, the hidden states of every sample held); >= batch.
    int64_t chunk = 0;
    // Called after every chunk but the last with the statistics so far (progressive plots).
    std::function<void(const CalibStats&)> on_partial;
};

// blocks: int64 [N, T]. Runs the model over the blocks `batch` at a time. The result does not
// depend on opts.chunk.
CalibStats collect_calibration_stats(CausalLM& model, const at::Tensor& blocks, const std::string& description,
                                     const Progress& progress = {}, int64_t batch = 4, int64_t sample_tokens = 64,
                                     const CalibPassOptions& opts = {});

}  // namespace qs
