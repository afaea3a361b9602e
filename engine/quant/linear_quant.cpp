#include "quant/linear_quant.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>

#include "core/device.h"
#include "core/error.h"

namespace qs {

std::string QuantSpec::describe() const {
    std::string s = "w" + std::to_string(bits);
    if (granularity == Granularity::PerGroup)
        s += " g" + std::to_string(group_size);
    else
        s += granularity == Granularity::PerChannel ? " per-channel" : " per-tensor";
    return s + (symmetric ? " sym" : " asym") + (fp16_scales ? " fp16-scales" : "");
}

Granularity parse_granularity(const std::string& s) {
    if (s == "per-tensor") return Granularity::PerTensor;
    if (s == "per-channel") return Granularity::PerChannel;
    if (s == "per-group") return Granularity::PerGroup;
    throw Error("unknown weight quantization granularity '" + s + "' (per-tensor, per-channel, per-group)");
}

std::string granularity_name(Granularity g) {
    switch (g) {
        case Granularity::PerTensor:
            return "per-tensor";
        case Granularity::PerChannel:
            return "per-channel";
        default:
            return "per-group";
    }
}

namespace {

void check_spec(const QuantSpec& s) {
    if (s.bits < 2 || s.bits > 8) throw Error("quantization bits must be in 2..8, got " + std::to_string(s.bits));
    if (s.granularity == Granularity::PerGroup && s.group_size < 1)
        throw Error("group size must be positive, got " + std::to_string(s.group_size));
}

// Quantize rows of a 2-D float32 matrix, each row one quantization group.
void quantize_rows(const at::Tensor& g, const QuantSpec& spec, at::Tensor& codes, at::Tensor& scales,
                   at::Tensor& zeros) {
    if (spec.symmetric) {
        const double max_int = std::pow(2.0, spec.bits - 1) - 1, min_int = -std::pow(2.0, spec.bits - 1);
        at::Tensor max_val = g.abs().amax(1, true).clamp_min(1e-5);
        scales = div_exact(max_val, max_int);
        if (spec.fp16_scales) scales = scales.to(at::kHalf).to(at::kFloat);
        zeros = at::zeros_like(scales);
        codes = at::clamp(at::round(g / scales), min_int, max_int);
    } else {
        const double max_int = std::pow(2.0, spec.bits) - 1;
        at::Tensor max_val = g.amax(1, true), min_val = g.amin(1, true);
        scales = div_exact((max_val - min_val).clamp_min(1e-5), max_int);
        if (spec.fp16_scales) scales = scales.to(at::kHalf).to(at::kFloat);
        zeros = at::clamp(-at::round(min_val / scales), 0, max_int);
        codes = at::clamp(at::round(g / scales) + zeros, 0, max_int);
    }
}

}  // namespace

QuantizedTensor quantize(const at::Tensor& w_in, const QuantSpec& spec) {
    c10::InferenceMode guard;
    check_spec(spec);
    if (w_in.dim() != 2) throw Error("quantize expects a 2-D weight [out, in]");
    at::Tensor w = w_in.to(at::kFloat);
    const int64_t R = w.size(0), C = w.size(1);
    QuantizedTensor q;
    q.spec = spec;
    q.rows = R;
    q.cols = C;
    at::Tensor codes, scales, zeros;
    if (spec.granularity == Granularity::PerTensor) {
        quantize_rows(w.reshape({1, -1}), spec, codes, scales, zeros);
        q.codes = codes.view({R, C});
    } else if (spec.granularity == Granularity::PerChannel || spec.group_size >= C) {
        quantize_rows(w, spec, codes, scales, zeros);
        q.codes = codes;
    } else {
        const int64_t g = spec.group_size, full = C / g, tail = C % g;
        at::Tensor main = w.narrow(1, 0, full * g).reshape({R * full, g});
        quantize_rows(main, spec, codes, scales, zeros);
        at::Tensor c = codes.view({R, full * g});
        scales = scales.view({R, full});
        zeros = zeros.view({R, full});
        if (tail) {
            at::Tensor tc, ts, tz;
            quantize_rows(w.narrow(1, full * g, tail), spec, tc, ts, tz);
            c = at::cat({c, tc}, 1);
            scales = at::cat({scales, ts}, 1);
            zeros = at::cat({zeros, tz}, 1);
        }
        q.codes = c;
    }
    q.codes = q.codes.to(at::kInt);
    q.scales = scales;
    q.zeros = zeros;
    return q;
}

at::Tensor dequantize(const QuantizedTensor& q) {
    c10::InferenceMode guard;
    at::Tensor c = q.codes.to(at::kFloat);
    if (q.spec.granularity == Granularity::PerTensor) return (c - q.zeros) * q.scales;  // [1, 1] broadcasts
    const int64_t R = q.rows, C = q.cols, ng = q.scales.size(1);
    if (ng == 1) return (c - q.zeros) * q.scales;
    const int64_t g = q.spec.group_size, full = C / g, tail = C % g;
    at::Tensor main = c.narrow(1, 0, full * g).view({R, full, g});
    at::Tensor out = ((main - q.zeros.narrow(1, 0, full).unsqueeze(2)) * q.scales.narrow(1, 0, full).unsqueeze(2))
                         .reshape({R, full * g});
    if (tail) {
        at::Tensor t = (c.narrow(1, full * g, tail) - q.zeros.narrow(1, full, 1)) * q.scales.narrow(1, full, 1);
        out = at::cat({out, t}, 1);
    }
    return out;
}

at::Tensor pseudo_quantize(const at::Tensor& w, const QuantSpec& spec) {
    c10::InferenceMode guard;
    return dequantize(quantize(w, spec)).to(w.scalar_type());
}

ErrorStats error_stats(const at::Tensor& original, const at::Tensor& approx) {
    c10::InferenceMode guard;
    // float64 throughout (on the CPU for MPS, which has none); sums of squares as dot products
    // (one pass each, no temporaries)
    at::Tensor o = to_float64(original).reshape({-1}), d = (o - to_float64(approx).reshape({-1}));
    ErrorStats e;
    const double err2 = d.numel() ? at::dot(d, d).item<double>() : 0,
                 sig2 = o.numel() ? at::dot(o, o).item<double>() : 0;
    e.mse = d.numel() ? err2 / d.numel() : 0;
    if (d.numel()) {
        auto [mn, mx] = at::aminmax(d);
        e.max_abs = std::max(mx.item<double>(), -mn.item<double>());
    }
    e.sqnr_db = err2 > 0 ? 10 * std::log10(sig2 / err2) : INFINITY;
    return e;
}

at::Tensor fake_quant_activation(const at::Tensor& x, int bits, bool per_token) {
    const double q_max = std::pow(2.0, bits - 1) - 1;
    at::Tensor scales = per_token ? x.abs().amax(-1, true) : x.abs().max();
    scales = div_exact(scales.clamp_min(1e-5), q_max);
    return at::round(x / scales) * scales;
}

at::Tensor pack_codes(const at::Tensor& codes_in, int bits) {
    if (bits != 2 && bits != 3 && bits != 4 && bits != 8) throw Error("packing supports 2, 3, 4 and 8 bits");
    at::Tensor codes = codes_in.to(at::kLong).contiguous().view(-1).cpu();
    const int64_t n = codes.numel();
    const uint64_t max = (1ull << bits) - 1;
    at::Tensor out = at::zeros({(n * bits + 7) / 8}, at::kByte);
    uint8_t* o = out.data_ptr<uint8_t>();
    const int64_t* c = codes.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
        if (c[i] < 0 || static_cast<uint64_t>(c[i]) > max)
            throw Error("code " + std::to_string(c[i]) + " does not fit in " + std::to_string(bits) + " bits");
        uint64_t bit = static_cast<uint64_t>(i) * bits;
        uint64_t v = static_cast<uint64_t>(c[i]) << (bit % 8);
        for (size_t k = bit / 8; v; ++k, v >>= 8) o[k] |= static_cast<uint8_t>(v & 0xff);
    }
    return out;
}

