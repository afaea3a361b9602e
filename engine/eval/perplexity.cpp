#include "eval/perplexity.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "io/mapped_file.h"

namespace qs {

namespace {

// Forward with a cancellation check between blocks; returns the last hidden states of the
// windows (the head is applied by score_windows).
at::Tensor forward_cancellable(const CausalLM& m, const at::Tensor& ids, const Progress& progress) {
    at::Tensor h = m.embed(ids, 0);
    for (size_t i = 0; i < m.blocks.size(); ++i) {
        progress.check();
        h = m.block_forward(i, h, 0, nullptr);
    }
    progress.check();
    return h;
}

}  // namespace

// Mean cross-entropy of logits[:-1] (as float) against ids[1:] per window: [nb] float64 on CPU.
// The head runs once on every row but the last (it predicts nothing), in the model's dtype, as
// one GEMM; the fp32 conversion and a fused cross_entropy then go chunk by chunk, so a window's
// full fp32 logits and log-probabilities (2 x seqlen x vocab x 4 bytes: 0.8 GB for OPT at 2048)
// are never materialised. Per-token losses are the same numbers as from the whole logits.
at::Tensor window_nll(const at::Tensor& scored_logits, const at::Tensor& x, int64_t seqlen) {
    const int64_t nb = x.size(0), n = nb * (seqlen - 1);
    at::Tensor logits = scored_logits.reshape({n, -1});
    at::Tensor labels = x.narrow(1, 1, seqlen - 1).reshape({-1});
    at::Tensor nll = at::empty({n}, logits.options().dtype(at::kFloat));
    const int64_t rows = 128;  // a 128 x vocab fp32 chunk (26 MB for OPT's 50272 tokens)
    for (int64_t r0 = 0; r0 < n; r0 += rows) {
        const int64_t k = std::min(rows, n - r0);
        at::Tensor chunk = logits.narrow(0, r0, k).to(at::kFloat);
        nll.narrow(0, r0, k).copy_(at::cross_entropy_loss(chunk, labels.narrow(0, r0, k), {}, at::Reduction::None));
    }
    return nll.view({nb, seqlen - 1}).mean(1).to(at::kDouble).cpu();
}

void check_ppl_options(const PplOptions& o) {
    if (o.seqlen != 0 && o.seqlen < 2)
        throw Error("seqlen (--seqlen) must be at least 2 (0 = the model default), found " + std::to_string(o.seqlen));
    if (o.nsamples != -1 && o.nsamples < 1)
        throw Error("nsamples (--nsamples) must be a positive integer or all, found " + std::to_string(o.nsamples));
    if (o.batch < 1 || o.batch > 4096)
        throw Error("batch (--batch) must be in 1..4096, found " + std::to_string(o.batch));
}

namespace {

// Validates the options and fills seqlen / windows / nsamples of r.
void plan_windows(const CausalLM& model, const at::Tensor& ids_in, const PplOptions& opts, PplResult& r) {
    check_ppl_options(opts);
    if (ids_in.dim() != 1) throw Error("perplexity expects a 1-D sequence of token ids");
    r.seqlen = opts.seqlen > 0 ? opts.seqlen : model.config.default_seqlen();
    if (r.seqlen < 2) throw Error("seqlen must be at least 2");
    if (r.seqlen > model.config.max_position_embeddings)
        throw Error("seqlen " + std::to_string(r.seqlen) + " exceeds the model's max_position_embeddings (" +
                    std::to_string(model.config.max_position_embeddings) + ")");
    r.tokens = ids_in.numel();
    r.available_windows = r.tokens / r.seqlen;
    if (r.available_windows == 0)
        throw Error("the dataset has " + std::to_string(r.tokens) + " tokens, fewer than one window of " +
                    std::to_string(r.seqlen));
    r.nsamples = opts.nsamples < 0 ? r.available_windows : std::min(opts.nsamples, r.available_windows);
    if (r.nsamples == 0) throw Error("nsamples must be at least 1");
    r.evaluated_tokens = r.nsamples * r.seqlen;
}

// The logits of a window's scored positions (those of the perplexity), from its final hidden
// states: head(hidden[:, :-1]).
at::Tensor scored_logits(const CausalLM& m, const at::Tensor& hidden, int64_t seqlen) {
    return m.head(hidden.narrow(1, 0, seqlen - 1));
}

// Per-window NLL of a batch of final hidden states; with a KL reference, its final hidden states
// for the same windows add their per-token KL to *kl.
at::Tensor score_windows(const CausalLM& m, const at::Tensor& hidden, const at::Tensor& x, int64_t seqlen,
                         const CausalLM* ref, const at::Tensor& ref_hidden, KlAccumulator& kl) {
    at::Tensor logits = scored_logits(m, hidden, seqlen);
    if (ref) kl.add(scored_logits(*ref, ref_hidden, seqlen), logits);
    return window_nll(logits, x, seqlen);
}

void finish(PplResult& r, std::chrono::steady_clock::time_point t0, const std::string& mode) {
    double sum = 0;
    for (double v : r.window_nll) sum += v * r.seqlen;
    r.ppl = std::exp(sum / (double(r.nsamples) * r.seqlen));
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.mode = mode;
    r.protocol = "single BOS + one tokenization of the whole text; " + std::to_string(r.nsamples) +
                 " non-overlapping windows of " + std::to_string(r.seqlen) + " tokens (of " +
                 std::to_string(r.available_windows) +
                 " available, tail dropped); ppl = exp(mean per-window "
                 "cross-entropy of logits[:-1] vs ids[1:]) (llm-awq/GPTQ protocol); " +
                 mode;
}

void set_kl(PplResult& r, const KlAccumulator& kl) {
    r.kl = kl.stats();
    r.protocol +=
        "; KL divergence KL(original || quantized) of the next-token distributions (fp32 log-softmax) at "
        "the same " +
        std::to_string(r.kl->tokens) +
        " scored positions, original logits computed window "
        "by window; median and 99.9th percentile by linear interpolation (llama.cpp --kl-divergence)";
}

// Also where a window's loss is checked (a NaN perplexity is never returned) and the mapped
// weight files with it (io/map_guard.h: a checkpoint truncated meanwhile reads as zeros).
void report_windows(PplResult& r, const at::Tensor& nll, int64_t start,
                    const std::function<void(int64_t, double)>& on_window) {
    MappedFile::check_all_intact();
    const double* p = nll.data_ptr<double>();
    for (int64_t b = 0; b < nll.numel(); ++b) {
        if (!std::isfinite(p[b]))
            throw Error("perplexity: window " + std::to_string(start + b + 1) + " of " + std::to_string(r.nsamples) +
                        " (tokens " + std::to_string((start + b) * r.seqlen) + ".." +
                        std::to_string((start + b + 1) * r.seqlen - 1) + ") has a non-finite loss (" +
                        (std::isnan(p[b]) ? "NaN" : "Inf") +
                        "): the model computes NaN/Inf logits with this configuration; no perplexity reported");
        r.window_nll.push_back(p[b]);
        if (on_window) on_window(start + b, p[b]);
    }
}

}  // namespace

PplResult evaluate_perplexity(const CausalLM& model, const at::Tensor& ids_in, const PplOptions& opts,
                              const Progress& progress, const std::function<void(int64_t, double)>& on_window) {
    c10::InferenceMode guard;
    PplResult r;
    plan_windows(model, ids_in, opts, r);
    const int64_t batch = std::max<int64_t>(1, opts.batch);
    const auto t0 = std::chrono::steady_clock::now();
    at::Tensor ids = ids_in.to(at::kLong).narrow(0, 0, r.evaluated_tokens).view({r.nsamples, r.seqlen});
    ids = ids.to(model.device());
    KlAccumulator kl;
    for (int64_t start = 0; start < r.nsamples; start += batch) {
        progress.check();
        const int64_t nb = std::min(batch, r.nsamples - start);
        at::Tensor x = ids.narrow(0, start, nb);
        at::Tensor hidden = forward_cancellable(model, x, progress);  // [nb, T, hidden]
        at::Tensor base;
        if (opts.kl_reference) base = forward_cancellable(*opts.kl_reference, x, progress);
        report_windows(r, score_windows(model, hidden, x, r.seqlen, opts.kl_reference, base, kl), start, on_window);
        progress(double(start + nb) / r.nsamples,
                 "window " + std::to_string(start + nb) + "/" + std::to_string(r.nsamples));
    }
    finish(r, t0, "in memory");
    if (opts.kl_reference) set_kl(r, kl);
    return r;
}

PplResult evaluate_perplexity_blockwise(CausalLM& model, const at::Tensor& ids_in, const PplOptions& opts,
                                        const Progress& progress, const std::function<void(int64_t, double)>& on_window,
                                        int64_t hidden_budget_bytes) {
    c10::InferenceMode guard;
    PplResult r;
    plan_windows(model, ids_in, opts, r);
    const int64_t batch = std::max<int64_t>(1, opts.batch);
    const auto t0 = std::chrono::steady_clock::now();
    at::Tensor ids = ids_in.to(at::kLong).narrow(0, 0, r.evaluated_tokens).view({r.nsamples, r.seqlen});
    ids = ids.to(model.device());
    // Windows per pass over the decoder blocks: as many hidden states as the budget holds.
    const int64_t per_window =
        (opts.kl_reference ? 2 : 1) * r.seqlen * model.config.hidden_size * at::elementSize(model.dtype());
    int64_t group = std::max<int64_t>(batch, hidden_budget_bytes / std::max<int64_t>(1, per_window));
    group = std::min(group, r.nsamples);
    const size_t nblocks = model.blocks.size();
    const int64_t passes = (r.nsamples + group - 1) / group;
    CausalLM* ref = opts.kl_reference;
    KlAccumulator kl;
    for (int64_t g0 = 0; g0 < r.nsamples; g0 += group) {
        const int64_t ng = std::min(group, r.nsamples - g0);
        std::vector<at::Tensor> hs, hr;  // one per batch of windows (hr: the KL reference model's)
        for (int64_t s = g0; s < g0 + ng; s += batch) {
            at::Tensor x = ids.narrow(0, s, std::min(batch, g0 + ng - s));
            hs.push_back(model.embed(x));
            if (ref) hr.push_back(ref->embed(x));
        }
        for (size_t b = 0; b < nblocks; ++b) {
            progress.check();
            {
                ScopedBlock hold(model, b);
                for (auto& h : hs) {
                    progress.check();
                    h = model.block_forward(b, h);
                }
            }
            if (ref) {
                ScopedBlock hold_ref(*ref, b);
                for (auto& h : hr) {
                    progress.check();
                    h = ref->block_forward(b, h);
                }
            }
            const double done = (double(g0 / group) + double(b + 1) / double(nblocks + 1)) / double(passes);
            progress(done, "pass " + std::to_string(g0 / group + 1) + "/" + std::to_string(passes) + ", layer " +
                               std::to_string(b + 1) + "/" + std::to_string(nblocks));
        }
        int64_t s = g0;
        for (size_t k = 0; k < hs.size(); ++k) {
            progress.check();
            const at::Tensor& h = hs[k];
            const int64_t nb = h.size(0);
            report_windows(r,
                           score_windows(model, h, ids.narrow(0, s, nb), r.seqlen, ref, ref ? hr[k] : at::Tensor(), kl),
                           s, on_window);
            s += nb;
        }
        progress(double(g0 + ng) / r.nsamples, "window " + std::to_string(g0 + ng) + "/" + std::to_string(r.nsamples));
    }
    finish(r, t0,
           "block-sequential (" + std::to_string(passes) + (passes == 1 ? " pass" : " passes") +
               " over the decoder blocks)");
    if (ref) set_kl(r, kl);
    return r;
}

std::vector<double> running_ppl(const std::vector<double>& nll) {
    std::vector<double> out;
    double s = 0;
    for (size_t i = 0; i < nll.size(); ++i) {
        s += nll[i];
        out.push_back(std::exp(s / double(i + 1)));
    }
    return out;
}

}  // namespace qs
