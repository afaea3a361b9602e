#include "models/modules.h"

#include <ATen/ATen.h>

namespace qs {

at::Tensor Linear::dense_weight() const {
    if (weight.defined()) return weight;
    if (packed) return packed->dequantize(bias.defined() ? bias.scalar_type() : at::kFloat);
    return {};
}

at::Tensor Linear::forward(const at::Tensor& x_in) const {
    if (observer && *observer) (*observer)(*this, x_in);
    at::Tensor x = input_fn ? input_fn(x_in) : x_in;
    at::Tensor w = weight.defined() ? weight : packed->dequantize(x.scalar_type());
    at::Tensor y = at::linear(x, w, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt);
    return output_fn ? output_fn(y) : y;
}

at::Tensor Norm::forward(const at::Tensor& x) const {
    if (kind == Kind::Layer) {
        return at::layer_norm(x, {dim}, weight.defined() ? c10::optional<at::Tensor>(weight) : c10::nullopt,
                              bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt, eps);
    }
    // LLaMA RMSNorm, as transformers computes it: in fp32, cast back, then scale.
    auto dt = x.scalar_type();
    at::Tensor h = x.to(at::kFloat);
    at::Tensor var = h.pow(2).mean(-1, /*keepdim=*/true);
    h = h * at::rsqrt(var + eps);
    return weight * h.to(dt);
}

void DecoderBlock::unload() {
    for (Norm* n : {&attn_norm, &mlp_norm}) {
        n->weight = at::Tensor();
        n->bias = at::Tensor();
    }
    for (Linear* l : {&q, &k, &v, &o, &gate, &up, &down}) {
        l->weight = at::Tensor();
        l->bias = at::Tensor();
        l->input_fn = nullptr;
        l->output_fn = nullptr;
    }
    loaded = false;
}

}  // namespace qs
