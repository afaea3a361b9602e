#include "quant/quant_session.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <sstream>

#include "core/error.h"
#include "data/calibration.h"
#include "models/model_summary.h"
#include "models/original_weights.h"
#include "quant/rotation.h"
#include "quant/size_estimate.h"
#include "tokenizers/tokenizer.h"

namespace qs {

using json = nlohmann::json;

json ApplyReport::to_json() const {
    json j = {{"configuration", config.to_json()},
              {"steps", steps},
              {"calibration", calibration},
              {"seconds", seconds},
              {"quantized_weights", quantized_weights},
              {"size_mib_seed_formula", seed_size_mib},
              {"size_mib_packed", packed_size_mib},
              {"average_bits", average_bits},
              {"average_bits_without_scales", average_bits_without_scales},
              {"mode", mode}};
    if (!rotation.empty()) j["rotation"] = rotation;
    if (awq) {
        json groups = json::array();
        for (const auto& g : awq->groups)
            groups.push_back({{"block", g.block},
                              {"prev_op", g.prev_op},
                              {"linears", g.linears},
                              {"inspected", g.inspected},
                              {"loss", g.loss},
                              {"best_ratio", g.best_ratio},
                              {"loss_from", g.gram_loss ? "gram" : "direct"}});
        j["awq"] = {{"groups", groups},
                    {"clipped_linears", awq->clips.size()},
                    {"notes", awq->notes},
                    {"seconds", awq->seconds}};
    }
    if (gptq) {
        json ls = json::array();
        double total = 0;
        for (const auto& l : gptq->linears) {
            ls.push_back({{"name", l.name},
                          {"block", l.block},
                          {"loss", l.loss},
                          {"seconds", l.seconds},
                          {"samples", l.samples}});
            total += l.loss;
        }
        j["gptq"] = {
            {"linears", ls},
            {"total_loss", total},
            {"seconds", gptq->seconds},
            {"loss_definition", "sum over the weights of (w - q)^2 / Hinv_ii^2 / 2 (the reference's 'error')"}};
    }
    return j;
}

namespace {

// The structure of a model without any tensor: what original views and pre-quantization models
// are built from. Never shares tensor handles with the working model, so building a view never
// races with an apply on another thread.
std::unique_ptr<CausalLM> skeleton_of(const CausalLM& m) {
    auto s = std::make_unique<CausalLM>();
    s->config = m.config;
    s->source_dir = m.source_dir;
    s->tensor_prefix = m.tensor_prefix;
    s->originals = m.originals;
    s->original_layout = m.original_layout;
    s->blocks = m.blocks;
    for (auto& b : s->blocks) b.unload();
    auto clear_linear = [](Linear& l) {
        l.weight = at::Tensor();
        l.bias = at::Tensor();
        l.input_fn = nullptr;
        l.output_fn = nullptr;
    };
    s->project_in = m.project_in;
    s->project_out = m.project_out;
    s->lm_head = m.lm_head;
    for (Linear* l : {&s->project_in, &s->project_out, &s->lm_head}) clear_linear(*l);
    s->final_norm = m.final_norm;
    s->final_norm.weight = at::Tensor();
    s->final_norm.bias = at::Tensor();
    return s;
}

// Fills the outer tensors (embeddings, final norm, lm_head, projections) of a skeleton with the
// originals and puts the original norm kinds back.
void fill_outer_originals(CausalLM& m) {
    const OriginalWeights& o = *m.originals;
    m.for_each_slot([&](const std::string& name, at::Tensor& slot) {
        if (o.has(name)) slot = o.get(name);
    });
    const std::string base = m.config.arch == Arch::OPT ? "model.decoder." : "model.";
    if (o.has(base + "embed_tokens.weight")) m.embed_tokens = o.get(base + "embed_tokens.weight");
    if (m.original_layout.tied) m.lm_head.weight = m.embed_tokens;
    auto fill = [&](Linear& l) {
        if (!l.present() || l.packed) return;
        if (o.has(l.name + ".weight")) l.weight = o.get(l.name + ".weight");
        if (o.has(l.name + ".bias")) l.bias = o.get(l.name + ".bias");
    };
    fill(m.project_in);
    fill(m.project_out);
    if (!m.original_layout.tied) fill(m.lm_head);
    if (m.final_norm.present()) {
        if (o.has(m.final_norm.name + ".weight")) m.final_norm.weight = o.get(m.final_norm.name + ".weight");
        if (o.has(m.final_norm.name + ".bias")) m.final_norm.bias = o.get(m.final_norm.name + ".bias");
        if (!m.original_layout.norm_kinds.empty()) m.final_norm.kind = m.original_layout.norm_kinds.back();
    }
    m.set_observer({});
}

// How a block-wise method (AWQ, GPTQ) takes and gives back decoder block i. Block-sequential: the block is
// rebuilt from the originals through the experiment's steps so far, and unloaded when done. In memory: the
// block's new weights replaced views of the mapped file; their pages are dropped as each block is done, not
// after the last one (the whole model twice: 1.97x on a 24-block model, tests/engine/test_session_memory.cpp).
struct BlockHooks {
    std::function<void(size_t)> acquire, release;
};

BlockHooks block_hooks(CausalLM& m, bool block_sequential, const Experiment& so_far) {
    CausalLM* mp = &m;
    if (!block_sequential) return {nullptr, [mp](size_t) { mp->originals->release_all(); }};
    auto partial = std::make_shared<Experiment>(so_far);
    return {[mp, partial](size_t i) {
                DecoderBlock b = original_block(*mp, i);
                transform_block(*mp, b, i, *partial, Stage::Transformed);
                mp->set_block(i, std::move(b));
            },
            [mp](size_t i) { mp->blocks[i].unload(); }};
}

}  // namespace

QuantSession::QuantSession(std::shared_ptr<CausalLM> model, std::shared_ptr<const Tokenizer> tokenizer)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)) {
    if (!model_->originals) throw Error("internal error: QuantSession needs a model loaded from a checkpoint");
    block_sequential_ = model_->streamed();
    if (block_sequential_) install_block_loader(nullptr, Stage::Final);
}

