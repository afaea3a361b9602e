#include "workbench.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>

#include "core/device.h"
#include "core/error.h"
#include "data/eval_text.h"
#include "eval/perplexity.h"
#include "export/export.h"
#include "models/causal_lm.h"
#include "models/generate.h"
#include "quant/experiment.h"
#include "quant/layer_preview.h"
#include "quant/quant_session.h"
#include "quant/rotation.h"
#include "quant/sensitivity.h"
#include "quant/smoothquant.h"
#include "tokenizers/tokenizer.h"

using namespace qs;

namespace {

Matrix to_matrix(const at::Tensor& t) {
    Matrix m;
    if (!t.defined()) return m;
    at::Tensor c = t.to(at::kCPU, at::kFloat).contiguous();
    m.rows = c.dim() >= 1 ? c.size(0) : 1;
    m.cols = c.dim() >= 2 ? c.size(1) : 1;
    m.data.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    return m;
}

std::vector<float> to_vec(const at::Tensor& t) {
    if (!t.defined()) return {};
    at::Tensor c = t.to(at::kCPU, at::kFloat).contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

float median_of(const at::Tensor& t) { return t.to(at::kFloat).median().item<float>(); }

// The Linears fed by the same norm as `name` (SmoothQuant groups), by name.
std::vector<std::string> norm_group(const CausalLM& m, const std::string& name, bool* smoothable) {
    *smoothable = false;
    for (const auto& b : m.blocks) {
        if (name == b.q.name || name == b.k.name || name == b.v.name) {
            *smoothable = true;
            return {b.q.name, b.k.name, b.v.name};
        }
        if (name == b.up.name || name == b.gate.name) {
            *smoothable = true;
            if (b.gate.present()) return {b.gate.name, b.up.name};
            return {b.up.name};
        }
    }
    return {};
}

// Calibration blocks per progressive snapshot of the original statistics: about 8 snapshots
// (at least 4 blocks each: one batch of the calibration pass).
int64_t stats_chunk(const MethodConfig& c) { return std::max<int64_t>(4, c.calib_samples / 8); }

ChannelData channel_data(const CalibStats& st, const std::string& linear) {
    const ChannelStats& c = st.at(linear);
    ChannelData d;
    d.linear = linear;
    d.calibration = st.calibration;
    d.mean_abs = to_vec(c.mean_abs);
    d.max_abs = to_vec(c.max_abs);
    d.tokens = c.tokens;
    d.samples_done = st.samples_done;
    d.samples_total = st.samples_total;
    return d;
}

bool same_spec(const QuantSpec& a, const QuantSpec& b) {
    return a.bits == b.bits && a.granularity == b.granularity && a.group_size == b.group_size &&
           a.symmetric == b.symmetric && a.fp16_scales == b.fp16_scales;
}

// Whether a model that carries `applied` holds exactly the weights cfg's whole-model transforms
// (rotation, smoothing, AWQ auto-scale search) would give before quantization.
bool carries_transforms(const MethodConfig& applied, const MethodConfig& cfg) {
    if (!cfg.has("rotate") && !cfg.has("smoothquant") && !cfg.has("awq")) return false;
    for (const char* m : {"rotate", "smoothquant", "awq"})
        if (applied.has(m) != cfg.has(m)) return false;
    if (cfg.has("rotate") && (applied.rotation != cfg.rotation || applied.seed != cfg.seed)) return false;
    const bool calibrated = cfg.has("smoothquant") || cfg.has("awq");
    if (calibrated && (applied.calib_path != cfg.calib_path || applied.calib_samples != cfg.calib_samples ||
                       applied.calib_seqlen != cfg.calib_seqlen || applied.calib_seed != cfg.calib_seed))
        return false;
    if (cfg.has("smoothquant") && applied.sq_alpha != cfg.sq_alpha) return false;
    // The AWQ search depends on the weight quantization it searches for.
    if (cfg.has("awq") &&
        (!same_spec(applied.weight, cfg.weight) || applied.overrides != cfg.overrides ||
         applied.awq_clip != cfg.awq_clip || applied.duo_scaling != cfg.duo_scaling ||
         applied.awq_direct_loss != cfg.awq_direct_loss || applied.include_lm_head != cfg.include_lm_head))
        return false;
    return true;
}

// "rotated + smoothed + AWQ-scaled"
std::string transforms_text(const MethodConfig& c) {
    std::vector<std::string> p;
    if (c.has("rotate")) p.push_back("rotated");
    if (c.has("smoothquant")) p.push_back("smoothed");
    if (c.has("awq")) p.push_back("AWQ-scaled");
    std::string s;
    for (size_t i = 0; i < p.size(); ++i) s += (i ? " + " : "") + p[i];
    return s;
}

const Linear* linear_in_block(const DecoderBlock& b, const std::string& name) {
    for (const Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down})
        if (l->present() && l->name == name) return l;
    throw Error("no Linear named '" + name + "' in its block");
}

}  // namespace

