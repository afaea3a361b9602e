// The torch-free part of linear quantization: the quantization spec (bits, granularity,
// group size, symmetric) and the model-size formulas. Included by linear_quant.h; the GUI
// includes this header directly, because ui/ files must never see libtorch (docs/notes.md §4).
#pragma once
#include <cstdint>
#include <string>

namespace qs {

enum class Granularity { PerTensor, PerChannel, PerGroup };

struct QuantSpec {
    int bits = 4;
    Granularity granularity = Granularity::PerGroup;
    int64_t group_size = 128;  // PerGroup only. A row whose length is not a multiple gets a shorter last group.
    bool symmetric = false;    // symmetric: codes in [-2^(b-1), 2^(b-1)-1], zero 0 (absmax scale)
    // Round every scale to fp16 before the zero points and codes are computed from it: the
    // scales AutoAWQ's GEMM format stores (and that AutoAWQ / llm-awq compute on fp16 models),
    // so an awq-gemm export reloads to exactly this fake-quant model.
    bool fp16_scales = false;
    std::string describe() const;  // e.g. "w4 g128 asym"
};

// Parses "per-tensor" / "per-channel" / "per-group". Throws qs::Error otherwise.
Granularity parse_granularity(const std::string& s);
std::string granularity_name(Granularity g);

// Model size: the seed formula (bits + (16+4)/group_size bits per weight; group -1: bits)
// and the bytes actually needed: packed codes + fp16 scales + packed zero points.
double seed_size_bits(int64_t weights, int bits, int64_t group_size);
int64_t packed_size_bytes(int64_t rows, int64_t cols, const QuantSpec& spec);

}  // namespace qs