MethodConfig QuantSession::applied_snapshot() const {
    std::shared_ptr<const Experiment> e = std::atomic_load(&experiment_);
    if (e) return e->cfg;
    return MethodConfig();
}

bool QuantSession::carries(const MethodConfig& cfg) const {
    if (!experiment_) return cfg.methods.empty() && cfg.act.bits == 0;
    return experiment_->cfg.to_json() == cfg.to_json();
}

const std::vector<std::string>& QuantSession::rtn_linears() const {
    static const std::vector<std::string> none;
    return experiment_ ? experiment_->rtn_linears : none;
}

void QuantSession::install_block_loader(std::shared_ptr<const Experiment> e, Stage upto) {
    CausalLM* m = model_.get();
    model_->block_loader = [m, e, upto](size_t i) {
        DecoderBlock b = original_block(*m, i);
        if (e) transform_block(*m, b, i, *e, upto);
        return b;
    };
}

void QuantSession::reset() {
    c10::InferenceMode guard;
    model_->reset_to_originals();
    if (block_sequential_) install_block_loader(nullptr, Stage::Final);
    std::atomic_store(&experiment_, std::shared_ptr<const Experiment>());
    model_->originals->release_all();
}

void QuantSession::materialize(const Experiment& e, const Progress& progress) {
    c10::InferenceMode guard;
    transform_outer(*model_, e, Stage::Final);
    if (block_sequential_) {
        install_block_loader(std::make_shared<Experiment>(e), Stage::Final);
        return;
    }
    const size_t nb = model_->blocks.size();
    for (size_t i = 0; i < nb; ++i) {
        progress.check();
        transform_block(*model_, model_->blocks[i], i, e, Stage::Final);
        model_->originals->release_all();
    }
}