std::shared_ptr<Workbench> Workbench::open(const LoadRequest& req, const Progress& progress) {
    c10::InferenceMode guard;
    std::shared_ptr<Workbench> w(new Workbench());
    LoadedModel lm = load_model_for_gui(req, progress);
    w->model_ = lm.model;
    w->summary_ = lm.summary;
    try {
        w->tokenizer_ = std::shared_ptr<Tokenizer>(load_tokenizer(req.dir));
    } catch (const Error& e) {
        w->summary_.warnings.push_back(std::string("no tokenizer: ") + e.what() +
                                       " (calibration, perplexity and text generation are unavailable)");
    }
    w->session_ = std::make_unique<QuantSession>(w->model_, w->tokenizer_);
    for (const auto& b : w->model_->blocks)
        for (const Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down}) {
            bool smoothable = false;
            auto g = norm_group(*w->model_, l->name, &smoothable);
            if (l->present() && smoothable) w->norm_groups_[l->name] = g;
        }
    return w;
}

Workbench::~Workbench() = default;

MethodConfig Workbench::applied() const { return session_->applied_snapshot(); }

ChannelData Workbench::channel_stats(
    const std::string& linear, bool current, const MethodConfig& calib, const Progress& progress,
    const std::function<void(const ChannelData&, const std::vector<LayerStatRow>&)>& on_partial) {
    c10::InferenceMode guard;
    if (current) {
        std::lock_guard<std::mutex> lock(mutex_);
        return channel_data(session_->current_stats(calib, progress), linear);
    }
    std::function<void(const CalibStats&)> partial;
    if (on_partial) partial = [&](const CalibStats& st) { on_partial(channel_data(st, linear), overview_rows(st)); };
    return channel_data(*session_->original_stats(calib, progress, partial, stats_chunk(calib)), linear);
}

std::vector<LayerStatRow> Workbench::layer_overview(bool current, const MethodConfig& calib, const Progress& progress) {
    c10::InferenceMode guard;
    std::shared_ptr<const CalibStats> orig;
    const CalibStats* st = nullptr;
    std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
    if (current) {
        lock.lock();
        st = &session_->current_stats(calib, progress);
    } else {
        orig = session_->original_stats(calib, progress, {}, stats_chunk(calib));
        st = orig.get();
    }
    return overview_rows(*st);
}

std::vector<LayerStatRow> Workbench::overview_rows(const CalibStats& st) const {
    std::vector<LayerStatRow> rows;
    for (const auto& l : summary_.linears) {
        auto it = st.per_linear.find(l.name);
        if (it == st.per_linear.end()) continue;
        LayerStatRow r;
        r.name = l.name;
        r.block = l.block;
        r.max_of_max = it->second.max_abs.max().item<float>();
        r.median_of_max = median_of(it->second.max_abs);
        r.max_of_mean = it->second.mean_abs.max().item<float>();
        r.median_of_mean = median_of(it->second.mean_abs);
        rows.push_back(r);
    }
    return rows;
}

