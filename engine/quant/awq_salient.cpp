// AWQ salient-channel experiments from the seed notebook.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cmath>

#include "core/device.h"
#include "core/error.h"
#include "quant/awq.h"
#include "quant/salient_count.h"

namespace qs {

at::Tensor salient_channels(const at::Tensor& importance, double fraction) {
    const int64_t k = salient_count(importance.numel(), fraction);
    if (k <= 0) return at::empty({0}, at::kLong);
    return std::get<1>(at::topk(importance.to(at::kFloat).cpu(), k));
}

at::Tensor awq_keep_weight(const at::Tensor& w, const at::Tensor& salient, const QuantSpec& spec) {
    c10::InferenceMode guard;
    at::Tensor q = pseudo_quantize(w, spec);
    if (salient.numel() == 0) return q;
    at::Tensor idx = salient.to(w.device());
    return q.index_copy(1, idx, w.index_select(1, idx));
}

at::Tensor awq_scale_weight(const at::Tensor& w, const at::Tensor& salient, double factor, const QuantSpec& spec) {
    c10::InferenceMode guard;
    if (salient.numel() == 0) return pseudo_quantize(w, spec);
    at::Tensor idx = salient.to(w.device());
    at::Tensor scaled = w.index_copy(1, idx, w.index_select(1, idx) * factor);
    at::Tensor q = pseudo_quantize(scaled, spec);
    return q.index_copy(1, idx, div_exact(q.index_select(1, idx), factor));
}

namespace {

template <class F>
void for_quantized_linears(CausalLM& model, bool include_lm_head, F&& f) {
    for (Linear* l : model.decoder_linears()) f(*l);
    if (include_lm_head) {
        model.untie();
        f(model.lm_head);
    }
}

}  // namespace

void awq_keep_salient(CausalLM& model, const CalibStats& stats, const QuantSpec& spec, double fraction,
                      bool include_lm_head) {
    c10::InferenceMode guard;
    for_quantized_linears(model, include_lm_head, [&](Linear& l) {
        l.weight = awq_keep_weight(l.weight, salient_channels(stats.at(l.name).mean_abs, fraction), spec);
    });
}

void awq_scale_salient(CausalLM& model, const CalibStats& stats, const QuantSpec& spec, double fraction, double factor,
                       bool include_lm_head) {
    c10::InferenceMode guard;
    if (!(factor > 0)) throw Error("AWQ scale factor must be positive");
    for_quantized_linears(model, include_lm_head, [&](Linear& l) {
        l.weight = awq_scale_weight(l.weight, salient_channels(stats.at(l.name).mean_abs, fraction), factor, spec);
    });
}

}  // namespace qs
