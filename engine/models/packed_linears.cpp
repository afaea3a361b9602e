#include "models/packed_linears.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace qs {

using json = nlohmann::json;

namespace {

at::Tensor order_index(const std::array<int, 8>& order, c10::Device d) {
    return at::tensor(std::vector<int64_t>(order.begin(), order.end()), at::kLong).to(d);
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

}  // namespace

at::Tensor awq_pack_int4(const at::Tensor& codes_in) {
    c10::InferenceMode guard;
    if (codes_in.dim() != 2 || codes_in.size(1) % 8 != 0)
        throw Error("awq_pack_int4: expected codes [rows, cols] with cols a multiple of 8, got " +
                    shape_str(codes_in.sizes().vec()));
    at::Tensor codes = codes_in.to(at::kLong);
    if (codes.numel() && (codes.min().item<int64_t>() < 0 || codes.max().item<int64_t>() > 15))
        throw Error("awq_pack_int4: codes must lie in 0..15");
    const int64_t R = codes.size(0), n = codes.size(1) / 8;
    // nibble i of packed column c holds code column c*8 + kAwqOrder[i]
    at::Tensor v = codes.view({R, n, 8}).index_select(2, order_index(kAwqOrder, codes.device()));
    // nibble i weighs 16^i (integer arithmetic in int64, exact)
    at::Tensor weights = at::pow(at::full({8}, 16, at::TensorOptions().dtype(at::kLong).device(codes.device())),
                                 at::arange(8, at::TensorOptions().dtype(at::kLong).device(codes.device())));
    at::Tensor u = (v * weights.view({1, 1, 8})).sum(2);  // uint32 value in int64
    // two's complement reinterpretation as int32 (nibble 7 >= 8 sets the sign bit)
    u = at::where(u >= (int64_t(1) << 31), u - (int64_t(1) << 32), u);
    return u.to(at::kInt).contiguous();
}

at::Tensor awq_unpack_int4(const at::Tensor& packed) {
    c10::InferenceMode guard;
    if (packed.dim() != 2) throw Error("awq_unpack_int4: expected a 2-D int32 tensor");
    at::Tensor u = packed.to(at::kLong).bitwise_and(int64_t(0xffffffff));
    at::Tensor weights = at::pow(at::full({8}, 16, at::TensorOptions().dtype(at::kLong).device(packed.device())),
                                 at::arange(8, at::TensorOptions().dtype(at::kLong).device(packed.device())));
    at::Tensor nib = at::div(u.unsqueeze(2), weights.view({1, 1, 8}), "floor").bitwise_and(15);  // [R, n, 8]
    // code column c*8 + j sits in nibble kAwqReverseOrder[j]
    nib = nib.index_select(2, order_index(kAwqReverseOrder, packed.device()));
    return nib.reshape({packed.size(0), packed.size(1) * 8}).to(at::kInt);
}

at::Tensor awq_gemm_dequantize(const at::Tensor& qweight, const at::Tensor& qzeros, const at::Tensor& scales,
                               int64_t group) {
    c10::InferenceMode guard;
    at::Tensor q = awq_unpack_int4(qweight).to(at::kFloat);  // [in, out]
    at::Tensor z = awq_unpack_int4(qzeros).to(at::kFloat);   // [in/g, out]
    at::Tensor s = scales.to(at::kFloat);                    // [in/g, out], exact widening
    const int64_t in = q.size(0), out = q.size(1), ng = in / group;
    at::Tensor wt = (q.view({ng, group, out}) - z.unsqueeze(1)) * s.unsqueeze(1);  // exact in float32
    return wt.reshape({in, out}).t().contiguous();
}

AwqGemmWeight::AwqGemmWeight(at::Tensor qweight, at::Tensor qzeros, at::Tensor scales, int64_t group)
    : qweight_(std::move(qweight)), qzeros_(std::move(qzeros)), scales_(std::move(scales)), group_(group) {}

at::Tensor AwqGemmWeight::dequantize(c10::ScalarType dtype) const {
    return awq_gemm_dequantize(qweight_, qzeros_, scales_, group_).to(dtype);
}

int64_t AwqGemmWeight::storage_bytes() const {
    return qweight_.numel() * 4 + qzeros_.numel() * 4 + scales_.numel() * scales_.element_size();
}

Int8Weight::Int8Weight(at::Tensor weight, at::Tensor scale) : weight_(std::move(weight)), scale_(std::move(scale)) {}

at::Tensor Int8Weight::dequantize(c10::ScalarType dtype) const {
    c10::InferenceMode guard;
    return (weight_.to(at::kFloat) * scale_.to(at::kFloat).unsqueeze(1)).to(dtype);
}

int64_t Int8Weight::storage_bytes() const { return weight_.numel() + scale_.numel() * scale_.element_size(); }

std::string PackedCheckpointFormat::describe() const {
    if (kind == Kind::AwqGemm) return "AutoAWQ GEMM int4 g" + std::to_string(group_size);
    return "QuantScope W8A16 int8 (per-channel scales)";
}

std::unique_ptr<PackedCheckpointFormat> detect_packed_format(const Checkpoint& ck) {
    const json& c = ck.config();
    if (!c.contains("quantization_config") || c["quantization_config"].is_null()) return nullptr;
    const std::string where = ck.config_path() + ": quantization_config";
    const json& q = c["quantization_config"];
    if (!q.is_object()) throw Error(where + " must be an object");
    if (!q.contains("quant_method") || !q["quant_method"].is_string())
        throw Error(where + " has no string 'quant_method'");
    const std::string method = lower(q["quant_method"].get<std::string>());
    auto f = std::make_unique<PackedCheckpointFormat>();
    if (method == "awq") {
        f->kind = PackedCheckpointFormat::Kind::AwqGemm;
        const std::string version = q.contains("version") && q["version"].is_string()
                                        ? lower(q["version"].get<std::string>())
                                        : std::string("gemm");
        if (version != "gemm")
            throw Error(where + ": AWQ version '" + version + "' is not supported (QuantScope opens AWQ GEMM only)");
        const int64_t bits = q.contains("bits") ? q["bits"].get<int64_t>() : q.value("w_bit", int64_t(4));
        if (bits != 4)
            throw Error(where + ": AWQ GEMM with " + std::to_string(bits) + " bits is not supported (4 only)");
        if (q.contains("zero_point") && q["zero_point"].is_boolean() && !q["zero_point"].get<bool>())
            throw Error(where + ": AWQ without zero point is not supported (zero_point must be true)");
        const json& g = q.contains("group_size") ? q["group_size"] : q.value("q_group_size", json(128));
        if (!g.is_number_integer() || g.get<int64_t>() <= 0)
            throw Error(where + ": group_size must be a positive integer, found " + g.dump());
        f->group_size = g.get<int64_t>();
        if (q.contains("modules_to_not_convert") && q["modules_to_not_convert"].is_array())
            for (const auto& m : q["modules_to_not_convert"])
                if (m.is_string()) f->not_converted.insert(m.get<std::string>());
        return f;
    }
    if (method == "quantscope_w8a16") {
        f->kind = PackedCheckpointFormat::Kind::Int8;
        const int64_t bits = q.value("bits", int64_t(8));
        if (bits != 8) throw Error(where + ": quantscope_w8a16 with " + std::to_string(bits) + " bits (expected 8)");
        const int64_t version = q.value("format_version", int64_t(1));
        if (version != 1)
            throw Error(where + ": quantscope_w8a16 format_version " + std::to_string(version) +
                        " is newer than this QuantScope understands (1)");
        return f;
    }
    throw Error(where + ": quant_method '" + method +
                "' is not supported (QuantScope opens 'awq' GEMM and its own 'quantscope_w8a16' checkpoints)");
}

bool is_packed_linear(const Checkpoint& ck, const PackedCheckpointFormat& f, const std::string& n) {
    if (f.kind == PackedCheckpointFormat::Kind::AwqGemm) return ck.has(n + ".qweight");
    return ck.has(n + ".weight_scale");
}

std::vector<std::string> packed_tensor_names(const PackedCheckpointFormat& f, const std::string& n) {
    if (f.kind == PackedCheckpointFormat::Kind::AwqGemm) return {n + ".qweight", n + ".qzeros", n + ".scales"};
    return {n + ".weight", n + ".weight_scale"};
}

std::shared_ptr<const PackedWeight> load_packed_linear(const Checkpoint& ck, const PackedCheckpointFormat& f,
                                                       const std::string& n, int64_t in, int64_t out,
                                                       c10::Device device) {
    c10::InferenceMode guard;
    auto need = [&](const std::string& t, const std::vector<std::string>& dtypes, const std::vector<int64_t>& shape,
                    const std::string& why) {
        if (!ck.has(t))
            throw Error(ck.dir() + ": tensor '" + t + "' (" + why + ") is missing from the " + f.describe() +
                        " checkpoint");
        const TensorInfo& ti = ck.info(t);
        if (std::find(dtypes.begin(), dtypes.end(), ti.dtype) == dtypes.end()) {
            std::string exp;
            for (const auto& d : dtypes) exp += (exp.empty() ? "" : " or ") + d;
            throw Error(ck.file_of(t) + ": tensor '" + t + "' has dtype " + ti.dtype + ", expected " + exp + " (" +
                        f.describe() + ")");
        }
        if (ti.shape != shape)
            throw Error(ck.file_of(t) + ": tensor '" + t + "' has shape " + shape_str(ti.shape) + ", expected " +
                        shape_str(shape) + " (" + why + ")");
        return ck.load(t).to(device);
    };
    if (f.kind == PackedCheckpointFormat::Kind::AwqGemm) {
        const int64_t g = f.group_size;
        if (out % 8 != 0)
            throw Error(ck.dir() + ": Linear '" + n + "' has " + std::to_string(out) +
                        " output features, not a multiple of 8, so it cannot be AWQ GEMM packed");
        if (in % g != 0)
            throw Error(ck.dir() + ": Linear '" + n + "' has " + std::to_string(in) +
                        " input features, not a multiple of the AWQ group size " + std::to_string(g));
        at::Tensor qw = need(n + ".qweight", {"I32"}, {in, out / 8}, "int32 [in, out/8]");
        at::Tensor qz = need(n + ".qzeros", {"I32"}, {in / g, out / 8}, "int32 [in/group, out/8]");
        at::Tensor sc = need(n + ".scales", {"F16", "BF16", "F32"}, {in / g, out}, "[in/group, out]");
        if (!at::isfinite(sc.to(at::kFloat)).all().item<bool>())
            throw Error(ck.file_of(n + ".scales") + ": tensor '" + n + ".scales' contains NaN or Inf values");
        return std::make_shared<AwqGemmWeight>(qw, qz, sc, g);
    }
    at::Tensor w = need(n + ".weight", {"I8"}, {out, in}, "int8 [out, in]");
    at::Tensor s = need(n + ".weight_scale", {"F32", "F16", "BF16"}, {out}, "per-output-channel scale [out]");
    if (!at::isfinite(s.to(at::kFloat)).all().item<bool>())
        throw Error(ck.file_of(n + ".weight_scale") + ": tensor '" + n + ".weight_scale' contains NaN or Inf values");
    return std::make_shared<Int8Weight>(w, s);
}

}  // namespace qs
