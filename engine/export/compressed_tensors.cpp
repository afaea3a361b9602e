// compressed-tensors `pack-quantized` export (docs/formats.md §5): the tensors of one quantized
// Linear, the quantization_config block, the conditions under which a configuration fits the
// format, and GPTQ's recorded codes as a QuantizedTensor. The bit layout itself is
// models/compressed_tensors_weight.h (shared with the reader).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/error.h"
#include "export/export_internal.h"
#include "models/compressed_tensors_weight.h"
#include "quant/gptq.h"

namespace qs::exp {

namespace {
// The compressed-tensors release whose output this exporter reproduces (the "version" field it
// writes; tools/goldens/check_compressed_tensors.py loads the export with it).
constexpr const char* kCompressedTensorsVersion = "0.20.1";
}  // namespace

std::vector<ExportProblem> ct_spec_problems(const QuantSpec& s, const std::string& who) {
    std::vector<ExportProblem> out;
    const std::string subject = who.empty() ? "the configuration quantizes" : "the override of '" + who + "' quantizes";
    const std::string cli = who.empty() ? "" : " (--override " + who + "=...)";
    if (s.bits != 4 && s.bits != 8)
        out.push_back({"compressed-tensors export writes W4A16 or W8A16 (pack-quantized int4 / int8); " + subject +
                           " to " + std::to_string(s.bits) + " bits",
                       "use --w-bits 4 or --w-bits 8" + cli,
                       who.empty() ? "choose 4 or 8 bits in the methods panel"
                                   : "set 4 or 8 bits (or skip) for " + who + " on the Model page"});
    if (s.granularity == Granularity::PerTensor)
        out.push_back(
            {"compressed-tensors export writes group-wise or channel-wise weights; the configuration is "
             "per-tensor",
             "use --group-size N or --w-quant per-channel", "choose a group size or per channel"});
    return out;
}

std::string ct_linear_problem(const Linear& l, const QuantSpec& s) {
    if (s.granularity != Granularity::PerGroup) return "";
    if (l.in_features % s.group_size != 0)
        return "'" + l.name + "' has " + std::to_string(l.in_features) +
               " input features, not a multiple of the group size " + std::to_string(s.group_size) +
               " (compressed-tensors has no partial groups; QuantScope's fake quantization used a " +
               (s.group_size > l.in_features ? "single group" : "shorter last group") + ")";
    return "";
}

CtTensors ct_pack(const QuantizedTensor& q, c10::ScalarType scale_dtype) {
    c10::InferenceMode guard;
    const int b = q.spec.bits;
    const int64_t offset = int64_t(1) << (b - 1);
    CtTensors t;
    // compressed-tensors codes are signed (q in [-2^(b-1), 2^(b-1)-1], zero points likewise) and
    // pack_to_int32 adds 2^(b-1): what lands in the words is QuantScope's unsigned asymmetric code,
    // or the symmetric code + 2^(b-1).
    t.packed = ct_pack_int32(q.spec.symmetric ? q.codes + offset : q.codes, b, 1);
    t.scale = q.scales.to(scale_dtype).contiguous();
    at::Tensor back = t.scale.to(at::kFloat);
    if (!at::isfinite(back).all().item<bool>() || !(back > 0).all().item<bool>())
        throw Error(std::string("a quantization scale does not fit ") + c10::toString(scale_dtype) +
                    " (overflow or underflow to 0)");
    if (!q.spec.symmetric) t.zero_point = ct_pack_int32(q.zeros.round().to(at::kInt), b, 0);
    t.shape = at::tensor(std::vector<int64_t>{q.rows, q.cols}, at::kLong);
    return t;
}

QuantizedTensor gptq_quantized(const GptqLinear& g, const QuantSpec& spec) {
    c10::InferenceMode guard;
    const int64_t out = g.codes.size(0), in = g.codes.size(1), ng = g.scale.size(1);
    const int64_t group = spec.granularity == Granularity::PerGroup ? spec.group_size : in;
    at::Tensor contiguous = at::div(at::arange(in, at::kLong), group, "floor").to(at::kInt);
    if (!at::equal(g.g_idx.to(at::kInt).cpu(), contiguous))
        throw Error("'" + g.name +
                    "': its GPTQ groups are not contiguous runs of input columns (act-order without static groups); "
                    "compressed-tensors export writes no weight_g_idx");
    QuantizedTensor q;
    q.spec = spec;
    q.rows = out;
    q.cols = in;
    q.scales = g.scale.to(at::kFloat);
    if (ng != (in + group - 1) / group)
        throw Error("internal error: '" + g.name + "' has " + std::to_string(ng) + " GPTQ groups, expected " +
                    std::to_string((in + group - 1) / group));
    if (spec.symmetric) {
        // the reference's symmetric grid: unsigned codes with zero (maxq + 1) / 2 = 2^(b-1)
        const int64_t half = int64_t(1) << (spec.bits - 1);
        if (!at::equal(g.zero, at::full_like(g.zero, double(half))))
            throw Error("internal error: '" + g.name + "' has a symmetric GPTQ grid whose zero is not 2^(bits-1)");
        q.codes = g.codes.to(at::kInt) - half;
        q.zeros = at::zeros_like(q.scales);
    } else {
        q.codes = g.codes.to(at::kInt);
        q.zeros = g.zero.to(at::kFloat);
    }
    return q;
}

nlohmann::json ct_quantization_config(const std::vector<CtGroup>& groups, const std::vector<std::string>& ignore) {
    using json = nlohmann::json;
    // Field for field what compressed-tensors' ModelCompressor.update_config writes
    // (QuantizationConfig.model_dump): one config group per weight scheme.
    json config_groups = json::object();
    for (size_t i = 0; i < groups.size(); ++i) {
        const QuantSpec& s = groups[i].spec;
        const bool group = s.granularity == Granularity::PerGroup;
        json weights = {{"dynamic", false},         {"group_size", group ? json(s.group_size) : json(nullptr)},
                        {"num_bits", s.bits},       {"strategy", group ? "group" : "channel"},
                        {"symmetric", s.symmetric}, {"type", "int"}};
        config_groups["group_" + std::to_string(i)] = {{"format", "pack-quantized"},
                                                       {"input_activations", nullptr},
                                                       {"output_activations", nullptr},
                                                       {"targets", groups[i].targets},
                                                       {"weights", weights}};
    }
    return {{"config_groups", config_groups},       {"format", "pack-quantized"},
            {"global_compression_ratio", nullptr},  {"ignore", ignore},
            {"kv_cache_scheme", nullptr},           {"moe_sparsity_config", nullptr},
            {"quant_method", "compressed-tensors"}, {"quantization_status", "compressed"},
            {"sparsity_config", json::object()},    {"transform_config", json::object()},
            {"version", kCompressedTensorsVersion}};
}

}  // namespace qs::exp
