#include "models/attention.h"

#include <ATen/ATen.h>
#include <torch/version.h>

#include <algorithm>
#include <limits>

// at::scaled_dot_product_attention with a `scale` argument exists from libtorch 2.1 on (its
// CPU flash kernel: no fp32 score matrix, no separate softmax pass); enable_gqa from 2.5.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define QS_HAVE_SDPA 1
#endif
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)
#define QS_HAVE_SDPA_GQA 1
#endif

namespace qs {

namespace {

// Keys visible to each query row: row t (absolute position past + t) sees keys j <= past + t,
// and with a sliding window W > 0 only j > past + t - W. Returns [n, kend] bool, true = masked.
at::Tensor hidden_keys(int64_t past, int64_t t0, int64_t n, int64_t kend, int64_t sliding_window, c10::Device dev) {
    auto opts = at::TensorOptions().dtype(at::kLong).device(dev);
    at::Tensor i = at::arange(t0, t0 + n, opts).unsqueeze(1) + past;
    at::Tensor j = at::arange(kend, opts).unsqueeze(0);
    at::Tensor masked = j > i;
    if (sliding_window > 0) masked = masked.logical_or(j <= i - sliding_window);
    return masked;
}

#ifndef QS_HAVE_SDPA
// Scores for query rows [t0, t0+n) against keys [0, kend), masked and soft-maxed in fp32,
// times v: returns [B, Hkv, G, n, D].
at::Tensor attend_chunk(const at::Tensor& qg, const at::Tensor& k, const at::Tensor& v, double scale, int64_t past,
                        int64_t t0, int64_t n, int64_t kend, int64_t sliding_window) {
    const int64_t B = qg.size(0), Hkv = qg.size(1), G = qg.size(2), D = qg.size(4);
    at::Tensor qc = qg.narrow(3, t0, n).reshape({B, Hkv, G * n, D});
    at::Tensor kc = k.narrow(2, 0, kend), vc = v.narrow(2, 0, kend);
    at::Tensor scores = at::matmul(qc, kc.transpose(-2, -1));  // [B, Hkv, G*n, kend]
    if (scale != 1.0) scores.mul_(scale);
    scores = scores.view({B, Hkv, G, n, kend});
    const bool needs_mask = kend > past + t0 + 1 || sliding_window > 0;
    if (needs_mask)
        scores.masked_fill_(hidden_keys(past, t0, n, kend, sliding_window, qg.device()),
                            -std::numeric_limits<float>::infinity());
    at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(qg.scalar_type());
    return at::matmul(probs.view({B, Hkv, G * n, kend}), vc).view({B, Hkv, G, n, D});
}

at::Tensor matmul_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                            int64_t sliding_window) {
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
    const int64_t Hkv = k.size(1), S = k.size(2), G = H / Hkv;
    const int64_t past = S - T;
    // Query heads that share a KV head are grouped: [B, Hkv, G, T, D]; no KV copies.
    at::Tensor qg = q.reshape({B, Hkv, G, T, D});
    // Process query rows in chunks whose fp32 score buffer stays near 16 MiB: bounded memory,
    // buffers the allocator reuses instead of mapping fresh pages per layer, and causal
    // chunks only multiply against the keys they can see.
    const int64_t budget = 4 << 20;  // floats
    const int64_t rows = std::max<int64_t>(1, budget / std::max<int64_t>(1, B * H * S));
    if (rows >= T) return attend_chunk(qg, k, v, scale, past, 0, T, S, sliding_window).view({B, H, T, D});
    at::Tensor out = at::empty({B, Hkv, G, T, D}, q.options());
    for (int64_t t0 = 0; t0 < T; t0 += rows) {
        const int64_t n = std::min(rows, T - t0);
        const int64_t kend = past + t0 + n;  // keys beyond the chunk's last query are all masked
        out.narrow(3, t0, n).copy_(attend_chunk(qg, k, v, scale, past, t0, n, kend, sliding_window));
    }
    return out.view({B, H, T, D});
}
#endif

#ifdef QS_HAVE_SDPA
// libtorch's fused attention, called as transformers' SDPA attention calls it: is_causal
// without a mask when the queries start at position 0 (no cache, no sliding window), an
// explicit boolean mask otherwise (SDPA's is_causal aligns the diagonal top-left, which is
// wrong for queries after a cache); query heads sharing a KV head via enable_gqa when no
// mask is passed, else by expanding k/v.
at::Tensor sdpa_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                          int64_t sliding_window) {
    const int64_t T = q.size(2), S = k.size(2), G = q.size(1) / k.size(1);
    const int64_t past = S - T;
    // The window hides keys j <= past + t - W; none when W >= S.
    const bool window_cuts = sliding_window > 0 && sliding_window < S;
    c10::optional<at::Tensor> mask;
    const bool is_causal = !window_cuts && past == 0 && T > 1;
    if (window_cuts || (past > 0 && T > 1)) mask = hidden_keys(past, 0, T, S, sliding_window, q.device()).logical_not();
    at::Tensor kk = k, vv = v;
    bool gqa = false;
    if (G > 1) {
#ifdef QS_HAVE_SDPA_GQA
        gqa = !mask.has_value();
#endif
        if (!gqa) {
            const int64_t B = k.size(0), Hkv = k.size(1), D = k.size(3);
            kk = k.unsqueeze(2).expand({B, Hkv, G, S, D}).reshape({B, Hkv * G, S, D});
            vv = v.unsqueeze(2).expand({B, Hkv, G, S, D}).reshape({B, Hkv * G, S, D});
        }
    }
#ifdef QS_HAVE_SDPA_GQA
    return at::scaled_dot_product_attention(q, kk, vv, mask, 0.0, is_causal, scale, gqa);
#else
    return at::scaled_dot_product_attention(q, kk, vv, mask, 0.0, is_causal, scale);
#endif
}
#endif

}  // namespace

at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                            int64_t sliding_window) {
#ifdef QS_HAVE_SDPA
    return sdpa_attention(q, k, v, scale, sliding_window);
#else
    return matmul_attention(q, k, v, scale, sliding_window);
#endif
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
