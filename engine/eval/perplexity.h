// Perplexity by the llm-awq / AutoAWQ / GPTQ protocol (docs/notes.md §6): one tokenization of the
// whole text with a single BOS, non-overlapping windows of seqlen tokens (tail dropped),
// per-window mean cross-entropy of logits[:-1] (fp32) against ids[1:],
// ppl = exp(sum(nll_i * seqlen) / (n * seqlen)).
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/progress.h"
#include "eval/kl_divergence.h"
#include "models/causal_lm.h"

namespace qs {

struct PplOptions {
    int64_t seqlen = 0;     // 0 = model default: min(2048, max_position_embeddings)
    int64_t nsamples = -1;  // -1 = all windows
    int64_t batch = 1;      // windows per forward
    // KL divergence against the unquantized model (llama.cpp --kl-divergence; eval/kl_divergence.h).
    // QuantSession::evaluate turns `kl` into kl_reference = a view of the original weights; the
    // evaluators compute the reference logits window by window on kl_reference (never all at once)
    // over the same positions as the perplexity (logits[:-1]).
    bool kl = false;
    CausalLM* kl_reference = nullptr;
};

struct PplResult {
    double ppl = 0;
    int64_t seqlen = 0, nsamples = 0, available_windows = 0;
    int64_t tokens = 0;              // tokens in the tokenized dataset (with BOS)
    int64_t evaluated_tokens = 0;    // nsamples * seqlen
    std::vector<double> window_nll;  // mean NLL per window, in order
    double seconds = 0;
    std::string protocol;       // human-readable statement of the protocol used
    std::string mode;           // "in memory" or "block-sequential (...)"
    std::optional<KlStats> kl;  // set when PplOptions::kl_reference was given
};

// Throws qs::Error for options no run can use: seqlen other than 0 (the model default) or
// >= 2, nsamples other than -1 (all) or >= 1, batch outside 1..4096.
void check_ppl_options(const PplOptions& opts);

// ids: 1-D int64 token ids of the whole dataset (BOS included). on_window(i, nll) is called
// after each window. Cancellation is checked between decoder blocks, so it takes effect
// within one window's forward. A window whose loss is not finite (NaN/Inf logits) ends the run
// with a qs::Error naming it: a NaN perplexity is never returned. After every window the
// memory-mapped weight files are checked (MappedFile::check_all_intact).
PplResult evaluate_perplexity(const CausalLM& model, const at::Tensor& ids, const PplOptions& opts,
                              const Progress& progress = {},
                              const std::function<void(int64_t, double)>& on_window = {});

// The same protocol for a block-sequential model (decoder blocks loaded one at a time through
// CausalLM::block_loader): every window of a pass goes through block i before block i+1 is
// loaded; windows are grouped so that their hidden states stay within hidden_budget_bytes.
// Same per-window arithmetic as evaluate_perplexity (same numbers up to float rounding).
PplResult evaluate_perplexity_blockwise(CausalLM& model, const at::Tensor& ids, const PplOptions& opts,
                                        const Progress& progress = {},
                                        const std::function<void(int64_t, double)>& on_window = {},
                                        int64_t hidden_budget_bytes = int64_t(2) << 30);

// Mean cross-entropy per window of scored logits [nb, seqlen-1, V] (any float dtype; the head's
// output for positions 0..seqlen-2) against ids [nb, seqlen] positions 1..: float64 [nb] on the CPU,
// computed in fp32 chunk by chunk (the protocol's per-window loss; used by every evaluator).
at::Tensor window_nll(const at::Tensor& scored_logits, const at::Tensor& ids, int64_t seqlen);

// Running estimate after the first k windows: exp(mean(nll[0..k))).
std::vector<double> running_ppl(const std::vector<double>& window_nll);

}  // namespace qs
