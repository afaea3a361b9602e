// Rotary position embeddings as transformers computes them (default, "linear", "llama3").
#pragma once
#include <ATen/core/Tensor.h>

#include <utility>

#include "models/model_config.h"

namespace qs {

at::Tensor rope_inv_freq(const ModelConfig& c);  // [head_dim/2] float32 (CPU)
// cos/sin [T, head_dim] for positions past..past+T-1, computed in fp32 then cast to dtype.
std::pair<at::Tensor, at::Tensor> rope_cos_sin(const at::Tensor& inv_freq, int64_t past, int64_t T,
                                               c10::ScalarType dtype);
// x: [B, H, T, D]; x * cos + rotate_half(x) * sin.
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace qs
