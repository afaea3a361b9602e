#include "models/packed_linears.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <regex>

#include "core/error.h"
#include "models/compressed_tensors_weight.h"

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

bool empty_or_null(const json& q, const char* key) {
    return !q.contains(key) || q[key].is_null() || (q[key].is_object() && q[key].empty());
}

// compressed-tensors quantization_config (its QuantizationConfig as written by ModelCompressor):
// config groups targeting Linear, module names or "re:" regexes, int weights of 4 or 8 bits,
// group- or channel-wise, no activation quantization, no g_idx (actorder), no sparsity or transforms.
void parse_compressed_tensors(const json& q, const std::string& where, PackedCheckpointFormat& f) {
    const std::string fmt = q.value("format", std::string("pack-quantized"));
    if (fmt != "pack-quantized")
        throw Error(where + ": compressed-tensors format '" + fmt +
                    "' is not supported (QuantScope opens 'pack-quantized' only)");
    const std::string status = q.value("quantization_status", std::string("compressed"));
    if (status != "compressed")
        throw Error(where + ": quantization_status '" + status +
                    "' is not supported (QuantScope opens 'compressed' checkpoints only)");
    if (!empty_or_null(q, "sparsity_config"))
        throw Error(where + ": a sparsity_config is not supported (QuantScope opens dense pack-quantized only)");
    if (!empty_or_null(q, "transform_config"))
        throw Error(where + ": a transform_config (online rotations) is not supported by QuantScope");
    if (!q.contains("config_groups") || !q["config_groups"].is_object() || q["config_groups"].empty())
        throw Error(where + ": 'config_groups' must be an object with at least one group");
    for (auto it = q["config_groups"].begin(); it != q["config_groups"].end(); ++it) {
        const std::string gname = it.key();
        const json& g = it.value();
        const std::string gw = where + ".config_groups." + gname;
        if (!g.is_object()) throw Error(gw + " must be an object");
        if (g.contains("format") && g["format"].is_string() && g["format"].get<std::string>() != "pack-quantized")
            throw Error(gw + ": format '" + g["format"].get<std::string>() +
                        "' is not supported (pack-quantized only)");
        if (!g.contains("targets") || !g["targets"].is_array() || g["targets"].empty())
            throw Error(gw +
                        ": 'targets' must be a non-empty list (\"Linear\", module names or \"re:\" regexes), found " +
                        (g.contains("targets") ? g["targets"].dump() : std::string("nothing")));
        PackedCheckpointFormat::Scheme sc;
        sc.group = gname;
        for (const auto& t : g["targets"]) {
            if (!t.is_string()) throw Error(gw + ": 'targets' must hold strings, found " + t.dump());
            const std::string ts = t.get<std::string>();
            if (ts.rfind("re:", 0) == 0) {
                try {
                    std::regex r(ts.substr(3));
                } catch (const std::regex_error& e) {
                    throw Error(gw + ": target '" + ts + "' is not a valid regular expression (" + e.what() + ")");
                }
            }
            sc.targets.push_back(ts);
        }
        if (!empty_or_null(g, "input_activations") || !empty_or_null(g, "output_activations"))
            throw Error(gw + ": activation quantization is not supported (weight-only W4A16 / W8A16 only)");
        if (!g.contains("weights") || !g["weights"].is_object()) throw Error(gw + " has no 'weights' object");
        const json& w = g["weights"];
        const std::string ww = gw + ".weights";
        if (w.value("type", std::string("int")) != "int")
            throw Error(ww + ": type '" + w["type"].dump() + "' is not supported (int only)");
        if (!w.contains("num_bits") || !w["num_bits"].is_number_integer())
            throw Error(ww + ": 'num_bits' must be an integer");
        sc.bits = w["num_bits"].get<int>();
        if (sc.bits != 4 && sc.bits != 8)
            throw Error(ww + ": num_bits " + std::to_string(sc.bits) + " is not supported (4 or 8)");
        if (w.contains("symmetric") && !w["symmetric"].is_boolean())
            throw Error(ww + ": 'symmetric' must be a boolean");
        sc.symmetric = w.value("symmetric", true);
        if (w.contains("dynamic") && w["dynamic"] != json(false))
            throw Error(ww + ": dynamic weight quantization is not supported (dynamic must be false)");
        if (!empty_or_null(w, "actorder"))
            throw Error(ww + ": actorder " + w["actorder"].dump() +
                        " (a weight_g_idx permutation) is not supported; QuantScope opens checkpoints without "
                        "activation order");
        const std::string strategy = w.value("strategy", std::string());
        if (strategy == "group") {
            if (!w.contains("group_size") || !w["group_size"].is_number_integer() ||
                w["group_size"].get<int64_t>() <= 0)
                throw Error(ww + ": strategy 'group' needs a positive integer group_size, found " +
                            (w.contains("group_size") ? w["group_size"].dump() : std::string("nothing")));
            sc.group_size = w["group_size"].get<int64_t>();
        } else if (strategy == "channel") {
            sc.group_size = 0;
        } else {
            throw Error(ww + ": strategy '" + strategy + "' is not supported (group or channel)");
        }
        f.schemes.push_back(std::move(sc));
    }
    f.bits = f.schemes[0].bits;
    f.group_size = f.schemes[0].group_size;
    f.symmetric = f.schemes[0].symmetric;
    if (q.contains("ignore") && q["ignore"].is_array())
        for (const auto& m : q["ignore"])
            if (m.is_string()) f.not_converted.insert(m.get<std::string>());
}

