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

// ---------------------------------------------------------------- overrides

json LinearOverride::to_json() const { return {{"bits", bits}, {"group_size", group_size}, {"skip", skip}}; }

LinearOverride parse_linear_override(const std::string& text) {
    auto bad = [&text](const std::string& why) -> Error {
        return Error("override spec '" + text + "': " + why +
                     " (accepted: skip, wB, wB:gN, wB:channel, gN, channel; e.g. w8, w8:g64, w4:channel)");
    };
    LinearOverride o;
    if (text == "skip") {
        o.skip = true;
        return o;
    }
    std::stringstream ss(text);
    std::string part;
    bool any = false;
    auto integer = [&](const std::string& digits, const char* what) -> int64_t {
        if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
            throw bad(std::string(what) + " must be a positive integer, found '" + digits + "'");
        return std::stoll(digits);
    };
    while (std::getline(ss, part, ':')) {
        if (part.empty()) throw bad("empty part");
        if (part[0] == 'w' && o.bits == 0) {
            o.bits = static_cast<int>(integer(part.substr(1), "the bits after 'w'"));
        } else if (part[0] == 'g' && o.group_size == 0) {
            o.group_size = integer(part.substr(1), "the group size after 'g'");
        } else if (part == "channel" && o.group_size == 0) {
            o.group_size = -1;
        } else {
            throw bad("unexpected '" + part + "'");
        }
        any = true;
    }
    if (!any) throw bad("empty");
    return o;
}

std::string linear_override_text(const LinearOverride& o) {
    if (o.skip) return "skip";
    std::string s;
    if (o.bits) s = "w" + std::to_string(o.bits);
    if (o.group_size)
        s += (s.empty() ? "" : ":") + (o.group_size < 0 ? std::string("channel") : "g" + std::to_string(o.group_size));
    return s.empty() ? "default" : s;
}

LinearOverride linear_override_from_json(const json& j, const std::string& where) {
    if (!j.is_object())
        throw Error(where + " must be an object {\"bits\", \"group_size\", \"skip\"}, found " + j.dump());
    LinearOverride o;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        const json& v = it.value();
        if (k == "bits") {
            if (!v.is_number_integer()) throw Error(where + ".bits must be an integer, found " + v.dump());
            o.bits = v.get<int>();
        } else if (k == "group_size") {
            if (!v.is_number_integer()) throw Error(where + ".group_size must be an integer, found " + v.dump());
            o.group_size = v.get<int64_t>();
        } else if (k == "skip") {
            if (!v.is_boolean()) throw Error(where + ".skip must be true or false, found " + v.dump());
            o.skip = v.get<bool>();
        } else {
            throw Error(where + ": unknown key '" + k + "' (bits, group_size, skip)");
        }
    }
    return o;
}

std::map<std::string, LinearOverride> overrides_from_json(const json& j_in, const std::string& where) {
    const json* j = &j_in;
    std::string w = where;
    if (j->is_object() && j->contains("overrides") && (*j)["overrides"].is_object()) {
        j = &(*j)["overrides"];
        w += ": overrides";
    }
    if (!j->is_object())
        throw Error(w + " must be a JSON object {\"<Linear name>\": {\"bits\", \"group_size\", \"skip\"}}");
    std::map<std::string, LinearOverride> out;
    for (auto it = j->begin(); it != j->end(); ++it) {
        const LinearOverride o = linear_override_from_json(it.value(), w + "['" + it.key() + "']");
        if (!o.empty()) out[it.key()] = o;  // {} changes nothing: not kept
    }
    return out;
}

QuantSpec MethodConfig::spec_for(const std::string& linear) const {
    QuantSpec s = weight;
    auto it = overrides.find(linear);
    if (it == overrides.end()) return s;
    const LinearOverride& o = it->second;
    if (o.bits) s.bits = o.bits;
    if (o.group_size == -1) {
        s.granularity = Granularity::PerChannel;
    } else if (o.group_size > 0) {
        s.granularity = Granularity::PerGroup;
        s.group_size = o.group_size;
    }
    return s;
}

bool MethodConfig::skips(const std::string& linear) const {
    auto it = overrides.find(linear);
    return it != overrides.end() && it->second.skip;
}

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

}  // namespace

void MethodConfig::validate_overrides(const std::vector<std::string>& quantized) const {
    if (overrides.empty() || !quantizes_weights()) return;
    const std::set<std::string> known(quantized.begin(), quantized.end());
    for (const auto& [name, o] : overrides) {
        if (known.count(name)) continue;
        if (name == "lm_head" && !include_lm_head)
            throw Error(
                "override 'lm_head': lm_head is not quantized by the configuration (add --include-lm-head, or "
                "drop the override)");
        std::vector<std::pair<size_t, std::string>> near;
        for (const auto& k : quantized) near.push_back({edit_distance(name, k), k});
        std::sort(near.begin(), near.end());
        std::string closest;
        for (size_t i = 0; i < near.size() && i < 3; ++i) closest += (i ? ", " : "") + near[i].second;
        throw Error("override '" + name + "': the model has no quantized Linear of that name" +
                    (closest.empty() ? std::string() : "; closest: " + closest) +
                    " (names are Hugging Face module names, e.g. model.layers.0.mlp.down_proj)");
    }
}

// ---------------------------------------------------------------- configuration

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
    if (quantizes_weights() && !overrides.empty())
        parts.push_back(std::to_string(overrides.size()) + (overrides.size() == 1 ? " override" : " overrides"));
    if (act.bits > 0)
        parts.push_back("a" + std::to_string(act.bits) + (act.per_token ? " per-token" : " per-tensor") +
                        (act.quantize_bmm ? " + bmm" : ""));
    std::string s;
    for (size_t i = 0; i < parts.size(); ++i) s += (i ? " + " : "") + parts[i];
    return s;
}

json MethodConfig::to_json() const {
    json j = {{"methods", methods},
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
    if (!overrides.empty()) {
        json o = json::object();
        for (const auto& [name, v] : overrides) o[name] = v.to_json();
        j["overrides"] = o;
    }
    return j;
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
    for (const auto& [name, o] : overrides) {
        const std::string key = "overrides['" + name + "']";
        if (name.empty()) throw Error("overrides (--override) need a Linear name, found an empty one");
        if (o.bits != 0 && (o.bits < 2 || o.bits > 8))
            throw Error(key + ".bits (--override) must be 0 (the configuration's) or an integer in 2..8, found " +
                        std::to_string(o.bits));
        if (o.group_size < -1)
            throw Error(key + ".group_size (--override) must be 0 (the configuration's), -1 (per channel) or a " +
                        "positive integer, found " + std::to_string(o.group_size));
    }
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
        if (j.contains("overrides")) c.overrides = overrides_from_json(j["overrides"], "overrides");
    } catch (const json::exception& e) {
        throw Error(std::string("invalid method configuration: ") + e.what());
    }
    if (c.weight.granularity == Granularity::PerGroup && c.weight.group_size == -1)  // to_json's per-channel
        c.weight.granularity = Granularity::PerChannel;
    c.validate();
    return c;
}

}  // namespace qs