std::pair<int64_t, std::string> Workbench::default_calibration_samples() const {
    // Keep the first calibration pass near a minute: ~2 * params * tokens FLOPs at a rate that
    // depends on the device (CPU: ~30 GFLOP/s sustained on a 2-core machine; GPUs: far more).
    const double params = static_cast<double>(summary_.parameters);
    const bool cpu = summary_.device.rfind("cpu", 0) == 0;
    const double rate = cpu ? 3e10 : 2e13, seconds = 60.0, tokens_per_block = 512.0;
    const double blocks = seconds * rate / (2.0 * std::max(1.0, params) * tokens_per_block);
    int64_t n = 128;
    for (int64_t c : {128, 64, 32, 16, 8, 4, 2})
        if (blocks >= c || c == 2) {
            n = c;
            break;
        }
    if (n == 128) return {128, "128 calibration blocks of 512 tokens (llm-awq's default)"};
    return {n, std::to_string(n) + " calibration blocks of 512 tokens (adapted to a " +
                   std::to_string(static_cast<int64_t>(params / 1e6)) + "M-parameter model on " + summary_.device +
                   "; llm-awq uses 128)"};
}

Matrix Workbench::weight(const std::string& linear, bool current) {
    c10::InferenceMode guard;
    if (current) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (size_t i = 0; i < model_->blocks.size(); ++i)
            for (Linear* l : {&model_->blocks[i].q, &model_->blocks[i].k, &model_->blocks[i].v, &model_->blocks[i].o,
                              &model_->blocks[i].gate, &model_->blocks[i].up, &model_->blocks[i].down})
                if (l->present() && l->name == linear) {
                    ScopedBlock hold(*model_, i);  // block-sequential: rebuilt for this read
                    return to_matrix(l->dense_weight());
                }
        Linear* l = model_->find_linear(linear);
        if (!l) throw Error("no Linear named '" + linear + "'");
        return to_matrix(l->dense_weight());
    }
    return to_matrix(session_->original_linear(linear, c10::Device(c10::kCPU), at::kFloat).weight);
}

PreviewData Workbench::preview(const std::string& linear, const MethodConfig& cfg, const Progress& progress) {
    // Originals and cached statistics only: never waits for the model lock.
    c10::InferenceMode guard;
    const c10::Device cpu(c10::kCPU);
    auto ng = norm_groups_.find(linear);
    const bool smoothable = ng != norm_groups_.end();
    int64_t block = -1;
    for (const auto& s : summary_.linears)
        if (s.name == linear) block = s.block;
    // The model carries cfg's whole-model transforms (rotation, smoothing, AWQ search): preview
    // the layer as they left it (rebuilt from the originals and the recorded experiment) on the
    // transformed model's calibration inputs, quantized with cfg's remaining steps. That reads
    // the session, so only while no job holds the model (else: the original layer, said so).
    std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
    std::shared_ptr<const Experiment> e = lock.owns_lock() ? session_->experiment() : nullptr;
    const bool transformed = e && block >= 0 && carries_transforms(e->cfg, cfg);
    const bool busy = !lock.owns_lock() && block >= 0 && carries_transforms(applied(), cfg);
    if (!transformed && lock.owns_lock()) lock.unlock();
    at::Tensor w;
    std::vector<at::Tensor> group;
    std::shared_ptr<const CalibStats> st;
    const ChannelStats* stats = nullptr;
    MethodConfig c = cfg;
    if (transformed) {
        DecoderBlock b = original_block(session_->model(), static_cast<size_t>(block));
        transform_block(session_->model(), b, static_cast<size_t>(block), *e, Stage::Transformed);
        w = linear_in_block(b, linear)->weight.to(cpu, at::kFloat);
        if (smoothable)
            for (const auto& g : ng->second) group.push_back(linear_in_block(b, g)->weight.to(cpu, at::kFloat));
        if (tokenizer_) stats = &session_->current_stats(cfg, progress).at(linear);
        c.methods.erase(
            std::remove_if(c.methods.begin(), c.methods.end(),
                           [](const std::string& m) { return m == "rotate" || m == "smoothquant" || m == "awq"; }),
            c.methods.end());
    } else {
        w = session_->original_linear(linear, cpu, at::kFloat).weight;
        if (smoothable)
            for (const auto& g : ng->second)
                group.push_back(g == linear ? w : session_->original_linear(g, cpu, at::kFloat).weight);
        if (tokenizer_) {
            st = session_->original_stats(cfg, progress, {}, stats_chunk(cfg));
            stats = &st->at(linear);
        }
    }
    if (group.empty()) group.push_back(w);
    c.weight = cfg.spec_for(linear);  // mixed precision: the Linear's own spec
    LayerPreview p = preview_linear(w, group, smoothable, stats, c);
    PreviewData d;
    d.linear = linear;
    d.note = p.note;
    if (transformed) {
        d.basis = transforms_text(cfg);
        d.note += "; " + d.basis + " as the model carries it (" + cfg.describe() + "); error in that basis";
    } else if (busy) {
        d.note += "; the model is busy: this preview starts from the original layer until the job ends";
        d.model_busy = true;
    }
    if (p.salient.defined()) {
        at::Tensor s = p.salient.to(at::kCPU, at::kLong).contiguous();
        d.salient.assign(s.data_ptr<int64_t>(), s.data_ptr<int64_t>() + s.numel());
    }
    d.spec = c.weight.describe();
    d.original = to_matrix(p.original);
    d.transformed = to_matrix(p.transformed);
    d.codes = to_matrix(p.codes);
    d.dequantized = to_matrix(p.dequantized);
    d.error = to_matrix(p.error);
    d.mse = p.weight_error.mse;
    d.sqnr_db = p.weight_error.sqnr_db;
    d.max_abs = p.weight_error.max_abs;
    d.output_mse = p.output_mse;
    d.output_rel_error = p.output_rel_error;
    d.output_tokens = p.output_tokens;
    d.packed_bytes = p.packed_bytes;
    if (!transformed && cfg.has("smoothquant") && smoothable && stats)
        d.smooth = to_vec(smooth_scales(stats->max_abs, group, cfg.sq_alpha));
    return d;
}

