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
#include "quant/layer_preview.h"
#include "quant/quant_session.h"
#include "quant/rotation.h"
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

// The Linears fed by the same norm as `name` in the ORIGINAL model (SmoothQuant groups).
std::vector<const Linear*> norm_group(const CausalLM::State& st, const std::string& name, bool* smoothable) {
    *smoothable = false;
    for (const auto& b : st.blocks) {
        if (name == b.q.name || name == b.k.name || name == b.v.name) {
            *smoothable = true;
            return {&b.q, &b.k, &b.v};
        }
        if (name == b.up.name || name == b.gate.name) {
            *smoothable = true;
            if (b.gate.present()) return {&b.gate, &b.up};
            return {&b.up};
        }
    }
    return {};
}

bool same_spec(const QuantSpec& a, const QuantSpec& b) {
    return a.bits == b.bits && a.granularity == b.granularity && a.group_size == b.group_size &&
           a.symmetric == b.symmetric && a.fp16_scales == b.fp16_scales;
}

// Whether a model that carries `applied` holds exactly the weights cfg's whole-model transforms
// (rotation, smoothing, AWQ auto-scale search) would give before quantization.
bool carries_transforms(const MethodConfig& applied, const MethodConfig& cfg) {
    const bool any = cfg.has("rotate") || cfg.has("smoothquant") || cfg.has("awq");
    if (!any) return false;
    for (const char* m : {"rotate", "smoothquant", "awq"})
        if (applied.has(m) != cfg.has(m)) return false;
    if (cfg.has("rotate") && (applied.rotation != cfg.rotation || applied.seed != cfg.seed)) return false;
    const bool calibrated = cfg.has("smoothquant") || cfg.has("awq");
    if (calibrated && (applied.calib_path != cfg.calib_path || applied.calib_samples != cfg.calib_samples ||
                       applied.calib_seqlen != cfg.calib_seqlen || applied.calib_seed != cfg.calib_seed))
        return false;
    if (cfg.has("smoothquant") && applied.sq_alpha != cfg.sq_alpha) return false;
    // The AWQ search depends on the weight quantization it searches for.
    if (cfg.has("awq") && (!same_spec(applied.weight, cfg.weight) || applied.awq_clip != cfg.awq_clip ||
                           applied.duo_scaling != cfg.duo_scaling || applied.awq_direct_loss != cfg.awq_direct_loss ||
                           applied.include_lm_head != cfg.include_lm_head))
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

const Linear* find_in_state(const CausalLM::State& st, const std::string& name) {
    for (const auto& b : st.blocks)
        for (const Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down})
            if (l->present() && l->name == name) return l;
    for (const Linear* l : {&st.project_in, &st.project_out, &st.lm_head})
        if (l->present() && l->name == name) return l;
    throw Error("no Linear named '" + name + "'");
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
    // File > Export re-derives the codes from the pre-quantization weights. Keeping them at
    // every apply costs nothing for RTN (handles of the original weights) and one copy of the
    // transformed Linears for rotate / smoothquant / awq; without it the exporter would re-run
    // the whole configuration (an AWQ search) and, if cancelled there, leave the model with
    // its original weights.
    w->session_->set_keep_prequant(true);
    w->applied_.act.bits = 0;  // the original model: no activation quantization either
    return w;
}

Workbench::~Workbench() = default;

MethodConfig Workbench::applied() const {
    std::lock_guard<std::mutex> lock(applied_mutex_);
    return applied_;
}

ChannelData Workbench::channel_stats(const std::string& linear, bool current, const MethodConfig& calib,
                                     const Progress& progress) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    c10::InferenceMode guard;
    const CalibStats& st = current ? session_->current_stats(calib, progress) : session_->original_stats(calib, progress);
    const ChannelStats& c = st.at(linear);
    ChannelData d;
    d.linear = linear;
    d.calibration = st.calibration;
    d.mean_abs = to_vec(c.mean_abs);
    d.max_abs = to_vec(c.max_abs);
    d.tokens = c.tokens;
    return d;
}

