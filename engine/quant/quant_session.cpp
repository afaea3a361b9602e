#include "quant/quant_session.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <sstream>

#include "core/error.h"
#include "data/calibration.h"
#include "quant/rotation.h"
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
              {"size_mib_packed", packed_size_mib}};
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
        j["awq"] = {{"groups", groups}, {"clipped_linears", awq->clips.size()}, {"notes", awq->notes},
                    {"seconds", awq->seconds}};
    }
    return j;
}

QuantSession::QuantSession(std::shared_ptr<CausalLM> model, std::shared_ptr<const Tokenizer> tokenizer)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), original_(model_->save_state()) {}

void QuantSession::reset() {
    model_->restore_state(original_);
    key_ = "original";
    applied_.reset();
    prequant_.reset();
    rtn_linears_.clear();
}

std::string QuantSession::calib_key(const MethodConfig& c) const {
    std::ostringstream s;
    s << (c.calib_path.empty() ? "default" : c.calib_path) << "|" << c.calib_samples << "|" << c.calib_seqlen << "|"
      << c.calib_seed;
    return s.str();
}

const at::Tensor& QuantSession::calibration_blocks(const MethodConfig& cfg, std::string* description,
                                                   const Progress& progress) {
    const std::string k = calib_key(cfg);
    auto it = calib_.find(k);
    if (it == calib_.end()) {
        if (!tokenizer_) throw Error("calibration needs the model's tokenizer, and none was loaded");
        const std::string path = cfg.calib_path.empty() ? calibration_default_path() : cfg.calib_path;
        CalibrationSet set =
            make_calibration_set(path, *tokenizer_, cfg.calib_samples, cfg.calib_seqlen, cfg.calib_seed, progress);
        it = calib_.emplace(k, Calib{set.blocks, set.description}).first;
    }
    if (description) *description = it->second.description;
    return it->second.blocks;
}

const CalibStats& QuantSession::stats_for_key(const std::string& state_key, const MethodConfig& cfg,
                                              const Progress& progress) {
    const std::string k = state_key + "#" + calib_key(cfg);
    auto it = stats_.find(k);
    if (it != stats_.end()) return it->second;
    std::string desc;
    const at::Tensor& blocks = calibration_blocks(cfg, &desc, progress.sub(0, 0.3));
    CalibStats s = collect_calibration_stats(*model_, blocks, desc, progress.sub(0.3, 1.0));
    return stats_.emplace(k, std::move(s)).first->second;
}

const CalibStats& QuantSession::original_stats(const MethodConfig& cfg, const Progress& progress) {
    if (key_ != "original") {
        CausalLM::State cur = model_->save_state();
        model_->restore_state(original_);
        try {
            const CalibStats& s = stats_for_key("original", cfg, progress);
            model_->restore_state(cur);
            return s;
        } catch (...) {
            model_->restore_state(cur);
            throw;
        }
    }
    return stats_for_key("original", cfg, progress);
}

const CalibStats& QuantSession::current_stats(const MethodConfig& cfg, const Progress& progress) {
    return stats_for_key(key_, cfg, progress);
}

