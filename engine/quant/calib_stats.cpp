#include "quant/calib_stats.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/error.h"

namespace qs {

const ChannelStats& CalibStats::at(const std::string& linear) const {
    auto it = per_linear.find(linear);
    if (it == per_linear.end()) throw Error("no calibration statistics for Linear '" + linear + "'");
    return it->second;
}

namespace {

struct Accum {
    at::Tensor sum_abs;  // float64
    at::Tensor max_abs;
    std::vector<at::Tensor> samples;
    int64_t tokens = 0;
};

CalibStats snapshot(const std::map<std::string, Accum>& acc, const std::string& description, int64_t sample_tokens,
                    int64_t samples_done, int64_t samples_total) {
    CalibStats out;
    out.calibration = description;
    out.samples_done = samples_done;
    out.samples_total = samples_total;
    for (const auto& [name, s] : acc) {
        ChannelStats c;
        c.mean_abs = (s.sum_abs / static_cast<double>(s.tokens)).to(at::kFloat);
        c.max_abs = s.max_abs;
        c.tokens = s.tokens;
        if (!s.samples.empty()) {
            at::Tensor all = at::cat(s.samples, 0);
            c.sample_inputs = all.narrow(0, 0, std::min<int64_t>(sample_tokens, all.size(0)));
        }
        out.per_linear[name] = std::move(c);
    }
    return out;
}

}  // namespace

CalibStats collect_calibration_stats(CausalLM& model, const at::Tensor& blocks, const std::string& description,
                                     const Progress& progress, int64_t batch, int64_t sample_tokens,
                                     const CalibPassOptions& opts) {
    c10::InferenceMode guard;
    if (blocks.dim() != 2 || blocks.size(0) == 0) throw Error("calibration blocks must be a non-empty [N, T] tensor");
    const int64_t N = blocks.size(0), T = blocks.size(1);
    const int64_t total_tokens = N * T;
    const int64_t stride = std::max<int64_t>(1, total_tokens / std::max<int64_t>(1, sample_tokens));
    const int64_t chunk = opts.chunk > 0 ? std::max(opts.chunk, batch) : N;
    std::map<std::string, Accum> acc;
    int64_t seen_before = 0;  // tokens of the calibration set before the batch being observed
    const LinearObserver observe = [&](const Linear& l, const at::Tensor& x) {
        at::Tensor a = x.reshape({-1, x.size(-1)}).abs().to(at::kFloat);
        Accum& s = acc[l.name];
        at::Tensor sum = a.sum(0, false, at::kDouble).cpu();
        at::Tensor mx = a.amax(0).cpu();
        if (!s.sum_abs.defined()) {
            s.sum_abs = sum;
            s.max_abs = mx;
        } else {
            s.sum_abs = s.sum_abs + sum;
            s.max_abs = at::maximum(s.max_abs, mx);
        }
        // keep every stride-th token (global index) as a sample input row
        const int64_t n = a.size(0);
        int64_t first = (stride - seen_before % stride) % stride;
        if (first < n && static_cast<int64_t>(s.samples.size()) < sample_tokens) {
            at::Tensor idx = at::arange(first, n, stride, at::TensorOptions().dtype(at::kLong).device(x.device()));
            s.samples.push_back(x.reshape({-1, x.size(-1)}).index_select(0, idx).to(at::kFloat).cpu());
        }
        s.tokens += n;
    };
    model.set_observer(observe);
    const size_t nb = model.blocks.size();
    try {
        // Samples in chunks; within a chunk block by block (a block-sequential model loads each
        // block once per chunk), `batch` samples per forward. Every batch sees the same operations
        // whatever the chunk size, so the statistics do not depend on it.
        for (int64_t c0 = 0; c0 < N; c0 += chunk) {
            const int64_t nc = std::min(chunk, N - c0);
            std::vector<at::Tensor> hs;
            std::vector<int64_t> starts;
            for (int64_t i = c0; i < c0 + nc; i += batch) {
                hs.push_back(model.embed(blocks.narrow(0, i, std::min(batch, c0 + nc - i)).to(model.device())));
                starts.push_back(i);
            }
            for (size_t b = 0; b < nb; ++b) {
                progress.check();
                ScopedBlock hold(model, b);
                for (size_t k = 0; k < hs.size(); ++k) {
                    seen_before = starts[k] * T;
                    hs[k] = model.block_forward(b, hs[k]);
                }
                const double done = (double(c0) + double(nc) * double(b + 1) / double(nb)) / double(N);
                progress(done, "calibration: " + std::to_string(c0 + nc) + "/" + std::to_string(N) + " blocks, layer " +
                                   std::to_string(b + 1) + "/" + std::to_string(nb));
            }
            // lm_head's input is observed; its logits (a third of the work on small models) are not needed
            for (size_t k = 0; k < hs.size(); ++k) {
                seen_before = starts[k] * T;
                observe(model.lm_head, model.head_input(hs[k]));
            }
            if (opts.on_partial && c0 + nc < N) opts.on_partial(snapshot(acc, description, sample_tokens, c0 + nc, N));
        }
    } catch (...) {
        model.clear_observer();
        throw;
    }
    model.clear_observer();
    return snapshot(acc, description, sample_tokens, N, N);
}

}  // namespace qs
