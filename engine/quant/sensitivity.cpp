#include "quant/sensitivity.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/memory_info.h"
#include "eval/perplexity.h"
#include "quant/experiment.h"
#include "quant/linear_quant.h"
#include "quant/quant_session.h"

namespace qs {

using json = nlohmann::json;

namespace {

std::vector<Linear*> block_linears(DecoderBlock& b) { return {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down}; }

// "model.layers.3.mlp.down_proj" -> "down_proj"; the block prefix "model.layers.3".
std::string role_of(const std::string& name) {
    const size_t dot = name.rfind('.');
    return dot == std::string::npos ? name : name.substr(dot + 1);
}
std::string block_prefix(const Linear& l, size_t b) {
    const std::string key = "layers." + std::to_string(b) + ".";
    const size_t pos = l.name.find(key);
    return pos == std::string::npos ? "block " + std::to_string(b) : l.name.substr(0, pos + key.size() - 1);
}

// Whether the reference would need a second copy of the transformed weights that does not fit:
// then its blocks are rebuilt from the originals on demand (slower, no copy).
bool build_lazily(const QuantSession& s, const Experiment* e) {
    if (s.block_sequential()) return true;
    const bool transforms = e && (e->rotated || !e->smooth.empty() || e->awq);
    if (!transforms) return false;  // the reference's weights are the originals: views, no copy
    const CausalLM& m = s.model();
    const uint64_t bytes = uint64_t(m.parameter_count()) * at::elementSize(m.dtype());
    const auto avail = device_available_bytes(m.device());
    return avail && bytes > *avail / 2;
}

// One candidate: some Linears of one block quantized. Keeps what it replaced.
struct Swap {
    DecoderBlock saved;
    double err2 = 0, norm2 = 0;
    int64_t params = 0;
};

Swap quantize_in_place(DecoderBlock& b, const std::vector<Linear*>& which, const Experiment& e) {
    Swap s{b};
    for (Linear* l : which) {
        const at::Tensor w = l->weight;  // the reference's (unclipped) weight
        if (e.awq)
            for (const AwqClip& c : e.awq->clips)
                if (c.linear == l->name)
                    apply_clip(*l, c.max_val, c.spec);  // as replay_awq_block does (the clip's own spec)
        at::Tensor q = final_weight(*l, l->weight, e);
        // sums in double: a float sum's order follows the thread count (the GUI's worker and the
        // CLI must print the same digits)
        s.err2 += (q.to(at::kFloat) - w.to(at::kFloat)).pow(2).sum(at::kDouble).item<double>();
        s.norm2 += w.to(at::kFloat).pow(2).sum(at::kDouble).item<double>();
        s.params += w.numel();
        l->weight = q;
        if (e.cfg.act.bits > 0) {
            const int bits = e.cfg.act.bits;
            const bool per_token = e.cfg.act.per_token;
            auto fq = [bits, per_token](const at::Tensor& x) { return fake_quant_activation(x, bits, per_token); };
            l->input_fn = fq;
            if (e.cfg.act.quantize_bmm && (l == &b.q || l == &b.k || l == &b.v)) l->output_fn = fq;
        }
    }
    return s;
}

struct Windows {
    at::Tensor ids;  // [n, T] on the model's device
    int64_t n = 0, seqlen = 0;
};

class Scorer {
  public:
    Scorer(const CausalLM& ref, const Windows& w, const at::Tensor& base_final) : ref_(ref), w_(w), base_(base_final) {
        // The reference's scored logits are kept when they are small (<= 256 MiB in fp32),
        // else recomputed by the head for each candidate.
        const int64_t vocab = ref.lm_head.weight.defined() ? ref.lm_head.weight.size(0) : ref.config.vocab_size;
        if (int64_t(w.n) * (w.seqlen - 1) * vocab * 4 <= (int64_t(256) << 20))
            for (int64_t i = 0; i < w.n; ++i) cached_.push_back(base_logits(i).to(at::kFloat));
    }
    at::Tensor base_logits(int64_t i) const { return ref_.head(base_.narrow(0, i, 1).narrow(1, 0, w_.seqlen - 1)); }

    // ppl and KL(reference || candidate) of final hidden states [n, T, H].
    std::pair<double, KlStats> score(const at::Tensor& final_hidden) const {
        KlAccumulator kl;
        double sum = 0;
        for (int64_t i = 0; i < w_.n; ++i) {
            at::Tensor logits = ref_.head(final_hidden.narrow(0, i, 1).narrow(1, 0, w_.seqlen - 1));
            const double nll = window_nll(logits, w_.ids.narrow(0, i, 1), w_.seqlen).item<double>();
            if (!std::isfinite(nll))
                throw Error("sensitivity: window " + std::to_string(i + 1) +
                            " has a non-finite loss: the model computes NaN/Inf logits with this configuration");
            sum += nll;
            kl.add(cached_.empty() ? base_logits(i) : cached_[size_t(i)], logits);
        }
        return {std::exp(sum / double(w_.n)), kl.stats()};
    }

