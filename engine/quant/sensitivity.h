// Per-layer sensitivity map (issue #16 item 4): for every decoder Linear, and for every decoder
// block, the perplexity and the KL divergence against the unquantized model when ONLY that Linear
// (block) is quantized with the configuration's settings, on a short evaluation set; plus an
// activation-importance statistic per Linear, the sum of x^2 per input channel over the same
// tokens (llama.cpp's imatrix).
//
// How "only that one" is built: the configuration is applied first (its searches run once:
// rotation, SmoothQuant and AWQ scales, AWQ clips, GPTQ codes), then a model holding the
// configuration's pre-quantization weights (QuantSession::prequant_model: the function-preserving
// transforms folded in, every Linear unquantized) is the reference; each candidate swaps in its
// final weight (final_weight: RTN, AWQ, GPTQ's recorded codes) and its activation fake-quant, and
// the windows run from the candidate's block on: the hidden states entering block b are the
// reference's and are computed once (one pass over the blocks in all), so a Linear of block b
// costs the blocks b..N-1 and the head. The reference's final hidden states are kept (small), its
// logits recomputed by the head for each candidate: no window's logits are stored.
//
// The reference is the unquantized model with the transforms folded in: the original model's
// function up to float rounding (its perplexity is reported as base_ppl and equals the original's).
// AWQ's clips change weights, so they are not in the reference: a candidate's clip is applied with
// its quantization (as replay_awq_block applies it before the weights are quantized).
#pragma once
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/progress.h"
#include "eval/kl_divergence.h"
#include "quant/method_config.h"

namespace qs {

class QuantSession;

struct SensitivityOptions {
    // A short set by default: every Linear costs a forward through the blocks after it (SmolLM2-135M:
    // 240 candidates, 14 min on 2 shared cores at 2 x 256 tokens).
    int64_t seqlen = 256;  // window length (clamped to max_position_embeddings)
    int64_t nsamples = 2;  // windows, from the start of the evaluation text
    bool linears = true;   // one entry per decoder Linear the configuration quantizes
    bool blocks = true;    // one entry per decoder block (all its quantized Linears at once)
    bool total = true;     // also the whole configuration on the same windows (QuantSession::evaluate)
};

struct ImatrixSummary {
    int64_t tokens = 0;    // tokens behind the sums
    double mean_sq = 0;    // mean over channels of sum(x^2) / tokens
    double max_ratio = 0;  // max channel's sum(x^2) / mean channel's
    int64_t top_channel = -1;
};

struct SensitivityEntry {
    std::string name;  // HF Linear name, or the block's prefix ("model.layers.3")
    std::string kind;  // "linear" or "block"
    std::string role;  // "q_proj", "fc1", ...; "block" for blocks
    int64_t block = 0;
    int64_t order = 0;              // position in model order among entries of its kind
    int64_t params = 0;             // weights quantized
    double ppl = 0, delta_ppl = 0;  // delta_ppl = ppl - base_ppl
    KlStats kl;
    double weight_rel_error = 0;  // ||W - Q(W)||_F / ||W||_F over the quantized weights
    ImatrixSummary imatrix;       // linears only
};

struct SensitivityResult {
    std::string configuration;  // MethodConfig::describe()
    nlohmann::json config_json;
    double base_ppl = 0;              // the unquantized reference on the same windows
    std::optional<double> total_ppl;  // the whole configuration on the same windows
    std::optional<KlStats> total_kl;
    int64_t seqlen = 0, nsamples = 0, tokens = 0;
    std::string dataset, protocol, mode;
    double seconds = 0;
    std::vector<SensitivityEntry> entries;  // linears (model order), then blocks
    // Sum of x^2 per input channel of every quantized decoder Linear (float32 [in] on the CPU),
    // over imatrix_tokens tokens; same order as the linear entries.
    std::vector<std::pair<std::string, at::Tensor>> imatrix;

    nlohmann::json to_json(bool with_channels = false) const;
    std::string to_csv() const;  // one row per entry, header first
};

// ids: 1-D int64 token ids of the evaluation text (BOS included); dataset: its description.
// Applies `cfg` to the session unless it carries it (the session keeps it afterwards). on_entry
// is called with each finished entry (progressive plots). Cancellation: between candidates and
// between blocks (qs::Cancelled; the session keeps the configuration). Throws qs::Error when the
// configuration quantizes no weights, or the text holds fewer tokens than one window.
SensitivityResult compute_sensitivity(QuantSession& session, const MethodConfig& cfg, const at::Tensor& ids,
                                      const std::string& dataset, const SensitivityOptions& opts,
                                      const Progress& progress = {},
                                      const std::function<void(const SensitivityEntry&)>& on_entry = {});

// Mixed precision from the map (issue #16 item 5: "keep the 5 most sensitive Linears at 8 bits"):
// the names of the n Linear entries with the largest metric, most sensitive first. metric: "kl"
// (mean KL) or "ppl" (delta ppl); ties keep model order; block entries are not candidates; n larger
// than the Linears gives them all. Throws qs::Error on another metric or a negative n.
std::vector<std::string> most_sensitive_linears(const std::vector<SensitivityEntry>& entries, int64_t n,
                                                const std::string& metric = "kl");
// Those Linears, each with the override `keep` (e.g. parse_linear_override("w8")), as
// MethodConfig::overrides takes them.
std::map<std::string, LinearOverride> most_sensitive_overrides(const std::vector<SensitivityEntry>& entries, int64_t n,
                                                               const LinearOverride& keep,
                                                               const std::string& metric = "kl");

}  // namespace qs