std::vector<LayerStatRow> Workbench::layer_overview(bool current, const MethodConfig& calib, const Progress& progress) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    c10::InferenceMode guard;
    const CalibStats& st = current ? session_->current_stats(calib, progress) : session_->original_stats(calib, progress);
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

Matrix Workbench::weight(const std::string& linear, bool current) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    c10::InferenceMode guard;
    if (current) {
        Linear* l = model_->find_linear(linear);
        if (!l) throw Error("no Linear named '" + linear + "'");
        return to_matrix(l->dense_weight());
    }
    return to_matrix(find_in_state(session_->original_state(), linear)->weight);
}

PreviewData Workbench::preview(const std::string& linear, const MethodConfig& cfg, const Progress& progress) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    c10::InferenceMode guard;
    // The model carries cfg's whole-model transforms (rotation, smoothing, AWQ search): preview
    // the layer as they left it (its pre-quantization weight) on the transformed model's
    // calibration inputs, and quantize it with cfg's remaining steps.
    const MethodConfig* ap = session_->applied_config();
    const CausalLM::State* pre = session_->prequant_state();
    const bool transformed = ap && pre && carries_transforms(*ap, cfg);
    const CausalLM::State& base = transformed ? *pre : session_->original_state();
    MethodConfig c = cfg;
    if (transformed)
        c.methods.erase(std::remove_if(c.methods.begin(), c.methods.end(),
                                       [](const std::string& m) { return m == "rotate" || m == "smoothquant" || m == "awq"; }),
                        c.methods.end());
    const Linear* l = find_in_state(base, linear);
    bool smoothable = false;
    std::vector<at::Tensor> group;
    for (const Linear* g : norm_group(base, linear, &smoothable)) group.push_back(g->weight);
    if (group.empty()) group.push_back(l->weight);
    const ChannelStats* stats = nullptr;
    if (tokenizer_)
        stats = &(transformed ? session_->current_stats(cfg, progress) : session_->original_stats(cfg, progress)).at(linear);
    LayerPreview p = preview_linear(l->weight, group, smoothable, stats, c);
    PreviewData d;
    d.linear = linear;
    d.note = p.note;
    if (transformed) {
        d.basis = transforms_text(cfg);
        d.note += "; " + d.basis + " as the model carries it (" + cfg.describe() + "); error in that basis";
    }
    if (p.salient.defined()) {
        at::Tensor s = p.salient.to(at::kCPU, at::kLong).contiguous();
        d.salient.assign(s.data_ptr<int64_t>(), s.data_ptr<int64_t>() + s.numel());
    }
    d.spec = cfg.weight.describe();
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
    if (!transformed && cfg.has("smoothquant") && smoothable && stats) {
        std::vector<at::Tensor> ws;
        for (const auto& g : group) ws.push_back(g.to(at::kFloat));
        d.smooth = to_vec(smooth_scales(stats->max_abs, ws, cfg.sq_alpha));
    }
    return d;
}

ApplyData Workbench::apply(const MethodConfig& cfg, const Progress& progress,
                           const std::function<void(const AwqCurve&)>& on_group) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    c10::InferenceMode guard;
    MethodConfig original;
    original.act.bits = 0;
    {
        // QuantSession::apply starts from (and on failure returns to) the original weights.
        std::lock_guard<std::mutex> a(applied_mutex_);
        applied_ = original;
    }
    auto curve = [](const AwqGroup& g) {
        return AwqCurve{g.block, g.prev_op, g.inspected, g.linears, g.loss, g.best, g.best_ratio};
    };
    std::function<void(const AwqGroup&)> each;
    if (on_group) each = [&](const AwqGroup& g) { on_group(curve(g)); };
    ApplyReport rep = session_->apply(cfg, progress, each);
    {
        std::lock_guard<std::mutex> a(applied_mutex_);
        applied_ = cfg;
    }
    ApplyData d;
    d.description = cfg.describe();
    d.calibration = rep.calibration;
    d.rotation = rep.rotation;
    d.steps = rep.steps;
    d.seconds = rep.seconds;
    d.seed_size_mib = rep.seed_size_mib;
    d.packed_size_mib = rep.packed_size_mib;
    if (rep.awq)
        for (const auto& g : rep.awq->groups) d.awq.push_back(curve(g));
    d.json = rep.to_json().dump(2);
    return d;
}

