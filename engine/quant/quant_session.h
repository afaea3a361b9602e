// The engine session over one loaded model: it owns the applied experiment (issue #12).
//
// Weights: the original weights are the memory-mapped checkpoint (models/original_weights.h);
// the model's tensors start as those originals and apply() replaces only what a method changes,
// so no second copy of the model is ever held. reset() puts the originals back (untouched tensors
// are not copied). A model that does not fit is held block-sequentially (loaded with
// LoadOptions::mode): decoder blocks are rebuilt from the originals and the experiment for each
// pass over them, and evaluation runs block by block over all windows.
//
// One owner: the applied configuration and what its search produced (quant/experiment.h) live
// here; apply() is transactional: on error or cancellation the previous experiment is rebuilt
// from its recorded results (no new search), so a cancel never changes what the model carries.
//
// Threads: apply / evaluate / current_stats / reset mutate or read the working model and must be
// serialized by the caller. original_linear(), calibration_blocks() and original_stats() only
// read the originals and may run concurrently with them (previews never wait for a perplexity).
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/progress.h"
#include "eval/perplexity.h"
#include "models/causal_lm.h"
#include "quant/awq.h"
#include "quant/calib_stats.h"
#include "quant/experiment.h"
#include "quant/gptq.h"
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
    std::optional<GptqResult> gptq;  // per-Linear GPTQ losses (and codes)
    std::vector<SmoothGroup> smooth;
    double seconds = 0;
    int64_t quantized_weights = 0;  // parameters in quantized Linears
    double seed_size_mib = 0;       // whole model by the seed formula
    double packed_size_mib = 0;     // packed codes + fp16 scales + zeros, other params fp16
    // Weights-weighted bits of the targeted Linears, each at its own spec (skipped: 16), with the
    // seed formula's 20/group scale overhead and without (quant/size_estimate.h).
    double average_bits = 16, average_bits_without_scales = 16;
    std::string mode;  // "in-memory" or "block-sequential"
    nlohmann::json to_json() const;
};

// One evaluation: the configuration applied (or already carried) and its perplexity.
struct EvalReport {
    std::optional<ApplyReport> apply;  // set when evaluate() had to apply the configuration
    PplResult ppl;
    MethodConfig config;  // the configuration the model carried while evaluated
    std::string mode;
};

class QuantSession {
  public:
    QuantSession(std::shared_ptr<CausalLM> model, std::shared_ptr<const Tokenizer> tokenizer);

    CausalLM& model() { return *model_; }
    const CausalLM& model() const { return *model_; }
    bool block_sequential() const { return block_sequential_; }
    std::string mode_name() const { return block_sequential_ ? "block-sequential" : "in-memory"; }

    // Applies `cfg` starting from the original weights. On error or cancellation the previously
    // applied experiment is restored (from its recorded results) and the exception propagates.
    // on_group: AwqOptions::on_group of an AWQ auto-scale search (each group as it is searched;
    // not called when the experiment is rebuilt from recorded results).
    ApplyReport apply(const MethodConfig& cfg, const Progress& progress = {},
                      const std::function<void(const AwqGroup&)>& on_group = {});
    void reset();  // back to the original weights
    // The configuration of the last successful apply(); nullptr before any and after reset().
    const MethodConfig* applied_config() const { return experiment_ ? &experiment_->cfg : nullptr; }
    std::shared_ptr<const Experiment> experiment() const { return experiment_; }
    // The applied configuration (the original one when none), safe to call from any thread
    // while apply() runs on another: the session is its one owner, callers get a copy.
    MethodConfig applied_snapshot() const;
    // Whether `cfg` is what the model carries (so evaluate() needs no apply).
    bool carries(const MethodConfig& cfg) const;

    // THE evaluation entry point (GUI perplexity page, sweep dialog, CLI ppl and sweep): applies
    // `cfg` unless the model carries it already, then perplexity over `ids` with per-window
    // callbacks, progress and cancel. A cancel during the perplexity keeps the configuration.
    // The original configuration while another one is applied (a baseline) is evaluated on the
    // originals block by block, without changing what the model carries.
    // opts.kl: also the KL divergence against the original model (PplResult::kl), its logits
    // computed window by window on original_model(); not for the original configuration itself.
    EvalReport evaluate(const MethodConfig& cfg, const at::Tensor& ids, const PplOptions& opts,
                        const Progress& progress = {}, const std::function<void(int64_t, double)>& on_window = {});
    // Perplexity of the configuration the model carries now.
    PplResult perplexity(const at::Tensor& ids, const PplOptions& opts, const Progress& progress = {},
                         const std::function<void(int64_t, double)>& on_window = {});

