#include "models/attention.h"

#include <ATen/ATen.h>

#include <limits>

namespace qs {

at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                            int64_t sliding_window) {
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
    const int64_t Hkv = k.size(1), S = k.size(2), G = H / Hkv;
    const int64_t past = S - T;
    // Group the query heads that share a KV head: [B, Hkv, G*T, D]; no KV copies.
    at::Tensor qg = q.reshape({B, Hkv, G * T, D});
    at::Tensor scores = at::matmul(qg, k.transpose(-2, -1));  // [B, Hkv, G*T, S]
    if (scale != 1.0) scores.mul_(scale);
    scores = scores.view({B, Hkv, G, T, S});
    if (T > 1 || sliding_window > 0) {
        auto opts = at::TensorOptions().dtype(at::kLong).device(q.device());
        at::Tensor i = at::arange(T, opts).unsqueeze(1) + past;
        at::Tensor j = at::arange(S, opts).unsqueeze(0);
        at::Tensor masked = j > i;
        if (sliding_window > 0) masked = masked.logical_or(j <= i - sliding_window);
        scores.masked_fill_(masked, -std::numeric_limits<float>::infinity());
    }
    at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
    at::Tensor out = at::matmul(probs.view({B, Hkv, G * T, S}), v);  // [B, Hkv, G*T, D]
    return out.view({B, H, T, D});
}

void append_kv(at::Tensor& cache_k, at::Tensor& cache_v, at::Tensor& k, at::Tensor& v) {
    if (cache_k.defined()) {
        cache_k = at::cat({cache_k, k}, 2);
        cache_v = at::cat({cache_v, v}, 2);
    } else {
        cache_k = k;
        cache_v = v;
    }
    k = cache_k;
    v = cache_v;
}

}  // namespace qs
