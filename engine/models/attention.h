// Causal multi-head attention with grouped-query support: libtorch's fused
// scaled_dot_product_attention where the linked libtorch has it (2.1 and later, selected at
// compile time), matmul + fp32 softmax on libtorch 1.13.
#pragma once
#include <ATen/core/Tensor.h>

namespace qs {

// q: [B, H, T, D], k/v: [B, Hkv, S, D] with H a multiple of Hkv and S = past + T.
// Query t sits at absolute position past + t and sees keys j <= past + t (and, with a
// sliding window W > 0, only keys j > past + t - W). Scores are multiplied by `scale`
// (pass 1.0 when q is pre-scaled). Softmax runs in fp32. Returns [B, H, T, D] (not
// necessarily contiguous: the fused kernel writes [B, T, H, D] memory).
at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                            int64_t sliding_window = 0);

// Appends k/v along the sequence dimension of a cache entry (or starts it); returns the full k/v.
void append_kv(at::Tensor& cache_k, at::Tensor& cache_v, at::Tensor& k, at::Tensor& v);

}  // namespace qs
