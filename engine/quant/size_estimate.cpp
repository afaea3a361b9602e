#include "quant/size_estimate.h"

namespace qs {

namespace {

int64_t seed_group(const QuantSpec& s) { return s.granularity == Granularity::PerGroup ? s.group_size : -1; }
constexpr double kMiB = 1024.0 * 1024.0;

}  // namespace

bool targets_linear(const LinearSummary& l, const MethodConfig& cfg) {
    if (!cfg.quantizes_weights()) return false;
    if (l.block >= 0) return true;
    return cfg.include_lm_head && l.name == "lm_head";
}

bool quantizes_linear(const LinearSummary& l, const MethodConfig& cfg) {
    return targets_linear(l, cfg) && !cfg.skips(l.name);
}

SizeEstimate estimate_size(const std::vector<LinearSummary>& linears, int64_t total, const MethodConfig& cfg) {
    SizeEstimate e;
    e.fp16_size_mib = total * 2.0 / kMiB;
    if (!cfg.quantizes_weights()) {
        e.seed_size_mib = e.packed_size_mib = e.fp16_size_mib;
        return e;
    }
    const QuantSpec& base = cfg.weight;
    int64_t packed = 0, overridden_weights = 0;
    double overridden_seed_bits = 0, bits_with = 0, bits_without = 0;
    for (const LinearSummary& l : linears) {
        if (!targets_linear(l, cfg)) continue;
        const int64_t n = l.in_features * l.out_features;
        e.targeted_weights += n;
        const bool overridden = cfg.overrides.count(l.name) > 0;
        if (cfg.skips(l.name)) {
            ++e.skipped_linears;
            overridden_weights += n;
            overridden_seed_bits += n * 16.0;
            bits_with += n * 16.0;
            bits_without += n * 16.0;
            continue;
        }
        const QuantSpec s = cfg.spec_for(l.name);
        ++e.quantized_linears;
        e.quantized_weights += n;
        packed += packed_size_bytes(l.out_features, l.in_features, s);
        const double with = seed_size_bits(n, s.bits, seed_group(s));
        bits_with += with;
        bits_without += double(n) * s.bits;
        if (overridden) {
            if (s.bits != base.bits || seed_group(s) != seed_group(base)) ++e.overridden_linears;
            overridden_weights += n;
            overridden_seed_bits += with;
        }
    }
    e.seed_size_mib =
        (seed_size_bits(total - overridden_weights, base.bits, seed_group(base)) + overridden_seed_bits) / 8 / kMiB;
    e.packed_size_mib = (packed + (total - e.quantized_weights) * 2) / kMiB;
    if (e.targeted_weights > 0) {
        e.average_bits = bits_with / double(e.targeted_weights);
        e.average_bits_without_scales = bits_without / double(e.targeted_weights);
    }
    return e;
}

}  // namespace qs
