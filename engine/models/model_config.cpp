#include "models/model_config.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"

using json = nlohmann::json;

namespace qs {

static ModelConfig parse_model_config_fields(const json& j, const std::string& path);

namespace {

struct Reader {
    const json& j;
    const std::string& path;
    const std::string& arch;

    int64_t req_int(const char* key) const {
        if (!j.contains(key) || j[key].is_null())
            throw Error(path + ": missing required key '" + key + "' for " + arch);
        if (!j[key].is_number_integer() || j[key].get<int64_t>() <= 0)
            throw Error(path + ": key '" + key + "' must be a positive integer, found " + j[key].dump());
        return j[key].get<int64_t>();
    }
    // Optional, but when present it must be a positive integer (a 0 head count divides by zero).
    int64_t opt_pos_int(const char* key, int64_t def) const {
        if (!j.contains(key) || j[key].is_null()) return def;
        return req_int(key);
    }
    int64_t opt_int(const char* key, int64_t def) const {
        if (!j.contains(key) || j[key].is_null()) return def;
        if (!j[key].is_number_integer())
            throw Error(path + ": key '" + key + "' must be an integer, found " + j[key].dump());
        return j[key].get<int64_t>();
    }
    double opt_num(const char* key, double def) const {
        if (!j.contains(key) || j[key].is_null()) return def;
        if (!j[key].is_number()) throw Error(path + ": key '" + key + "' must be a number, found " + j[key].dump());
        return j[key].get<double>();
    }
    bool opt_bool(const char* key, bool def) const {
        if (!j.contains(key) || j[key].is_null()) return def;
        if (!j[key].is_boolean())
            throw Error(path + ": key '" + key + "' must be true or false, found " + j[key].dump());
        return j[key].get<bool>();
    }
    std::string opt_str(const char* key, const std::string& def) const {
        if (!j.contains(key) || j[key].is_null()) return def;
        if (!j[key].is_string()) throw Error(path + ": key '" + key + "' must be a string, found " + j[key].dump());
        return j[key].get<std::string>();
    }
    // eos_token_id may be a list (Llama 3); take the first.
    int64_t token_id(const char* key) const {
        if (!j.contains(key) || j[key].is_null()) return -1;
        if (j[key].is_array() && j[key].empty()) return -1;
        const json& v = j[key].is_array() ? j[key][0] : j[key];
        if (!v.is_number_integer())
            throw Error(path + ": key '" + key + "' must be a token id or a list of token ids, found " + j[key].dump());
        return v.get<int64_t>();
    }
};

}  // namespace

namespace {

std::string num_text(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

// Values that would make the model compute NaN, divide by zero or allocate without bound.
void validate_values(const ModelConfig& c, const json& j, const std::string& path) {
    constexpr int64_t kMaxDim = int64_t(1) << 24, kMaxLayers = 4096, kMaxVocab = int64_t(1) << 24,
                      kMaxPositions = int64_t(1) << 24;
    auto at_most = [&](const char* key, int64_t v, int64_t max) {
        if (v > max)
            throw Error(path + ": key '" + key + "' is " + std::to_string(v) + ", more than the " +
                        std::to_string(max) + " any causal LM QuantScope knows has; the config is not plausible");
    };
    at_most("hidden_size", c.hidden_size, kMaxDim);
    at_most("num_hidden_layers", c.num_layers, kMaxLayers);
    at_most("vocab_size", c.vocab_size, kMaxVocab);
    at_most("num_attention_heads", c.num_heads, kMaxDim);
    at_most(c.arch == Arch::OPT ? "ffn_dim" : "intermediate_size", c.intermediate_size, kMaxDim);
    at_most("max_position_embeddings", c.max_position_embeddings, kMaxPositions);
    at_most("head_dim", c.head_dim, kMaxDim);
    at_most("word_embed_proj_dim", c.word_embed_proj_dim, kMaxDim);
    auto positive = [&](const char* key, double v) {
        if (!(v > 0) || !std::isfinite(v))
            throw Error(path + ": key '" + key + "' must be a positive number, found " + num_text(v) +
                        " (the model would compute NaN or divide by zero)");
    };
    if (c.arch == Arch::Llama) {
        if (c.head_dim % 2 != 0)
            throw Error(path + ": head_dim " + std::to_string(c.head_dim) +
                        (j.contains("head_dim") && !j["head_dim"].is_null() ? std::string()
                                                                            : " (hidden_size / num_attention_heads)") +
                        " is odd; rotary position embeddings rotate pairs of channels and need an even head_dim");
        positive("rms_norm_eps", c.rms_norm_eps);
        positive("rope_theta", c.rope_theta);
        if (!c.rope.type.empty() && (!(c.rope.factor > 0) || !std::isfinite(c.rope.factor)))
            throw Error(path + ": rope_scaling 'factor' must be a positive number, found " + num_text(c.rope.factor));
        if (c.rope.type == "llama3") {
            if (!(c.rope.low_freq_factor > 0) || !(c.rope.high_freq_factor > c.rope.low_freq_factor) ||
                !std::isfinite(c.rope.high_freq_factor))
                throw Error(path + ": rope_scaling needs 0 < low_freq_factor < high_freq_factor, found " +
                            num_text(c.rope.low_freq_factor) + " and " + num_text(c.rope.high_freq_factor));
            if (c.rope.original_max_position_embeddings <= 0)
                throw Error(path +
                            ": rope_scaling 'original_max_position_embeddings' must be a positive integer, found " +
                            std::to_string(c.rope.original_max_position_embeddings));
        }
        if (c.sliding_window < 0)
            throw Error(path + ": key 'sliding_window' must be a positive integer or null, found " +
                        std::to_string(c.sliding_window));
    } else {
        positive("layer_norm_eps", c.layer_norm_eps);
    }
}

}  // namespace

void check_layers_present(const ModelConfig& c, const std::string& config_path, const std::vector<std::string>& names) {
    int64_t layers = 0;
    for (const auto& n : names) {
        size_t p = n.find("layers.");
        if (p == std::string::npos || (p > 0 && n[p - 1] != '.')) continue;
        p += 7;
        int64_t v = 0;
        size_t digits = 0;
        while (p < n.size() && n[p] >= '0' && n[p] <= '9' && digits < 9) v = v * 10 + (n[p++] - '0'), ++digits;
        if (digits > 0 && p < n.size() && n[p] == '.') layers = std::max(layers, v + 1);
    }
    if (c.num_layers > layers)
        throw Error(config_path + ": num_hidden_layers is " + std::to_string(c.num_layers) + ", but the checkpoint's " +
                    (layers == 0 ? std::string("tensors include no decoder layer")
                                 : "tensors cover " + std::to_string(layers) + " layer" + (layers == 1 ? "" : "s") +
                                       " (layers.0 to layers." + std::to_string(layers - 1) + ")"));
}

ModelConfig parse_model_config(const json& j, const std::string& path) {
    try {
        ModelConfig c = parse_model_config_fields(j, path);
        validate_values(c, j, path);
        return c;
    } catch (const json::exception& e) {  // a type nlohmann refused that the checks above missed
        throw Error(path + ": unexpected value (" + std::string(e.what()) + ")");
    }
}

ModelConfig parse_model_config_fields(const json& j, const std::string& path) {
    if (!j.is_object()) throw Error(path + ": expected a JSON object");
    if (!j.contains("model_type") || !j["model_type"].is_string())
        throw Error(path + ": missing required key 'model_type' (expected one of: opt, llama, mistral, qwen2)");
    ModelConfig c;
    c.model_type = j["model_type"].get<std::string>();
    if (c.model_type == "opt") {
        c.arch = Arch::OPT;
        c.architecture = "OPTForCausalLM";
    } else if (c.model_type == "llama") {
        c.architecture = "LlamaForCausalLM";
    } else if (c.model_type == "mistral") {
        c.architecture = "MistralForCausalLM";
    } else if (c.model_type == "qwen2") {
        c.architecture = "Qwen2ForCausalLM";
    } else {
        throw Error(path + ": unknown model_type '" + c.model_type +
                    "' (QuantScope supports opt, llama, mistral and qwen2 causal LMs)");
    }
    Reader r{j, path, c.architecture};
    if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
        j["architectures"][0].is_string()) {
        std::string a = j["architectures"][0].get<std::string>();
        if (a.find("ForCausalLM") == std::string::npos)
            throw Error(path + ": architecture '" + a + "' is not a causal LM (expected " + c.architecture + ")");
    }
    c.vocab_size = r.req_int("vocab_size");
    c.hidden_size = r.req_int("hidden_size");
    c.num_layers = r.req_int("num_hidden_layers");
    c.num_heads = r.req_int("num_attention_heads");
    c.torch_dtype = r.opt_str("torch_dtype", "");
    c.bos_token_id = r.token_id("bos_token_id");
    c.eos_token_id = r.token_id("eos_token_id");
    c.pad_token_id = r.token_id("pad_token_id");

