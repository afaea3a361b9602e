// Platform-independent seeded shuffling for dataset sampling (never std::shuffle, whose
// output differs between standard libraries).
#pragma once
#include <cstdint>
#include <vector>

namespace qs {

class Rng;  // models/generate.h: splitmix64 seeding + xoshiro256**

// Unbiased integer in [0, bound), bound >= 1, by rejection: t = 2^64 mod bound; draw
// r = rng.next() until r >= t; return r % bound.
uint64_t uniform_below(Rng& rng, uint64_t bound);

// Fisher-Yates with Rng(seed): p = [0, 1, ..., n-1]; for i = n-1 down to 1:
// j = uniform_below(rng, i + 1); swap(p[i], p[j]). p[k] is the item at position k.
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

}  // namespace qs
