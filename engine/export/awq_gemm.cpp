// AutoAWQ GEMM packing (awq/modules/linear/gemm.py, WQLinear_GEMM.from_linear) from the codes
// QuantScope computed, and the conditions under which a configuration fits the format.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/error.h"
#include "export/export_internal.h"
#include "models/packed_linears.h"

namespace qs::exp {

std::vector<ExportProblem> awq_gemm_spec_problems(const QuantSpec& s) {
    std::vector<ExportProblem> out;
    if (s.bits != 4)
        out.push_back(
            {"AWQ GEMM stores 4-bit weights; the configuration quantizes to " + std::to_string(s.bits) + " bits",
             "use --w-bits 4", "choose 4 bits in the methods panel"});
    if (s.symmetric)
        out.push_back({"AWQ GEMM needs asymmetric weights with a zero point", "drop --symmetric",
                       "untick \"symmetric\" in the methods panel"});
    if (s.granularity != Granularity::PerGroup)
        out.push_back({"AWQ GEMM needs per-group weights; the configuration is " + granularity_name(s.granularity),
                       "use --group-size 32, 64 or 128", "choose group 32, 64 or 128 in the methods panel"});
    else if (s.group_size != 32 && s.group_size != 64 && s.group_size != 128)
        out.push_back(
            {"AWQ GEMM supports group sizes 32, 64 and 128; the configuration uses " + std::to_string(s.group_size),
             "use --group-size 32, 64 or 128", "choose group 32, 64 or 128 in the methods panel"});
    return out;
}

std::string awq_gemm_linear_problem(const Linear& l, int64_t g) {
    if (l.out_features % 8 != 0)
        return "'" + l.name + "' has " + std::to_string(l.out_features) +
               " output features, not a multiple of 8 (AWQ GEMM packs 8 output columns per int32)";
    if (l.in_features % g != 0)
        return "'" + l.name + "' has " + std::to_string(l.in_features) +
               " input features, not a multiple of the group size " + std::to_string(g) +
               " (AWQ GEMM has no partial groups; QuantScope's fake quantization used a shorter last group)";
    return "";
}

AwqTensors awq_gemm_pack(const QuantizedTensor& q) {
    c10::InferenceMode guard;
    AwqTensors t;
    t.qweight = awq_pack_int4(q.codes.t());                      // [in, out/8]
    t.qzeros = awq_pack_int4(q.zeros.t().round().to(at::kInt));  // [in/g, out/8]
    t.scales = q.scales.t().contiguous().to(at::kHalf);          // [in/g, out]
    at::Tensor s32 = t.scales.to(at::kFloat);
    if (!at::isfinite(s32).all().item<bool>() || !(s32 > 0).all().item<bool>())
        throw Error("a quantization scale does not fit fp16 (overflow or underflow to 0)");
    return t;
}

}  // namespace qs::exp