ApplyReport QuantSession::apply(const MethodConfig& cfg, const Progress& progress,
                                const std::function<void(const AwqGroup&)>& on_group) {
    c10::InferenceMode guard;
    const auto t0 = std::chrono::steady_clock::now();
    reset();
    if (!cfg.methods.empty())
        for (const Linear* l : model_->linears())
            if (l->packed && !l->weight.defined())
                throw Error(model_->source_dir + ": '" + l->name + "' is stored quantized (" + l->packed->format() +
                            "); quantization methods need a full-precision model");
    ApplyReport rep;
    rep.config = cfg;
    std::string state = "original";
    // Progress budget: calibration + transforms in the first 90%, quantization after.
    try {
        if (cfg.has("rotate")) {
            progress.check();
            RotationInfo info = rotate_model(*model_, cfg.rotation, cfg.seed, progress.sub(0.0, 0.1));
            rep.rotation = info.kind_used;
            rep.steps.push_back("fused norms and rotated the residual stream: " + info.kind_used);
            state += "|rotate:" + rotation_kind_name(cfg.rotation) + ":" + std::to_string(cfg.seed);
        }
        if (cfg.needs_calibration()) {
            std::string desc;
            calibration_blocks(cfg, &desc, progress.sub(0.1, 0.2));
            rep.calibration = desc;
        }
        if (cfg.has("smoothquant")) {
            const CalibStats& st = stats_for_key(state, cfg, progress.sub(0.2, 0.4));
            rep.smooth = smooth_model(*model_, st, cfg.sq_alpha);
            std::ostringstream s;
            s << "smoothed " << rep.smooth.size() << " norm->linear groups with alpha " << cfg.sq_alpha
              << " (max |x| from calibration)";
            rep.steps.push_back(s.str());
            state += "|smooth:" + std::to_string(cfg.sq_alpha);
        }
        if (cfg.has("awq")) {
            AwqOptions o;
            o.spec = cfg.weight;
            o.clip = cfg.awq_clip;
            o.duo_scaling = cfg.duo_scaling;
            o.gram_loss = !cfg.awq_direct_loss;
            o.on_group = on_group;
            const at::Tensor& blocks = calibration_blocks(cfg, nullptr);
            rep.awq = awq_auto(*model_, blocks, o, progress.sub(0.4, 0.9));
            rep.steps.push_back("AWQ auto-scale over " + std::to_string(rep.awq->groups.size()) + " groups" +
                                (cfg.awq_clip ? " + auto-clip of " + std::to_string(rep.awq->clips.size()) + " linears"
                                              : std::string()));
            state += "|awq";
        }
        progress.check();
        if (keep_prequant_) prequant_ = model_->save_state();
        if (cfg.has("awq-keep") || cfg.has("awq-scale")) {
            const CalibStats& st = stats_for_key(state, cfg, progress.sub(0.4, 0.9));
            if (cfg.has("awq-keep")) {
                awq_keep_salient(*model_, st, cfg.weight, cfg.awq_salient, cfg.include_lm_head);
                rep.steps.push_back("RTN " + cfg.weight.describe() + ", salient channels kept in full precision");
            } else {
                awq_scale_salient(*model_, st, cfg.weight, cfg.awq_salient, cfg.awq_factor, cfg.include_lm_head);
                rep.steps.push_back("RTN " + cfg.weight.describe() + " with salient channels scaled by " +
                                    std::to_string(cfg.awq_factor));
            }
        } else if (cfg.quantizes_weights()) {
            for (Linear* l : model_->decoder_linears()) {
                l->weight = pseudo_quantize(l->weight, cfg.weight);
                rtn_linears_.push_back(l->name);
            }
            if (cfg.include_lm_head) {
                model_->untie();
                model_->lm_head.weight = pseudo_quantize(model_->lm_head.weight, cfg.weight);
                rtn_linears_.push_back(model_->lm_head.name);
            }
            rep.steps.push_back("RTN " + cfg.weight.describe() + " on every decoder Linear" +
                                (cfg.include_lm_head ? " and lm_head" : ""));
        }
        if (cfg.act.bits > 0) {
            install_activation_quant(*model_, cfg.act);
            rep.steps.push_back("activations fake-quantized to " + std::to_string(cfg.act.bits) + " bits " +
                                (cfg.act.per_token ? "per token" : "per tensor") +
                                (cfg.act.quantize_bmm ? ", q/k/v outputs too" : ""));
        }
    } catch (...) {
        reset();
        throw;
    }
    key_ = cfg.to_json().dump();
    applied_ = cfg;
    // Sizes: quantized Linears at their bit width, everything else at 16 bits.
    int64_t total = model_->parameter_count(), qw = 0, packed = 0;
    if (cfg.quantizes_weights()) {
        std::vector<Linear*> ls = model_->decoder_linears();
        if (cfg.include_lm_head) ls.push_back(&model_->lm_head);
        for (Linear* l : ls) {
            qw += l->in_features * l->out_features;
            packed += packed_size_bytes(l->out_features, l->in_features, cfg.weight);
        }
    }
    const int64_t gs = cfg.weight.granularity == Granularity::PerGroup ? cfg.weight.group_size : -1;
    rep.quantized_weights = qw;
    rep.seed_size_mib = (cfg.quantizes_weights() ? seed_size_bits(total, cfg.weight.bits, gs) : total * 16.0) / 8 /
                        (1024.0 * 1024.0);
    rep.packed_size_mib = (packed + (total - qw) * 2) / (1024.0 * 1024.0);
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return rep;
}

}  // namespace qs
