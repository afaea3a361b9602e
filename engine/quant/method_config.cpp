#include "quant/method_config.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "core/error.h"

namespace qs {

using json = nlohmann::json;

RotationKind parse_rotation_kind(const std::string& s) {
    if (s == "random") return RotationKind::Random;
    if (s == "hadamard") return RotationKind::Hadamard;
    if (s == "hadamard-plain") return RotationKind::PlainHadamard;
    throw Error("unknown rotation '" + s + "' (random, hadamard, hadamard-plain)");
}

std::string rotation_kind_name(RotationKind k) {
    switch (k) {
        case RotationKind::Hadamard:
            return "hadamard";
        case RotationKind::PlainHadamard:
            return "hadamard-plain";
        case RotationKind::Random:
            break;
    }
    return "random";
}

static const std::vector<std::string> kOrder = {"rotate", "smoothquant", "awq", "awq-keep", "awq-scale", "gptq", "rtn"};

std::vector<std::string> parse_methods(const std::vector<std::string>& values) {
    std::set<std::string> seen;
    for (const auto& v : values) {
        std::stringstream ss(v);
        std::string m;
        while (std::getline(ss, m, ',')) {
            if (m.empty()) continue;
            if (std::find(kOrder.begin(), kOrder.end(), m) == kOrder.end())
                throw Error("unknown method '" + m + "' (rtn, gptq, awq-keep, awq-scale, awq, smoothquant, rotate)");
            seen.insert(m);
        }
    }
    int weight_methods = seen.count("awq-keep") + seen.count("awq-scale");
    if (weight_methods > 1) throw Error("awq-keep and awq-scale are alternatives; choose one");
    if (seen.count("gptq") && (seen.count("awq") || weight_methods || seen.count("rtn")))
        throw Error(
            "gptq quantizes the weights itself: it is an alternative to rtn, awq, awq-keep and awq-scale "
            "(it combines with rotate and smoothquant)");
    std::vector<std::string> out;
    for (const auto& m : kOrder)
        if (seen.count(m)) out.push_back(m);
    return out;
}

bool MethodConfig::has(const std::string& m) const {
    return std::find(methods.begin(), methods.end(), m) != methods.end();
}

bool MethodConfig::needs_calibration() const {
    return has("smoothquant") || has("awq") || has("awq-keep") || has("awq-scale") || has("gptq");
}

bool MethodConfig::quantizes_weights() const {
    return has("rtn") || has("awq") || has("awq-keep") || has("awq-scale") || has("smoothquant") || has("gptq");
}

std::string MethodConfig::describe() const {
    if (methods.empty()) return "original weights";
    std::vector<std::string> parts;
    if (has("rotate"))
        parts.push_back("rotate(" + rotation_kind_name(rotation) +
                        (rotation == RotationKind::PlainHadamard ? "" : ", seed " + std::to_string(seed)) + ")");
    if (has("smoothquant")) {
        std::ostringstream s;
        s << "smoothquant(alpha " << sq_alpha << ")";
        parts.push_back(s.str());
    }
    if (has("awq"))
        parts.push_back(std::string("awq auto-scale") + (awq_clip ? " + clip" : "") +
                        (duo_scaling ? " (duo scaling)" : ""));
    if (has("awq-keep")) {
        std::ostringstream s;
        s << "awq keep " << awq_salient * 100 << "% salient";
        parts.push_back(s.str());
    }
    if (has("awq-scale")) {
        std::ostringstream s;
        s << "awq scale " << awq_salient * 100 << "% salient x" << awq_factor;
        parts.push_back(s.str());
    }
    if (has("gptq")) {
        std::ostringstream s;
        s << "gptq";
        if (gptq_act_order) s << " act-order";
        if (gptq_static_groups) s << " static-groups";
        if (!gptq_true_sequential) s << " not true-sequential";
        if (gptq_damp != 0.01) s << " damp " << gptq_damp;
        if (gptq_block_size != 128) s << " block " << gptq_block_size;
        parts.push_back(s.str());
    }
    if (quantizes_weights()) parts.push_back(weight.describe() + (include_lm_head ? " (incl. lm_head)" : ""));
    if (act.bits > 0)
        parts.push_back("a" + std::to_string(act.bits) + (act.per_token ? " per-token" : " per-tensor") +
                        (act.quantize_bmm ? " + bmm" : ""));
    std::string s;
    for (size_t i = 0; i < parts.size(); ++i) s += (i ? " + " : "") + parts[i];
    return s;
}

json MethodConfig::to_json() const {
    return {{"methods", methods},
            {"order", "rotate -> smoothquant -> awq search -> weight quantization -> activation quantization"},
            {"w_bits", weight.bits},
            {"w_quant", granularity_name(weight.granularity)},
            {"group_size", weight.granularity == Granularity::PerGroup ? weight.group_size : -1},
            {"symmetric", weight.symmetric},
            {"fp16_scales", weight.fp16_scales},
            {"include_lm_head", include_lm_head},
            {"awq_salient", awq_salient},
            {"awq_factor", awq_factor},
            {"awq_clip", awq_clip},
            {"duo_scaling", duo_scaling},
            {"awq_direct_loss", awq_direct_loss},
            {"gptq_act_order", gptq_act_order},
            {"gptq_static_groups", gptq_static_groups},
            {"gptq_true_sequential", gptq_true_sequential},
            {"gptq_damp", gptq_damp},
            {"gptq_block_size", gptq_block_size},
            {"sq_alpha", sq_alpha},
            {"a_bits", act.bits},
            {"act_quant", act.per_token ? "per-token" : "per-tensor"},
            {"quantize_bmm", act.quantize_bmm},
            {"rotation", rotation_kind_name(rotation)},
            {"seed", seed},
            {"calib", calib_path.empty() ? "default" : calib_path},
            {"calib_samples", calib_samples},
            {"calib_seqlen", calib_seqlen},
            {"calib_seed", calib_seed},
            {"description", describe()}};
}

namespace {
std::string num(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}
[[noreturn]] void refuse(const char* key, const char* option, const std::string& rule, const std::string& found) {
    throw Error(std::string(key) + " (--" + option + ") " + rule + ", found " + found);
}
}  // namespace

void MethodConfig::validate() const {
    if (weight.bits < 2 || weight.bits > 8)
        refuse("w_bits", "w-bits", "must be an integer in 2..8", std::to_string(weight.bits));
    if (weight.granularity == Granularity::PerGroup && weight.group_size < 1)
        refuse("group_size", "group-size", "must be a positive integer (-1 = per channel)",
               std::to_string(weight.group_size));
    if (!(awq_salient >= 0 && awq_salient <= 1))
        refuse("awq_salient", "awq-salient", "must be a fraction in [0, 1]", num(awq_salient));
    if (!(awq_factor > 0) || !std::isfinite(awq_factor))
        refuse("awq_factor", "awq-factor", "must be a positive finite number", num(awq_factor));
    if (!(sq_alpha >= 0 && sq_alpha <= 1)) refuse("sq_alpha", "sq-alpha", "must be a number in [0, 1]", num(sq_alpha));
    if (!(gptq_damp > 0 && gptq_damp <= 1))
        refuse("gptq_damp", "gptq-damp", "must be a number in (0, 1]", num(gptq_damp));
    if (gptq_block_size < 1 || gptq_block_size > (int64_t(1) << 20))
        refuse("gptq_block_size", "gptq-block", "must be an integer in 1..1048576", std::to_string(gptq_block_size));
    if (act.bits != 0 && (act.bits < 2 || act.bits > 16))
        refuse("a_bits", "a-bits", "must be 0 (off) or an integer in 2..16", std::to_string(act.bits));
    if (calib_samples < 1 || calib_samples > 1000000)
        refuse("calib_samples", "calib-samples", "must be an integer in 1..1000000", std::to_string(calib_samples));
    if (calib_seqlen < 2 || calib_seqlen > (int64_t(1) << 20))
        refuse("calib_seqlen", "calib-seqlen", "must be an integer in 2..1048576", std::to_string(calib_seqlen));
}

void MethodConfig::validate_for_model(int64_t max_position_embeddings) const {
    validate();
    if (needs_calibration() && calib_seqlen > max_position_embeddings)
        throw Error("calib_seqlen (--calib-seqlen) " + std::to_string(calib_seqlen) +
                    " is longer than the model's context (max_position_embeddings " +
                    std::to_string(max_position_embeddings) + "); use at most " +
                    std::to_string(max_position_embeddings));
}

MethodConfig MethodConfig::from_json(const json& j) {
    MethodConfig c;
    try {
        c.methods = parse_methods(j.value("methods", std::vector<std::string>{}));
        c.weight.bits = j.value("w_bits", 4);
        c.weight.granularity = parse_granularity(j.value("w_quant", std::string("per-group")));
        c.weight.group_size = j.value("group_size", 128);
        c.weight.symmetric = j.value("symmetric", false);
        c.weight.fp16_scales = j.value("fp16_scales", false);
        c.include_lm_head = j.value("include_lm_head", false);
        c.awq_salient = j.value("awq_salient", 0.01);
        c.awq_factor = j.value("awq_factor", 2.0);
        c.awq_clip = j.value("awq_clip", false);
        c.duo_scaling = j.value("duo_scaling", false);
        c.awq_direct_loss = j.value("awq_direct_loss", false);
        c.gptq_act_order = j.value("gptq_act_order", false);
        c.gptq_static_groups = j.value("gptq_static_groups", false);
        c.gptq_true_sequential = j.value("gptq_true_sequential", true);
        c.gptq_damp = j.value("gptq_damp", 0.01);
        c.gptq_block_size = j.value("gptq_block_size", int64_t(128));
        c.sq_alpha = j.value("sq_alpha", 0.5);
        c.act.bits = j.value("a_bits", 0);
        c.act.per_token = j.value("act_quant", std::string("per-token")) == "per-token";
        c.act.quantize_bmm = j.value("quantize_bmm", false);
        c.rotation = parse_rotation_kind(j.value("rotation", std::string("random")));
        c.seed = j.value("seed", 0ull);
        std::string calib = j.value("calib", std::string("default"));
        c.calib_path = calib == "default" ? "" : calib;
        c.calib_samples = j.value("calib_samples", 128);
        c.calib_seqlen = j.value("calib_seqlen", 512);
        c.calib_seed = j.value("calib_seed", 42ull);
    } catch (const json::exception& e) {
        throw Error(std::string("invalid method configuration: ") + e.what());
    }
    if (c.weight.granularity == Granularity::PerGroup && c.weight.group_size == -1)  // to_json's per-channel
        c.weight.granularity = Granularity::PerChannel;
    c.validate();
    return c;
}

}  // namespace qs
