// Helpers for the export tests: fixtures, a random OPT generator, temporary folders,
// folder snapshots (to prove a source is untouched) and model comparisons.
#pragma once
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "engine/test_util.h"
#include "eval/perplexity.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/causal_lm.h"
#include "models/model_config.h"
#include "quant/quant_session.h"
#include "tokenizers/tokenizer.h"

namespace qs::test {

namespace fs = std::filesystem;

inline std::string tinystories() { return source_path("resources/models/TinyStories-656K"); }
inline std::string stories260k() { return test_data("models/stories260K"); }
inline std::string opt_preln() { return test_data("models/opt-preln-random"); }

// A fresh folder under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
    fs::path path;
    TempDir() {
        static std::atomic<int> n{0};
        path = fs::temp_directory_path() / ("qs_export_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string operator/(const std::string& rel) const { return (path / rel).string(); }
};

// Every file under dir with its bytes.
inline std::map<std::string, std::string> snapshot(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        std::ifstream in(e.path(), std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        out[fs::relative(e.path(), dir).string()] = ss.str();
    }
    return out;
}

// Names in `dir` (not recursive), sorted.
inline std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
}

inline std::shared_ptr<CausalLM> load(const std::string& dir) { return std::shared_ptr<CausalLM>(load_causal_lm(dir)); }

inline std::shared_ptr<Tokenizer> tokenizer(const std::string& dir) {
    return std::shared_ptr<Tokenizer>(load_tokenizer(dir));
}

// Writes a random pre-LN OPT model folder (seeded), with the OPT tokenizer of the
// opt-ppl-random fixture when vocab is 50272.
inline void make_random_opt(const std::string& dir, int64_t hidden, int64_t ffn, int64_t layers, int64_t heads,
                            int64_t vocab, uint64_t seed) {
    c10::InferenceMode guard;
    fs::create_directories(dir);
    nlohmann::json cfg = {{"architectures", {"OPTForCausalLM"}},
                          {"model_type", "opt"},
                          {"activation_function", "relu"},
                          {"do_layer_norm_before", true},
                          {"enable_bias", true},
                          {"layer_norm_elementwise_affine", true},
                          {"hidden_size", hidden},
                          {"ffn_dim", ffn},
                          {"num_hidden_layers", layers},
                          {"num_attention_heads", heads},
                          {"vocab_size", vocab},
                          {"max_position_embeddings", 128},
                          {"word_embed_proj_dim", hidden},
                          {"bos_token_id", 2},
                          {"eos_token_id", 2},
                          {"pad_token_id", 1},
                          {"torch_dtype", "float32"},
                          {"dropout", 0.0},
                          {"attention_dropout", 0.0},
                          {"activation_dropout", 0.0},
                          {"layerdrop", 0.0},
                          {"init_std", 0.02},
                          {"use_cache", true},
                          {"_remove_final_layer_norm", false},
                          {"transformers_version", "4.46.3"}};
    std::ofstream(fs::path(dir) / "config.json") << cfg.dump(2);
    ModelConfig mc = parse_model_config(cfg, dir + "/config.json");
    at::Generator gen = at::detail::createCPUGenerator(seed);
    NamedTensors ts;
    for (const auto& [name, shape] : expected_tensors(mc, "model.")) {
        if (name == "lm_head.weight") continue;  // tied
        at::Tensor t = at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
        const bool norm = name.find("layer_norm") != std::string::npos;
        if (norm && name.find(".weight") != std::string::npos)
            t = 1.0 + 0.1 * t;
        else if (name.find(".bias") != std::string::npos)
            t = 0.02 * t;
        else
            t = 0.08 * t;
        // a few outlier input channels, as real models have
        if (name.find("fc1.weight") != std::string::npos || name.find("q_proj.weight") != std::string::npos)
            t.narrow(1, 3, 1).mul_(8.0);
        ts.push_back({name, t});
    }
    write_safetensors((fs::path(dir) / "model.safetensors").string(), ts, {{"format", "pt"}});
    if (vocab == 50272)
        for (const char* f : {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"})
            fs::copy_file(test_data(std::string("models/opt-ppl-random/") + f), fs::path(dir) / f,
                          fs::copy_options::overwrite_existing);
}

// Token ids (1 + 37 i) mod V: 1-D for perplexity, [1, n] for forward.
inline at::Tensor ids_1d(int64_t vocab, int64_t n) {
    std::vector<int64_t> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = (1 + 37 * i) % vocab;
    return at::tensor(v, at::kLong);
}

inline at::Tensor logits(const CausalLM& m, int64_t n = 48) {
    c10::InferenceMode guard;
    n = std::min<int64_t>(n, m.config.max_position_embeddings);
    return m.forward(ids_1d(m.config.vocab_size, n).view({1, n})).to(at::kFloat);
}

// Evaluation tokens: English text through the model's tokenizer when its folder has one
// (cached per folder), else deterministic ids.
inline at::Tensor eval_ids(const CausalLM& m, int64_t n) {
    static std::map<std::string, at::Tensor> cache;
    auto it = cache.find(m.source_dir);
    if (it == cache.end()) {
        at::Tensor ids;
        try {
            auto tok = load_tokenizer(m.source_dir);
            std::ifstream in(test_data("tokenizer_texts/english.txt"));
            std::stringstream ss;
            ss << in.rdbuf();
            std::string text;
            for (int i = 0; i < 40; ++i) text += ss.str() + "\n";
            ids = at::tensor(tok->encode(text, true), at::kLong);
        } catch (const Error&) {}
        it = cache.emplace(m.source_dir, ids).first;
    }
    if (it->second.defined() && it->second.numel() >= n) return it->second.narrow(0, 0, n);
    return ids_1d(m.config.vocab_size, n);
}

inline double ppl(const CausalLM& m, int64_t seqlen = 64, int64_t windows = 3) {
    c10::InferenceMode guard;
    PplOptions o;
    o.seqlen = std::min<int64_t>(seqlen, m.config.max_position_embeddings);
    o.nsamples = windows;
    return evaluate_perplexity(m, eval_ids(m, o.seqlen * windows + 1), o).ppl;
}

// A model object over a state (handles only).
inline std::unique_ptr<CausalLM> over_state(const CausalLM& like, const CausalLM::State& s) {
    auto m = std::make_unique<CausalLM>();
    m->config = like.config;
    m->source_dir = like.source_dir;
    m->tensor_prefix = like.tensor_prefix;
    m->restore_state(s);
    return m;
}

inline double max_diff(const at::Tensor& a, const at::Tensor& b) {
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

inline MethodConfig rtn(int bits, int64_t group, bool sym = false) {
    MethodConfig c;
    c.methods = {"rtn"};
    c.weight.bits = bits;
    c.weight.symmetric = sym;
    if (group > 0) {
        c.weight.granularity = Granularity::PerGroup;
        c.weight.group_size = group;
    } else {
        c.weight.granularity = Granularity::PerChannel;
    }
    return c;
}

inline MethodConfig with_calib(MethodConfig c) {
    c.calib_samples = 4;  // of the bundled default calibration text
    c.calib_seqlen = 32;
    return c;
}

}  // namespace qs::test
