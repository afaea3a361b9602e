#include "models/generate.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "core/error.h"

namespace qs {

Rng::Rng(uint64_t seed) {
    uint64_t x = seed;
    for (auto& s : s_) {
        x += 0x9E3779B97F4A7C15ull;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        s = z ^ (z >> 31);
    }
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t Rng::next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

double Rng::uniform() { return (next() >> 11) * 0x1.0p-53; }

static int64_t sample_token(const at::Tensor& logits_row, const GenerateOptions& o, Rng& rng) {
    at::Tensor l = logits_row.to(at::kCPU).to(at::kDouble) / std::max(o.temperature, 1e-6);  // MPS has no float64
    std::vector<double> p(l.data_ptr<double>(), l.data_ptr<double>() + l.numel());
    std::vector<int64_t> idx(p.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return p[a] > p[b]; });
    size_t keep = idx.size();
    if (o.top_k > 0) keep = std::min<size_t>(keep, static_cast<size_t>(o.top_k));
    const double mx = p[idx[0]];
    std::vector<double> probs(keep);
    double sum = 0;
    for (size_t i = 0; i < keep; ++i) sum += probs[i] = std::exp(p[idx[i]] - mx);
    if (o.top_p < 1.0) {
        double acc = 0;
        size_t n = 0;
        while (n < keep) {
            acc += probs[n] / sum;
            ++n;
            if (acc >= o.top_p) break;
        }
        keep = n;
        sum = 0;
        for (size_t i = 0; i < keep; ++i) sum += probs[i];
    }
    double u = rng.uniform() * sum, acc = 0;
    for (size_t i = 0; i < keep; ++i) {
        acc += probs[i];
        if (u < acc) return idx[i];
    }
    return idx[keep - 1];
}

void check_generate_options(const GenerateOptions& o) {
    auto num = [](double v) {
        std::ostringstream s;
        s << v;
        return s.str();
    };
    if (o.max_new_tokens < 0 || o.max_new_tokens > (int64_t(1) << 20))
        throw Error("max_new_tokens (--max-new-tokens) must be in 0..1048576, found " +
                    std::to_string(o.max_new_tokens));
    if (!(o.temperature > 0) || !std::isfinite(o.temperature))
        throw Error("temperature (--temperature) must be a positive finite number, found " + num(o.temperature));
    if (o.top_k < 0) throw Error("top_k (--top-k) must be >= 0 (0 = off), found " + std::to_string(o.top_k));
    if (!(o.top_p > 0 && o.top_p <= 1))
        throw Error("top_p (--top-p) must be in (0, 1] (1 = off), found " + num(o.top_p));
}

std::vector<int64_t> generate(const CausalLM& model, const std::vector<int64_t>& prompt, const GenerateOptions& opts,
                              const Progress& progress, const std::function<void(int64_t)>& on_token) {
    c10::InferenceMode guard;
    check_generate_options(opts);
    if (prompt.empty()) throw Error("generation needs at least one prompt token");
    for (int64_t id : prompt)
        if (id < 0 || id >= model.config.vocab_size)
            throw Error("prompt token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                        std::to_string(model.config.vocab_size) + ")");
    const int64_t limit = model.config.max_position_embeddings;
    if (static_cast<int64_t>(prompt.size()) >= limit)
        throw Error("prompt of " + std::to_string(prompt.size()) + " tokens leaves no room in the model's " +
                    std::to_string(limit) + "-token context");
    Rng rng(opts.seed);
    KVCache cache;
    std::vector<int64_t> out;
    at::Tensor ids = at::tensor(prompt, at::kLong).unsqueeze(0).to(model.device());
    for (int64_t step = 0; step < opts.max_new_tokens; ++step) {
        progress.check();
        if (cache.length() + ids.size(1) > limit) break;
        at::Tensor logits = model.forward(ids, &cache);
        at::Tensor last = logits.select(1, logits.size(1) - 1).select(0, 0).to(at::kFloat);
        int64_t next = opts.sample ? sample_token(last, opts, rng) : last.argmax().item<int64_t>();
        out.push_back(next);
        if (on_token) on_token(next);
        progress(double(step + 1) / opts.max_new_tokens, "generating");
        if (next == opts.stop_token) break;
        ids = at::full({1, 1}, next, at::TensorOptions().dtype(at::kLong).device(model.device()));
    }
    return out;
}

}  // namespace qs