  private:
    const CausalLM& ref_;
    const Windows& w_;
    at::Tensor base_;
    std::vector<at::Tensor> cached_;
};

// Runs blocks [from, N) over h with a cancel check between blocks.
at::Tensor run_from(CausalLM& m, at::Tensor h, size_t from, const Progress& progress) {
    for (size_t j = from; j < m.blocks.size(); ++j) {
        progress.check();
        ScopedBlock hold(m, j);
        h = m.block_forward(j, h);
    }
    return h;
}

std::string csv_quote(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string o = "\"";
    for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
    return o + "\"";
}

}  // namespace

json SensitivityResult::to_json(bool with_channels) const {
    json entries_j = json::array();
    for (const auto& e : entries) {
        json j = {{"name", e.name},
                  {"kind", e.kind},
                  {"role", e.role},
                  {"block", e.block},
                  {"order", e.order},
                  {"params", e.params},
                  {"ppl", e.ppl},
                  {"delta_ppl", e.delta_ppl},
                  {"kl", kl_stats_json(e.kl)},
                  {"weight_rel_error", e.weight_rel_error}};
        if (e.kind == "linear")
            j["imatrix"] = {{"tokens", e.imatrix.tokens},
                            {"mean_sq", e.imatrix.mean_sq},
                            {"max_over_mean", e.imatrix.max_ratio},
                            {"top_channel", e.imatrix.top_channel}};
        entries_j.push_back(std::move(j));
    }
    json j = {{"configuration", configuration},
              {"quantscope_configuration", config_json},
              {"base_ppl", base_ppl},
              {"seqlen", seqlen},
              {"nsamples", nsamples},
              {"tokens", tokens},
              {"dataset", dataset},
              {"protocol", protocol},
              {"mode", mode},
              {"seconds", seconds},
              {"entries", entries_j}};
    j["total"] = total_ppl
                     ? json{{"ppl", *total_ppl}, {"delta_ppl", *total_ppl - base_ppl}, {"kl", kl_stats_json(*total_kl)}}
                     : json(nullptr);
    if (with_channels) {
        json ch = json::object();
        for (const auto& [name, t] : imatrix) {
            at::Tensor c = t.contiguous();
            ch[name] = std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
        }
        j["imatrix_sum_sq"] = ch;
    }
    return j;
}

std::string SensitivityResult::to_csv() const {
    std::ostringstream o;
    o.precision(9);
    o << "kind,name,role,block,params,ppl,delta_ppl,kl_mean,kl_median,kl_p99_9,kl_max,top1_agreement,"
         "weight_rel_error,imatrix_mean_sq,imatrix_max_over_mean\n";
    for (const auto& e : entries) {
        o << e.kind << ',' << csv_quote(e.name) << ',' << e.role << ',' << e.block << ',' << e.params << ',' << e.ppl
          << ',' << e.delta_ppl << ',' << e.kl.mean << ',' << e.kl.median << ',' << e.kl.p99_9 << ',' << e.kl.max << ','
          << e.kl.top1 << ',' << e.weight_rel_error << ',';
        if (e.kind == "linear")
            o << e.imatrix.mean_sq << ',' << e.imatrix.max_ratio;
        else
            o << ',';
        o << '\n';
    }
    return o.str();
}

SensitivityResult compute_sensitivity(QuantSession& session, const MethodConfig& cfg, const at::Tensor& ids_in,
                                      const std::string& dataset, const SensitivityOptions& opts,
                                      const Progress& progress,
                                      const std::function<void(const SensitivityEntry&)>& on_entry) {
    c10::InferenceMode guard;
    const auto t0 = std::chrono::steady_clock::now();
    cfg.validate();
    if (!cfg.quantizes_weights())
        throw Error("sensitivity: the configuration quantizes no weights (" + cfg.describe() +
                    "); choose a weight quantizer (rtn, awq, gptq, smoothquant)");
    if (!opts.linears && !opts.blocks) throw Error("sensitivity: nothing to measure (neither Linears nor blocks)");
    if (opts.nsamples < 1)
        throw Error("sensitivity: nsamples must be at least 1, found " + std::to_string(opts.nsamples));
    if (opts.seqlen < 2) throw Error("sensitivity: seqlen must be at least 2, found " + std::to_string(opts.seqlen));
    if (ids_in.dim() != 1) throw Error("sensitivity expects a 1-D sequence of token ids");

    const CausalLM& working = session.model();
    Windows w;
    w.seqlen = std::min<int64_t>(opts.seqlen, working.config.max_position_embeddings);
    const int64_t available = ids_in.numel() / w.seqlen;
    if (available == 0)
        throw Error("sensitivity: " + dataset + " has " + std::to_string(ids_in.numel()) +
                    " tokens, fewer than one window of " + std::to_string(w.seqlen));
    w.n = std::min(opts.nsamples, available);
    w.ids = ids_in.to(at::kLong).narrow(0, 0, w.n * w.seqlen).view({w.n, w.seqlen}).to(working.device());

    // 1. the configuration (its searches run once)
    if (!session.carries(cfg)) session.apply(cfg, progress.sub(0, 0.15));
    std::shared_ptr<const Experiment> ep = session.experiment();
    if (!ep) throw Error("internal error: sensitivity found no applied experiment");
    const Experiment& e = *ep;

    // 2. the reference: pre-quantization weights, every Linear unquantized
    const bool lazy = build_lazily(session, ep.get());
    // (AWQ's clips are not function-preserving: a candidate gets its clip with its quantization)
    std::unique_ptr<CausalLM> ref = session.prequant_model(progress.sub(0.15, 0.2), lazy, /*with_clips=*/false);
    const size_t nb = ref->blocks.size();

    // which Linears each block quantizes (the configuration's rule, from the structure)
    std::vector<std::vector<std::string>> quantized(nb);
    int64_t n_linear_candidates = 0;
    for (size_t b = 0; b < nb; ++b)
        for (Linear* l : block_linears(ref->blocks[b])) {
            if (!l->present()) continue;
            // a lazy reference's blocks are not loaded: the rule is asked about a Linear holding a weight
            Linear probe = *l;
            if (!probe.weight.defined()) probe.weight = at::empty({1});
            if (quantizes_linear(e, probe, false)) {
                quantized[b].push_back(l->name);
                ++n_linear_candidates;
            }
        }
    if (n_linear_candidates == 0) throw Error("sensitivity: the configuration quantizes no decoder Linear");

    // 3. base pass: the reference's final hidden states and the imatrix sums
    std::map<std::string, at::Tensor> sumsq;
    ref->set_observer([&](const Linear& l, const at::Tensor& x) {
        at::Tensor s = x.to(at::kFloat).pow(2).reshape({-1, x.size(-1)}).sum(0).cpu();
        auto it = sumsq.find(l.name);
        if (it == sumsq.end())
            sumsq.emplace(l.name, s);
        else
            it->second.add_(s);
    });
    at::Tensor base_final;
    {
        Progress p = progress.sub(0.2, 0.25);
        at::Tensor h = ref->embed(w.ids);
        for (size_t b = 0; b < nb; ++b) {
            p.check();
            ScopedBlock hold(*ref, b);
            h = ref->block_forward(b, h);
            p(double(b + 1) / nb, "reference pass: block " + std::to_string(b + 1) + "/" + std::to_string(nb));
        }
        base_final = h;
    }
    ref->clear_observer();
    const Scorer scorer(*ref, w, base_final);

    SensitivityResult r;
    r.configuration = cfg.describe();
    r.config_json = cfg.to_json();
    r.seqlen = w.seqlen;
    r.nsamples = w.n;
    r.tokens = w.n * w.seqlen;
    r.dataset = dataset;
    r.mode = session.mode_name() + (lazy ? ", reference blocks rebuilt on demand" : "");
    {
        auto [ppl, kl] = scorer.score(base_final);
        r.base_ppl = ppl;
    }

    // 4. candidates, block by block: the hidden states entering block b are the reference's
    const int64_t total = (opts.linears ? n_linear_candidates : 0) + (opts.blocks ? int64_t(nb) : 0);
    int64_t done = 0;
    const Progress cand = progress.sub(0.25, opts.total ? 0.9 : 1.0);
    std::vector<SensitivityEntry> block_entries;
    int64_t linear_order = 0;
    at::Tensor h = ref->embed(w.ids);
    for (size_t b = 0; b < nb; ++b) {
        cand.check();
        // hold block b for its candidates (lazy reference: loaded once here)
        const bool load_here = !ref->blocks[b].loaded;
        if (load_here) ref->set_block(b, ref->block_loader(b));
        DecoderBlock& blk = ref->blocks[b];
        std::vector<Linear*> ls;
        for (Linear* l : block_linears(blk))
            if (std::find(quantized[b].begin(), quantized[b].end(), l->name) != quantized[b].end()) ls.push_back(l);

        auto evaluate = [&](const std::vector<Linear*>& which, SensitivityEntry& en) {
            Swap s = quantize_in_place(blk, which, e);
            at::Tensor out;
            try {
                out = run_from(*ref, h, b, cand);
            } catch (...) {
                blk = s.saved;
                throw;
            }
            blk = s.saved;
            auto [ppl, kl] = scorer.score(out);
            en.ppl = ppl;
            en.delta_ppl = ppl - r.base_ppl;
            en.kl = kl;
            en.params = s.params;
            en.weight_rel_error = s.norm2 > 0 ? std::sqrt(s.err2 / s.norm2) : 0;
            en.block = int64_t(b);
            ++done;
            cand(double(done) / double(total),
                 "block " + std::to_string(b + 1) + "/" + std::to_string(nb) + ": " + en.name);
        };
        if (opts.linears)
            for (Linear* l : ls) {
                SensitivityEntry en;
                en.name = l->name;
                en.kind = "linear";
                en.role = role_of(l->name);
                en.order = linear_order++;
                auto it = sumsq.find(l->name);
                if (it != sumsq.end()) {
                    at::Tensor v = it->second;
                    const double mean = v.mean().item<double>();
                    en.imatrix.tokens = r.tokens;
                    en.imatrix.mean_sq = mean / double(r.tokens);
                    en.imatrix.max_ratio = mean > 0 ? v.max().item<double>() / mean : 0;
                    en.imatrix.top_channel = v.argmax().item<int64_t>();
                    r.imatrix.emplace_back(l->name, v);
                }
                evaluate({l}, en);
                r.entries.push_back(en);
                if (on_entry) on_entry(r.entries.back());
            }
        if (opts.blocks && !ls.empty()) {
            SensitivityEntry en;
            en.name = block_prefix(*ls.front(), b);
            en.kind = "block";
            en.role = "block";
            en.order = int64_t(b);
            evaluate(ls, en);
            block_entries.push_back(en);
            if (on_entry) on_entry(block_entries.back());
        }
        h = ref->block_forward(b, h);  // the reference's input to block b + 1
        if (load_here) ref->blocks[b].unload();
    }
    for (auto& en : block_entries) r.entries.push_back(std::move(en));
    ref.reset();

    // 5. the whole configuration on the same windows
    if (opts.total) {
        PplOptions po;
        po.seqlen = w.seqlen;
        po.nsamples = w.n;
        po.kl = true;
        EvalReport ev = session.evaluate(cfg, ids_in, po, progress.sub(0.9, 1.0));
        r.total_ppl = ev.ppl.ppl;
        if (ev.ppl.kl) r.total_kl = *ev.ppl.kl;
    }

    std::ostringstream p;
    p << "the first " << w.n << " non-overlapping windows of " << w.seqlen << " tokens of " << dataset
      << " (single BOS, one tokenization: the perplexity protocol); for each decoder Linear (and block) only that "
         "one quantized with the configuration '"
      << r.configuration
      << "' (its searches run once on the whole model: the same weights as the full configuration), every other "
         "Linear at its pre-quantization weight; ppl = exp(mean per-window cross-entropy); KL(reference || "
         "quantized) per scored token, reference = the unquantized model with the configuration's "
         "function-preserving transforms folded in (base_ppl; AWQ clips go with each candidate's quantization); "
         "imatrix = sum of x^2 per input channel of each "
         "Linear over the same "
      << r.tokens << " tokens (llama.cpp imatrix), in the basis the quantizer sees";
    r.protocol = p.str();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress(1.0, "sensitivity done");
    return r;
}

std::vector<std::string> most_sensitive_linears(const std::vector<SensitivityEntry>& entries, int64_t n,
                                                const std::string& metric) {
    if (metric != "kl" && metric != "ppl")
        throw Error("sensitivity: rank by 'kl' (mean KL) or 'ppl' (delta ppl), not '" + metric + "'");
    if (n < 0) throw Error("sensitivity: the number of Linears to keep must be >= 0, found " + std::to_string(n));
    std::vector<const SensitivityEntry*> lin;
    for (const auto& e : entries)
        if (e.kind == "linear") lin.push_back(&e);
    auto key = [&](const SensitivityEntry* e) { return metric == "ppl" ? e->delta_ppl : e->kl.mean; };
    std::stable_sort(lin.begin(), lin.end(), [&](auto* a, auto* b) { return key(a) > key(b); });
    std::vector<std::string> out;
    for (size_t i = 0; i < lin.size() && int64_t(i) < n; ++i) out.push_back(lin[i]->name);
    return out;
}

std::map<std::string, LinearOverride> most_sensitive_overrides(const std::vector<SensitivityEntry>& entries, int64_t n,
                                                               const LinearOverride& keep, const std::string& metric) {
    std::map<std::string, LinearOverride> out;
    for (const auto& name : most_sensitive_linears(entries, n, metric)) out[name] = keep;
    return out;
}

}  // namespace qs