const std::vector<int64_t>& Workbench::eval_ids(const Progress& progress) {
    if (eval_ids_.empty()) {
        if (!tokenizer_) throw Error("perplexity needs the model's tokenizer, and none was found in " + summary_.source_dir);
        EvalText t = default_eval_text(progress);
        eval_ids_ = tokenizer_->encode(t.text, true);
        eval_description_ = t.description;
    }
    return eval_ids_;
}

int64_t Workbench::eval_tokens(const Progress& progress) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    return static_cast<int64_t>(eval_ids(progress).size());
}

PplData Workbench::perplexity(const PplRequest& req, const Progress& progress,
                              const std::function<void(int64_t, double)>& on_window) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    c10::InferenceMode guard;
    const auto& ids = eval_ids(progress);
    PplOptions o;
    o.seqlen = req.seqlen;
    o.nsamples = req.nsamples;
    o.batch = req.batch;
    PplResult r = evaluate_perplexity(*model_, at::tensor(ids, at::kLong), o, progress, on_window);
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
    return d;
}

std::vector<float> Workbench::hidden_mean_abs(int64_t layer, bool current, const Progress& progress) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    c10::InferenceMode guard;
    const auto& ids = eval_ids(progress);
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(ids.size()), std::min<int64_t>(512, model_->config.max_position_embeddings));
    at::Tensor x = at::tensor(std::vector<int64_t>(ids.begin(), ids.begin() + n), at::kLong).unsqueeze(0);
    if (current) return to_vec(hidden_state_mean_abs(*model_, x, layer, 0));
    CausalLM::State cur = model_->save_state();
    model_->restore_state(session_->original_state());
    std::vector<float> out;
    try {
        out = to_vec(hidden_state_mean_abs(*model_, x, layer, 0));
    } catch (...) {
        model_->restore_state(cur);
        throw;
    }
    model_->restore_state(cur);
    return out;
}

GenerateData Workbench::generate(const std::string& prompt, int64_t max_new_tokens, bool sample, double temperature,
                                 uint64_t seed, bool original, const Progress& progress) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    c10::InferenceMode guard;
    if (!tokenizer_) throw Error("text generation needs the model's tokenizer, and none was found");
    GenerateOptions o;
    o.max_new_tokens = max_new_tokens;
    o.sample = sample;
    o.temperature = temperature;
    o.seed = seed;
    o.stop_token = model_->config.eos_token_id;
    CausalLM::State cur = model_->save_state();
    const bool swap = original && session_->current_key() != "original";
    if (swap) model_->restore_state(session_->original_state());
    GenerateData d;
    try {
        d.ids = qs::generate(*model_, tokenizer_->encode(prompt, true), o, progress);
    } catch (...) {
        if (swap) model_->restore_state(cur);
        throw;
    }
    if (swap) model_->restore_state(cur);
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
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (!tokenizer_) return "no tokenizer: calibration unavailable";
    std::string d;
    session_->calibration_blocks(calib, &d, progress);
    return d;
}

std::string Workbench::export_problem(ExportFormat format, bool awq_reference) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    const std::vector<ExportProblem> p = export_problems(*session_, format, awq_reference);
    if (p.empty()) return "";
    return "Cannot export as " + export_format_name(format) + ": " + describe_export_problems(p, true);
}

ExportReport Workbench::export_checkpoint(const ExportOptions& opts, const Progress& progress) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    c10::InferenceMode guard;
    const std::string refused = export_problem(opts.format, opts.awq_reference);
    if (!refused.empty()) throw Error(refused);  // nothing written
    try {
        return qs::export_checkpoint(*session_, opts, progress);
    } catch (...) {
        // The exporter re-applies the configuration only without a kept pre-quantization
        // state, and a failed apply returns to the original weights: keep applied() true.
        const MethodConfig* now = session_->applied_config();
        std::lock_guard<std::mutex> a(applied_mutex_);
        if (!now) {
            applied_ = MethodConfig();
            applied_.act.bits = 0;
        }
        throw;
    }
}
