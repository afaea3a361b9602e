#include "io/gguf_model.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <regex>

#include "core/error.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace qs {

namespace {

// llama.cpp tensor name (within a block) -> Hugging Face name (within a layer).
const std::map<std::string, std::string>& block_names() {
    static const std::map<std::string, std::string> m = {
        {"attn_norm.weight", "input_layernorm.weight"}, {"attn_q.weight", "self_attn.q_proj.weight"},
        {"attn_q.bias", "self_attn.q_proj.bias"},       {"attn_k.weight", "self_attn.k_proj.weight"},
        {"attn_k.bias", "self_attn.k_proj.bias"},       {"attn_v.weight", "self_attn.v_proj.weight"},
        {"attn_v.bias", "self_attn.v_proj.bias"},       {"attn_output.weight", "self_attn.o_proj.weight"},
        {"attn_output.bias", "self_attn.o_proj.bias"},  {"ffn_norm.weight", "post_attention_layernorm.weight"},
        {"ffn_gate.weight", "mlp.gate_proj.weight"},    {"ffn_gate.bias", "mlp.gate_proj.bias"},
        {"ffn_up.weight", "mlp.up_proj.weight"},        {"ffn_up.bias", "mlp.up_proj.bias"},
        {"ffn_down.weight", "mlp.down_proj.weight"},    {"ffn_down.bias", "mlp.down_proj.bias"},
    };
    return m;
}

// Llama 3.x GGUFs carry llama3 rope scaling as a rope_freqs tensor (one divisor per frequency)
// instead of metadata. Recover the Hugging Face rope_scaling whose divisors these are
// (transformers' _compute_llama3_parameters), trying the parameters Meta released.
json llama3_rope_from_factors(const at::Tensor& factors, double theta, int64_t head_dim, const std::string& where) {
    const at::Tensor f = factors.to(at::kDouble).contiguous();
    const int64_t n = f.numel();
    if (n != head_dim / 2)
        throw Error(where + ": rope_freqs.weight has " + std::to_string(n) +
                    " values, expected head_dim/2 = " + std::to_string(head_dim / 2));
    const double* fp = f.data_ptr<double>();
    const double factor = *std::max_element(fp, fp + n);
    for (double low : {1.0}) {
        for (double high : {4.0}) {
            for (int64_t orig : {8192, 4096, 2048, 16384, 32768, 131072}) {
                const double low_wl = orig / low, high_wl = orig / high;
                bool ok = true;
                for (int64_t i = 0; i < n && ok; ++i) {
                    const double freq = 1.0 / std::pow(theta, double(2 * i) / double(head_dim));
                    const double wl = 2 * 3.14159265358979323846 / freq;
                    double want;
                    if (wl < high_wl)
                        want = 1.0;
                    else if (wl > low_wl)
                        want = factor;
                    else {
                        const double smooth = (orig / wl - low) / (high - low);
                        want = 1.0 / ((1 - smooth) / factor + smooth);
                    }
                    ok = std::abs(want - fp[i]) <= 1e-5 * std::max(1.0, want);
                }
                if (ok)
                    return {{"rope_type", "llama3"},
                            {"factor", factor},
                            {"low_freq_factor", low},
                            {"high_freq_factor", high},
                            {"original_max_position_embeddings", orig}};
            }
        }
    }
    throw Error(where +
                ": rope_freqs.weight holds RoPE frequency divisors that match no llama3 rope scaling "
                "QuantScope knows (factor " +
                std::to_string(factor) + ")");
}

// Metadata numbers that would make the model compute NaN or divide by zero, named by their
// GGUF key (parse_model_config would name the config.json key they become).
void check_positive(const GgufFile& f, const std::string& key) {
    const std::optional<double> v = f.get_float(key);
    if (v && (!(*v > 0) || !std::isfinite(*v))) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%g", *v);
        throw Error(f.path() + ": metadata '" + key + "' must be a positive number, found " + buf +
                    " (the model would compute NaN or divide by zero)");
    }
}

bool is_integer_type(uint32_t t) {
    return t == uint32_t(GgmlType::I8) || t == uint32_t(GgmlType::I16) || t == uint32_t(GgmlType::I32) ||
           t == uint32_t(GgmlType::I64);
}

}  // namespace