std::string QuantSession::calib_key(const MethodConfig& c) const {
    std::ostringstream s;
    s << (c.calib_path.empty() ? "default" : c.calib_path) << "|" << c.calib_samples << "|" << c.calib_seqlen << "|"
      << c.calib_seed;
    return s.str();
}

at::Tensor QuantSession::calibration_blocks(const MethodConfig& cfg, std::string* description,
                                            const Progress& progress) {
    cfg.validate_for_model(model_->config.max_position_embeddings);  // blocks must fit the context
    const std::string k = calib_key(cfg);
    {
        std::lock_guard<std::mutex> lock(calib_mutex_);
        auto it = calib_.find(k);
        if (it != calib_.end()) {
            if (description) *description = it->second.description;
            return it->second.blocks;
        }
    }
    std::lock_guard<std::mutex> compute(calib_compute_mutex_);
    {
        std::lock_guard<std::mutex> lock(calib_mutex_);
        auto it = calib_.find(k);
        if (it != calib_.end()) {
            if (description) *description = it->second.description;
            return it->second.blocks;
        }
    }
    if (!tokenizer_) throw Error("calibration needs the model's tokenizer, and none was loaded");
    const std::string path = cfg.calib_path.empty() ? calibration_default_path() : cfg.calib_path;
    CalibrationSet set =
        make_calibration_set(path, *tokenizer_, cfg.calib_samples, cfg.calib_seqlen, cfg.calib_seed, progress);
    std::lock_guard<std::mutex> lock(calib_mutex_);
    auto it = calib_.emplace(k, Calib{set.blocks, set.description}).first;
    if (description) *description = it->second.description;
    return it->second.blocks;
}

CalibStats QuantSession::stats_pass(const MethodConfig& cfg, const Progress& progress) {
    std::string desc;
    at::Tensor blocks = calibration_blocks(cfg, &desc, progress.sub(0, 0.2));
    CalibPassOptions o;
    o.chunk = block_sequential_ ? 0 : 4;  // block-sequential: each block loaded once
    return collect_calibration_stats(*model_, blocks, desc, progress.sub(0.2, 1.0), 4, 64, o);
}

std::shared_ptr<const CalibStats> QuantSession::cached_original_stats(const MethodConfig& cfg) const {
    std::lock_guard<std::mutex> lock(calib_mutex_);
    auto it = orig_stats_.find(calib_key(cfg));
    return it == orig_stats_.end() ? nullptr : it->second;
}

std::shared_ptr<const CalibStats> QuantSession::original_stats(const MethodConfig& cfg, const Progress& progress,
                                                               const std::function<void(const CalibStats&)>& on_partial,
                                                               int64_t chunk) {
    c10::InferenceMode guard;
    const std::string k = calib_key(cfg);
    auto complete = [&]() -> std::shared_ptr<const CalibStats> {
        std::lock_guard<std::mutex> lock(calib_mutex_);
        auto it = orig_stats_.find(k);
        return it != orig_stats_.end() && orig_complete_[k] ? it->second : nullptr;
    };
    if (auto s = complete()) return s;
    // Subscribe to the snapshots of the pass, whichever caller runs it (a preview may have
    // started it before the Activations page asked): every caller sees the progress.
    uint64_t sub = 0;
    if (on_partial) {
        std::shared_ptr<const CalibStats> latest;
        {
            std::lock_guard<std::mutex> lock(calib_mutex_);
            sub = ++next_subscriber_;
            subscribers_[sub] = {k, on_partial};
            auto it = orig_stats_.find(k);
            if (it != orig_stats_.end()) latest = it->second;
        }
        if (latest) on_partial(*latest);
    }
    struct Unsubscribe {
        QuantSession* s;
        uint64_t id;
        ~Unsubscribe() {
            if (!id) return;
            std::lock_guard<std::mutex> lock(s->calib_mutex_);
            s->subscribers_.erase(id);
        }
    } unsubscribe{this, sub};
    std::lock_guard<std::mutex> compute(orig_compute_mutex_);
    if (auto s = complete()) return s;
    std::string desc;
    at::Tensor blocks = calibration_blocks(cfg, &desc, progress.sub(0, 0.1));
    // A view of the original model that shares nothing mutable with the working model: its
    // blocks are materialized from the originals one at a time.
    std::unique_ptr<CausalLM> view = original_model();
    CalibPassOptions o;
    o.chunk = chunk;
    o.on_partial = [&](const CalibStats& partial) {
        auto p = std::make_shared<const CalibStats>(partial);
        std::vector<std::function<void(const CalibStats&)>> fns;
        {
            std::lock_guard<std::mutex> lock(calib_mutex_);
            orig_stats_[k] = p;
            for (const auto& [id, s] : subscribers_)
                if (s.first == k) fns.push_back(s.second);
        }
        for (const auto& f : fns) f(*p);
    };
    auto s = std::make_shared<const CalibStats>(
        collect_calibration_stats(*view, blocks, desc, progress.sub(0.1, 1.0), 4, 64, o));
    std::lock_guard<std::mutex> lock(calib_mutex_);
    orig_stats_[k] = s;
    orig_complete_[k] = true;
    return s;
}

