#include "models/rope.h"

#include <ATen/ATen.h>

#include <cmath>

namespace qs {

at::Tensor rope_inv_freq(const ModelConfig& c) {
    const int64_t dim = c.head_dim;
    at::Tensor idx = at::arange(0, dim, 2, at::kLong).to(at::kFloat);
    at::Tensor inv = 1.0 / at::pow(at::scalar_tensor(c.rope_theta, at::kFloat), idx / static_cast<double>(dim));
    if (c.rope.type == "linear") {
        inv = inv / c.rope.factor;
    } else if (c.rope.type == "llama3") {
        const double factor = c.rope.factor, lo = c.rope.low_freq_factor, hi = c.rope.high_freq_factor;
        const double old_ctx = static_cast<double>(c.rope.original_max_position_embeddings);
        const double low_wavelen = old_ctx / lo, high_wavelen = old_ctx / hi;
        at::Tensor wavelen = 2 * M_PI / inv;
        at::Tensor inv_llama = at::where(wavelen > low_wavelen, inv / factor, inv);
        at::Tensor smooth = (old_ctx / wavelen - lo) / (hi - lo);
        at::Tensor smoothed = (1 - smooth) * inv_llama / factor + smooth * inv_llama;
        at::Tensor medium = (wavelen < high_wavelen).logical_not().logical_and((wavelen > low_wavelen).logical_not());
        inv = at::where(medium, smoothed, inv_llama);
    }
    return inv.contiguous();
}

std::pair<at::Tensor, at::Tensor> rope_cos_sin(const at::Tensor& inv_freq, int64_t past, int64_t T,
                                               c10::ScalarType dtype) {
    at::Tensor pos = at::arange(past, past + T, inv_freq.options().dtype(at::kLong)).to(at::kFloat);
    at::Tensor freqs = pos.unsqueeze(1) * inv_freq.unsqueeze(0);  // [T, D/2]
    at::Tensor emb = at::cat({freqs, freqs}, -1);
    return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    const int64_t half = x.size(-1) / 2;
    at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
    at::Tensor rot = at::cat({-x2, x1}, -1);
    return x * cos + rot * sin;
}

}  // namespace qs
