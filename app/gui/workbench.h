// The GUI's view of the engine, behind a torch-free header (docs/notes.md §4): plain-data results
// only. Every call may run on a worker thread. Calls that use the WORKING model (apply,
// evaluate, perplexity, current statistics, export, generation with the applied configuration)
// are serialized by the model lock. Calls that only read the ORIGINAL weights and the cached
// calibration statistics (previews, original weights and statistics, the original hidden-state
// plot and generation) never take it: a preview never waits for a running perplexity, AWQ
// search or export (the session engine, quant/quant_session.h).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/progress.h"
#include "export/export_types.h"
#include "model_session.h"
#include "models/model_summary.h"
#include "quant/method_config.h"

namespace qs {
struct PplResult;
struct CalibStats;
class CausalLM;
class Tokenizer;
class QuantSession;
}  // namespace qs

struct Matrix {
    int64_t rows = 0, cols = 0;
    std::vector<float> data;  // row-major
};

struct ChannelData {
    std::string linear, calibration;
    std::vector<float> mean_abs, max_abs;
    int64_t tokens = 0;
    int64_t samples_done = 0, samples_total = 0;  // calibration blocks behind these numbers
};

struct LayerStatRow {
    std::string name;
    int64_t block = -1;
    float max_of_max = 0, median_of_max = 0, max_of_mean = 0, median_of_mean = 0;
};

struct PreviewData {
    std::string linear, note, spec;
    Matrix original, transformed, codes, dequantized, error;
    double mse = 0, sqnr_db = 0, max_abs = 0;
    double output_mse = 0, output_rel_error = 0;
    int64_t output_tokens = 0, packed_bytes = 0;
    // SmoothQuant scales s per input channel (inputs are divided by s); empty when the
    // configuration does not smooth this Linear.
    std::vector<float> smooth;
    // Salient input channels (awq-keep / awq-scale), empty otherwise.
    std::vector<int64_t> salient;
    // The weight the preview starts from: "" = the original weight; "rotated", "smoothed",
    // "AWQ-scaled" (joined by " + ") when the model carries the configuration's whole-model
    // transforms: original / dequantized / error are then in that basis.
    std::string basis;
    // Made from the original layer because a job held the model (the note says so): the
    // picture may be out of date, make the preview again once the model is free.
    bool model_busy = false;
};

struct AwqCurve {
    int64_t block = 0;
    std::string prev_op, inspected;
    std::vector<std::string> linears;
    std::vector<double> loss;
    int best = -1;
    double best_ratio = 0;
};

// One Linear quantized by GPTQ: its loss (the reference's error) in quantization order.
struct GptqLoss {
    std::string linear;
    int64_t block = 0;
    double loss = 0, seconds = 0;
};

struct ApplyData {
    std::string description, calibration, rotation;
    std::vector<std::string> steps;
    std::vector<AwqCurve> awq;
    std::vector<GptqLoss> gptq;
    double seconds = 0, seed_size_mib = 0, packed_size_mib = 0;
    std::string mode;  // "in-memory" / "block-sequential"
    std::string json;  // the full report as JSON
};

struct PplRequest {
    int64_t seqlen = 0, nsamples = 10, batch = 1;
    bool kl = true;  // KL divergence against the original model (not for the original itself)
};

struct PplData {
    double ppl = 0, seconds = 0, tokens_per_second = 0;
    int64_t seqlen = 0, nsamples = 0, tokens = 0;
    std::vector<double> window_nll, running;
    std::string protocol, dataset, configuration, device, dtype, mode;
    // KL(original || this) per scored token (eval/kl_divergence.h); has_kl false for the original
    bool has_kl = false;
    double kl_mean = 0, kl_median = 0, kl_p99_9 = 0, kl_max = 0, top1 = 0;
};

// The per-layer sensitivity map (quant/sensitivity.h) as plain data.
struct SensitivityRequest {
    int64_t seqlen = 256, nsamples = 2;  // the engine's defaults (quant/sensitivity.h)
    bool linears = true, blocks = true;
};

struct SensitivityRow {
    std::string name, kind, role;  // kind "linear" / "block"; role "q_proj", ..., "block"
    int64_t block = 0, order = 0, params = 0;
    double ppl = 0, delta_ppl = 0;
    double kl_mean = 0, kl_median = 0, kl_p99_9 = 0, kl_max = 0, top1 = 0;
    double weight_rel_error = 0;
    double imatrix_mean_sq = 0, imatrix_max_ratio = 0;  // linears only
    int64_t imatrix_top_channel = -1;
};

struct SensitivityData {
    std::vector<SensitivityRow> rows;  // linears in model order, then blocks
    double base_ppl = 0, seconds = 0;
    bool has_total = false;
    double total_ppl = 0, total_kl = 0;
    int64_t seqlen = 0, nsamples = 0, tokens = 0;
    std::string configuration, protocol, dataset, mode;
    std::string json, csv;  // the CLI's forms (quantscope-cli sensitivity --format json / csv)
};

struct GenerateData {
    std::vector<int64_t> ids;  // the new tokens
    std::string text;          // prompt + decoded new tokens
    // The text each new token adds (pieces[i] = decode(ids[..i]) - decode(ids[..i-1])).
    std::vector<std::string> pieces;
};