const CalibStats& QuantSession::current_stats(const MethodConfig& cfg, const Progress& progress) {
    const std::string k =
        (experiment_ ? experiment_->cfg.to_json().dump() : std::string("original")) + "#" + calib_key(cfg);
    auto it = current_stats_.find(k);
    if (it != current_stats_.end()) return it->second;
    if (!experiment_) {
        auto s = original_stats(cfg, progress);
        return current_stats_.emplace(k, *s).first->second;
    }
    return current_stats_.emplace(k, stats_pass(cfg, progress)).first->second;
}

std::unique_ptr<CausalLM> QuantSession::original_model() const {
    std::unique_ptr<CausalLM> view = skeleton_of(*model_);
    fill_outer_originals(*view);
    CausalLM* v = view.get();
    view->block_loader = [v](size_t i) { return original_block(*v, i); };
    return view;
}

Linear QuantSession::original_linear(const std::string& name, std::optional<c10::Device> device,
                                     std::optional<c10::ScalarType> dtype) const {
    c10::InferenceMode guard;
    const OriginalWeights& o = *model_->originals;
    // The structure (name, features) from the skeleton of the loaded model; tensors from the originals.
    const Linear* found = nullptr;
    for (const auto& b : skeleton_blocks())
        for (const Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down})
            if (l->present() && l->name == name) found = l;
    Linear l;
    if (found) {
        l = *found;
    } else {
        l.name = name;
        l.exists = true;
    }
    auto get = [&](const std::string& t) -> at::Tensor {
        if (!o.has(t)) return {};
        return o.get_as(t, device.value_or(o.device()), dtype.value_or(o.dtype()));
    };
    l.weight = get(name + ".weight");
    if (!l.weight.defined()) throw Error("no Linear named '" + name + "' with original weights");
    l.bias = get(name + ".bias");
    l.out_features = l.weight.size(0);
    l.in_features = l.weight.size(1);
    l.observer = nullptr;
    return l;
}

const std::vector<DecoderBlock>& QuantSession::skeleton_blocks() const {
    std::call_once(skeleton_once_, [this] { skeleton_ = skeleton_of(*model_); });
    return skeleton_->blocks;
}