std::string scheme_text(int bits, int64_t group_size, bool symmetric) {
    return "w" + std::to_string(bits) +
           (group_size > 0 ? " g" + std::to_string(group_size) : std::string(" per-channel")) +
           (symmetric ? " sym" : " asym");
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
    if (kind == Kind::CompressedTensors) {
        if (schemes.size() > 1)
            return "compressed-tensors pack-quantized, " + std::to_string(schemes.size()) + " schemes";
        return "compressed-tensors pack-quantized " + scheme_text(bits, group_size, symmetric);
    }
    return "QuantScope W8A16 int8 (per-channel scales)";
}

PackedCheckpointFormat PackedCheckpointFormat::for_linear(const std::string& name) const {
    if (kind != Kind::CompressedTensors || schemes.empty()) return *this;
    // compressed_tensors.utils.match.match_targets: targets sorted by ("re:" in x, x); name matches
    // (exact, then regex) before class matches; the first one wins. target_to_scheme keeps the last
    // group that names a target.
    std::map<std::string, size_t> target_to_scheme;
    for (size_t i = 0; i < schemes.size(); ++i)
        for (const auto& t : schemes[i].targets) target_to_scheme[t] = i;
    std::vector<std::string> targets;
    for (const auto& [t, i] : target_to_scheme) targets.push_back(t);
    std::stable_sort(targets.begin(), targets.end(), [](const std::string& a, const std::string& b) {
        const bool ra = a.rfind("re:", 0) == 0, rb = b.rfind("re:", 0) == 0;
        return ra != rb ? !ra : a < b;
    });
    std::optional<size_t> hit;
    for (const auto& t : targets) {
        const bool match = t.rfind("re:", 0) == 0 ? std::regex_search(name, std::regex(t.substr(3)),
                                                                      std::regex_constants::match_continuous)
                                                  : t == name;
        if (match) {
            hit = target_to_scheme.at(t);
            break;
        }
    }
    if (!hit && target_to_scheme.count("Linear")) hit = target_to_scheme.at("Linear");
    if (!hit)
        throw Error(where + ": no config group targets the Linear '" + name +
                    "', whose weight is stored packed (weight_packed)");
    PackedCheckpointFormat f = *this;
    f.bits = schemes[*hit].bits;
    f.group_size = schemes[*hit].group_size;
    f.symmetric = schemes[*hit].symmetric;
    f.schemes = {schemes[*hit]};
    return f;
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
    f->where = where;
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
    if (method == "compressed-tensors") {
        f->kind = PackedCheckpointFormat::Kind::CompressedTensors;
        parse_compressed_tensors(q, where, *f);
        return f;
    }
    throw Error(where + ": quant_method '" + method +
                "' is not supported (QuantScope opens 'awq' GEMM, 'compressed-tensors' pack-quantized and its own "
                "'quantscope_w8a16' checkpoints)");
}

