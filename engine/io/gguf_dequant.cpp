// Ports of ggml-quants.c's dequantize_row_* (block layouts from ggml-common.h). Blocks are
// read through memcpy, so src may be unaligned; multi-byte fields are little-endian as GGUF
// stores them (x86-64 and arm64 are little-endian; is_gguf_file rejects big-endian files).
#include "io/gguf_dequant.h"

#include <c10/util/Half.h>

#include <cstring>

#include "core/error.h"
#include "io/gguf.h"

namespace qs {

namespace {

constexpr int QK = 32;     // legacy block size
constexpr int QK_K = 256;  // K-quant super-block size

float f16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return c10::detail::fp16_ieee_to_fp32_value(h);
}

float bf16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// block_q4_0: half d; uint8 qs[16]
void q4_0(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 18, y += QK) {
        const float d = f16(x);
        const uint8_t* qs = x + 2;
        for (int j = 0; j < QK / 2; ++j) {
            const int x0 = (qs[j] & 0x0F) - 8;
            const int x1 = (qs[j] >> 4) - 8;
            y[j] = x0 * d;
            y[j + QK / 2] = x1 * d;
        }
    }
}

// block_q4_1: half d, m; uint8 qs[16]
void q4_1(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 20, y += QK) {
        const float d = f16(x), m = f16(x + 2);
        const uint8_t* qs = x + 4;
        for (int j = 0; j < QK / 2; ++j) {
            const int x0 = qs[j] & 0x0F;
            const int x1 = qs[j] >> 4;
            y[j] = x0 * d + m;
            y[j + QK / 2] = x1 * d + m;
        }
    }
}

// block_q5_0: half d; uint8 qh[4]; uint8 qs[16]
void q5_0(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 22, y += QK) {
        const float d = f16(x);
        uint32_t qh;
        std::memcpy(&qh, x + 2, 4);
        const uint8_t* qs = x + 6;
        for (int j = 0; j < QK / 2; ++j) {
            const uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
            const uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
            const int32_t x0 = ((qs[j] & 0x0F) | xh_0) - 16;
            const int32_t x1 = ((qs[j] >> 4) | xh_1) - 16;
            y[j] = x0 * d;
            y[j + QK / 2] = x1 * d;
        }
    }
}

// block_q5_1: half d, m; uint8 qh[4]; uint8 qs[16]
void q5_1(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 24, y += QK) {
        const float d = f16(x), m = f16(x + 2);
        uint32_t qh;
        std::memcpy(&qh, x + 4, 4);
        const uint8_t* qs = x + 8;
        for (int j = 0; j < QK / 2; ++j) {
            const uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
            const uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
            const int x0 = (qs[j] & 0x0F) | xh_0;
            const int x1 = (qs[j] >> 4) | xh_1;
            y[j] = x0 * d + m;
            y[j + QK / 2] = x1 * d + m;
        }
    }
}

// block_q8_0: half d; int8 qs[32]
void q8_0(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 34, y += QK) {
        const float d = f16(x);
        const int8_t* qs = reinterpret_cast<const int8_t*>(x + 2);
        for (int j = 0; j < QK; ++j) y[j] = qs[j] * d;
    }
}

// block_q2_K: uint8 scales[16]; uint8 qs[64]; half d, dmin
void q2_k(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 84) {
        const uint8_t* scales = x;
        const uint8_t* q = x + 16;
        const float d = f16(x + 80), min = f16(x + 82);
        int is = 0;
        for (int n = 0; n < QK_K; n += 128) {
            int shift = 0;
            for (int j = 0; j < 4; ++j) {
                uint8_t sc = scales[is++];
                float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l] >> shift) & 3)) - ml;
                sc = scales[is++];
                dl = d * (sc & 0xF), ml = min * (sc >> 4);
                for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3)) - ml;
                shift += 2;
            }
            q += 32;
        }
    }
}

// block_q3_K: uint8 hmask[32]; uint8 qs[64]; uint8 scales[12] (16 packed 6-bit); half d
void q3_k(const uint8_t* x, float* y, int64_t nb) {
    constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
    for (int64_t i = 0; i < nb; ++i, x += 110) {
        const uint8_t* hm = x;
        const uint8_t* q = x + 32;
        const float d_all = f16(x + 108);
        uint32_t aux[4];
        std::memcpy(aux, x + 96, 12);
        const uint32_t tmp = aux[2];
        aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
        aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
        aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
        aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
        int8_t scales[16];
        std::memcpy(scales, aux, 16);
        int is = 0;
        uint8_t m = 1;
        for (int n = 0; n < QK_K; n += 128) {
            int shift = 0;
            for (int j = 0; j < 4; ++j) {
                float dl = d_all * (scales[is++] - 32);
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * ((int8_t)((q[l + 0] >> shift) & 3) - ((hm[l + 0] & m) ? 0 : 4));
                dl = d_all * (scales[is++] - 32);
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
                shift += 2;
                m <<= 1;
            }
            q += 32;
        }
    }
}