std::unique_ptr<CausalLM> QuantSession::prequant_model(const Progress& progress, bool lazy, bool with_clips) const {
    c10::InferenceMode guard;
    std::unique_ptr<CausalLM> m = skeleton_of(*model_);
    fill_outer_originals(*m);
    std::shared_ptr<const Experiment> e = experiment_;
    if (e && !with_clips && e->awq && !e->awq->clips.empty()) {
        auto unclipped = std::make_shared<Experiment>(*e);
        unclipped->awq->clips.clear();
        e = unclipped;
    }
    if (e) transform_outer(*m, *e, Stage::Transformed);
    if (lazy) {
        CausalLM* mp = m.get();
        m->block_loader = [mp, e](size_t i) {
            DecoderBlock b = original_block(*mp, i);
            if (e) transform_block(*mp, b, i, *e, Stage::Transformed);
            return b;
        };
        return m;
    }
    for (size_t i = 0; i < m->blocks.size(); ++i) {
        progress.check();
        DecoderBlock b = original_block(*m, i);
        if (e) transform_block(*m, b, i, *e, Stage::Transformed);
        m->set_block(i, std::move(b));
    }
    return m;
}

void QuantSession::apply_search(Experiment& e, ApplyReport& rep, const Progress& progress,
                                const std::function<void(const AwqGroup&)>& on_group) {
    const MethodConfig& cfg = e.cfg;
    CausalLM& m = *model_;
    const size_t nb = m.blocks.size();
    const bool bs = block_sequential_;
    // Block-sequential: block i is rebuilt from the originals through the steps done so far.
    auto loader_upto = [&](bool smooth_done, bool awq_done) {
        if (!bs) return;
        CausalLM* mp = &m;
        auto partial = std::make_shared<Experiment>(e);
        if (!smooth_done) partial->smooth.clear();
        if (!awq_done) partial->awq.reset();
        m.block_loader = [mp, partial](size_t i) {
            DecoderBlock b = original_block(*mp, i);
            transform_block(*mp, b, i, *partial, Stage::Transformed);
            return b;
        };
    };
    if (cfg.has("rotate")) {
        progress.check();
        e.rotation = plan_rotation(m, cfg.rotation, cfg.seed, true, &e.rotation_info);
        e.rotated = true;
        rotate_inputs(m, e.rotation);
        rotate_head(m, e.rotation);
        if (!bs) {
            for (size_t i = 0; i < nb; ++i) {
                progress.check();
                rotate_block(m, m.blocks[i], e.rotation);
                m.originals->release_all();
                progress(0.1 * double(i + 1) / double(nb),
                         "rotating block " + std::to_string(i + 1) + "/" + std::to_string(nb));
            }
        }
        rep.rotation = e.rotation_info.kind_used;
        rep.steps.push_back("fused norms and rotated the residual stream: " + e.rotation_info.kind_used);
    }
    if (cfg.needs_calibration()) {
        std::string desc;
        calibration_blocks(cfg, &desc, progress.sub(0.1, 0.2));
        rep.calibration = desc;
        e.calibration = desc;
    }
    if (cfg.has("smoothquant")) {
        check_smoothable(m, cfg.sq_alpha);
        loader_upto(false, false);
        const CalibStats st = stats_pass(cfg, progress.sub(0.2, 0.35));
        for (size_t i = 0; i < nb; ++i) {
            progress.check();
            if (bs) {
                ScopedBlock hold(m, i);
                for (auto& g : smooth_block(m.blocks[i], st, cfg.sq_alpha)) e.smooth.push_back(std::move(g));
            } else {
                for (auto& g : smooth_block(m.blocks[i], st, cfg.sq_alpha)) e.smooth.push_back(std::move(g));
                m.originals->release_all();  // the replaced weights' mapped pages (refaulted if still used)
            }
        }
        rep.smooth = e.smooth;
        std::ostringstream s;
        s << "smoothed " << e.smooth.size() << " norm->linear groups with alpha " << cfg.sq_alpha
          << " (max |x| from calibration)";
        rep.steps.push_back(s.str());
    }
    if (cfg.has("awq")) {
        AwqOptions o;
        o.spec = cfg.weight;
        for (const auto& [name, ov] : cfg.overrides) {
            if (ov.skip) o.skipped.insert(name);
            o.linear_spec[name] = cfg.spec_for(name);
        }
        o.clip = cfg.awq_clip;
        o.duo_scaling = cfg.duo_scaling;
        o.gram_loss = !cfg.awq_direct_loss;
        o.on_group = on_group;
        BlockHooks hooks = block_hooks(m, bs, e);  // e: rotation + smoothing so far
        o.acquire_block = std::move(hooks.acquire);
        o.release_block = std::move(hooks.release);
        const at::Tensor blocks = calibration_blocks(cfg, nullptr);
        e.awq = awq_auto(m, blocks, o, progress.sub(0.35, 0.9));
        if (!bs) m.originals->release_all();
        rep.awq = e.awq;
        rep.steps.push_back(
            "AWQ auto-scale over " + std::to_string(e.awq->groups.size()) + " groups" +
            (cfg.awq_clip ? " + auto-clip of " + std::to_string(e.awq->clips.size()) + " linears" : std::string()));
    }
    if (cfg.has("gptq")) {
        if (cfg.include_lm_head)
            throw Error("gptq quantizes the decoder Linears (as the reference code); drop --include-lm-head");
        GptqOptions o = GptqOptions::from_spec(cfg.weight);
        o.act_order = cfg.gptq_act_order;
        o.static_groups = cfg.gptq_static_groups;
        o.true_sequential = cfg.gptq_true_sequential;
        o.percdamp = cfg.gptq_damp;
        o.block_size = cfg.gptq_block_size;
        for (const auto& [name, ov] : cfg.overrides) {
            if (ov.skip) o.skipped.insert(name);
            o.linear_spec[name] = cfg.spec_for(name);  // checked here: GPTQ needs per-group or per-channel
        }
        BlockHooks hooks = block_hooks(m, bs, e);  // e: rotation + smoothing so far
        o.acquire_block = std::move(hooks.acquire);
        o.release_block = std::move(hooks.release);
        const Progress pg = progress.sub(0.35, 0.95);
        o.on_linear = [&pg](const GptqLinear& l, int64_t done, int64_t total) {
            std::ostringstream s;
            s << "GPTQ " << done << "/" << total << ": " << l.name << " loss " << l.loss;
            pg(double(done) / double(std::max<int64_t>(1, total)), s.str());
        };
        const at::Tensor blocks = calibration_blocks(cfg, nullptr);
        e.gptq = gptq_model(m, blocks, o, pg);
        if (!bs) m.originals->release_all();
        rep.gptq = e.gptq;
        double loss = 0;
        for (const auto& l : e.gptq->linears) loss += l.loss;
        std::ostringstream s;
        s << "GPTQ " << cfg.weight.describe() << (cfg.gptq_act_order ? ", act-order" : "")
          << (cfg.gptq_static_groups ? ", static groups" : "") << " on " << e.gptq->linears.size()
          << " decoder Linears over " << blocks.size(0) << " calibration samples (total loss " << loss << ")";
        rep.steps.push_back(s.str());
    }
    progress.check();
    std::vector<Linear*> qlinears = m.decoder_linears();
    if (cfg.quantizes_weights() && cfg.include_lm_head) qlinears.push_back(&m.lm_head);
    if (cfg.has("awq-keep") || cfg.has("awq-scale")) {
        if (cfg.has("awq-scale") && !(cfg.awq_factor > 0)) throw Error("AWQ scale factor must be positive");
        // Salient channels from the statistics of the model as it is before quantization.
        CalibStats local;
        const CalibStats* st = nullptr;
        std::shared_ptr<const CalibStats> orig;
        if (!cfg.has("rotate") && !cfg.has("smoothquant") && !cfg.has("awq")) {
            orig = original_stats(cfg, progress.sub(0.4, 0.9));
            st = orig.get();
        } else {
            loader_upto(true, true);
            local = stats_pass(cfg, progress.sub(0.4, 0.9));
            st = &local;
        }
        for (Linear* l : qlinears) e.salient[l->name] = salient_channels(st->at(l->name).mean_abs, cfg.awq_salient);
        rep.steps.push_back(cfg.has("awq-keep")
                                ? "RTN " + cfg.weight.describe() + ", salient channels kept in full precision"
                                : "RTN " + cfg.weight.describe() + " with salient channels scaled by " +
                                      std::to_string(cfg.awq_factor));
    } else if (cfg.quantizes_weights() && !cfg.has("gptq")) {
        for (Linear* l : qlinears)
            if (!cfg.skips(l->name)) e.rtn_linears.push_back(l->name);
        rep.steps.push_back("RTN " + cfg.weight.describe() + " on every decoder Linear" +
                            (cfg.include_lm_head ? " and lm_head" : ""));
    }
    // Weight quantization and activation hooks: in memory now; block-sequential per pass.
    if (quantizes_linear(e, m.lm_head, true)) {
        m.untie();
        m.lm_head.weight = final_weight(m.lm_head, m.lm_head.weight, e);
    }
    if (!bs) {
        for (size_t i = 0; i < nb; ++i) {
            progress.check();
            quantize_block(m.blocks[i], e);
            m.originals->release_all();
        }
    }
    if (cfg.quantizes_weights() && !cfg.overrides.empty()) {
        int64_t skipped = 0;
        for (const auto& [name, ov] : cfg.overrides) skipped += ov.skip ? 1 : 0;
        std::ostringstream s;
        s << "mixed precision: " << cfg.overrides.size() - skipped << " Linear(s) with their own bits / group size, "
          << skipped << " skipped (kept at their transformed weights" << (cfg.act.bits > 0 ? " and float inputs" : "")
          << ")";
        rep.steps.push_back(s.str());
    }
    if (cfg.act.bits > 0) {
        if (cfg.act.bits < 2 || cfg.act.bits > 8) throw Error("activation bits must be in 2..8 (or 0 for none)");
        rep.steps.push_back("activations fake-quantized to " + std::to_string(cfg.act.bits) + " bits " +
                            (cfg.act.per_token ? "per token" : "per tensor") +
                            (cfg.act.quantize_bmm ? ", q/k/v outputs too" : ""));
    }
}

