#include "quant/llmc_recipe.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "core/error.h"
#include "models/causal_lm.h"

namespace qs {

namespace {

// Shortest text that reads back as the same double, always with a '.' or exponent so that YAML
// reads a float (0.5, 1.0, 1e-05).
std::string float_text(double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    std::string s(buf, r.ptr);
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
}

bool is_power_of_two(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

// One norm -> the Linears it feeds, and Linear -> Linear (AWQ's v->o and up->down).
struct Mapping {
    std::string smooth;
    std::vector<std::string> balance;
};

// llm-compressor's own defaults for the LLaMA family (SmoothQuant's DEFAULT_SMOOTHQUANT_MAPPINGS
// and AWQ's default_mappings); the same groups under OPT's module names (a per-layer
// final_layer_norm: OPT's decoder has a model-level one too).
std::vector<Mapping> smooth_mappings(Arch arch) {
    if (arch == Arch::OPT)
        return {{"re:.*self_attn_layer_norm$", {"re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$"}},
                {"re:.*layers\\.\\d+\\.final_layer_norm$", {"re:.*fc1$"}}};
    return {{"re:.*input_layernorm", {"re:.*q_proj", "re:.*k_proj", "re:.*v_proj"}},
            {"re:.*post_attention_layernorm", {"re:.*gate_proj", "re:.*up_proj"}}};
}

std::vector<Mapping> awq_mappings(Arch arch) {
    if (arch == Arch::OPT)
        return {{"re:.*self_attn_layer_norm$", {"re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$"}},
                {"re:.*v_proj$", {"re:.*out_proj$"}},
                {"re:.*layers\\.\\d+\\.final_layer_norm$", {"re:.*fc1$"}},
                {"re:.*fc1$", {"re:.*fc2$"}}};
    return {{"re:.*input_layernorm$", {"re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$"}},
            {"re:.*v_proj$", {"re:.*o_proj$"}},
            {"re:.*post_attention_layernorm$", {"re:.*gate_proj$", "re:.*up_proj$"}},
            {"re:.*up_proj$", {"re:.*down_proj$"}}};
}

void flow_list(YAML::Emitter& e, const std::vector<std::string>& items) {
    e << YAML::Flow << YAML::BeginSeq;
    for (const auto& s : items) e << s;
    e << YAML::EndSeq;
}

// "# " lines of at most 100 columns; continuation lines indented by `indent` spaces.
void comment(std::string& out, const std::string& text, const std::string& first = "", size_t indent = 0) {
    std::istringstream words(text);
    std::string word, line = "# " + first;
    const std::string cont = "# " + std::string(first.size() + indent, ' ');
    bool empty = true;
    while (words >> word) {
        if (!empty && line.size() + 1 + word.size() > 100) {
            out += line + "\n";
            line = cont;
            empty = true;
        }
        line += (empty ? "" : " ") + word;
        empty = false;
    }
    out += line + "\n";
}

std::string percent(double fraction) {
    std::ostringstream s;
    s << fraction * 100 << " %";
    return s.str();
}

}  // namespace

nlohmann::json LlmcRecipe::to_json() const { return {{"recipe", yaml}, {"not_carried_over", not_carried_over}}; }

std::vector<std::string> llmc_linear_names(const ModelConfig& config) {
    std::vector<std::string> out;
    for (const auto& [name, shape] : expected_tensors(config, "model.")) {
        if (name.find(".layers.") == std::string::npos || shape.size() != 2) continue;
        const std::string suffix = ".weight";
        if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
            continue;
        out.push_back(name.substr(0, name.size() - suffix.size()));
    }
    return out;
}

LlmcRecipe make_llmc_recipe(const MethodConfig& cfg, const LlmcModel& model) {
    cfg.validate();
    if (!model.linears.empty()) {
        std::vector<std::string> targeted = model.linears;
        if (cfg.include_lm_head) targeted.push_back("lm_head");
        cfg.validate_overrides(targeted);
    }
    if (cfg.methods.empty())
        throw Error(
            "the configuration has no method (original weights): an llm-compressor recipe needs at least one of "
            "rtn, gptq, awq, awq-keep, awq-scale, smoothquant, rotate");
    LlmcRecipe r;
    auto drop = [&r](const std::string& s) { r.not_carried_over.push_back(s); };
    const bool opt = model.arch == Arch::OPT;
    const QuantSpec& w = cfg.weight;
    const bool gptq = cfg.has("gptq");

    // --- rotation -> SpinQuantModifier (R1: the residual stream, as QuaRot's rotation) ---
    std::string transform_type;
    if (cfg.has("rotate")) {
        if (opt) {
            drop(
                "rotate: llm-compressor's SpinQuantModifier fuses RMSNorm scales (LLaMA family) only; the rotation "
                "of an OPT model (LayerNorm, mean-centred embeddings, as QuaRot) has no counterpart, so it is left "
                "out");
        } else if (cfg.rotation == RotationKind::Random) {
            drop(
                "rotate --rotation random: llm-compressor rotates with Hadamard matrices or a random invertible "
                "(not orthogonal) matrix; QuantScope's random orthogonal rotation has no counterpart, so it is "
                "left out (--rotation hadamard maps to SpinQuantModifier random-hadamard)");
        } else if (cfg.rotation == RotationKind::Hadamard) {
            transform_type = "random-hadamard";
            drop("rotate --seed " + std::to_string(cfg.seed) +
                 ": SpinQuantModifier takes no seed; its random-hadamard signs come from its own generator, so "
                 "they differ from QuantScope's");
        } else if (model.hidden_size > 0 && !is_power_of_two(model.hidden_size)) {
            transform_type = "random-hadamard";
            drop(
                "rotate --rotation hadamard-plain: llm-compressor's deterministic Hadamard needs a power-of-two "
                "size and hidden_size is " +
                std::to_string(model.hidden_size) +
                "; the recipe uses random-hadamard (diag(s) H, which has matrices for these sizes) instead");
        } else {
            transform_type = "hadamard";
        }
    }

    // --- AWQ variants ---
    if (cfg.has("awq") && cfg.awq_clip)
        drop(
            "awq --awq-clip: AWQModifier searches the scales only; llm-compressor has no clipping-range search "
            "(llm-awq auto_clip), so the weights keep their full range");
    if (cfg.has("awq-keep"))
        drop("awq-keep (the " + percent(cfg.awq_salient) +
             " most salient input channels kept in full precision, seed notebook): no counterpart; only the RTN "
             "quantization of the weights is carried over");
    if (cfg.has("awq-scale")) {
        std::ostringstream s;
        s << "awq-scale (the " << percent(cfg.awq_salient) << " most salient input channels scaled by "
          << cfg.awq_factor
          << " before quantizing, seed notebook): no counterpart; only the RTN quantization of the weights is "
             "carried over";
        drop(s.str());
    }

    // --- GPTQ options ---
    if (gptq && w.granularity == Granularity::PerGroup && !cfg.gptq_static_groups)
        drop(cfg.gptq_act_order
                 ? "gptq --act-order without --static-groups (the reference's groups in act-order, g_idx; "
                   "compressed-tensors removed actorder 'group'): the recipe uses actorder: weight, whose groups "
                   "and grids come from the original weights in column order (as --act-order --static-groups)"
                 : "gptq without --static-groups: QuantScope computes each group's grid when GPTQ reaches the "
                   "group (from the updated weights, as the reference); llm-compressor takes every grid from the "
                   "original weights (as --static-groups)");
    if (gptq && cfg.gptq_true_sequential)
        drop(
            "gptq --true-sequential 1 (k,v,q -> o -> up,gate -> down, each from inputs with the earlier ones "
            "quantized): llm-compressor's sequential pipeline calibrates all Linears of a decoder layer from one "
            "pass (as --true-sequential 0)");

    // --- grids: what compressed-tensors computes differently ---
    const bool quantizes = cfg.quantizes_weights();
    if (quantizes && !gptq) {  // QuantScope's GPTQ grid is the reference's, which is compressed-tensors'
        if (w.symmetric)
            drop(
                "symmetric weight grid: QuantScope's scale is absmax / (2^(b-1)-1) (codes -2^(b-1) .. "
                "2^(b-1)-1, as the seed notebooks); compressed-tensors' is absmax / ((2^b-1)/2), so scales "
                "and codes differ slightly");
        else
            drop(
                "asymmetric weight grid: QuantScope's range is each group's min .. max (seed notebooks, llm-awq); "
                "compressed-tensors' min-max observer widens it to include 0");
    }
    if (cfg.act.bits > 0)
        drop(
            "activation grid: QuantScope's scale is absmax / (2^(b-1)-1); compressed-tensors' is absmax / "
            "((2^b-1)/2)");
    if (cfg.act.bits > 0 && cfg.act.quantize_bmm)
        drop(
            "--quantize-bmm (q/k/v outputs, the attention matmul inputs): llm-compressor's kv_cache_scheme "
            "quantizes k and v with static scales and q not at all; left out");

    // --- the YAML ---
    YAML::Emitter e;
    e.SetIndent(2);
    e << YAML::BeginMap << YAML::Key << "quant_stage" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "quant_modifiers" << YAML::Value << YAML::BeginMap;
    int modifiers = 0;
    if (!transform_type.empty()) {
        e << YAML::Key << "SpinQuantModifier" << YAML::Value << YAML::BeginMap;
        e << YAML::Key << "rotations" << YAML::Value;
        flow_list(e, {"R1"});
        e << YAML::Key << "transform_type" << YAML::Value << transform_type;
        e << YAML::EndMap;
        ++modifiers;
    }
    if (cfg.has("smoothquant")) {
        e << YAML::Key << "SmoothQuantModifier" << YAML::Value << YAML::BeginMap;
        e << YAML::Key << "smoothing_strength" << YAML::Value << float_text(cfg.sq_alpha);
        e << YAML::Key << "mappings" << YAML::Value << YAML::BeginSeq;
        for (const auto& m : smooth_mappings(model.arch)) {  // [[balance layers], smooth layer]
            e << YAML::Flow << YAML::BeginSeq;
            flow_list(e, m.balance);
            e << m.smooth << YAML::EndSeq;
        }
        e << YAML::EndSeq << YAML::EndMap;
        ++modifiers;
    }
    if (cfg.has("awq")) {
        e << YAML::Key << "AWQModifier" << YAML::Value << YAML::BeginMap;
        e << YAML::Key << "mappings" << YAML::Value << YAML::BeginSeq;
        for (const auto& m : awq_mappings(model.arch)) {
            e << YAML::BeginMap << YAML::Key << "smooth_layer" << YAML::Value << m.smooth;
            e << YAML::Key << "balance_layers" << YAML::Value;
            flow_list(e, m.balance);
            e << YAML::EndMap;
        }
        e << YAML::EndSeq;
        e << YAML::Key << "duo_scaling" << YAML::Value << cfg.duo_scaling;
        e << YAML::Key << "n_grid" << YAML::Value << 20;  // ratios 0, 1/20, ..., 19/20 (llm-awq)
        e << YAML::EndMap;
        ++modifiers;
    }
    if (quantizes || cfg.act.bits > 0) {
        e << YAML::Key << (gptq ? "GPTQModifier" : "QuantizationModifier") << YAML::Value << YAML::BeginMap;
        e << YAML::Key << "ignore" << YAML::Value;
        std::vector<std::string> ignore;
        const bool mixed = quantizes && !cfg.overrides.empty();
        if (mixed)  // skipped Linears: not quantized at all
            for (const auto& [name, o] : cfg.overrides)
                if (o.skip && name != "lm_head") ignore.push_back(name);
        if (!cfg.include_lm_head || cfg.skips("lm_head")) ignore.push_back("lm_head");
        flow_list(e, ignore);
        // Mixed precision: one group per distinct override spec, on the exact Linear names.
        std::vector<std::pair<QuantSpec, std::vector<std::string>>> groups = {{w, {"Linear"}}};
        if (mixed)
            for (const auto& [name, o] : cfg.overrides) {
                if (o.skip) continue;
                const QuantSpec sp = cfg.spec_for(name);
                if (sp.describe() == w.describe()) continue;
                auto it = std::find_if(groups.begin() + 1, groups.end(),
                                       [&](const auto& g) { return g.first.describe() == sp.describe(); });
                if (it == groups.end()) {
                    groups.push_back({sp, {}});
                    it = groups.end() - 1;
                }
                it->second.push_back(name);
            }
        e << YAML::Key << "config_groups" << YAML::Value << YAML::BeginMap;
        for (size_t gi = 0; gi < groups.size(); ++gi) {
            const QuantSpec& gs = groups[gi].first;
            e << YAML::Key << "group_" + std::to_string(gi) << YAML::Value << YAML::BeginMap;
            e << YAML::Key << "targets" << YAML::Value;
            flow_list(e, groups[gi].second);
            if (quantizes) {
                e << YAML::Key << "weights" << YAML::Value << YAML::BeginMap;
                e << YAML::Key << "num_bits" << YAML::Value << gs.bits;
                e << YAML::Key << "type" << YAML::Value << "int";
                e << YAML::Key << "symmetric" << YAML::Value << gs.symmetric;
                e << YAML::Key << "strategy" << YAML::Value
                  << (gs.granularity == Granularity::PerGroup     ? "group"
                      : gs.granularity == Granularity::PerChannel ? "channel"
                                                                  : "tensor");
                if (gs.granularity == Granularity::PerGroup)
                    e << YAML::Key << "group_size" << YAML::Value << gs.group_size;
                if (gs.fp16_scales) e << YAML::Key << "scale_dtype" << YAML::Value << "float16";
                e << YAML::EndMap;
            }
            if (cfg.act.bits > 0) {
                e << YAML::Key << "input_activations" << YAML::Value << YAML::BeginMap;
                e << YAML::Key << "num_bits" << YAML::Value << cfg.act.bits;
                e << YAML::Key << "type" << YAML::Value << "int";
                e << YAML::Key << "symmetric" << YAML::Value << true;
                e << YAML::Key << "strategy" << YAML::Value << (cfg.act.per_token ? "token" : "tensor");
                e << YAML::Key << "dynamic" << YAML::Value << true;
                e << YAML::EndMap;
            }
            e << YAML::EndMap;  // group_i
        }
        e << YAML::EndMap;  // config_groups
        if (gptq) {
            e << YAML::Key << "block_size" << YAML::Value << cfg.gptq_block_size;
            e << YAML::Key << "dampening_frac" << YAML::Value << float_text(cfg.gptq_damp);
            // null, not absent: GPTQModifier's default is "static" act-order.
            e << YAML::Key << "actorder" << YAML::Value;
            if (cfg.gptq_act_order)
                e << "weight";
            else
                e << YAML::Null;
        }
        e << YAML::EndMap;
        ++modifiers;
    }
    e << YAML::EndMap << YAML::EndMap << YAML::EndMap;
    if (!e.good()) throw Error(std::string("internal error writing the llm-compressor recipe: ") + e.GetLastError());
    if (modifiers == 0)
        throw Error("nothing in '" + cfg.describe() +
                    "' has an llm-compressor counterpart: " + r.not_carried_over.front());

    // --- the header ---
    std::string head;
    comment(head, std::string("llm-compressor recipe written by QuantScope (for ") + kLlmcVersion + ")");
    comment(head, cfg.describe(), "QuantScope configuration: ", 2);
    if (!model.name.empty()) comment(head, model.name + " (" + (opt ? "OPT" : "LLaMA family") + ")", "model: ", 2);
    if (cfg.needs_calibration()) {
        std::ostringstream s;
        s << "oneshot(model=..., recipe=\"recipe.yaml\", dataset=..., num_calibration_samples=" << cfg.calib_samples
          << ", max_seq_length=" << cfg.calib_seqlen << ")";
        comment(head, s.str(), "run: ", 0);
        comment(
            head,
            "QuantScope calibrated on " +
                (cfg.calib_path.empty() ? std::string("its bundled tinyshakespeare text")
                                        : cfg.calib_path + " (shuffle seed " + std::to_string(cfg.calib_seed) + ")") +
                "; the dataset is oneshot's argument",
            "", 5);
    } else {
        comment(head, "oneshot(model=..., recipe=\"recipe.yaml\") (no calibration data needed)", "run: ", 0);
    }
    if (r.not_carried_over.empty()) {
        comment(head, "Everything in the configuration is carried over.");
    } else {
        comment(head, "Not carried over (no llm-compressor counterpart, or computed differently there):");
        for (const auto& n : r.not_carried_over) comment(head, n, "- ", 0);
    }
    r.yaml = head + e.c_str() + "\n";
    return r;
}

}  // namespace qs
