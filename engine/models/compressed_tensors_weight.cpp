#include "models/compressed_tensors_weight.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/error.h"
#include "io/safetensors.h"
#include "quant/linear_quant.h"

namespace qs {

namespace {

void check_bits(int bits, const char* what) {
    if (bits != 4 && bits != 8)
        throw Error(std::string(what) + ": compressed-tensors packing is implemented for 4 and 8 bits, not " +
                    std::to_string(bits));
}

// 2^(j*bits) for the elements j of one word, int64 on `d`.
at::Tensor element_weights(int bits, c10::Device d) {
    const int per = 32 / bits;
    return at::pow(at::full({per}, int64_t(1) << bits, at::TensorOptions().dtype(at::kLong).device(d)),
                   at::arange(per, at::TensorOptions().dtype(at::kLong).device(d)));
}

}  // namespace

int64_t ct_packed_words(int64_t count, int bits) { return (count * bits + 31) / 32; }

at::Tensor ct_pack_int32(const at::Tensor& codes_in, int bits, int dim) {
    c10::InferenceMode guard;
    check_bits(bits, "ct_pack_int32");
    if (codes_in.dim() != 2 || (dim != 0 && dim != 1))
        throw Error("ct_pack_int32: expected codes [rows, cols] and dim 0 or 1, got " +
                    shape_str(codes_in.sizes().vec()));
    at::Tensor codes = (dim == 0 ? codes_in.t() : codes_in).to(at::kLong).contiguous();
    const int64_t maxv = (int64_t(1) << bits) - 1;
    if (codes.numel() && (codes.min().item<int64_t>() < 0 || codes.max().item<int64_t>() > maxv))
        throw Error("ct_pack_int32: codes must lie in 0.." + std::to_string(maxv));
    const int per = 32 / bits;
    const int64_t rows = codes.size(0), cols = codes.size(1), words = ct_packed_words(cols, bits);
    if (words * per > cols) codes = at::constant_pad_nd(codes, {0, words * per - cols}, 0);  // pad after the shift
    at::Tensor u = (codes.view({rows, words, per}) * element_weights(bits, codes.device()).view({1, 1, per})).sum(2);
    u = at::where(u >= (int64_t(1) << 31), u - (int64_t(1) << 32), u);  // two's complement int32
    at::Tensor out = u.to(at::kInt);
    return (dim == 0 ? out.t() : out).contiguous();
}

at::Tensor ct_unpack_int32(const at::Tensor& packed_in, int bits, int64_t count, int dim) {
    c10::InferenceMode guard;
    check_bits(bits, "ct_unpack_int32");
    if (packed_in.dim() != 2 || (dim != 0 && dim != 1)) throw Error("ct_unpack_int32: expected a 2-D int32 tensor");
    at::Tensor p = (dim == 0 ? packed_in.t() : packed_in).to(at::kLong).bitwise_and(int64_t(0xffffffff));
    const int per = 32 / bits;
    const int64_t rows = p.size(0), words = p.size(1);
    if (words != ct_packed_words(count, bits))
        throw Error("ct_unpack_int32: " + std::to_string(words) + " words cannot hold exactly " +
                    std::to_string(count) + " codes of " + std::to_string(bits) + " bits");
    at::Tensor e = at::div(p.unsqueeze(2), element_weights(bits, p.device()).view({1, 1, per}), "floor")
                       .bitwise_and((int64_t(1) << bits) - 1);  // [rows, words, per]
    at::Tensor out = e.reshape({rows, words * per}).narrow(1, 0, count).to(at::kInt);
    return (dim == 0 ? out.t() : out).contiguous();
}

CompressedTensorsWeight::CompressedTensorsWeight(at::Tensor packed, at::Tensor scale, at::Tensor zero_point, int bits,
                                                 int64_t group, int64_t out, int64_t in)
    : packed_(std::move(packed)),
      scale_(std::move(scale)),
      zero_point_(std::move(zero_point)),
      bits_(bits),
      group_(group),
      out_(out),
      in_(in) {}

at::Tensor CompressedTensorsWeight::dequantize(c10::ScalarType dtype) const {
    c10::InferenceMode guard;
    const int64_t offset = int64_t(1) << (bits_ - 1);
    QuantizedTensor q;
    q.rows = out_;
    q.cols = in_;
    q.spec.bits = bits_;
    q.spec.symmetric = !zero_point_.defined();
    q.spec.granularity = group_ >= in_ ? Granularity::PerChannel : Granularity::PerGroup;
    q.spec.group_size = group_;
    q.scales = scale_.to(at::kFloat);  // exact widening
    at::Tensor codes = ct_unpack_int32(packed_, bits_, in_, 1);
    if (zero_point_.defined()) {
        // asymmetric: stored q + 2^(b-1) and z + 2^(b-1); q - z is the same either way
        q.codes = codes;
        q.zeros = ct_unpack_int32(zero_point_, bits_, out_, 0).to(at::kFloat);
    } else {
        q.codes = codes - offset;
        q.zeros = at::zeros_like(q.scales);
    }
    return qs::dequantize(q).to(dtype);
}

int64_t CompressedTensorsWeight::storage_bytes() const {
    return packed_.numel() * 4 + scale_.numel() * scale_.element_size() +
           (zero_point_.defined() ? zero_point_.numel() * 4 : 0);
}

}  // namespace qs
