#include "quant/layer_preview.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/device.h"
#include "quant/awq.h"
#include "quant/smoothquant.h"

namespace qs {

LayerPreview preview_linear(const at::Tensor& original, const std::vector<at::Tensor>& group_weights, bool smoothable,
                            const ChannelStats* stats, const MethodConfig& cfg) {
    c10::InferenceMode guard;
    LayerPreview p;
    p.spec = cfg.weight;
    at::Tensor w0 = original.to(at::kFloat);
    p.original = w0;
    at::Tensor w = w0;
    at::Tensor x = stats && stats->sample_inputs.defined() ? stats->sample_inputs.to(w0.device()) : at::Tensor();
    at::Tensor x0 = x;
    std::vector<std::string> notes;
    if (cfg.has("rotate")) notes.push_back("rotation acts on the whole model: Apply to see this layer rotated");
    at::Tensor smooth;  // per-input-channel scale, weights *= s, inputs /= s
    if (cfg.has("smoothquant")) {
        if (!smoothable) {
            notes.push_back("not smoothed (this Linear does not read a norm output)");
        } else if (!stats) {
            notes.push_back("smoothing needs calibration statistics");
        } else {
            std::vector<at::Tensor> ws;
            for (const auto& g : group_weights) ws.push_back(g.to(at::kFloat));
            smooth = smooth_scales(stats->max_abs, ws, cfg.sq_alpha).to(w0.device());
            w = w0 * smooth.view({1, -1});
            if (x.defined()) x = x / smooth.view({1, -1});
            notes.push_back("smoothed with alpha " + std::to_string(cfg.sq_alpha).substr(0, 4));
        }
    }
    const bool keep = cfg.has("awq-keep"), scale = cfg.has("awq-scale");
    if ((keep || scale) && !stats) notes.push_back("salient channels need calibration statistics");
    at::Tensor salient = (keep || scale) && stats ? salient_channels(stats->mean_abs, cfg.awq_salient) : at::Tensor();
    if (cfg.has("awq")) notes.push_back("AWQ auto-scale searches whole blocks: Apply to see its scales");
    p.salient = salient;
    p.transformed = w;
    if (scale && salient.defined() && salient.numel()) {
        at::Tensor idx = salient.to(w.device());
        p.transformed = w.index_copy(1, idx, w.index_select(1, idx) * cfg.awq_factor);
    }
    QuantizedTensor q = quantize(p.transformed, cfg.weight);
    p.codes = q.codes;
    at::Tensor deq = dequantize(q);
    if (scale && salient.defined() && salient.numel()) {
        at::Tensor idx = salient.to(w.device());
        deq = deq.index_copy(1, idx, div_exact(deq.index_select(1, idx), cfg.awq_factor));
        notes.push_back(std::to_string(salient.numel()) + " salient channels scaled by " +
                        std::to_string(cfg.awq_factor).substr(0, 4));
    }
    if (keep && salient.defined() && salient.numel()) {
        at::Tensor idx = salient.to(w.device());
        deq = deq.index_copy(1, idx, w.index_select(1, idx));
        notes.push_back(std::to_string(salient.numel()) + " salient channels kept in full precision");
    }
    // Back to the original basis for the weight error: W' = deq / s.
    p.dequantized = smooth.defined() ? deq / smooth.view({1, -1}) : deq;
    p.error = (w0 - p.dequantized).abs();
    p.weight_error = error_stats(w0, p.dequantized);
    p.packed_bytes = packed_size_bytes(w0.size(0), w0.size(1), cfg.weight);
    if (x0.defined() && x0.size(0) > 0) {
        at::Tensor xin = cfg.act.bits > 0 ? fake_quant_activation(x, cfg.act.bits, cfg.act.per_token) : x;
        at::Tensor y0 = at::matmul(x0, w0.t()), y = at::matmul(xin, deq.t());
        const double err = (y - y0).pow(2).sum().item<double>(), ref = y0.pow(2).sum().item<double>();
        p.output_mse = err / static_cast<double>(y0.numel());
        p.output_rel_error = ref > 0 ? std::sqrt(err / ref) : 0;
        p.output_tokens = x0.size(0);
        if (cfg.act.bits > 0) notes.push_back("activations quantized to " + std::to_string(cfg.act.bits) + " bits");
    }
    notes.insert(notes.begin(), cfg.weight.describe());
    for (size_t i = 0; i < notes.size(); ++i) p.note += (i ? "; " : "") + notes[i];
    return p;
}

}  // namespace qs
