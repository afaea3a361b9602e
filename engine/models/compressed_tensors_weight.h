// The `pack-quantized` format of the compressed-tensors package (as llm-compressor writes it and
// transformers / vLLM read it), both directions: packing codes into int32 words exactly as the
// package's pack_to_int32 does, unpacking them, and a packed Linear that dequantizes on the fly.
//
// Per quantized Linear with `out` x `in` weights, `bits` in {4, 8} and `n_groups` = in / group
// (channel-wise: 1):
//   weight_packed      int32 [out, ceil(in * bits / 32)]   codes q + 2^(bits-1) (signed codes
//                      shifted to 0..2^bits-1), 32/bits per word, element j of a word in bits
//                      [j*bits, (j+1)*bits) (low bits first); a word is the two's complement
//                      reading of its 32 bits
//   weight_scale       model dtype [out, n_groups]
//   weight_zero_point  int32 [ceil(out * bits / 32), n_groups], asymmetric only: the zero points
//                      (shifted the same way) packed along dim 0 (the output dimension)
//   weight_shape       int64 [2] = [out, in] (the package writes torch.tensor(weight.shape))
// Dequantization: W = (q - z) * s per group of input columns (z = 0 when symmetric). It is the
// one qs::dequantize of quant/linear_quant.h, the same call that makes the fake-quant weights.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "models/modules.h"

namespace qs {

// Packs unsigned codes (int tensor [rows, cols], values 0..2^bits-1; bits in {4, 8}) along
// `dim` (1: along each row, the package's default; 0: along each column, for zero points)
// into int32, as compressed-tensors' pack_to_int32 (after its + 2^(bits-1) shift).
at::Tensor ct_pack_int32(const at::Tensor& codes, int bits, int dim = 1);
// The inverse: int32 packed -> int32 unsigned codes with `count` elements along `dim`.
at::Tensor ct_unpack_int32(const at::Tensor& packed, int bits, int64_t count, int dim = 1);
// Number of int32 words holding `count` codes of `bits` bits.
int64_t ct_packed_words(int64_t count, int bits);

class CompressedTensorsWeight final : public PackedWeight {
  public:
    // Tensors as stored (validated by load_packed_linear); zero_point undefined when symmetric.
    // group = input columns per scale (== in for channel-wise).
    CompressedTensorsWeight(at::Tensor packed, at::Tensor scale, at::Tensor zero_point, int bits, int64_t group,
                            int64_t out, int64_t in);
    at::Tensor dequantize(c10::ScalarType dtype) const override;
    int64_t storage_bytes() const override;
    std::string format() const override { return "compressed-tensors"; }

  private:
    at::Tensor packed_, scale_, zero_point_;
    int bits_;
    int64_t group_, out_, in_;
};

}  // namespace qs
