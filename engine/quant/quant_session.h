// A quantization session over one loaded model: keeps the original weights, applies a
// MethodConfig (always from the original, in the stated order), caches the calibration set
// and the calibration statistics per (model state, calibration set), and undoes exactly.
#pragma once
#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/progress.h"
#include "models/causal_lm.h"
#include "quant/awq.h"
#include "quant/calib_stats.h"
#include "quant/method_config.h"
#include "quant/smoothquant.h"

namespace qs {

class Tokenizer;

struct ApplyReport {
    MethodConfig config;
    std::vector<std::string> steps;  // what ran, in order, in words
    std::string calibration;         // calibration set used ("" if none)
    std::string rotation;            // rotation actually used (e.g. fallback to random)
    std::optional<AwqResult> awq;
    std::vector<SmoothGroup> smooth;
    double seconds = 0;
    int64_t quantized_weights = 0;      // parameters in quantized Linears
    double seed_size_mib = 0;           // whole model by the seed formula
    double packed_size_mib = 0;         // packed codes + fp16 scales + zeros, other params fp16
    nlohmann::json to_json() const;
};

class QuantSession {
public:
    QuantSession(std::shared_ptr<CausalLM> model, std::shared_ptr<const Tokenizer> tokenizer);

    CausalLM& model() { return *model_; }
    const CausalLM& model() const { return *model_; }
    std::shared_ptr<CausalLM> model_ptr() const { return model_; }

    // Restores the original weights, then applies `cfg`. On error or cancellation the
    // original weights are restored and the exception propagates.
    // on_group: AwqOptions::on_group of an AWQ auto-scale search (each group as it is searched).
    ApplyReport apply(const MethodConfig& cfg, const Progress& progress = {},
                      const std::function<void(const AwqGroup&)>& on_group = {});
    void reset();  // back to the original weights
    const std::string& current_key() const { return key_; }
    const CausalLM::State& original_state() const { return original_; }

    // The calibration blocks for cfg (cached by path/samples/seqlen/seed).
    const at::Tensor& calibration_blocks(const MethodConfig& cfg, std::string* description,
                                         const Progress& progress = {});
    // Statistics of the ORIGINAL model over cfg's calibration set (cached).
    const CalibStats& original_stats(const MethodConfig& cfg, const Progress& progress = {});
    // Statistics of the CURRENT state (after the last apply), cached per state key.
    const CalibStats& current_stats(const MethodConfig& cfg, const Progress& progress = {});

    // --- Export support (engine/export) ---
    // With keep_prequant on, apply() also keeps the model state just before the weight
    // quantization step (after rotation, smoothing and the AWQ search/clip), as cheap handle
    // copies, so that an exporter can re-derive the exact codes, scales and zero points:
    // quantize() of those weights reproduces the fake-quant weights bit for bit. Off by
    // default, because for transforming methods it holds a second copy of the weights.
    void set_keep_prequant(bool on) { keep_prequant_ = on; }
    bool keep_prequant() const { return keep_prequant_; }
    // The configuration of the last successful apply(); nullptr before any and after reset().
    const MethodConfig* applied_config() const { return applied_ ? &*applied_ : nullptr; }
    // The pre-quantization state of the last apply() (nullptr unless keep_prequant was on).
    const CausalLM::State* prequant_state() const { return prequant_ ? &*prequant_ : nullptr; }
    // HF names of the Linears the last apply() quantized by plain RTN with applied_config()->weight
    // (weight = pseudo_quantize(prequant weight)); empty for awq-keep / awq-scale (their weights
    // are not one quantization of a stored weight) and for configurations without weight quantization.
    const std::vector<std::string>& rtn_linears() const { return rtn_linears_; }

private:
    const CalibStats& stats_for_key(const std::string& state_key, const MethodConfig& cfg, const Progress& progress);
    std::string calib_key(const MethodConfig& cfg) const;

    std::shared_ptr<CausalLM> model_;
    std::shared_ptr<const Tokenizer> tokenizer_;
    CausalLM::State original_;
    std::string key_ = "original";
    struct Calib {
        at::Tensor blocks;
        std::string description;
    };
    std::map<std::string, Calib> calib_;
    std::map<std::string, CalibStats> stats_;
    bool keep_prequant_ = false;
    std::optional<MethodConfig> applied_;
    std::optional<CausalLM::State> prequant_;
    std::vector<std::string> rtn_linears_;
};

}  // namespace qs
