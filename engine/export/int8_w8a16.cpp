// QuantScope W8A16 (docs/formats.md): int8 weights, float32 per-output-channel absmax scales,
// as the course-notes seed's W8A16LinearLayer (scales = max|w| / 127 per row).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/error.h"
#include "export/export_internal.h"

namespace qs::exp {

std::vector<ExportProblem> int8_spec_problems(const QuantSpec& s) {
    if (s.bits == 8 && s.symmetric && s.granularity == Granularity::PerChannel) return {};
    return {{"int8 (W8A16) export needs 8-bit symmetric per-channel weights; the configuration is " + s.describe(),
             "use --w-bits 8 --w-quant per-channel --symmetric",
             "choose 8 bits, per channel and \"symmetric\" in the methods panel"}};
}

Int8Tensors int8_pack(const QuantizedTensor& q) {
    c10::InferenceMode guard;
    Int8Tensors t;
    if (q.scales.dim() != 2 || q.scales.size(1) != 1) throw Error("int8 export expects per-channel scales");
    t.weight = q.codes.to(at::kChar).contiguous();
    t.scale = q.scales.view({-1}).to(at::kFloat).contiguous();
    return t;
}

}  // namespace qs::exp
