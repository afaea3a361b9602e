// The applied experiment: a MethodConfig plus what its search produced (rotation matrix,
// SmoothQuant and AWQ scales, AWQ clips, salient channels: small tensors). From it the working
// weights of any decoder block are rebuilt from the original weights, bit for bit and without
// calibration: block-sequential evaluation, export of the pre-quantization weights, and putting
// back the previous configuration after a cancelled apply all use the same functions.
#pragma once
#include <ATen/core/Tensor.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/causal_lm.h"
#include "quant/awq.h"
#include "quant/gptq.h"
#include "quant/method_config.h"
#include "quant/rotation.h"
#include "quant/smoothquant.h"

namespace qs {

struct Experiment {
    MethodConfig cfg;
    bool rotated = false;
    RotationPlan rotation;  // R, centring, work precision
    RotationInfo rotation_info;
    std::vector<SmoothGroup> smooth;            // every smoothed norm -> Linears group, in order
    std::optional<AwqResult> awq;               // awq auto-scale (+ clip)
    std::map<std::string, at::Tensor> salient;  // awq-keep / awq-scale: Linear -> input channel indices
    std::vector<std::string> rtn_linears;       // Linears whose weight = pseudo_quantize(prequant weight)
    std::optional<GptqResult> gptq;             // gptq: every decoder Linear's codes and grid
    std::string calibration;                    // description of the calibration set used
};

// How far to take the weights: Transformed = rotation, smoothing, AWQ scales and clips folded
// in (the pre-quantization weights, what an exporter re-derives codes from); Final = the weights
// the model evaluates with (weight quantization and activation hooks too).
enum class Stage { Transformed, Final };

// Decoder block i with its original weights (structure from the model, tensors from
// model.originals: zero-copy views, the live original tensors, or fresh conversions).
DecoderBlock original_block(const CausalLM& model, size_t i);
// Applies the experiment to block i (which holds original weights) up to `upto`.
void transform_block(CausalLM& model, DecoderBlock& block, size_t i, const Experiment& e, Stage upto);
// The parts outside the decoder blocks (embeddings, final norm, lm_head), which must hold their
// originals: rotation, and lm_head quantization when the configuration includes it.
void transform_outer(CausalLM& model, const Experiment& e, Stage upto);
// The quantized weight of one Linear from its pre-quantization weight (RTN, awq-keep, awq-scale;
// GPTQ: the recorded codes, which depended on the calibration inputs).
at::Tensor final_weight(const Linear& l, const at::Tensor& prequant, const Experiment& e);
// Whether the configuration quantizes this Linear (decoder Linears; lm_head with include_lm_head;
// not a Linear an override skips). final_weight uses the Linear's own spec (MethodConfig::spec_for).
bool quantizes_linear(const Experiment& e, const Linear& l, bool is_lm_head);
// Weight quantization of a block holding its transformed weights, and the activation hooks
// (skipped Linears keep full-precision inputs too).
void quantize_block(DecoderBlock& block, const Experiment& e);

}  // namespace qs