at::Tensor unpack_codes(const at::Tensor& packed_in, int bits, int64_t count) {
    at::Tensor packed = packed_in.to(at::kByte).contiguous().cpu();
    if (packed.numel() * 8 < count * bits) throw Error("packed buffer too small for the requested codes");
    at::Tensor out = at::empty({count}, at::kInt);
    const uint8_t* p = packed.data_ptr<uint8_t>();
    int32_t* o = out.data_ptr<int32_t>();
    const uint32_t mask = (1u << bits) - 1;
    for (int64_t i = 0; i < count; ++i) {
        uint64_t bit = static_cast<uint64_t>(i) * bits;
        uint32_t v = p[bit / 8];
        if (bit / 8 + 1 < static_cast<uint64_t>(packed.numel())) v |= static_cast<uint32_t>(p[bit / 8 + 1]) << 8;
        o[i] = static_cast<int32_t>((v >> (bit % 8)) & mask);
    }
    return out;
}

double seed_size_bits(int64_t weights, int bits, int64_t group_size) {
    double per = bits;
    if (group_size > 0) per += (16.0 + 4.0) / group_size;
    return weights * per;
}

int64_t packed_size_bytes(int64_t rows, int64_t cols, const QuantSpec& spec) {
    int64_t groups = spec.granularity == Granularity::PerTensor ? 1
                     : spec.granularity == Granularity::PerChannel
                         ? rows
                         : rows * ((cols + spec.group_size - 1) / spec.group_size);
    int64_t code_bytes = (rows * cols * spec.bits + 7) / 8;
    int64_t scale_bytes = groups * 2;                                        // fp16 scales
    int64_t zero_bytes = spec.symmetric ? 0 : (groups * spec.bits + 7) / 8;  // packed zero points
    return code_bytes + scale_bytes + zero_bytes;
}

}  // namespace qs