ApplyReport QuantSession::apply(const MethodConfig& cfg, const Progress& progress,
                                const std::function<void(const AwqGroup&)>& on_group) {
    c10::InferenceMode guard;
    const auto t0 = std::chrono::steady_clock::now();
    cfg.validate_for_model(model_->config.max_position_embeddings);  // ranges; calibration fits the context
    const ModelSummary summary = summarize(*model_);
    {
        std::vector<std::string> targeted;
        for (const LinearSummary& l : summary.linears)
            if (targets_linear(l, cfg)) targeted.push_back(l.name);
        cfg.validate_overrides(targeted);  // override names: Linears the configuration quantizes
    }
    if (!cfg.methods.empty())
        for (const Linear* l : model_->linears())
            if (l->packed && !l->weight.defined())
                throw Error(model_->source_dir + ": '" + l->name + "' is stored quantized (" + l->packed->format() +
                            "); quantization methods need a full-precision model");
    std::shared_ptr<const Experiment> prev = experiment_;
    ApplyReport rep;
    rep.config = cfg;
    rep.mode = mode_name();
    const std::string key = cfg.to_json().dump();
    ApplyReport recorded;  // the report of the search (stored in the history)
    try {
        reset();
        auto known = std::find_if(history_.begin(), history_.end(), [&](const auto& h) { return h.first == key; });
        if (known != history_.end()) {
            // Applied before: rebuild from the recorded results (same weights, no search).
            std::shared_ptr<const Experiment> e = known->second.first;
            rep = known->second.second;
            recorded = rep;
            materialize(*e, progress);
            std::atomic_store(&experiment_, std::shared_ptr<const Experiment>(e));
            rep.steps.push_back("rebuilt from the recorded results of an earlier apply (no new search)");
        } else {
            auto e = std::make_shared<Experiment>();
            e->cfg = cfg;
            apply_search(*e, rep, progress, on_group);
            if (block_sequential_) install_block_loader(e, Stage::Final);
            std::atomic_store(&experiment_, std::shared_ptr<const Experiment>(e));
        }
    } catch (...) {
        // Put the previous experiment back from its recorded results (no search): a cancelled or
        // failed apply never changes what the model carries.
        try {
            reset();
            if (prev) {
                materialize(*prev, Progress{});
                std::atomic_store(&experiment_, prev);
            }
        } catch (...) {
            reset();
        }
        throw;
    }
    // Sizes: quantized Linears at their own bit width (mixed precision), everything else at 16 bits.
    const SizeEstimate size = estimate_size(summary.linears, model_->parameter_count(), cfg);
    rep.quantized_weights = size.quantized_weights;
    rep.seed_size_mib = size.seed_size_mib;
    rep.packed_size_mib = size.packed_size_mib;
    rep.average_bits = size.average_bits;
    rep.average_bits_without_scales = size.average_bits_without_scales;
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (recorded.config.methods.empty() && recorded.steps.empty()) recorded = rep;
    history_.erase(std::remove_if(history_.begin(), history_.end(), [&](const auto& h) { return h.first == key; }),
                   history_.end());
    history_.push_back({key, {experiment_, recorded}});
    if (history_.size() > kHistory) history_.erase(history_.begin());
    return rep;
}