class Workbench {
  public:
    // Loads model + tokenizer (worker thread). Throws qs::Error naming the file on failure.
    static std::shared_ptr<Workbench> open(const LoadRequest& req, const qs::Progress& progress);
    ~Workbench();

    const qs::ModelSummary& summary() const { return summary_; }
    bool has_tokenizer() const { return tokenizer_ != nullptr; }

    // Activation statistics of one Linear's input. current=false: the original model (computed
    // from the originals; on_partial receives the statistics so far every `chunk` calibration
    // blocks while the pass runs, so plots can refine progressively).
    ChannelData channel_stats(
        const std::string& linear, bool current, const qs::MethodConfig& calib, const qs::Progress& progress = {},
        const std::function<void(const ChannelData&, const std::vector<LayerStatRow>&)>& on_partial = {});
    std::vector<LayerStatRow> layer_overview(bool current, const qs::MethodConfig& calib,
                                             const qs::Progress& progress = {});
    // The calibration size to offer by default for this model on its device (fewer blocks for big
    // models on a CPU), and why.
    std::pair<int64_t, std::string> default_calibration_samples() const;
    Matrix weight(const std::string& linear, bool current);
    // Single-layer preview with `cfg` (fast once the calibration statistics are cached).
    PreviewData preview(const std::string& linear, const qs::MethodConfig& cfg, const qs::Progress& progress = {});
    // Applies the configuration to the model (from the original weights). On failure or
    // cancellation the model keeps the configuration it carried before (applied() says so).
    // on_group: called on the worker thread as each AWQ auto-scale group has been searched.
    ApplyData apply(const qs::MethodConfig& cfg, const qs::Progress& progress = {},
                    const std::function<void(const AwqCurve&)>& on_group = {});
    // Applies `cfg` unless the model carries it, then runs the perplexity (the engine's one
    // evaluation entry point). `applied` receives the apply report when an apply ran. A cancel
    // during the perplexity keeps the configuration.
    PplData evaluate(const qs::MethodConfig& cfg, const PplRequest& req, const qs::Progress& progress,
                     const std::function<void(int64_t, double)>& on_window = {}, ApplyData* applied = nullptr);
    // Per-layer sensitivity map of `cfg` on the first windows of the evaluation text: applies `cfg`
    // unless the model carries it (`applied` receives that report), then each decoder Linear (and
    // block) alone quantized. on_row: each finished row, on the worker thread.
    SensitivityData sensitivity(const qs::MethodConfig& cfg, const SensitivityRequest& req,
                                const qs::Progress& progress,
                                const std::function<void(const SensitivityRow&)>& on_row = {},
                                ApplyData* applied = nullptr);
    std::string mode() const;  // "in-memory" / "block-sequential"
    // The configuration the model carries now. Never waits for a running job.
    qs::MethodConfig applied() const;
    // Tokens of the evaluation text (tokenized once, on first use).
    int64_t eval_tokens(const qs::Progress& progress = {});
    PplData perplexity(const PplRequest& req, const qs::Progress& progress,
                       const std::function<void(int64_t, double)>& on_window = {});
    // mean |h| per hidden channel entering block `layer` on the first tokens of wikitext-2.
    std::vector<float> hidden_mean_abs(int64_t layer, bool current, const qs::Progress& progress = {});
    GenerateData generate(const std::string& prompt, int64_t max_new_tokens, bool sample, double temperature,
                          uint64_t seed, bool original, const qs::Progress& progress = {});
    std::string calibration_description(const qs::MethodConfig& calib, const qs::Progress& progress = {});

    // --- checkpoint export (engine/export) of the configuration the model carries (applied()) ---
    // Why that configuration cannot be exported in `format`: every problem the engine finds
    // (export_problems), with fixes in the workbench's words; "" when it can. Writes nothing.
    std::string export_problem(qs::ExportFormat format, bool awq_reference = false);
    // Checks (check_exportable) and exports; throws qs::Error with the engine's message, or
    // qs::Cancelled. Atomic: an error or a cancel leaves nothing at opts.out_dir. The model is
    // not modified: the session keeps the pre-quantization weights (see open()).
    qs::ExportReport export_checkpoint(const qs::ExportOptions& opts, const qs::Progress& progress = {});

  private:
    std::string export_problem_locked(qs::ExportFormat format, bool awq_reference);
    Workbench() = default;
    const std::vector<int64_t>& eval_ids(const qs::Progress& progress);
    std::vector<LayerStatRow> overview_rows(const qs::CalibStats& st) const;
    PplData ppl_data(const qs::PplResult& r) const;

    std::shared_ptr<qs::CausalLM> model_;
    std::shared_ptr<qs::Tokenizer> tokenizer_;
    std::unique_ptr<qs::QuantSession> session_;
    qs::ModelSummary summary_;
    std::vector<int64_t> eval_ids_;
    std::string eval_description_;
    std::mutex eval_ids_mutex_;
    std::map<std::string, std::vector<std::string>> norm_groups_;  // SmoothQuant group of each smoothable Linear
    mutable std::mutex mutex_;                                     // the model lock: work on the working model
};