    // --- originals (thread-safe with respect to the calls above) ---
    // A Linear with its original weight and bias (on `device` in `dtype`; undefined = the model's).
    Linear original_linear(const std::string& name, std::optional<c10::Device> device = std::nullopt,
                           std::optional<c10::ScalarType> dtype = std::nullopt) const;
    // The calibration blocks for cfg (cached by path/samples/seqlen/seed).
    at::Tensor calibration_blocks(const MethodConfig& cfg, std::string* description, const Progress& progress = {});
    // Statistics of the ORIGINAL model over cfg's calibration set (cached), computed from the
    // originals without touching the working model. on_partial receives snapshots while it runs
    // (CalibStats::samples_done < samples_total); chunk = calibration blocks per snapshot.
    std::shared_ptr<const CalibStats> original_stats(const MethodConfig& cfg, const Progress& progress = {},
                                                     const std::function<void(const CalibStats&)>& on_partial = {},
                                                     int64_t chunk = 0);
    // The cached original statistics (or the latest partial snapshot), nullptr if none yet.
    std::shared_ptr<const CalibStats> cached_original_stats(const MethodConfig& cfg) const;
    // Statistics of the CURRENT experiment (after the last apply), cached per configuration.
    const CalibStats& current_stats(const MethodConfig& cfg, const Progress& progress = {});

    // A model object over the ORIGINAL weights that shares nothing mutable with the working model:
    // outer tensors from the originals, decoder blocks materialized from them per forward
    // (free for zero-copy CPU models). For hidden-state plots and generation with the original.
    std::unique_ptr<CausalLM> original_model() const;

    // --- export support ---
    // A model object holding the pre-quantization weights of the applied experiment (rotation,
    // smoothing, AWQ scales and clips folded in), rebuilt from the originals: quantizing its
    // weights reproduces the session's fake-quant weights bit for bit. Without a configuration,
    // the original model. Costs one extra copy of the transformed Linears while it lives.
    // lazy: the decoder blocks are not materialized; the model's block_loader rebuilds each one
    // from the originals when a forward needs it (no extra copy; for models that do not fit twice).
    // with_clips false: AWQ's clips are left out (they change weights; the rest of the transforms are
    // function-preserving), so the model computes the original function (the sensitivity reference).
    std::unique_ptr<CausalLM> prequant_model(const Progress& progress = {}, bool lazy = false,
                                             bool with_clips = true) const;
    // HF names of the Linears quantized by plain RTN with applied_config()->weight.
    const std::vector<std::string>& rtn_linears() const;

  private:
    std::string calib_key(const MethodConfig& cfg) const;
    void materialize(const Experiment& e, const Progress& progress);  // from originals, no search
    void apply_search(Experiment& e, ApplyReport& rep, const Progress& progress,
                      const std::function<void(const AwqGroup&)>& on_group);
    void install_block_loader(std::shared_ptr<const Experiment> e, Stage upto);
    CalibStats stats_pass(const MethodConfig& cfg, const Progress& progress);
    const std::vector<DecoderBlock>& skeleton_blocks() const;

    std::shared_ptr<CausalLM> model_;
    std::shared_ptr<const Tokenizer> tokenizer_;
    bool block_sequential_ = false;
    std::shared_ptr<const Experiment> experiment_;
    // Recently applied experiments with their reports, by configuration: applying one of them
    // again rebuilds it from its recorded results without calibration or search (sweeps that
    // come back to the user's configuration, Original / Apply toggles).
    std::vector<std::pair<std::string, std::pair<std::shared_ptr<const Experiment>, ApplyReport>>> history_;
    static constexpr size_t kHistory = 8;

    struct Calib {
        at::Tensor blocks;
        std::string description;
    };
    mutable std::mutex calib_mutex_;  // guards calib_ and orig_stats_
    std::mutex calib_compute_mutex_;  // one calibration-set build at a time
    std::map<std::string, Calib> calib_;
    std::map<std::string, std::shared_ptr<const CalibStats>> orig_stats_;  // complete or partial
    std::map<std::string, bool> orig_complete_;
    std::mutex orig_compute_mutex_;  // one original-statistics pass at a time
    uint64_t next_subscriber_ = 0;   // callers waiting for snapshots of the running pass
    std::map<uint64_t, std::pair<std::string, std::function<void(const CalibStats&)>>> subscribers_;
    std::map<std::string, CalibStats> current_stats_;
    mutable std::once_flag skeleton_once_;
    mutable std::unique_ptr<CausalLM> skeleton_;  // structure only, for original_linear
};

}  // namespace qs
