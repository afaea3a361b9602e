// Dequantization of ggml tensor blocks to float32, bit-exactly as ggml's dequantize_row_*
// (ggml-quants.c) and gguf-py's gguf.quants compute it: same float32 operations in the same
// order, never fused into FMAs (this file is compiled with -ffp-contract=off).
#pragma once
#include <cstdint>

namespace qs {

// True for the types dequantize_row() handles: F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
bool ggml_type_dequantizable(uint32_t type);

// Writes n floats (n a multiple of the type's block size) from the blocks at src.
// src needs no particular alignment. Throws qs::Error for other types.
void dequantize_row(uint32_t type, const uint8_t* src, float* dst, int64_t n);

}  // namespace qs