namespace {

AwqCurve awq_curve(const AwqGroup& g) {
    return {g.block, g.prev_op, g.inspected, g.linears, g.loss, g.best, g.best_ratio};
}

ApplyData apply_data(const ApplyReport& rep) {
    ApplyData d;
    d.description = rep.config.describe();
    d.calibration = rep.calibration;
    d.rotation = rep.rotation;
    d.steps = rep.steps;
    d.seconds = rep.seconds;
    d.seed_size_mib = rep.seed_size_mib;
    d.packed_size_mib = rep.packed_size_mib;
    d.mode = rep.mode;
    if (rep.awq)
        for (const auto& g : rep.awq->groups) d.awq.push_back(awq_curve(g));
    if (rep.gptq)
        for (const auto& l : rep.gptq->linears) d.gptq.push_back({l.name, l.block, l.loss, l.seconds});
    d.json = rep.to_json().dump(2);
    return d;
}

}  // namespace

std::string Workbench::mode() const { return session_->mode_name(); }

ApplyData Workbench::apply(const MethodConfig& cfg, const Progress& progress,
                           const std::function<void(const AwqCurve&)>& on_group) {
    std::lock_guard<std::mutex> lock(mutex_);
    c10::InferenceMode guard;
    std::function<void(const AwqGroup&)> each;
    if (on_group) each = [&](const AwqGroup& g) { on_group(awq_curve(g)); };
    // On failure or cancel the session has put the previous configuration back.
    return apply_data(session_->apply(cfg, progress, each));
}

const std::vector<int64_t>& Workbench::eval_ids(const Progress& progress) {
    std::lock_guard<std::mutex> lock(eval_ids_mutex_);
    if (eval_ids_.empty()) {
        if (!tokenizer_)
            throw Error("perplexity needs the model's tokenizer, and none was found in " + summary_.source_dir);
        EvalText t = default_eval_text(progress);
        eval_ids_ = tokenizer_->encode(t.text, true);
        eval_description_ = t.description;
    }
    return eval_ids_;
}

int64_t Workbench::eval_tokens(const Progress& progress) { return static_cast<int64_t>(eval_ids(progress).size()); }