GgufModel::GgufModel(const std::string& path) : file_(std::make_shared<GgufFile>(path)) {
    const GgufFile& f = *file_;
    if (auto n = f.get_int("split.count"); n && *n > 1)
        throw Error(path + ": is one part of a split GGUF (" + std::to_string(*n) +
                    " files); merge them first with llama-gguf-split --merge");
    const std::string arch = f.require_string("general.architecture");
    if (arch != "llama" && arch != "qwen2")
        throw Error(path + ": general.architecture is '" + arch +
                    "'; QuantScope opens GGUF models of architecture llama (LLaMA, SmolLM, Mistral) and qwen2");
    auto key = [&](const std::string& k) { return arch + "." + k; };
    auto req = [&](const std::string& k) {
        const int64_t v = f.require_int(key(k));
        if (v <= 0) throw Error(path + ": metadata '" + key(k) + "' is " + std::to_string(v) + ", expected > 0");
        return v;
    };
    check_positive(f, key("attention.layer_norm_rms_epsilon"));
    check_positive(f, key("rope.freq_base"));
    if (auto e = f.get_int(key("expert_count")); e && *e > 0)
        throw Error(path + ": is a mixture-of-experts model (" + key("expert_count") + " = " + std::to_string(*e) +
                    "), which QuantScope does not support");

    const int64_t hidden = req("embedding_length"), layers = req("block_count"), heads = req("attention.head_count");
    const int64_t kv_heads = f.get_int(key("attention.head_count_kv")).value_or(heads);
    const int64_t head_dim = f.get_int(key("attention.key_length")).value_or(hidden / heads);
    if (auto vl = f.get_int(key("attention.value_length")); vl && *vl != head_dim)
        throw Error(path + ": " + key("attention.value_length") + " " + std::to_string(*vl) +
                    " differs from key_length " + std::to_string(head_dim) + " (not supported)");
    if (auto rd = f.get_int(key("rope.dimension_count")); rd && *rd != head_dim)
        throw Error(path + ": " + key("rope.dimension_count") + " is " + std::to_string(*rd) +
                    " but the head dimension is " + std::to_string(head_dim) +
                    " (partial rotary embeddings are not supported)");
    if (kv_heads <= 0 || heads % kv_heads != 0)
        throw Error(path + ": attention.head_count " + std::to_string(heads) + " is not a multiple of head_count_kv " +
                    std::to_string(kv_heads));
    const GgufTensorInfo* embd = f.tensor("token_embd.weight");
    if (!embd) throw Error(path + ": tensor 'token_embd.weight' is missing");
    if (embd->ne.size() != 2) throw Error(path + ": tensor 'token_embd.weight' is not a matrix");
    const int64_t vocab = embd->ne[1];
    const bool tied = f.tensor("output.weight") == nullptr;

    // Tensor names: llama.cpp -> Hugging Face, with HF shapes.
    const std::regex blk(R"(blk\.(\d+)\.(.+))");
    int64_t blocks_present = 0;  // 1 + the highest block index of a tensor QuantScope uses
    for (const GgufTensorInfo& t : f.header().tensors) {
        GgufModelTensor m;
        m.gguf_name = t.name;
        m.ggml_type = t.type;
        m.shape = t.shape();
        std::smatch mt;
        if (t.name == "token_embd.weight")
            m.hf_name = "model.embed_tokens.weight";
        else if (t.name == "output_norm.weight")
            m.hf_name = "model.norm.weight";
        else if (t.name == "output.weight")
            m.hf_name = "lm_head.weight";
        else if (t.name == "rope_freqs.weight")
            continue;  // read into rope_scaling below
        else if (std::regex_match(t.name, mt, blk) && block_names().count(mt[2].str())) {
            // (digits beyond int64 were std::out_of_range from std::stoll)
            const std::string digits = mt[1].str();
            const int64_t layer = digits.size() <= 9 ? std::stoll(digits) : std::numeric_limits<int64_t>::max();
            if (layer >= layers)
                throw Error(path + ": tensor '" + t.name + "' belongs to block " + digits + ", but " +
                            key("block_count") + " is " + std::to_string(layers));
            blocks_present = std::max(blocks_present, layer + 1);
            const std::string local = mt[2].str();
            m.hf_name = "model.layers." + mt[1].str() + "." + block_names().at(local);
            // convert_hf_to_gguf.py permutes q/k rows for llama (rotary pairs interleaved); qwen2
            // keeps Hugging Face's rotate-half order.
            if (arch == "llama" && local.rfind("attn_q.", 0) == 0) m.unpermute_heads = heads;
            if (arch == "llama" && local.rfind("attn_k.", 0) == 0) m.unpermute_heads = kv_heads;
        } else {
            warnings.push_back(path + ": tensor '" + t.name + "' (" + t.type_name() + ", " + shape_str(t.shape()) +
                               ") is not used by QuantScope's " + arch + " model and is ignored");
            continue;
        }
        if (is_integer_type(m.ggml_type))
            throw Error(path + ": tensor '" + t.name + "' has ggml type " + t.type_name() +
                        ", expected a float or quantized type (F32, F16, BF16, Q4_0, Q8_0, Q4_K, ...)");
        if (m.unpermute_heads && (m.shape[0] % (2 * m.unpermute_heads) != 0))
            throw Error(path + ": tensor '" + t.name + "' has " + std::to_string(m.shape[0]) +
                        " rows, not a multiple of 2 x " + std::to_string(m.unpermute_heads) + " heads");
        index_[m.hf_name] = tensors_.size();
        tensors_.push_back(std::move(m));
    }

    // Sizes against the tensors present, before anything is allocated for them (a block_count of
    // 1e9 with one block stored was std::bad_alloc after GBs).
    // (A file without any block tensor is reported by the loader as the first missing tensor.)
    if (blocks_present > 0 && layers > blocks_present)
        throw Error(path + ": " + key("block_count") + " is " + std::to_string(layers) +
                    ", but the file holds tensors for " + std::to_string(blocks_present) +
                    (blocks_present == 1 ? " block" : " blocks"));

    json c = {{"architectures", json::array({arch == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"})},
              {"model_type", arch},
              {"vocab_size", vocab},
              {"hidden_size", hidden},
              {"intermediate_size", req("feed_forward_length")},
              {"num_hidden_layers", layers},
              {"num_attention_heads", heads},
              {"num_key_value_heads", kv_heads},
              {"head_dim", head_dim},
              {"max_position_embeddings", f.get_int(key("context_length")).value_or(2048)},
              {"rms_norm_eps", f.get_float(key("attention.layer_norm_rms_epsilon")).value_or(1e-5)},
              {"rope_theta", f.get_float(key("rope.freq_base")).value_or(10000.0)},
              {"rope_scaling", nullptr},
              {"tie_word_embeddings", tied},
              {"hidden_act", "silu"}};
    if (arch == "llama") {
        c["attention_bias"] = has("model.layers.0.self_attn.q_proj.bias");
        c["mlp_bias"] = has("model.layers.0.mlp.up_proj.bias");
    } else {
        c["use_sliding_window"] = false;
    }
    for (const char* k : {"bos", "eos", "padding"}) {
        const std::string id_key = std::string("tokenizer.ggml.") + k + "_token_id";
        if (auto id = f.get_int(id_key)) {
            if (*id < 0 || *id >= vocab)
                throw Error(path + ": metadata '" + id_key + "' is " + std::to_string(*id) +
                            ", outside the vocabulary of " + std::to_string(vocab) + " tokens (token_embd.weight)");
            c[std::string(k == std::string("padding") ? "pad" : k) + "_token_id"] = *id;
        }
    }
    const std::string scaling = f.get_string(key("rope.scaling.type")).value_or("none");
    if (scaling == "linear") {
        check_positive(f, key("rope.scaling.factor"));
        c["rope_scaling"] = {{"rope_type", "linear"},
                             {"factor", f.get_float(key("rope.scaling.factor")).value_or(1.0)}};
    } else if (scaling != "none") {
        throw Error(path + ": " + key("rope.scaling.type") + " '" + scaling + "' is not supported (linear)");
    }
    if (const GgufTensorInfo* rf = f.tensor("rope_freqs.weight")) {
        // checked before it is loaded (a huge rope_freqs tensor would be dequantized first)
        if (rf->numel() != head_dim / 2)
            throw Error(path + ": rope_freqs.weight has " + std::to_string(rf->numel()) +
                        " values, expected head_dim/2 = " + std::to_string(head_dim / 2));
        if (is_integer_type(rf->type))
            throw Error(path + ": tensor 'rope_freqs.weight' has ggml type " + rf->type_name() +
                        ", expected a float type");
    }
    if (f.tensor("rope_freqs.weight"))
        c["rope_scaling"] =
            llama3_rope_from_factors(f.load("rope_freqs.weight"), c["rope_theta"].get<double>(), head_dim, path);
    config_ = std::move(c);
}

const GgufModelTensor& GgufModel::info(const std::string& hf_name) const {
    auto it = index_.find(hf_name);
    if (it == index_.end()) throw Error(path() + ": no tensor for '" + hf_name + "'");
    return tensors_[it->second];
}

at::Tensor GgufModel::load(const std::string& hf_name, c10::ScalarType dtype) const {
    const GgufModelTensor& m = info(hf_name);
    at::Tensor t = file_->load(m.gguf_name, dtype);
    if (m.unpermute_heads > 0) {
        // GGUF rows per head are [half, 2] pairs (llama.cpp's rotary layout); HF has [2, half].
        std::vector<int64_t> s = t.sizes().vec();
        std::vector<int64_t> split = {m.unpermute_heads, s[0] / m.unpermute_heads / 2, 2};
        split.insert(split.end(), s.begin() + 1, s.end());
        t = t.reshape(split).transpose(1, 2).reshape(s).contiguous();
    }
    return t;
}

std::string GgufModel::main_type() const {
    std::map<uint32_t, int64_t> count;
    for (const auto& m : tensors_)
        if (m.shape.size() == 2 && m.hf_name != "model.embed_tokens.weight") {
            int64_t n = 1;
            for (int64_t d : m.shape) n *= d;
            count[m.ggml_type] += n;
        }
    uint32_t best = 0;
    int64_t most = -1;
    for (const auto& [t, n] : count)
        if (n > most) most = n, best = t;
    return ggml_type_name(best);
}

}  // namespace qs
