// Quantize one Linear with the current settings and report its error, in milliseconds:
// what the GUI shows while a slider moves. Starts from the layer's original weight.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "quant/calib_stats.h"
#include "quant/linear_quant.h"
#include "quant/method_config.h"

namespace qs {

struct LayerPreview {
    at::Tensor original;     // [out, in] float32, the layer's original weight
    at::Tensor transformed;  // after smoothing / salient scaling, before quantization
    at::Tensor codes;        // int32 [out, in] integer codes of the quantized weight
    at::Tensor dequantized;  // [out, in] float32, the weight the model would use
    at::Tensor error;        // |original - dequantized| (in the original basis)
    ErrorStats weight_error;
    double output_mse = 0, output_rel_error = 0;  // on calibration inputs (if any)
    int64_t output_tokens = 0;
    int64_t packed_bytes = 0;
    QuantSpec spec;
    std::string note;    // what was applied, or why a method does not act on this layer
    at::Tensor salient;  // int64 indices of the salient input channels (awq-keep / awq-scale), else undefined
};

// original: the layer's original weight [out, in]; group_weights: the original weights of
// all Linears fed by the same norm (for SmoothQuant's weight maximum; may be just {original});
// smoothable: whether the layer reads a norm output (q/k/v, fc1, gate/up);
// stats: calibration statistics of the layer's input (nullptr when not collected).
LayerPreview preview_linear(const at::Tensor& original, const std::vector<at::Tensor>& group_weights, bool smoothable,
                            const ChannelStats* stats, const MethodConfig& cfg);

}  // namespace qs
