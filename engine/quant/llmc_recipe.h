// The configuration the user settled on, as an llm-compressor recipe (YAML), so that the same
// quantization runs at scale through llm-compressor's `oneshot`. Written for llm-compressor
// 0.14 / compressed-tensors 0.19 (checked with their own parser by
// tools/goldens/check_llmc_recipe.py). Each QuantScope method maps to the modifier that does the
// same thing there (docs/formats.md, "llm-compressor recipe"):
//   rotate       -> SpinQuantModifier (R1: the residual stream, LLaMA family only)
//   smoothquant  -> SmoothQuantModifier (smoothing_strength = alpha, norm -> Linears mappings)
//   awq          -> AWQModifier (mappings, duo_scaling, n_grid 20), then the weight quantizer
//   gptq         -> GPTQModifier (block_size, dampening_frac, actorder) with the scheme
//   rtn, awq-keep, awq-scale, smoothquant's W8 -> QuantizationModifier with the scheme
// The scheme is one config group on targets [Linear]: weights {num_bits, type, symmetric,
// strategy, group_size} and, with activation quantization, input_activations (dynamic);
// ignore: [lm_head] unless lm_head is quantized. Mixed precision (MethodConfig::overrides): one
// more config group per distinct override spec, targeting the exact Linear names (which win over
// the class name "Linear" in compressed-tensors' matching), and skipped Linears in ignore. What has no counterpart
// there (auto-clip, random orthogonal rotations, seeds, grid details, ...) is listed in a comment block at the top of
// the file and in `not_carried_over`. Torch-free (the GUI calls it).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "models/model_config.h"
#include "quant/method_config.h"

namespace qs {

struct LlmcRecipe {
    std::string yaml;                           // the file: comment block, then the recipe
    std::vector<std::string> not_carried_over;  // one sentence each: what, and why
    nlohmann::json to_json() const;             // {"recipe": yaml, "not_carried_over": [...]}
};

// What the recipe needs to know of the model: its module names (the mappings), and the size
// of the residual stream (llm-compressor's plain Hadamard needs a power of two).
struct LlmcModel {
    Arch arch = Arch::Llama;
    int64_t hidden_size = 0;  // 0: unknown
    std::string name;         // for the header comment (e.g. the folder name); may be empty
    // The decoder Linears' Hugging Face names (llmc_linear_names), to check the configuration's
    // overrides against (MethodConfig::validate_overrides); empty: not checked.
    std::vector<std::string> linears;
};

// The decoder Linears of a model with this config, by their Hugging Face names (from the tensor
// names its checkpoints hold), in module order.
std::vector<std::string> llmc_linear_names(const ModelConfig& config);

// The recipe for `cfg` on `model`. Throws qs::Error when cfg is invalid (MethodConfig::validate)
// or carries nothing an llm-compressor recipe can express (no method, or only a rotation it
// lacks).
LlmcRecipe make_llmc_recipe(const MethodConfig& cfg, const LlmcModel& model);

// The version of llm-compressor the recipes are written for (and checked with).
inline constexpr const char* kLlmcVersion = "llm-compressor 0.14 / compressed-tensors 0.19";

}  // namespace qs