    if (c.arch == Arch::OPT) {
        c.intermediate_size = r.req_int("ffn_dim");
        c.num_kv_heads = c.num_heads;
        c.head_dim = c.hidden_size / c.num_heads;
        c.max_position_embeddings = r.opt_pos_int("max_position_embeddings", 2048);
        c.word_embed_proj_dim = r.opt_pos_int("word_embed_proj_dim", c.hidden_size);
        c.do_layer_norm_before = r.opt_bool("do_layer_norm_before", true);
        c.has_final_layer_norm = c.do_layer_norm_before && !r.opt_bool("_remove_final_layer_norm", false);
        c.enable_bias = r.opt_bool("enable_bias", true);
        c.ln_affine = r.opt_bool("layer_norm_elementwise_affine", true);
        c.activation = r.opt_str("activation_function", "relu");
        c.tie_word_embeddings = r.opt_bool("tie_word_embeddings", true);
        if (c.activation != "relu" && c.activation != "gelu")
            throw Error(path + ": activation_function '" + c.activation + "' is not supported (relu, gelu)");
    } else {
        c.intermediate_size = r.req_int("intermediate_size");
        c.num_kv_heads = r.opt_pos_int("num_key_value_heads", c.num_heads);
        c.head_dim = r.opt_pos_int("head_dim", c.hidden_size / c.num_heads);
        c.max_position_embeddings = r.opt_pos_int("max_position_embeddings", 2048);
        c.rms_norm_eps = r.opt_num("rms_norm_eps", 1e-6);
        c.rope_theta = r.opt_num("rope_theta", 10000.0);
        c.tie_word_embeddings = r.opt_bool("tie_word_embeddings", false);
        std::string act = r.opt_str("hidden_act", "silu");
        if (act != "silu") throw Error(path + ": hidden_act '" + act + "' is not supported (silu)");
        if (c.model_type == "qwen2") {
            c.qkv_bias = true;
            if (r.opt_bool("use_sliding_window", false)) c.sliding_window = r.opt_int("sliding_window", 0);
        } else {
            c.qkv_bias = c.o_bias = r.opt_bool("attention_bias", false);
            c.mlp_bias = r.opt_bool("mlp_bias", false);
            if (c.model_type == "mistral") c.sliding_window = r.opt_int("sliding_window", 0);
        }
        if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
            const json& rs = j["rope_scaling"];
            if (!rs.is_object()) throw Error(path + ": rope_scaling must be an object or null");
            for (const char* k : {"rope_type", "type"})
                if (rs.contains(k) && !rs[k].is_string())
                    throw Error(path + ": rope_scaling '" + k + "' must be a string, found " + rs[k].dump());
            std::string type = rs.value("rope_type", rs.value("type", std::string()));
            if (type == "default" || type.empty()) {
                type = "";
            } else if (type != "linear" && type != "llama3") {
                throw Error(path + ": rope_scaling type '" + type + "' is not supported (linear, llama3)");
            }
            c.rope.type = type;
            if (!type.empty()) {
                if (!rs.contains("factor") || !rs["factor"].is_number())
                    throw Error(path + ": rope_scaling is missing the number 'factor'");
                c.rope.factor = rs["factor"].get<double>();
            }
            if (type == "llama3") {
                for (const char* k : {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
                    if (!rs.contains(k) || !rs[k].is_number())
                        throw Error(path + ": rope_scaling type llama3 is missing the number '" + k + "'");
                c.rope.low_freq_factor = rs["low_freq_factor"].get<double>();
                c.rope.high_freq_factor = rs["high_freq_factor"].get<double>();
                c.rope.original_max_position_embeddings = rs["original_max_position_embeddings"].get<int64_t>();
            }
        }
    }
    if (c.num_heads % c.num_kv_heads != 0)
        throw Error(path + ": num_attention_heads " + std::to_string(c.num_heads) +
                    " is not a multiple of num_key_value_heads " + std::to_string(c.num_kv_heads));
    if ((c.arch == Arch::OPT || !j.contains("head_dim") || j["head_dim"].is_null()) && c.hidden_size % c.num_heads != 0)
        throw Error(path + ": hidden_size " + std::to_string(c.hidden_size) +
                    " is not divisible by num_attention_heads " + std::to_string(c.num_heads));
    return c;
}

}  // namespace qs