PplData Workbench::ppl_data(const PplResult& r) const {
    PplData d;
    d.ppl = r.ppl;
    d.seconds = r.seconds;
    d.tokens_per_second = r.evaluated_tokens / r.seconds;
    d.seqlen = r.seqlen;
    d.nsamples = r.nsamples;
    d.tokens = r.tokens;
    d.window_nll = r.window_nll;
    d.running = running_ppl(r.window_nll);
    d.protocol = r.protocol;
    d.dataset = eval_description_;
    d.configuration = applied().describe();
    d.device = device_name(model_->device());
    d.dtype = dtype_name(model_->dtype());
    d.mode = session_->mode_name();
    if (r.kl) {
        d.has_kl = true;
        d.kl_mean = r.kl->mean;
        d.kl_median = r.kl->median;
        d.kl_p99_9 = r.kl->p99_9;
        d.kl_max = r.kl->max;
        d.top1 = r.kl->top1;
    }
    return d;
}

PplData Workbench::evaluate(const MethodConfig& cfg, const PplRequest& req, const Progress& progress,
                            const std::function<void(int64_t, double)>& on_window, ApplyData* applied) {
    std::lock_guard<std::mutex> lock(mutex_);
    c10::InferenceMode guard;
    const auto& ids = eval_ids(progress);
    PplOptions o;
    o.seqlen = req.seqlen;
    o.nsamples = req.nsamples;
    o.batch = req.batch;
    o.kl = req.kl;
    // A cancel during the perplexity keeps the configuration just applied (the session owns it).
    EvalReport r = session_->evaluate(cfg, at::tensor(ids, at::kLong), o, progress, on_window);
    if (applied && r.apply) *applied = apply_data(*r.apply);
    return ppl_data(r.ppl);
}

namespace {

SensitivityRow sensitivity_row(const SensitivityEntry& e) {
    SensitivityRow r;
    r.name = e.name;
    r.kind = e.kind;
    r.role = e.role;
    r.block = e.block;
    r.order = e.order;
    r.params = e.params;
    r.ppl = e.ppl;
    r.delta_ppl = e.delta_ppl;
    r.kl_mean = e.kl.mean;
    r.kl_median = e.kl.median;
    r.kl_p99_9 = e.kl.p99_9;
    r.kl_max = e.kl.max;
    r.top1 = e.kl.top1;
    r.weight_rel_error = e.weight_rel_error;
    r.imatrix_mean_sq = e.imatrix.mean_sq;
    r.imatrix_max_ratio = e.imatrix.max_ratio;
    r.imatrix_top_channel = e.imatrix.top_channel;
    return r;
}

}  // namespace

SensitivityData Workbench::sensitivity(const MethodConfig& cfg, const SensitivityRequest& req, const Progress& progress,
                                       const std::function<void(const SensitivityRow&)>& on_row, ApplyData* applied) {
    std::lock_guard<std::mutex> lock(mutex_);
    c10::InferenceMode guard;
    const auto& ids = eval_ids(progress.sub(0, 0.01));
    Progress rest = progress.sub(0.01, 1);
    if (!session_->carries(cfg)) {
        ApplyReport rep = session_->apply(cfg, rest.sub(0, 0.2));
        if (applied) *applied = apply_data(rep);
        rest = rest.sub(0.2, 1);
    }
    SensitivityOptions o;
    o.seqlen = req.seqlen;
    o.nsamples = req.nsamples;
    o.linears = req.linears;
    o.blocks = req.blocks;
    auto each = [&](const SensitivityEntry& e) {
        if (on_row) on_row(sensitivity_row(e));
    };
    SensitivityResult r =
        compute_sensitivity(*session_, cfg, at::tensor(ids, at::kLong), eval_description_, o, rest, each);
    SensitivityData d;
    for (const auto& e : r.entries) d.rows.push_back(sensitivity_row(e));
    d.base_ppl = r.base_ppl;
    d.seconds = r.seconds;
    d.has_total = r.total_ppl.has_value();
    if (r.total_ppl) d.total_ppl = *r.total_ppl;
    if (r.total_kl) d.total_kl = r.total_kl->mean;
    d.seqlen = r.seqlen;
    d.nsamples = r.nsamples;
    d.tokens = r.tokens;
    d.configuration = r.configuration;
    d.protocol = r.protocol;
    d.dataset = r.dataset;
    d.mode = r.mode;
    d.json = r.to_json().dump();
    d.csv = r.to_csv();
    return d;
}

