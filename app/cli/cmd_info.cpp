// quantscope-cli info / check: what a model folder holds, without / with loading it.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <map>

#include "commands.h"
#include "core/strings.h"
#include "core/device.h"
#include "io/checkpoint.h"
#include "io/gguf_model.h"
#include "model_options.h"
#include "models/model_config.h"

namespace qs::cli {

using json = nlohmann::json;

static std::string storage_to_dtype(const std::string& st) {
    if (st == "F32") return "fp32";
    if (st == "BF16") return "bf16";
    if (st == "F16") return "fp16";
    if (st == "F64") return "fp64";
    return st;
}

static std::string with_commas(int64_t n) {
    std::string s = std::to_string(n);
    for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(i, ",");
    return s;
}

namespace {

// What `info` reports about the weight files, for a Hugging Face folder or a GGUF file.
struct WeightFiles {
    ModelConfig config;
    std::string dtype;  // "fp32", "bf16", ... or "GGUF v3, mostly Q4_1"
    uint64_t bytes = 0;
    size_t files = 0;
    std::map<std::string, int64_t> tensor_types;   // storage type -> number of tensors
    std::map<std::string, std::string> stored_as;  // HF tensor name -> storage type
};

WeightFiles describe_weights(const std::string& dir) {
    WeightFiles w;
    if (const std::string path = find_gguf(dir); !path.empty()) {
        const GgufModel g(path);
        w.config = parse_model_config(g.hf_config(), path);
        w.dtype = "GGUF v" + std::to_string(g.file().header().version) + ", mostly " + g.main_type();
        w.bytes = g.file().file_size();
        w.files = 1;
        for (const auto& t : g.tensors()) {
            ++w.tensor_types[t.type_name()];
            w.stored_as[t.hf_name] = t.type_name();
        }
        return w;
    }
    Checkpoint ck(dir);
    w.config = parse_model_config(ck.config(), ck.config_path());
    w.dtype = storage_to_dtype(ck.storage_dtype());
    w.bytes = ck.bytes_on_disk();
    w.files = ck.weight_files().size();
    for (const auto& n : ck.tensor_names()) {
        ++w.tensor_types[ck.info(n).dtype];
        w.stored_as[n] = ck.info(n).dtype;
    }
    return w;
}

}  // namespace

namespace {

struct InfoOptions {
    ModelOptions model;
    bool json = false;
};

int run_info(const InfoOptions& a) {
    const std::string dir = a.model.dir();
    const WeightFiles wf = describe_weights(dir);
    const ModelConfig& c = wf.config;
    int64_t params = 0;
    for (const auto& [name, shape] : expected_tensors(c, "model.")) {
        if (name == "lm_head.weight" && c.tie_word_embeddings) continue;
        int64_t n = 1;
        for (auto d : shape) n *= d;
        params += n;
    }
    json linears = json::array();
    for (const auto& [name, shape] : expected_tensors(c, "model.")) {
        const std::string suffix = ".weight";
        if (shape.size() == 2 && name.size() > suffix.size() && name.find("embed") == std::string::npos &&
            ends_with(name, suffix)) {
            auto st = wf.stored_as.find(name);
            if (st == wf.stored_as.end() && name == "lm_head.weight" && c.tie_word_embeddings)
                st = wf.stored_as.find(c.arch == Arch::OPT ? "model.decoder.embed_tokens.weight"
                                                           : "model.embed_tokens.weight");
            linears.push_back({{"name", name.substr(0, name.size() - suffix.size())},
                               {"in_features", shape[1]},
                               {"out_features", shape[0]},
                               {"source_type", st == wf.stored_as.end() ? "" : st->second}});
        }
    }
    json j = {{"model", dir},
              {"architecture", c.architecture},
              {"model_type", c.model_type},
              {"layers", c.num_layers},
              {"hidden_size", c.hidden_size},
              {"heads", c.num_heads},
              {"kv_heads", c.num_kv_heads},
              {"head_dim", c.head_dim},
              {"intermediate_size", c.intermediate_size},
              {"vocab_size", c.vocab_size},
              {"max_position_embeddings", c.max_position_embeddings},
              {"tie_word_embeddings", c.tie_word_embeddings},
              {"parameters", params},
              {"dtype", wf.dtype},
              {"bytes_on_disk", wf.bytes},
              {"files", wf.files},
              {"tensor_types", wf.tensor_types},
              {"linears", linears}};
    if (c.arch == Arch::OPT) {
        j["do_layer_norm_before"] = c.do_layer_norm_before;
        j["word_embed_proj_dim"] = c.word_embed_proj_dim;
    } else {
        j["rope_theta"] = c.rope_theta;
        j["rope_scaling"] = c.rope.type.empty() ? json(nullptr) : json(c.rope.type);
    }
    if (a.json) {
        std::cout << j.dump(2) << std::endl;
        return 0;
    }
    std::printf("model          %s\n", dir.c_str());
    std::printf("architecture   %s (%s)\n", c.architecture.c_str(), c.model_type.c_str());
    std::printf("layers         %lld\n", (long long)c.num_layers);
    std::printf("hidden size    %lld\n", (long long)c.hidden_size);
    std::printf("heads          %lld (KV heads %lld, head dim %lld)\n", (long long)c.num_heads,
                (long long)c.num_kv_heads, (long long)c.head_dim);
    std::printf("intermediate   %lld\n", (long long)c.intermediate_size);
    std::printf("vocabulary     %lld\n", (long long)c.vocab_size);
    std::printf("context        %lld\n", (long long)c.max_position_embeddings);
    std::printf("parameters     %s%s\n", with_commas(params).c_str(),
                c.tie_word_embeddings ? " (tied embeddings counted once)" : "");
    std::printf("dtype          %s\n", wf.dtype.c_str());
    std::string types;
    for (const auto& [t, n] : wf.tensor_types) types += (types.empty() ? "" : ", ") + t + " x" + std::to_string(n);
    std::printf("tensor types   %s\n", types.c_str());
    std::printf("bytes on disk  %s (%zu file%s)\n", with_commas(static_cast<int64_t>(wf.bytes)).c_str(), wf.files,
                wf.files == 1 ? "" : "s");
    return 0;
}

int run_check(const InfoOptions& a) {
    auto m = a.model.load();
    json j = {{"model", m->source_dir},
              {"ok", true},
              {"parameters", m->parameter_count()},
              {"dtype", dtype_name(m->dtype())},
              {"device", device_name(m->device())},
              {"warnings", m->warnings}};
    if (a.json)
        std::cout << j.dump(2) << std::endl;
    else
        std::printf("%s: ok, %lld parameters loaded as %s on %s, %zu warning(s)\n", m->source_dir.c_str(),
                    (long long)m->parameter_count(), dtype_name(m->dtype()).c_str(), device_name(m->device()).c_str(),
                    m->warnings.size());
    return 0;
}

}  // namespace

Run add_info(CLI::App& cli) {
    auto* app = cli.add_subcommand("info", "Describe a model folder without loading its weights.");
    auto o = std::make_shared<InfoOptions>();
    add_model_options(*app, o->model, /*loading=*/false);
    app->add_flag("--json", o->json,
                  "one JSON object on stdout (architecture, parameters, dtype, bytes_on_disk,\n"
                  "layers, heads, kv_heads, vocab_size, tensor_types, linears with their\n"
                  "source_type, ...)");
    return [o] { return run_info(*o); };
}

Run add_check(CLI::App& cli) {
    auto* app = cli.add_subcommand("check", "Load and validate every tensor of a model (shapes, dtypes, NaN/Inf).");
    auto o = std::make_shared<InfoOptions>();
    add_model_options(*app, o->model);
    app->add_flag("--json", o->json, "one JSON object on stdout (model, ok, parameters, dtype, device, warnings)");
    return [o] { return run_check(*o); };
}

}  // namespace qs::cli
