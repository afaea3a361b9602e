// Architecture hyper-parameters parsed from a Hugging Face config.json.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace qs {

enum class Arch { OPT, Llama };

struct RopeScaling {
    std::string type;  // "" (none), "linear", "llama3"
    double factor = 1.0;
    double low_freq_factor = 1.0, high_freq_factor = 4.0;
    int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
    Arch arch = Arch::Llama;
    std::string model_type;    // "opt", "llama", "mistral", "qwen2"
    std::string architecture;  // "OPTForCausalLM", ...
    int64_t vocab_size = 0, hidden_size = 0, num_layers = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0;
    int64_t intermediate_size = 0, max_position_embeddings = 2048;
    bool tie_word_embeddings = true;
    int64_t bos_token_id = -1, eos_token_id = -1, pad_token_id = -1;
    std::string torch_dtype;  // as written in config.json ("float32", "float16", "bfloat16", "")

    // OPT
    int64_t word_embed_proj_dim = 0;
    bool do_layer_norm_before = true, has_final_layer_norm = true, enable_bias = true, ln_affine = true;
    double layer_norm_eps = 1e-5;
    std::string activation = "relu";

    // LLaMA family
    double rms_norm_eps = 1e-6, rope_theta = 10000.0;
    RopeScaling rope;
    bool qkv_bias = false, o_bias = false, mlp_bias = false;
    int64_t sliding_window = 0;  // 0 = none

    int64_t default_seqlen() const { return max_position_embeddings < 2048 ? max_position_embeddings : 2048; }
};

// Throws qs::Error naming `path` and the missing/invalid key or the unknown model_type, and
// for values a model cannot run with: an odd head_dim (rotary embeddings), rms_norm_eps or
// rope_theta <= 0, a rope factor <= 0, a negative sliding window, implausibly large sizes.
ModelConfig parse_model_config(const nlohmann::json& j, const std::string& path);

// Before anything is allocated for the layers: throws qs::Error naming `config_path` when the
// config asks for more decoder layers than the weights hold ("num_hidden_layers is
// 1000000000, but the checkpoint's tensors cover 2 layers"). `names`: every stored tensor name.
void check_layers_present(const ModelConfig& c, const std::string& config_path, const std::vector<std::string>& names);

}  // namespace qs