PplData Workbench::perplexity(const PplRequest& req, const Progress& progress,
                              const std::function<void(int64_t, double)>& on_window) {
    std::lock_guard<std::mutex> lock(mutex_);
    c10::InferenceMode guard;
    const auto& ids = eval_ids(progress);
    PplOptions o;
    o.seqlen = req.seqlen;
    o.nsamples = req.nsamples;
    o.batch = req.batch;
    return ppl_data(session_->perplexity(at::tensor(ids, at::kLong), o, progress, on_window));
}

std::vector<float> Workbench::hidden_mean_abs(int64_t layer, bool current, const Progress& progress) {
    c10::InferenceMode guard;
    const auto& ids = eval_ids(progress);
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(ids.size()),
                                        std::min<int64_t>(512, model_->config.max_position_embeddings));
    at::Tensor x = at::tensor(std::vector<int64_t>(ids.begin(), ids.begin() + n), at::kLong).unsqueeze(0);
    if (current) {
        std::lock_guard<std::mutex> lock(mutex_);
        return to_vec(hidden_state_mean_abs(*model_, x, layer, 0));
    }
    // The original model: a view over the originals, without the model lock.
    std::unique_ptr<CausalLM> orig = session_->original_model();
    return to_vec(hidden_state_mean_abs(*orig, x, layer, 0));
}

GenerateData Workbench::generate(const std::string& prompt, int64_t max_new_tokens, bool sample, double temperature,
                                 uint64_t seed, bool original, const Progress& progress) {
    c10::InferenceMode guard;
    if (!tokenizer_) throw Error("text generation needs the model's tokenizer, and none was found");
    GenerateOptions o;
    o.max_new_tokens = max_new_tokens;
    o.sample = sample;
    o.temperature = temperature;
    o.seed = seed;
    o.stop_token = model_->config.eos_token_id;
    GenerateData d;
    if (original) {
        std::unique_ptr<CausalLM> orig = session_->original_model();
        d.ids = qs::generate(*orig, tokenizer_->encode(prompt, true), o, progress);
    } else {
        std::lock_guard<std::mutex> lock(mutex_);
        d.ids = qs::generate(*model_, tokenizer_->encode(prompt, true), o, progress);
    }
    d.text = prompt + tokenizer_->decode(d.ids, true);
    std::string before;
    for (size_t i = 0; i < d.ids.size(); ++i) {
        std::string upto = tokenizer_->decode(std::vector<int64_t>(d.ids.begin(), d.ids.begin() + i + 1), true);
        size_t common = 0;
        while (common < before.size() && common < upto.size() && before[common] == upto[common]) ++common;
        d.pieces.push_back(upto.substr(common));
        before = std::move(upto);
    }
    return d;
}

std::string Workbench::calibration_description(const MethodConfig& calib, const Progress& progress) {
    if (!tokenizer_) return "no tokenizer: calibration unavailable";
    std::string d;
    session_->calibration_blocks(calib, &d, progress);
    return d;
}

std::string Workbench::export_problem(ExportFormat format, bool awq_reference) {
    std::lock_guard<std::mutex> lock(mutex_);
    return export_problem_locked(format, awq_reference);
}

std::string Workbench::export_problem_locked(ExportFormat format, bool awq_reference) {
    const std::vector<ExportProblem> p = export_problems(*session_, format, awq_reference);
    if (p.empty()) return "";
    return "Cannot export as " + export_format_name(format) + ": " + describe_export_problems(p, true);
}

ExportReport Workbench::export_checkpoint(const ExportOptions& opts, const Progress& progress) {
    std::lock_guard<std::mutex> lock(mutex_);
    c10::InferenceMode guard;
    const std::string refused = export_problem_locked(opts.format, opts.awq_reference);
    if (!refused.empty()) throw Error(refused);  // refused: nothing written
    // The exporter rebuilds the pre-quantization weights from the originals and the recorded
    // experiment; the model and its configuration are never changed by an export.
    return qs::export_checkpoint(*session_, opts, progress);
}
