#include "quant/gptq.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>

#include "core/error.h"

namespace qs {

namespace {

using Clock = std::chrono::steady_clock;

// quant.py Quantizer.find_params(x, weight=True) with perchannel=True, mse=False: one grid per
// row of x. scale, zero: float32 [rows, 1].
struct Grid {
    at::Tensor scale, zero;
};

Grid find_params(const at::Tensor& x, int64_t maxq, bool sym) {
    at::Tensor zeros = at::zeros({x.size(0)}, x.options());
    at::Tensor xmin = at::minimum(std::get<0>(x.min(1)), zeros);
    at::Tensor xmax = at::maximum(std::get<0>(x.max(1)), zeros);
    if (sym) {
        xmax = at::maximum(xmin.abs(), xmax);
        xmin = at::where(xmin < 0, -xmax, xmin);
    }
    at::Tensor both0 = xmin.eq(0).logical_and(xmax.eq(0));
    xmin = at::where(both0, at::full_like(xmin, -1), xmin);
    xmax = at::where(both0, at::full_like(xmax, 1), xmax);
    Grid g;
    g.scale = (xmax - xmin) / static_cast<double>(maxq);
    g.zero = sym ? at::full_like(g.scale, static_cast<double>(maxq + 1) / 2) : at::round(-xmin / g.scale);
    g.scale = g.scale.unsqueeze(1);
    g.zero = g.zero.unsqueeze(1);
    return g;
}

// Which Linears are quantized together (each group sees the ones before it quantized).
std::vector<std::vector<Linear*>> sequential_groups(DecoderBlock& b, bool true_sequential) {
    std::vector<std::vector<Linear*>> g;
    if (b.gated())
        g = {{&b.k, &b.v, &b.q}, {&b.o}, {&b.up, &b.gate}, {&b.down}};
    else
        g = {{&b.q, &b.k, &b.v}, {&b.o}, {&b.up}, {&b.down}};
    for (auto& v : g) {
        std::vector<Linear*> keep;
        for (Linear* l : v)
            if (l->present() && l->weight.defined()) keep.push_back(l);
        v = keep;
    }
    if (!true_sequential) {
        std::vector<Linear*> all;
        for (auto& v : g) all.insert(all.end(), v.begin(), v.end());
        g = {all};
    }
    return g;
}

template <class Fn>
at::Tensor chunked(const at::Tensor& x, int64_t chunk, const Fn& f) {
    if (chunk <= 0 || x.size(0) <= chunk) return f(x);
    std::vector<at::Tensor> out;
    for (int64_t s = 0; s < x.size(0); s += chunk) out.push_back(f(x.narrow(0, s, std::min(chunk, x.size(0) - s))));
    return at::cat(out, 0);
}

}  // namespace

GptqOptions GptqOptions::from_spec(const QuantSpec& spec) {
    if (spec.granularity == Granularity::PerTensor)
        throw Error("GPTQ quantizes per channel or per group (--w-quant per-channel or per-group), not per tensor");
    if (spec.bits < 2 || spec.bits > 8) throw Error("GPTQ: --w-bits must be in 2..8, got " + std::to_string(spec.bits));
    GptqOptions o;
    o.bits = spec.bits;
    o.group_size = spec.granularity == Granularity::PerGroup ? spec.group_size : -1;
    if (spec.granularity == Granularity::PerGroup && spec.group_size < 1)
        throw Error("GPTQ: group size must be positive, got " + std::to_string(spec.group_size));
    o.symmetric = spec.symmetric;
    return o;
}

GptqOptions GptqOptions::for_linear(const std::string& linear) const {
    auto it = linear_spec.find(linear);
    if (it == linear_spec.end()) return *this;
    GptqOptions o = *this;
    const GptqOptions s = from_spec(it->second);
    o.bits = s.bits;
    o.group_size = s.group_size;
    o.symmetric = s.symmetric;
    return o;
}

const GptqLinear* GptqResult::find(const std::string& name) const {
    for (const auto& l : linears)
        if (l.name == name) return &l;
    return nullptr;
}

at::Tensor GptqLinear::dequantize(c10::ScalarType dtype) const {
    c10::InferenceMode guard;
    at::Tensor gi = g_idx.to(at::kLong).to(scale.device());
    at::Tensor s = scale.index_select(1, gi), z = zero.index_select(1, gi);
    return (s * (codes.to(at::kFloat) - z)).to(dtype);
}

GptqHessian::GptqHessian(int64_t columns, c10::Device device)
    : h_(at::zeros({columns, columns}, at::TensorOptions().dtype(at::kFloat).device(device))) {}

void GptqHessian::add_sample(const at::Tensor& x_in) {
    // gptq.py add_batch with one sample (tmp = 1): H *= n / (n + 1); n += 1; x *= sqrt(2 / n); H += x^T x
    at::Tensor x = x_in.reshape({-1, x_in.size(-1)}).to(h_.device(), at::kFloat);
    h_.mul_(static_cast<double>(n_) / static_cast<double>(n_ + 1));
    n_ += 1;
    x = x * std::sqrt(2.0 / static_cast<double>(n_));
    h_.add_(at::matmul(x.t(), x));
}

GptqLinear gptq_quantize_weight(const at::Tensor& w_in, const at::Tensor& h_in, const GptqOptions& o) {
    c10::InferenceMode guard;
    const auto t0 = Clock::now();
    if (w_in.dim() != 2) throw Error("GPTQ expects a 2-D weight");
    const int64_t rows = w_in.size(0), cols = w_in.size(1);
    if (!h_in.defined() || h_in.dim() != 2 || h_in.size(0) != cols || h_in.size(1) != cols)
        throw Error("GPTQ: the Hessian must be [" + std::to_string(cols) + ", " + std::to_string(cols) + "]");
    if (o.bits < 2 || o.bits > 8) throw Error("GPTQ: bits must be in 2..8");
    const int64_t maxq = (int64_t(1) << o.bits) - 1;
    const int64_t gs = o.group_size;
    const bool grouped = gs > 0;
    const int64_t bs = std::max<int64_t>(1, o.block_size);
    at::Tensor W = w_in.to(at::kFloat).clone();
    at::Tensor H = h_in.to(W.device(), at::kFloat).clone();

    std::optional<Grid> channel;
    if (!grouped) channel = find_params(W, maxq, o.symmetric);  // before dead columns are zeroed (as the reference)

    at::Tensor dead = H.diagonal().eq(0);
    if (dead.any().item<bool>()) {
        H.diagonal().masked_fill_(dead, 1.0);
        W.masked_fill_(dead.unsqueeze(0), 0.0);
    }
    std::vector<Grid> static_groups;
    if (grouped && o.static_groups)
        for (int64_t c = 0; c < cols; c += gs)
            static_groups.push_back(find_params(W.narrow(1, c, std::min(gs, cols - c)), maxq, o.symmetric));

    at::Tensor perm, invperm;
    std::vector<int64_t> perm_v;
    if (o.act_order) {
        perm = at::argsort(H.diagonal(), /*dim=*/0, /*descending=*/true);
        W = W.index_select(1, perm);
        H = H.index_select(0, perm).index_select(1, perm);
        invperm = at::argsort(perm);
        at::Tensor pc = perm.cpu();
        perm_v.assign(pc.data_ptr<int64_t>(), pc.data_ptr<int64_t>() + cols);
    }

    const double damp = o.percdamp * H.diagonal().mean().item<double>();
    H.diagonal().add_(damp);
    at::Tensor L, info;
    std::tie(L, info) = at::linalg_cholesky_ex(H);
    if (info.item<int64_t>() != 0)
        throw Error("GPTQ: the Hessian is not positive definite after dampening " + std::to_string(o.percdamp) +
                    " x mean(diag) (too few calibration tokens for " + std::to_string(cols) +
                    " inputs?); use more calibration samples or a larger dampening");
    at::Tensor Hinv = at::linalg_cholesky(at::cholesky_inverse(L), /*upper=*/true);

    const int64_t ngroups = grouped ? (cols + gs - 1) / gs : 1;
    at::Tensor scale = at::zeros({rows, ngroups}, W.options());
    at::Tensor zero = at::zeros({rows, ngroups}, W.options());
    at::Tensor Q = at::zeros_like(W);
    at::Tensor codes = at::zeros_like(W);
    double loss = 0;
    Grid cur;
    if (channel) {
        cur = *channel;
        scale.narrow(1, 0, 1).copy_(cur.scale);
        zero.narrow(1, 0, 1).copy_(cur.zero);
    }
    for (int64_t i1 = 0; i1 < cols; i1 += bs) {
        const int64_t i2 = std::min(i1 + bs, cols), count = i2 - i1;
        at::Tensor W1 = W.narrow(1, i1, count).clone();
        at::Tensor Q1 = at::zeros_like(W1), C1 = at::zeros_like(W1), Err1 = at::zeros_like(W1), L1 = at::zeros_like(W1);
        at::Tensor Hinv1 = Hinv.narrow(0, i1, count).narrow(1, i1, count);
        at::Tensor dcol = Hinv1.diagonal().to(at::kCPU).contiguous();
        const float* dp = dcol.data_ptr<float>();
        for (int64_t i = 0; i < count; ++i) {
            const int64_t col = i1 + i;
            if (grouped) {
                if (!o.static_groups) {
                    if (col % gs == 0) {
                        // the reference reads W here: this block's columns as they were when it started
                        cur = find_params(W.narrow(1, col, std::min(gs, cols - col)), maxq, o.symmetric);
                        scale.narrow(1, col / gs, 1).copy_(cur.scale);
                        zero.narrow(1, col / gs, 1).copy_(cur.zero);
                    }
                } else {
                    const int64_t idx = o.act_order ? perm_v[static_cast<size_t>(col)] : col;
                    cur = static_groups[static_cast<size_t>(idx / gs)];
                }
            }
            at::Tensor w = W1.select(1, i);
            const double d = dp[i];
            at::Tensor c = at::clamp(at::round(w.unsqueeze(1) / cur.scale) + cur.zero, 0, static_cast<double>(maxq));
            at::Tensor q = (cur.scale * (c - cur.zero)).flatten();
            Q1.select(1, i).copy_(q);
            C1.select(1, i).copy_(c.flatten());
            L1.select(1, i).copy_((w - q).pow(2) / (d * d));
            at::Tensor err = (w - q) / d;
            W1.narrow(1, i, count - i)
                .sub_(err.unsqueeze(1).matmul(Hinv1.select(0, i).narrow(0, i, count - i).unsqueeze(0)));
            Err1.select(1, i).copy_(err);
        }
        Q.narrow(1, i1, count).copy_(Q1);
        codes.narrow(1, i1, count).copy_(C1);
        loss += (L1 / 2).sum().item<double>();
        if (i2 < cols) W.narrow(1, i2, cols - i2).sub_(Err1.matmul(Hinv.narrow(0, i1, count).narrow(1, i2, cols - i2)));
    }
    if (grouped && o.static_groups) {
        for (size_t g = 0; g < static_groups.size(); ++g) {
            scale.narrow(1, static_cast<int64_t>(g), 1).copy_(static_groups[g].scale);
            zero.narrow(1, static_cast<int64_t>(g), 1).copy_(static_groups[g].zero);
        }
    }
    at::Tensor pos = at::arange(cols, at::TensorOptions().dtype(at::kLong).device(W.device()));
    if (o.act_order) {
        codes = codes.index_select(1, invperm);
        Q = Q.index_select(1, invperm);
        if (grouped && !o.static_groups) pos = invperm;  // group of an original column: its permuted position / gs
    }
    GptqLinear r;
    r.codes = codes.to(at::kByte);
    r.scale = scale;
    r.zero = zero;
    r.g_idx = (grouped ? at::div(pos, gs, "floor") : at::zeros_like(pos)).to(at::kInt).cpu();
    r.loss = loss;
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return r;
}

GptqResult gptq_model(CausalLM& model, const at::Tensor& calib, const GptqOptions& o, const Progress& progress) {
    c10::InferenceMode guard;
    const auto t0 = Clock::now();
    if (calib.dim() != 2 || calib.size(0) < 1) throw Error("GPTQ needs calibration blocks [N, T]");
    GptqResult res;
    at::Tensor ids = calib.to(model.device());
    const int64_t n = ids.size(0);
    at::Tensor inps = chunked(ids, o.chunk, [&](const at::Tensor& c) { return model.embed(c, 0); });
    const size_t nb = model.blocks.size();
    int64_t total = 0, done = 0;
    for (const Linear* l : model.decoder_linears())
        if (l->present() && !o.skipped.count(l->name)) ++total;
    auto forward_all = [&](size_t bi) {
        return chunked(inps, o.chunk, [&](const at::Tensor& c) {
            progress.check();
            return model.block_forward(bi, c, 0, nullptr);
        });
    };
    for (size_t bi = 0; bi < nb; ++bi) {
        progress.check();
        if (o.acquire_block) o.acquire_block(bi);
        DecoderBlock& b = model.blocks[bi];
        for (auto group : sequential_groups(b, o.true_sequential)) {
            group.erase(std::remove_if(group.begin(), group.end(),
                                       [&](const Linear* l) { return o.skipped.count(l->name) > 0; }),
                        group.end());
            if (group.empty()) continue;
            std::map<std::string, GptqHessian> hs;
            for (Linear* l : group) hs.emplace(l->name, GptqHessian(l->in_features, model.device()));
            model.set_observer([&](const Linear& l, const at::Tensor& x) {
                auto it = hs.find(l.name);
                if (it == hs.end()) return;
                for (int64_t s = 0; s < x.size(0); ++s) it->second.add_sample(x.select(0, s));
            });
            try {
                forward_all(bi);
            } catch (...) {
                model.clear_observer();
                throw;
            }
            model.clear_observer();
            for (Linear* l : group) {
                progress.check();
                const GptqHessian& h = hs.at(l->name);
                GptqLinear q;
                try {
                    q = gptq_quantize_weight(l->weight, h.h(), o.for_linear(l->name));
                } catch (const Error& e) {
                    throw Error(l->name + ": " + e.what());
                }
                q.name = l->name;
                q.block = static_cast<int64_t>(bi);
                q.samples = h.samples();
                l->weight = q.dequantize(l->weight.scalar_type()).to(l->weight.device());
                ++done;
                if (o.on_linear) o.on_linear(q, done, total);
                res.linears.push_back(std::move(q));
                progress(double(done) / double(std::max<int64_t>(1, total)),
                         "GPTQ " + l->name + " (" + std::to_string(done) + "/" + std::to_string(total) + ")");
            }
        }
        inps = forward_all(bi);  // the quantized block's outputs feed the next block
        if (o.release_block) o.release_block(bi);
    }
    (void)n;
    res.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return res;
}

}  // namespace qs