// The 6-bit scale and min of sub-block j from a K-quant's 12 packed scale bytes.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
    }
}

// block_q4_K: half d, dmin; uint8 scales[12]; uint8 qs[128]
void q4_k(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 144) {
        const float d = f16(x), min = f16(x + 2);
        const uint8_t* scales = x + 4;
        const uint8_t* q = x + 16;
        int is = 0;
        uint8_t sc, m;
        for (int j = 0; j < QK_K; j += 64) {
            get_scale_min_k4(is + 0, scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            get_scale_min_k4(is + 1, scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
            q += 32;
            is += 2;
        }
    }
}

// block_q5_K: half d, dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]
void q5_k(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 176) {
        const float d = f16(x), min = f16(x + 2);
        const uint8_t* scales = x + 4;
        const uint8_t* qh = x + 16;
        const uint8_t* ql = x + 48;
        int is = 0;
        uint8_t sc, m;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < QK_K; j += 64) {
            get_scale_min_k4(is + 0, scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            get_scale_min_k4(is + 1, scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            ql += 32;
            is += 2;
            u1 <<= 2;
            u2 <<= 2;
        }
    }
}

// block_q6_K: uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d
void q6_k(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 210) {
        const uint8_t* ql = x;
        const uint8_t* qh = x + 128;
        const int8_t* sc = reinterpret_cast<const int8_t*>(x + 192);
        const float d = f16(x + 208);
        for (int n = 0; n < QK_K; n += 128) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

}  // namespace

bool ggml_type_dequantizable(uint32_t type) {
    switch (static_cast<GgmlType>(type)) {
        case GgmlType::F32:
        case GgmlType::F16:
        case GgmlType::BF16:
        case GgmlType::F64:
        case GgmlType::Q4_0:
        case GgmlType::Q4_1:
        case GgmlType::Q5_0:
        case GgmlType::Q5_1:
        case GgmlType::Q8_0:
        case GgmlType::Q2_K:
        case GgmlType::Q3_K:
        case GgmlType::Q4_K:
        case GgmlType::Q5_K:
        case GgmlType::Q6_K:
            return true;
        default:
            return false;
    }
}

void dequantize_row(uint32_t type, const uint8_t* src, float* dst, int64_t n) {
    const GgmlTypeInfo* info = ggml_type_info(type);
    if (!info || !ggml_type_dequantizable(type)) throw Error("cannot dequantize ggml type " + ggml_type_name(type));
    if (n % info->block_size != 0)
        throw Error("dequantize " + ggml_type_name(type) + ": " + std::to_string(n) +
                    " elements is not a multiple of " + std::to_string(info->block_size));
    const int64_t nb = n / info->block_size;
    switch (static_cast<GgmlType>(type)) {
        case GgmlType::F32:
            std::memcpy(dst, src, static_cast<size_t>(n) * 4);
            return;
        case GgmlType::F16:
            for (int64_t i = 0; i < n; ++i) dst[i] = f16(src + 2 * i);
            return;
        case GgmlType::BF16:
            for (int64_t i = 0; i < n; ++i) dst[i] = bf16(src + 2 * i);
            return;
        case GgmlType::F64:
            for (int64_t i = 0; i < n; ++i) {
                double v;
                std::memcpy(&v, src + 8 * i, 8);
                dst[i] = static_cast<float>(v);
            }
            return;
        case GgmlType::Q4_0:
            q4_0(src, dst, nb);
            return;
        case GgmlType::Q4_1:
            q4_1(src, dst, nb);
            return;
        case GgmlType::Q5_0:
            q5_0(src, dst, nb);
            return;
        case GgmlType::Q5_1:
            q5_1(src, dst, nb);
            return;
        case GgmlType::Q8_0:
            q8_0(src, dst, nb);
            return;
        case GgmlType::Q2_K:
            q2_k(src, dst, nb);
            return;
        case GgmlType::Q3_K:
            q3_k(src, dst, nb);
            return;
        case GgmlType::Q4_K:
            q4_k(src, dst, nb);
            return;
        case GgmlType::Q5_K:
            q5_k(src, dst, nb);
            return;
        case GgmlType::Q6_K:
            q6_k(src, dst, nb);
            return;
        default:
            break;
    }
    throw Error("cannot dequantize ggml type " + ggml_type_name(type));
}

}  // namespace qs
