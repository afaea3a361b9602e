// Linear quantization primitives (course-notes seed + llm-awq pseudo-quantization):
// asymmetric and symmetric, per-tensor / per-channel (output row) / per-group along the
// input dimension, 2..8 bits; codes, scales, zero points; dequantization; error; SQNR.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "quant/quant_spec.h"  // QuantSpec, Granularity, size formulas (torch-free)

namespace qs {

struct QuantizedTensor {
    at::Tensor codes;   // int32 [out, in]: asym in [0, 2^b-1]; sym in [-2^(b-1), 2^(b-1)-1]
    at::Tensor scales;  // float32 [out, n_groups] (per-channel: [out, 1]; per-tensor: [1, 1])
    at::Tensor zeros;   // float32, same shape as scales (all 0 when symmetric)
    QuantSpec spec;
    int64_t rows = 0, cols = 0;
};

// Quantizes a 2-D tensor [out, in]. Arithmetic in float32, in the order llm-awq uses:
//   asym: s = (max-min).clamp(1e-5)/(2^b-1); z = clamp(-round(min/s), 0, 2^b-1); q = clamp(round(w/s)+z, 0, 2^b-1)
//   sym:  s = max|w|.clamp(1e-5)/(2^(b-1)-1); q = clamp(round(w/s), -2^(b-1), 2^(b-1)-1)
QuantizedTensor quantize(const at::Tensor& w, const QuantSpec& spec);
at::Tensor dequantize(const QuantizedTensor& q);  // float32 [out, in]: (q - z) * s
// dequantize(quantize(w)) cast back to w's dtype (fast path, no codes kept).
at::Tensor pseudo_quantize(const at::Tensor& w, const QuantSpec& spec);

struct ErrorStats {
    double mse = 0, max_abs = 0, sqnr_db = 0;  // sqnr = 10 log10(sum w^2 / sum (w - w')^2)
};
ErrorStats error_stats(const at::Tensor& original, const at::Tensor& approx);

// Symmetric absmax fake quantization of activations (SmoothQuant): per token (last dim)
// or per tensor. x / s rounded, times s, with s = max|x|.clamp(1e-5) / (2^(b-1)-1).
at::Tensor fake_quant_activation(const at::Tensor& x, int bits, bool per_token);

// Bit packing of codes (values in [0, 2^bits)) into a little-endian bit stream: code i
// occupies bits [i*b, (i+1)*b). bits in {2, 3, 4, 8}. Returns uint8 [ceil(n*b/8)].
at::Tensor pack_codes(const at::Tensor& codes, int bits);
at::Tensor unpack_codes(const at::Tensor& packed, int bits, int64_t count);  // int32 [count]

}  // namespace qs
