// Model size and average weight bits of a configuration, per Linear with its own spec (mixed
// precision, MethodConfig::overrides). Torch-free: QuantSession::apply reports it and the GUI's
// Model page shows it for the draft configuration, from the same function.
//
//   seed formula  every parameter at the configuration's bits + 20/group bits (the seed
//                 notebooks' params * (bits + (16+4)/group_size)), except that an overridden
//                 Linear counts at its own spec and a skipped one at 16 bits; without weight
//                 quantization, 16 bits each.
//   packed        quantized Linears: packed codes + fp16 scales + packed zero points
//                 (packed_size_bytes with each Linear's spec); everything else 2 bytes.
//   average bits  over the weights of the Linears the configuration targets (decoder
//                 Linears, lm_head with include_lm_head), skipped ones at 16: with the seed
//                 formula's scale overhead (bits + 20/group) and without (bits only).
#pragma once
#include <cstdint>
#include <vector>

#include "models/model_summary.h"
#include "quant/method_config.h"

namespace qs {

struct SizeEstimate {
    int64_t quantized_weights = 0;  // weights of the Linears actually quantized (not skipped)
    int64_t targeted_weights = 0;   // weights of the Linears the configuration targets (incl. skipped)
    int64_t quantized_linears = 0;
    int64_t skipped_linears = 0;
    int64_t overridden_linears = 0;  // quantized with a spec other than the configuration's (not skipped)
    double seed_size_mib = 0;
    double packed_size_mib = 0;
    double fp16_size_mib = 0;
    double average_bits = 16;                 // incl. the seed formula's 20/group scale overhead
    double average_bits_without_scales = 16;  // bits only
};

// Whether `cfg` targets the Linear (decoder Linears: block >= 0; lm_head with include_lm_head).
// A skipped Linear is targeted but not quantized.
bool targets_linear(const LinearSummary& l, const MethodConfig& cfg);
// Whether `cfg` quantizes the Linear: targeted and not skipped.
bool quantizes_linear(const LinearSummary& l, const MethodConfig& cfg);

// `total_parameters`: every parameter of the model (tied embeddings once).
SizeEstimate estimate_size(const std::vector<LinearSummary>& linears, int64_t total_parameters,
                           const MethodConfig& cfg);

}  // namespace qs
