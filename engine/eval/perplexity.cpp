#include "eval/perplexity.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>

#include "core/error.h"
#include "io/mapped_file.h"

namespace qs {

namespace {

// Forward with a cancellation check between blocks; returns logits of the windows.
at::Tensor forward_cancellable(const CausalLM& m, const at::Tensor& ids, const Progress& progress) {
    at::Tensor h = m.embed(ids, 0);
    for (size_t i = 0; i < m.blocks.size(); ++i) {
        progress.check();
        h = m.block_forward(i, h, 0, nullptr);
    }
    progress.check();
    return m.head(h);
}

}  // namespace

void check_ppl_options(const PplOptions& o) {
    if (o.seqlen != 0 && o.seqlen < 2)
        throw Error("seqlen (--seqlen) must be at least 2 (0 = the model default), found " + std::to_string(o.seqlen));
    if (o.nsamples != -1 && o.nsamples < 1)
        throw Error("nsamples (--nsamples) must be a positive integer or all, found " + std::to_string(o.nsamples));
    if (o.batch < 1 || o.batch > 4096)
        throw Error("batch (--batch) must be in 1..4096, found " + std::to_string(o.batch));
}

PplResult evaluate_perplexity(const CausalLM& model, const at::Tensor& ids_in, const PplOptions& opts,
                              const Progress& progress, const std::function<void(int64_t, double)>& on_window) {
    c10::InferenceMode guard;
    check_ppl_options(opts);
    if (ids_in.dim() != 1) throw Error("perplexity expects a 1-D sequence of token ids");
    PplResult r;
    r.seqlen = opts.seqlen > 0 ? opts.seqlen : model.config.default_seqlen();
    if (r.seqlen < 2) throw Error("seqlen must be at least 2");
    if (r.seqlen > model.config.max_position_embeddings)
        throw Error("seqlen " + std::to_string(r.seqlen) + " exceeds the model's max_position_embeddings (" +
                    std::to_string(model.config.max_position_embeddings) + ")");
    const int64_t batch = std::max<int64_t>(1, opts.batch);
    r.tokens = ids_in.numel();
    r.available_windows = r.tokens / r.seqlen;
    if (r.available_windows == 0)
        throw Error("the dataset has " + std::to_string(r.tokens) + " tokens, fewer than one window of " +
                    std::to_string(r.seqlen));
    r.nsamples = opts.nsamples < 0 ? r.available_windows : std::min(opts.nsamples, r.available_windows);
    if (r.nsamples == 0) throw Error("nsamples must be at least 1");
    r.evaluated_tokens = r.nsamples * r.seqlen;

    const auto t0 = std::chrono::steady_clock::now();
    at::Tensor ids = ids_in.to(at::kLong).narrow(0, 0, r.evaluated_tokens).view({r.nsamples, r.seqlen});
    ids = ids.to(model.device());
    for (int64_t start = 0; start < r.nsamples; start += batch) {
        progress.check();
        const int64_t nb = std::min(batch, r.nsamples - start);
        at::Tensor x = ids.narrow(0, start, nb);
        at::Tensor logits = forward_cancellable(model, x, progress);  // [nb, T, V]
        const int64_t V = logits.size(-1);
        at::Tensor shift_logits = logits.narrow(1, 0, r.seqlen - 1).to(at::kFloat).reshape({-1, V});
        at::Tensor shift_labels = x.narrow(1, 1, r.seqlen - 1).reshape({-1});
        at::Tensor nll = at::cross_entropy_loss(shift_logits, shift_labels, {}, at::Reduction::None)
                             .view({nb, r.seqlen - 1})
                             .mean(1)
                             .to(at::kDouble)
                             .cpu();
        MappedFile::check_all_intact();  // weights read through a map (io/map_guard.h)
        for (int64_t b = 0; b < nb; ++b) {
            double v = nll[b].item<double>();
            if (!std::isfinite(v))
                throw Error("perplexity: window " + std::to_string(start + b + 1) + " of " + std::to_string(r.nsamples) +
                            " (tokens " + std::to_string((start + b) * r.seqlen) + ".." +
                            std::to_string((start + b + 1) * r.seqlen - 1) + ") has a non-finite loss (" +
                            (std::isnan(v) ? "NaN" : "Inf") +
                            "): the model computes NaN/Inf logits with this configuration; no perplexity reported");
            r.window_nll.push_back(v);
            if (on_window) on_window(start + b, v);
        }
        progress(double(start + nb) / r.nsamples,
                 "window " + std::to_string(start + nb) + "/" + std::to_string(r.nsamples));
    }
    double sum = 0;
    for (double v : r.window_nll) sum += v * r.seqlen;
    r.ppl = std::exp(sum / (double(r.nsamples) * r.seqlen));
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.protocol = "single BOS + one tokenization of the whole text; " + std::to_string(r.nsamples) +
                 " non-overlapping windows of " + std::to_string(r.seqlen) + " tokens (of " +
                 std::to_string(r.available_windows) + " available, tail dropped); ppl = exp(mean per-window "
                 "cross-entropy of logits[:-1] vs ids[1:]) (llm-awq/GPTQ protocol)";
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
