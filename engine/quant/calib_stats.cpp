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

}  // namespace

CalibStats collect_calibration_stats(CausalLM& model, const at::Tensor& blocks, const std::string& description,
                                     const Progress& progress, int64_t batch, int64_t sample_tokens) {
    c10::InferenceMode guard;
    if (blocks.dim() != 2 || blocks.size(0) == 0) throw Error("calibration blocks must be a non-empty [N, T] tensor");
    const int64_t N = blocks.size(0), T = blocks.size(1);
    const int64_t total_tokens = N * T;
    const int64_t stride = std::max<int64_t>(1, total_tokens / std::max<int64_t>(1, sample_tokens));
    std::map<std::string, Accum> acc;
    int64_t seen_before = 0;  // tokens processed before the current batch
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
    try {
        for (int64_t i = 0; i < N; i += batch) {
            progress.check();
            const int64_t nb = std::min(batch, N - i);
            // The forward without lm_head's product (a third of the work on small models):
            // its input is observed, its logits are not needed.
            at::Tensor h = model.embed(blocks.narrow(0, i, nb).to(model.device()));
            for (size_t b = 0; b < model.blocks.size(); ++b) h = model.block_forward(b, h);
            observe(model.lm_head, model.head_input(h));
            seen_before += nb * T;
            progress(double(i + nb) / N, "calibration block " + std::to_string(i + nb) + "/" + std::to_string(N));
        }
    } catch (...) {
        model.clear_observer();
        throw;
    }
    model.clear_observer();
    CalibStats out;
    out.calibration = description;
    for (auto& [name, s] : acc) {
        ChannelStats c;
        c.mean_abs = (s.sum_abs / static_cast<double>(s.tokens)).to(at::kFloat);
        c.max_abs = s.max_abs;
        c.tokens = s.tokens;
        if (!s.samples.empty()) c.sample_inputs = at::cat(s.samples, 0).narrow(0, 0, std::min<int64_t>(sample_tokens, at::cat(s.samples, 0).size(0)));
        out.per_linear[name] = std::move(c);
    }
    return out;
}

}  // namespace qs
