// Greedy and sampled generation with a KV cache.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "core/progress.h"
#include "models/causal_lm.h"

namespace qs {

struct GenerateOptions {
    int64_t max_new_tokens = 32;
    bool sample = false;       // false: greedy (argmax)
    double temperature = 1.0;  // sampling only
    int64_t top_k = 0;         // 0 = off
    double top_p = 1.0;        // 1 = off
    uint64_t seed = 0;
    int64_t stop_token = -1;  // stop after emitting this id (-1 = never)
};

// Throws qs::Error for options no generation can use: max_new_tokens outside 0..1,048,576,
// temperature not a positive finite number, top_k < 0, top_p outside (0, 1] (or NaN).
void check_generate_options(const GenerateOptions& opts);

// Returns the generated ids (without the prompt). on_token is called for each new id.
// Checks the options first (check_generate_options).
std::vector<int64_t> generate(const CausalLM& model, const std::vector<int64_t>& prompt, const GenerateOptions& opts,
                              const Progress& progress = {}, const std::function<void(int64_t)>& on_token = {});

// Deterministic, platform-independent PRNG (splitmix64 seeding + xoshiro256**).
class Rng {
  public:
    explicit Rng(uint64_t seed);
    uint64_t next();
    double uniform();  // [0, 1)
  private:
    uint64_t s_[4];
};

}  // namespace qs
