// Quantized Linears read from exported checkpoints, dequantized on the fly (PackedWeight),
// and the reader side of the two packed formats QuantScope writes (docs/formats.md):
//
//   AutoAWQ GEMM (config.json quantization_config {"quant_method":"awq","version":"gemm"}):
//     <linear>.qweight int32 [in, out/8], <linear>.qzeros int32 [in/group, out/8],
//     <linear>.scales fp16 [in/group, out]; nibble i (bits 4i..4i+3) of each int32 holds
//     output column c*8 + kAwqOrder[i]; W^T = (q - z) * s.
//   QuantScope W8A16 ({"quant_method":"quantscope_w8a16"}): <linear>.weight int8 [out, in],
//     <linear>.weight_scale float32 [out]; W = q * s (symmetric absmax per output channel).
//   compressed-tensors pack-quantized ({"quant_method":"compressed-tensors"}): weight_packed,
//     weight_scale, weight_zero_point, weight_shape (models/compressed_tensors_weight.h).
//
// Dequantization is computed in float32, where it is exact: |q - z| <= 15 (or |q| <= 128)
// times an fp16 (11-bit) or fp32 scale fits a float32 mantissa for AWQ, and int8 * fp32 is
// one correctly rounded product. The result is then cast to the requested dtype once.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <array>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "models/modules.h"

namespace qs {

// AutoAWQ's nibble order (awq/modules/linear/gemm.py, order_map) and its inverse.
constexpr std::array<int, 8> kAwqOrder = {0, 2, 4, 6, 1, 3, 5, 7};
constexpr std::array<int, 8> kAwqReverseOrder = {0, 4, 1, 5, 2, 6, 3, 7};

// Packs integer codes [rows, cols] (values 0..15) along the last dimension into int32
// [rows, cols/8] in AutoAWQ's order. cols must be a multiple of 8.
at::Tensor awq_pack_int4(const at::Tensor& codes);
// The inverse: int32 [rows, n] -> int32 codes [rows, n*8] (values 0..15).
at::Tensor awq_unpack_int4(const at::Tensor& packed);
// W [out, in] in float32 from AWQ GEMM tensors: (q - z) * s per group of `group` input rows.
at::Tensor awq_gemm_dequantize(const at::Tensor& qweight, const at::Tensor& qzeros, const at::Tensor& scales,
                               int64_t group);

class AwqGemmWeight final : public PackedWeight {
  public:
    // Tensors as stored; validated by the caller (load_packed_linear).
    AwqGemmWeight(at::Tensor qweight, at::Tensor qzeros, at::Tensor scales, int64_t group);
    at::Tensor dequantize(c10::ScalarType dtype) const override;
    int64_t storage_bytes() const override;
    std::string format() const override { return "awq-gemm"; }
    const at::Tensor& qweight() const { return qweight_; }
    const at::Tensor& qzeros() const { return qzeros_; }
    const at::Tensor& scales() const { return scales_; }
    int64_t group() const { return group_; }

  private:
    at::Tensor qweight_, qzeros_, scales_;
    int64_t group_;
};

class Int8Weight final : public PackedWeight {
  public:
    Int8Weight(at::Tensor weight, at::Tensor scale);  // int8 [out, in], float32 [out]
    at::Tensor dequantize(c10::ScalarType dtype) const override;
    int64_t storage_bytes() const override;
    std::string format() const override { return "int8"; }
    const at::Tensor& weight() const { return weight_; }
    const at::Tensor& scale() const { return scale_; }

  private:
    at::Tensor weight_, scale_;
};

// The quantization_config of a checkpoint, as far as loading needs it.
struct PackedCheckpointFormat {
    enum class Kind { AwqGemm, Int8, CompressedTensors } kind = Kind::AwqGemm;
    int64_t group_size = 0;               // AWQ; compressed-tensors: 0 = channel-wise
    int bits = 0;                         // compressed-tensors: 4 or 8
    bool symmetric = true;                // compressed-tensors (asymmetric: weight_zero_point)
    std::set<std::string> not_converted;  // AWQ modules_to_not_convert (dense Linears)
    // compressed-tensors: every config group (mixed precision writes one per weight scheme). A
    // Linear takes the scheme of its most specific matching target, as the package's
    // match_targets orders them: the exact module name, then "re:" regexes (Python re.match: from
    // the start of the name), then the class name "Linear"; a target named in several groups
    // belongs to the last one. bits / group_size / symmetric above are the first group's.
    struct Scheme {
        std::string group;  // "group_0"
        int bits = 0;
        int64_t group_size = 0;  // 0 = channel-wise
        bool symmetric = true;
        std::vector<std::string> targets;
    };
    std::vector<Scheme> schemes;
    std::string where;  // "<dir>/config.json: quantization_config", for errors
    // This format with bits / group_size / symmetric of the Linear's scheme (compressed-tensors;
    // the format itself for the others). Throws qs::Error naming config.json when no config group
    // targets the Linear.
    PackedCheckpointFormat for_linear(const std::string& stored_name) const;
    // "AutoAWQ GEMM int4 g128", "QuantScope W8A16 int8", "compressed-tensors pack-quantized w4 g128 asym"
    // (several schemes: "compressed-tensors pack-quantized, 2 schemes")
    std::string describe() const;
};

// nullopt-like: returns nullptr when config.json has no quantization_config. Throws qs::Error
// naming config.json for quantization methods or settings QuantScope cannot open (AWQ other
// than GEMM, bits other than 4, no zero point, GPTQ, bitsandbytes, ...).
std::unique_ptr<PackedCheckpointFormat> detect_packed_format(const Checkpoint& ck);

// True when the Linear `stored_name` (e.g. "model.layers.0.mlp.up_proj") is stored packed.
bool is_packed_linear(const Checkpoint& ck, const PackedCheckpointFormat& f, const std::string& stored_name);
// The stored tensors that make up a packed Linear's weight (not the bias).
std::vector<std::string> packed_tensor_names(const PackedCheckpointFormat& f, const std::string& stored_name);
// Loads and validates (dtypes, shapes against in/out and the group size) one packed Linear,
// placed on `device`. Errors name the file, the tensor and what was expected.
std::shared_ptr<const PackedWeight> load_packed_linear(const Checkpoint& ck, const PackedCheckpointFormat& f,
                                                       const std::string& stored_name, int64_t in_features,
                                                       int64_t out_features, c10::Device device);

}  // namespace qs