PplResult QuantSession::perplexity(const at::Tensor& ids, const PplOptions& opts, const Progress& progress,
                                   const std::function<void(int64_t, double)>& on_window) {
    PplResult r = block_sequential_ ? evaluate_perplexity_blockwise(*model_, ids, opts, progress, on_window)
                                    : evaluate_perplexity(*model_, ids, opts, progress, on_window);
    return r;
}

EvalReport QuantSession::evaluate(const MethodConfig& cfg, const at::Tensor& ids, const PplOptions& opts,
                                  const Progress& progress, const std::function<void(int64_t, double)>& on_window) {
    EvalReport r;
    const bool original = cfg.methods.empty() && cfg.act.bits == 0;
    if (original && experiment_) {
        // The original model while another configuration is applied (a baseline): evaluated on
        // a view of the originals, block by block, so the configuration the model carries stays.
        std::unique_ptr<CausalLM> view = original_model();
        if (model_->originals->zero_copy()) {
            // Views of the mapped file cost nothing to build: window by window, as in memory.
            r.ppl = evaluate_perplexity(*view, ids, opts, progress, on_window);
        } else {
            // Converted / uploaded originals: each block once per pass of 8 windows.
            const int64_t per_window =
                std::max<int64_t>(1, (opts.seqlen > 0 ? opts.seqlen : model_->config.default_seqlen()) *
                                         model_->config.hidden_size * at::elementSize(model_->dtype()));
            r.ppl = evaluate_perplexity_blockwise(*view, ids, opts, progress, on_window, 8 * per_window);
        }
        r.config = cfg;
        r.mode = mode_name() + " (original weights from the checkpoint)";
        return r;
    }
    const bool need_apply = !carries(cfg);
    if (need_apply) r.apply = apply(cfg, progress.sub(0, 0.5));
    // KL against the original model: its logits come window by window from a view of the
    // originals (the mapped checkpoint), next to the working model's.
    std::unique_ptr<CausalLM> reference;
    PplOptions o = opts;
    o.kl_reference = nullptr;
    if (opts.kl && !original) {
        reference = original_model();
        o.kl_reference = reference.get();
    }
    r.ppl = perplexity(ids, o, need_apply ? progress.sub(0.5, 1.0) : progress, on_window);
    r.config = cfg;
    r.mode = mode_name();
    return r;
}

}  // namespace qs
