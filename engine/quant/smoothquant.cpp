#include "quant/smoothquant.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/error.h"

namespace qs {

at::Tensor smooth_scales(const at::Tensor& act_max, const std::vector<at::Tensor>& weights, double alpha) {
    std::vector<at::Tensor> wmax;
    for (const auto& w : weights) wmax.push_back(w.abs().amax(0, true).to(at::kFloat).cpu());
    at::Tensor weight_scales = std::get<0>(at::cat(wmax, 0).max(0)).clamp_min(1e-5);
    at::Tensor a = act_max.to(at::kFloat).cpu();
    return (a.pow(alpha) / weight_scales.pow(1 - alpha)).clamp_min(1e-5);
}

void apply_smooth(Norm& n, const std::vector<Linear*>& fcs, const at::Tensor& s) {
    c10::InferenceMode guard;
    at::Tensor sd = s.to(n.weight.device(), n.weight.scalar_type());
    n.weight = n.weight / sd;
    if (n.bias.defined()) n.bias = n.bias / sd;
    for (auto* fc : fcs) fc->weight = fc->weight * sd.view({1, -1});
}

std::vector<std::pair<Norm*, std::vector<Linear*>>> smooth_targets(DecoderBlock& b) {
    std::vector<std::pair<Norm*, std::vector<Linear*>>> out;
    out.push_back({&b.attn_norm, {&b.q, &b.k, &b.v}});
    if (b.gated())
        out.push_back({&b.mlp_norm, {&b.gate, &b.up}});
    else
        out.push_back({&b.mlp_norm, {&b.up}});
    return out;
}

void check_smoothable(const CausalLM& model, double alpha) {
    if (alpha < 0 || alpha > 1) throw Error("SmoothQuant alpha must be in [0, 1], got " + std::to_string(alpha));
    if (model.config.arch == Arch::OPT && !model.config.do_layer_norm_before)
        throw Error("SmoothQuant needs a pre-LN model; " + model.source_dir +
                    " is a post-LN OPT (do_layer_norm_before=false, like opt-350m)");
}

std::vector<SmoothGroup> smooth_block(DecoderBlock& b, const CalibStats& stats, double alpha) {
    c10::InferenceMode guard;
    std::vector<SmoothGroup> out;
    for (auto& [n, fcs] : smooth_targets(b)) {
        if (!n->weight.defined()) throw Error("SmoothQuant cannot fold scales into " + n->name + ": it has no weight");
        std::vector<at::Tensor> ws;
        for (auto* fc : fcs) ws.push_back(fc->weight);
        SmoothGroup g;
        g.scales = smooth_scales(stats.at(fcs[0]->name).max_abs, ws, alpha);
        apply_smooth(*n, fcs, g.scales);
        g.norm = n->name;
        for (auto* fc : fcs) g.linears.push_back(fc->name);
        out.push_back(std::move(g));
    }
    return out;
}

void replay_smooth_block(DecoderBlock& b, const std::vector<SmoothGroup>& groups) {
    for (auto& [n, fcs] : smooth_targets(b))
        for (const auto& g : groups)
            if (g.norm == n->name) apply_smooth(*n, fcs, g.scales);
}

std::vector<SmoothGroup> smooth_model(CausalLM& model, const CalibStats& stats, double alpha) {
    c10::InferenceMode guard;
    check_smoothable(model, alpha);
    std::vector<SmoothGroup> out;
    for (auto& b : model.blocks)
        for (auto& g : smooth_block(b, stats, alpha)) out.push_back(std::move(g));
    return out;
}

void install_activation_quant(DecoderBlock& b, const ActQuant& act) {
    if (act.bits == 0) return;
    if (act.bits < 2 || act.bits > 8) throw Error("activation bits must be in 2..8 (or 0 for none)");
    const int bits = act.bits;
    const bool per_token = act.per_token;
    auto fq = [bits, per_token](const at::Tensor& x) { return fake_quant_activation(x, bits, per_token); };
    for (Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down})
        if (l->present()) l->input_fn = fq;
    if (act.quantize_bmm)
        for (Linear* l : {&b.q, &b.k, &b.v}) l->output_fn = fq;
}

void install_activation_quant(CausalLM& model, const ActQuant& act) {
    if (act.bits == 0) return;
    for (auto& b : model.blocks) install_activation_quant(b, act);
}

}  // namespace qs
