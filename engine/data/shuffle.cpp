#include "data/shuffle.h"

#include <numeric>
#include <utility>

#include "models/generate.h"

namespace qs {

uint64_t uniform_below(Rng& rng, uint64_t bound) {
    const uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
    for (;;) {
        const uint64_t r = rng.next();
        if (r >= threshold) return r % bound;
    }
}

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
    std::vector<int64_t> p(static_cast<size_t>(n > 0 ? n : 0));
    std::iota(p.begin(), p.end(), int64_t{0});
    Rng rng(seed);
    for (int64_t i = n - 1; i >= 1; --i) {
        const auto j = static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(i + 1)));
        std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
    }
    return p;
}

}  // namespace qs
