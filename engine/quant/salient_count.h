// How many input channels a "top p %" choice means: floor(n * p), as the seed notebook's
// int(0.01 * len(importance)) and llm-awq. One rule for AWQ keep / scale and for every
// "top %" highlight the GUI draws (torch-free: the GUI includes it).
#pragma once
#include <cmath>
#include <cstdint>

namespace qs {

inline int64_t salient_count(int64_t channels, double fraction) {
    if (channels <= 0 || !(fraction > 0)) return 0;
    // Exactly Python's int(n * p) (no tolerance: the reference code has none either).
    const auto k = static_cast<int64_t>(std::floor(static_cast<double>(channels) * fraction));
    return k < channels ? k : channels;
}

}  // namespace qs
