// llm-awq auto_scale + auto_clip, block by block (awq/quantize/auto_scale.py, auto_clip.py).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <map>

#include "core/device.h"
#include "core/error.h"
#include "quant/awq.h"

namespace qs {

namespace {

using Fn = std::function<at::Tensor(const at::Tensor&)>;

at::Tensor chunked(const at::Tensor& x, int64_t chunk, const Fn& f) {
    std::vector<at::Tensor> outs;
    for (int64_t i = 0; i < x.size(0); i += chunk) outs.push_back(f(x.narrow(0, i, std::min(chunk, x.size(0) - i))));
    return outs.size() == 1 ? outs[0] : at::cat(outs, 0);
}

// Summed on the device (float64; float32 on MPS), read back once: one host sync per loss.
double chunked_mse(const at::Tensor& x, const at::Tensor& ref, int64_t chunk, const Fn& f) {
    const auto acc = accumulation_dtype(ref.device());
    at::Tensor sum = at::zeros({}, ref.options().dtype(acc));
    for (int64_t i = 0; i < x.size(0); i += chunk) {
        const int64_t n = std::min(chunk, x.size(0) - i);
        sum += (ref.narrow(0, i, n) - f(x.narrow(0, i, n))).to(at::kFloat).pow(2).sum(acc);
    }
    return sum.item<double>() / static_cast<double>(ref.numel());
}

// Column ranges of the quantization groups of a row of length `in`.
std::vector<std::pair<int64_t, int64_t>> group_ranges(int64_t in, const QuantSpec& spec) {
    std::vector<std::pair<int64_t, int64_t>> r;
    const int64_t g = spec.granularity == Granularity::PerGroup ? std::min(spec.group_size, in) : in;
    for (int64_t c = 0; c < in; c += g) r.push_back({c, std::min(g, in - c)});
    return r;
}

// AutoAWQ's weight term for duo_scaling: mean over output rows of |w| / max|w| of its group
// (the quantizer's groups: a row that is not a multiple of the group size has a shorter last group).
// Mixed precision: each Linear's rows normalised by the groups of its own spec.
at::Tensor weight_mean(const std::vector<Linear*>& fcs, const AwqOptions& o) {
    std::vector<at::Tensor> rows;
    for (auto* fc : fcs) {
        at::Tensor w = fc->weight.to(at::kFloat).abs();
        std::vector<at::Tensor> cols;
        for (auto [c0, k] : group_ranges(w.size(1), o.spec_of(fc->name))) {
            at::Tensor wg = w.narrow(1, c0, k);
            cols.push_back(wg / (wg.amax(1, true) + 1e-6));
        }
        rows.push_back(at::cat(cols, 1));
    }
    return at::cat(rows, 0).mean(0);
}

// Gram matrix X^T X of the rows of x [.., in], accumulated in float64 (float32 on MPS) from
// float32 products over slices of kGramRows rows (the float32 GEMM error stays ~sqrt(kGramRows) ulp).
at::Tensor gram(const at::Tensor& x_in) {
    constexpr int64_t kGramRows = 1024;
    at::Tensor x = x_in.reshape({-1, x_in.size(-1)});
    const auto acc = accumulation_dtype(x.device());
    at::Tensor g = at::zeros({x.size(1), x.size(1)}, x.options().dtype(acc));
    for (int64_t i = 0; i < x.size(0); i += kGramRows) {
        at::Tensor c = x.narrow(0, i, std::min(kGramRows, x.size(0) - i)).to(at::kFloat);
        g += at::matmul(c.t(), c).to(acc);
    }
    return g;
}

AwqGroup search_group(const std::vector<Linear*>& fcs, const at::Tensor& x, const Fn& inspect, const AwqOptions& o,
                      bool linear_only = false) {
    AwqGroup g;
    const int64_t in = x.size(-1);
    at::Tensor x_mean = x.reshape({-1, in}).abs().mean(0).to(at::kFloat);  // get_act_scale
    at::Tensor w_mean = o.duo_scaling ? weight_mean(fcs, o) : at::Tensor();
    // The inspected module is the one scaled Linear: its output error is X (Wq - W)^T (the bias
    // cancels), so the output MSE is sum((D G) * D) / (rows * out) with D = Wq - W, G = X^T X.
    // Same loss as running the Linear per grid point, but one pass over X instead of n_grid.
    // Per ratio that costs out * in^2 float64 multiply-adds instead of rows * in * out float32
    // ones: worth it once the calibration set has several times more tokens than inputs
    // (128 x 512 tokens: 21x fewer operations for OPT-125m's fc2), not for a handful of blocks.
    const int64_t rows_n = x.numel() / in;
    const bool use_gram = linear_only && o.gram_loss && fcs.size() == 1 && rows_n >= 4 * in;
    at::Tensor gm, org_out;
    if (use_gram)
        gm = gram(x);
    else
        org_out = chunked(x, o.chunk, inspect);
    const double rows = static_cast<double>(rows_n);
    g.gram_loss = use_gram;
    std::vector<at::Tensor> orig;
    for (auto* fc : fcs) orig.push_back(fc->weight);
    double best = std::numeric_limits<double>::infinity();
    for (int r = 0; r < o.n_grid; ++r) {
        const double ratio = static_cast<double>(r) / o.n_grid;
        at::Tensor s = o.duo_scaling ? (x_mean.pow(ratio) / (w_mean.pow(1 - ratio) + 1e-4)).clamp_min(1e-4)
                                     : x_mean.pow(ratio).clamp_min(1e-4);
        s = s / (s.max() * s.min()).sqrt();
        s = at::where(at::isfinite(s), s, at::ones_like(s));
        at::Tensor sv = s.view({1, -1});
        for (size_t k = 0; k < fcs.size(); ++k) {
            if (o.skipped.count(fcs[k]->name)) continue;  // stays in full precision
            at::Tensor svk = sv.to(orig[k].scalar_type());
            fcs[k]->weight = pseudo_quantize(orig[k] * svk, o.spec_of(fcs[k]->name)) / svk;
        }
        double loss;
        if (use_gram) {
            at::Tensor d = (fcs[0]->weight.to(at::kFloat) - orig[0].to(at::kFloat)).to(gm.scalar_type());
            loss = (at::matmul(d, gm) * d).sum().item<double>() / (rows * static_cast<double>(d.size(0)));
        } else {
            loss = chunked_mse(x, org_out, o.chunk, inspect);
        }
        for (size_t k = 0; k < fcs.size(); ++k) fcs[k]->weight = orig[k];
        g.loss.push_back(loss);
        if (loss < best) {
            best = loss;
            g.best = r;
            g.best_ratio = ratio;
            g.scales = s.cpu();
        }
    }
    if (g.best < 0) throw Error("AWQ scale search found no finite loss (NaN activations?)");
    return g;
}

void scale_norm_fcs(Norm& n, const std::vector<Linear*>& fcs, const at::Tensor& s_cpu) {
    if (!n.weight.defined()) throw Error("AWQ cannot fold scales into " + n.name + ": it has no weight");
    at::Tensor s = s_cpu.to(n.weight.device(), n.weight.scalar_type());
    n.weight = n.weight / s;
    if (n.bias.defined()) n.bias = n.bias / s;
    for (auto* fc : fcs) fc->weight = fc->weight * s.view({1, -1});
}

void scale_fc_fc(Linear& prev, Linear& next, const at::Tensor& s_cpu) {
    at::Tensor s = s_cpu.to(prev.weight.device(), prev.weight.scalar_type());
    const int64_t n = s.size(0), rows = prev.weight.size(0);
    at::Tensor head = prev.weight.narrow(0, 0, rows - n), tail = prev.weight.narrow(0, rows - n, n) / s.view({-1, 1});
    prev.weight = rows == n ? tail : at::cat({head, tail}, 0);
    if (prev.bias.defined()) prev.bias = prev.bias / s.view({-1});
    next.weight = next.weight * s.view({1, -1});
}

at::Tensor auto_clip_linear(const at::Tensor& w_in, const at::Tensor& x_in, const AwqOptions& o,
                            const QuantSpec& spec) {
    at::Tensor w = w_in.to(at::kFloat);
    at::Tensor x = x_in.reshape({-1, x_in.size(-1)}).to(at::kFloat);
    const int64_t stride = std::max<int64_t>(1, x.size(0) / o.clip_tokens);
    x = x.index_select(0, at::arange(0, x.size(0), stride, at::TensorOptions().dtype(at::kLong).device(x.device())));
    QuantSpec per_row = spec;
    per_row.granularity = Granularity::PerChannel;
    const auto ranges = group_ranges(w.size(1), spec);
    std::vector<at::Tensor> best_cols;
    const int steps = static_cast<int>(o.max_shrink * o.n_grid);
    for (auto [c0, k] : ranges) {
        at::Tensor wg = w.narrow(1, c0, k), xg = x.narrow(1, c0, k);
        at::Tensor org_out = at::matmul(xg, wg.t());  // [t, co]
        at::Tensor org_max = wg.abs().amax(1, true);  // [co, 1]
        at::Tensor best = org_max.clone();
        at::Tensor min_err = at::full({wg.size(0), 1}, 1e9, wg.options());
        for (int i = 0; i < steps; ++i) {
            at::Tensor mv = org_max * (1.0 - static_cast<double>(i) / o.n_grid);
            at::Tensor cur = at::max(at::min(wg, mv), -mv);
            at::Tensor q = pseudo_quantize(cur, per_row);
            at::Tensor err = (at::matmul(xg, q.t()) - org_out).pow(2).mean(0).view({-1, 1});
            at::Tensor better = err < min_err;
            min_err = at::where(better, err, min_err);
            best = at::where(better, mv, best);
        }
        best_cols.push_back(best);
    }
    return at::cat(best_cols, 1).cpu();  // [co, n_groups]
}

}  // namespace

void apply_clip(Linear& l, const at::Tensor& max_val_cpu, const QuantSpec& spec) {
    const auto ranges = group_ranges(l.weight.size(1), spec);
    at::Tensor mv = max_val_cpu.to(l.weight.device(), l.weight.scalar_type());
    std::vector<at::Tensor> cols;
    for (size_t gi = 0; gi < ranges.size(); ++gi) {
        at::Tensor m = mv.narrow(1, static_cast<int64_t>(gi), 1);
        cols.push_back(at::max(at::min(l.weight.narrow(1, ranges[gi].first, ranges[gi].second), m), -m));
    }
    l.weight = at::cat(cols, 1);
}

const QuantSpec& AwqOptions::spec_of(const std::string& linear) const {
    auto it = linear_spec.find(linear);
    return it == linear_spec.end() ? spec : it->second;
}

AwqResult awq_auto(CausalLM& model, const at::Tensor& calib, const AwqOptions& o, const Progress& progress) {
    c10::InferenceMode guard;
    const auto t0 = std::chrono::steady_clock::now();
    if (model.config.arch == Arch::OPT && !model.config.do_layer_norm_before)
        throw Error("AWQ auto-scale needs a pre-LN model; " + model.source_dir +
                    " is a post-LN OPT (do_layer_norm_before=false, like opt-350m)");
    AwqResult res;
    if (auto note = precision_note(model.device(), "AWQ losses and Gram matrices"); !note.empty())
        res.notes.push_back(note);
    at::Tensor ids = calib.to(model.device());
    at::Tensor inps = chunked(ids, o.chunk, [&](const at::Tensor& c) { return model.embed(c, 0); });
    const size_t nb = model.blocks.size();
    for (size_t bi = 0; bi < nb; ++bi) {
        progress.check();
        if (o.acquire_block) o.acquire_block(bi);
        DecoderBlock& b = model.blocks[bi];
        // 1. inputs of every Linear of this block, and the block output (next block's input)
        std::map<std::string, std::vector<at::Tensor>> feats;
        model.set_observer([&](const Linear& l, const at::Tensor& x) { feats[l.name].push_back(x); });
        at::Tensor outs;
        try {
            outs = chunked(inps, o.chunk, [&](const at::Tensor& c) { return model.block_forward(bi, c, 0, nullptr); });
        } catch (...) {
            model.clear_observer();
            throw;
        }
        model.clear_observer();
        std::map<std::string, at::Tensor> feat;
        for (auto& [name, v] : feats) feat[name] = v.size() == 1 ? v[0] : at::cat(v, 0);
        auto input_of = [&](const Linear& l) -> at::Tensor& {
            auto it = feat.find(l.name);
            if (it == feat.end()) throw Error("AWQ: no captured input for " + l.name);
            return it->second;
        };
        // 2. search every group with the original weights of this block
        struct Pending {
            AwqGroup g;
            std::function<void(const at::Tensor&)> apply;
            std::vector<Linear*> scaled;
        };
        std::vector<Pending> pend;
        auto add = [&](const std::string& prev, std::vector<Linear*> fcs, const std::string& inspected,
                       const at::Tensor& x, const Fn& f, std::function<void(const at::Tensor&)> apply) {
            Pending p;
            // the inspected module is the scaled Linear itself: out_proj, fc1 (OPT), fc2 / down_proj
            const bool linear_only = fcs.size() == 1 && inspected == fcs[0]->name;
            p.g = search_group(fcs, x, f, o, linear_only);
            p.g.block = static_cast<int64_t>(bi);
            p.g.prev_op = prev;
            for (auto* fc : fcs) p.g.linears.push_back(fc->name);
            p.g.inspected = inspected;
            p.apply = std::move(apply);
            p.scaled = fcs;
            if (o.on_group) o.on_group(p.g);
            pend.push_back(std::move(p));
            progress.check();
        };
        const std::string blk = b.q.name.substr(0, b.q.name.rfind(".self_attn"));
        add(
            b.attn_norm.name, {&b.q, &b.k, &b.v}, blk + ".self_attn", input_of(b.q),
            [&](const at::Tensor& x) { return model.attention_sublayer(b, x); },
            [&](const at::Tensor& s) {
                scale_norm_fcs(b.attn_norm, {&b.q, &b.k, &b.v}, s);
            });
        if (b.v.weight.sizes() == b.o.weight.sizes()) {
            add(
                b.v.name, {&b.o}, b.o.name, input_of(b.o), [&](const at::Tensor& x) { return b.o.forward(x); },
                [&](const at::Tensor& s) { scale_fc_fc(b.v, b.o, s); });
        } else {
            res.notes.push_back("block " + std::to_string(bi) + ": v_proj -> o_proj not scaled (v_proj " +
                                std::to_string(b.v.weight.size(0)) + " outputs != o_proj " +
                                std::to_string(b.o.weight.size(1)) + " inputs: grouped-query attention)");
        }
        if (b.gated()) {
            add(
                b.mlp_norm.name, {&b.gate, &b.up}, blk + ".mlp", input_of(b.gate),
                [&](const at::Tensor& x) { return model.mlp_sublayer(b, x); },
                [&](const at::Tensor& s) {
                    scale_norm_fcs(b.mlp_norm, {&b.gate, &b.up}, s);
                });
        } else {
            add(
                b.mlp_norm.name, {&b.up}, b.up.name, input_of(b.up),
                [&](const at::Tensor& x) { return b.up.forward(x); },
                [&](const at::Tensor& s) { scale_norm_fcs(b.mlp_norm, {&b.up}, s); });
        }
        add(
            b.up.name, {&b.down}, b.down.name, input_of(b.down), [&](const at::Tensor& x) { return b.down.forward(x); },
            [&](const at::Tensor& s) { scale_fc_fc(b.up, b.down, s); });
        // 3. fold the scales; divide the captured inputs of the scaled Linears for clipping
        for (auto& p : pend) {
            p.apply(p.g.scales);
            for (auto* fc : p.scaled) {
                at::Tensor& x = input_of(*fc);
                x = x / p.g.scales.to(x.device(), x.scalar_type()).view({1, 1, -1});
            }
            res.groups.push_back(std::move(p.g));
        }
        // 4. auto-clip every Linear except q/k (the qk product makes clipping imprecise)
        if (o.clip) {
            for (Linear* l : {&b.v, &b.o, &b.gate, &b.up, &b.down}) {
                if (!l->present() || o.skipped.count(l->name)) continue;
                const QuantSpec& spec = o.spec_of(l->name);
                if (spec.granularity == Granularity::PerTensor) continue;
                progress.check();
                at::Tensor mv = auto_clip_linear(l->weight, input_of(*l), o, spec);
                apply_clip(*l, mv, spec);
                res.clips.push_back({l->name, mv, spec});
            }
        }
        inps = outs;
        if (o.release_block) o.release_block(bi);
        progress(double(bi + 1) / nb, "AWQ block " + std::to_string(bi + 1) + "/" + std::to_string(nb));
    }
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

void replay_awq_block(DecoderBlock& b, int64_t index, const AwqResult& r) {
    c10::InferenceMode guard;
    auto linear = [&](const std::string& name) -> Linear* {
        for (Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down})
            if (l->present() && l->name == name) return l;
        throw Error("AWQ replay: block " + std::to_string(index) + " has no Linear '" + name + "'");
    };
    for (const AwqGroup& g : r.groups) {
        if (g.block != index) continue;
        std::vector<Linear*> fcs;
        for (const auto& n : g.linears) fcs.push_back(linear(n));
        if (g.prev_op == b.attn_norm.name)
            scale_norm_fcs(b.attn_norm, fcs, g.scales);
        else if (g.prev_op == b.mlp_norm.name)
            scale_norm_fcs(b.mlp_norm, fcs, g.scales);
        else
            scale_fc_fc(*linear(g.prev_op), *fcs.at(0), g.scales);
    }
    for (const AwqClip& c : r.clips) {
        for (Linear* l : {&b.v, &b.o, &b.gate, &b.up, &b.down})
            if (l->present() && l->name == c.linear) apply_clip(*l, c.max_val, c.spec);
    }
}

}  // namespace qs
