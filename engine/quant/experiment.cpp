#include "quant/experiment.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/error.h"
#include "models/original_weights.h"

namespace qs {

DecoderBlock original_block(const CausalLM& model, size_t i) {
    c10::InferenceMode guard;
    if (!model.originals) throw Error("internal error: the model has no original weights");
    DecoderBlock b = model.blocks.at(i);
    const OriginalWeights& o = *model.originals;
    auto fill = [&](const std::string& name, at::Tensor& slot) { slot = o.has(name) ? o.get(name) : at::Tensor(); };
    const auto& kinds = model.original_layout.norm_kinds;
    Norm* norms[2] = {&b.attn_norm, &b.mlp_norm};
    for (int k = 0; k < 2; ++k) {
        Norm& n = *norms[k];
        if (!n.present()) continue;
        fill(n.name + ".weight", n.weight);
        fill(n.name + ".bias", n.bias);
        if (2 * i + k < kinds.size()) n.kind = kinds[2 * i + k];
    }
    for (Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down}) {
        l->input_fn = nullptr;
        l->output_fn = nullptr;
        if (!l->present() || l->packed) continue;
        fill(l->name + ".weight", l->weight);
        fill(l->name + ".bias", l->bias);
    }
    b.loaded = true;
    return b;
}

bool quantizes_linear(const Experiment& e, const Linear& l, bool is_lm_head) {
    if (!e.cfg.quantizes_weights() || !l.present() || !l.weight.defined()) return false;
    if (e.cfg.skips(l.name)) return false;  // mixed precision: kept at its transformed weight
    return !is_lm_head || e.cfg.include_lm_head;
}

at::Tensor final_weight(const Linear& l, const at::Tensor& w, const Experiment& e) {
    c10::InferenceMode guard;
    const MethodConfig& c = e.cfg;
    if (c.has("gptq")) {
        const GptqLinear* g = e.gptq ? e.gptq->find(l.name) : nullptr;
        if (!g) throw Error("internal error: no GPTQ result recorded for " + l.name);
        return g->dequantize(w.scalar_type()).to(w.device());
    }
    if (c.has("awq-keep") || c.has("awq-scale")) {
        auto it = e.salient.find(l.name);
        if (it == e.salient.end()) throw Error("internal error: no salient channels recorded for " + l.name);
        const QuantSpec spec = c.spec_for(l.name);
        return c.has("awq-keep") ? awq_keep_weight(w, it->second, spec)
                                 : awq_scale_weight(w, it->second, c.awq_factor, spec);
    }
    return pseudo_quantize(w, c.spec_for(l.name));
}

void quantize_block(DecoderBlock& b, const Experiment& e) {
    c10::InferenceMode guard;
    for (Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down})
        if (quantizes_linear(e, *l, false)) l->weight = final_weight(*l, l->weight, e);
    if (e.cfg.act.bits > 0) {
        install_activation_quant(b, e.cfg.act);
        // a skipped Linear is left out of quantization altogether (llm-compressor's `ignore`)
        for (Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down})
            if (e.cfg.skips(l->name)) l->input_fn = nullptr;
    }
}

void transform_block(CausalLM& model, DecoderBlock& b, size_t i, const Experiment& e, Stage upto) {
    c10::InferenceMode guard;
    if (e.rotated) rotate_block(model, b, e.rotation);
    if (!e.smooth.empty()) replay_smooth_block(b, e.smooth);
    if (e.awq) replay_awq_block(b, static_cast<int64_t>(i), *e.awq);
    if (upto != Stage::Final) return;
    quantize_block(b, e);
}

void transform_outer(CausalLM& model, const Experiment& e, Stage upto) {
    c10::InferenceMode guard;
    if (e.rotated) {
        rotate_inputs(model, e.rotation);
        rotate_head(model, e.rotation);
    }
    if (upto == Stage::Final && quantizes_linear(e, model.lm_head, true)) {
        model.untie();
        model.lm_head.weight = final_weight(model.lm_head, model.lm_head.weight, e);
    }
}

}  // namespace qs