bool is_packed_linear(const Checkpoint& ck, const PackedCheckpointFormat& f, const std::string& n) {
    if (f.kind == PackedCheckpointFormat::Kind::AwqGemm) return ck.has(n + ".qweight");
    if (f.kind == PackedCheckpointFormat::Kind::CompressedTensors) return ck.has(n + ".weight_packed");
    return ck.has(n + ".weight_scale");
}

std::vector<std::string> packed_tensor_names(const PackedCheckpointFormat& fmt, const std::string& n) {
    const PackedCheckpointFormat f = fmt.for_linear(n);
    if (f.kind == PackedCheckpointFormat::Kind::AwqGemm) return {n + ".qweight", n + ".qzeros", n + ".scales"};
    if (f.kind == PackedCheckpointFormat::Kind::CompressedTensors) {
        std::vector<std::string> v = {n + ".weight_packed", n + ".weight_scale", n + ".weight_shape"};
        if (!f.symmetric) v.push_back(n + ".weight_zero_point");
        return v;
    }
    return {n + ".weight", n + ".weight_scale"};
}

std::shared_ptr<const PackedWeight> load_packed_linear(const Checkpoint& ck, const PackedCheckpointFormat& fmt,
                                                       const std::string& n, int64_t in, int64_t out,
                                                       c10::Device device) {
    c10::InferenceMode guard;
    const PackedCheckpointFormat f = fmt.for_linear(n);  // compressed-tensors: the Linear's config group
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
    if (f.kind == PackedCheckpointFormat::Kind::CompressedTensors) {
        const int b = f.bits;
        const int64_t g = f.group_size > 0 ? f.group_size : in;
        if (in % g != 0)
            throw Error(ck.dir() + ": Linear '" + n + "' has " + std::to_string(in) +
                        " input features, not a multiple of the group size " + std::to_string(g) +
                        " (compressed-tensors has no partial groups)");
        const int64_t ng = in / g;
        const std::string bs = std::to_string(b);
        at::Tensor shape = need(n + ".weight_shape", {"I64", "I32"}, {2}, "the weight's shape [out, in]");
        const int64_t so = shape[0].item<int64_t>(), si = shape[1].item<int64_t>();
        if (so != out || si != in)
            throw Error(ck.file_of(n + ".weight_shape") + ": tensor '" + n + ".weight_shape' holds [" +
                        std::to_string(so) + ", " + std::to_string(si) + "], expected [" + std::to_string(out) + ", " +
                        std::to_string(in) + "] (the model's Linear)");
        at::Tensor pk =
            need(n + ".weight_packed", {"I32"}, {out, ct_packed_words(in, b)}, "int32 [out, ceil(in*" + bs + "/32)]");
        at::Tensor sc = need(n + ".weight_scale", {"F32", "F16", "BF16"}, {out, ng}, "[out, in/group]");
        if (!at::isfinite(sc.to(at::kFloat)).all().item<bool>())
            throw Error(ck.file_of(n + ".weight_scale") + ": tensor '" + n +
                        ".weight_scale' contains NaN or Inf values");
        at::Tensor zp;
        if (!f.symmetric)
            zp = need(n + ".weight_zero_point", {"I32"}, {ct_packed_words(out, b), ng},
                      "int32 [ceil(out*" + bs + "/32), in/group], asymmetric zero points packed along dim 0");
        return std::make_shared<CompressedTensorsWeight>(pk, sc, zp, b, g, out, in);
    }
    at::Tensor w = need(n + ".weight", {"I8"}, {out, in}, "int8 [out, in]");
    at::Tensor s = need(n + ".weight_scale", {"F32", "F16", "BF16"}, {out}, "per-output-channel scale [out]");
    if (!at::isfinite(s.to(at::kFloat)).all().item<bool>())
        throw Error(ck.file_of(n + ".weight_scale") + ": tensor '" + n + ".weight_scale' contains NaN or Inf values");
    return std::make_shared<Int8Weight>(w, s);
}

}  // namespace qs
