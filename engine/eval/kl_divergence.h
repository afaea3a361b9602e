// KL divergence of a quantized model's next-token distribution from the unquantized model's, as
// llama.cpp's perplexity --kl-divergence reports it: per token KL(P_base || P_quant) =
// sum_v p_base(v) (log p_base(v) - log p_quant(v)) over the vocabulary, from fp32 logits; the
// mean, median and 99.9th percentile over all scored tokens (percentiles by linear interpolation
// between the sorted values, as llama.cpp and numpy do) and the fraction of tokens whose most
// likely next token (argmax) is the same in both models.
//
// Only the per-token KL values (4 bytes a token) are kept; the logits of both models are used
// window by window and dropped.
#pragma once
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

namespace qs {

struct KlStats {
    int64_t tokens = 0;  // scored tokens
    double mean = 0;     // mean KL (nats)
    double median = 0;
    double p99_9 = 0;  // 99.9th percentile
    double max = 0;
    double top1 = 0;  // fraction of tokens with the same argmax (0..1)
};

// {"mean", "median", "p99_9", "max", "top1_agreement", "tokens"}: the CLI's JSON form.
nlohmann::json kl_stats_json(const KlStats& k);

// Per-token KL(base || quant) and argmax agreement of two logit tensors of the same shape
// [..., V] (any float dtype; computed in fp32 on their device). Returns float32 [N] KL on the
// CPU (N = numel / V) and adds the agreeing positions to *agree.
at::Tensor token_kl(const at::Tensor& base_logits, const at::Tensor& logits, int64_t* agree);

// Linear interpolation between sorted values: fraction 0 = min, 1 = max (llama.cpp's
// percentile, numpy's default). `sorted` must be sorted ascending and not empty.
double percentile_sorted(const std::vector<float>& sorted, double fraction);

class KlAccumulator {
  public:
    void add(const at::Tensor& base_logits, const at::Tensor& logits);
    int64_t tokens() const { return static_cast<int64_t>(kl_.size()); }
    KlStats stats() const;  // sorts a copy of the values
  private:
    std::vector<float> kl_;
    int64_t agree_ = 0;
};

}  // namespace qs
