// quantscope-cli info / check: what a model folder holds, without / with loading it.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include "commands.h"
#include "core/device.h"
#include "io/checkpoint.h"
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

int cmd_info(const Args& a) {
    a.check_known({"model", "json"}, "info");
    const std::string dir = model_dir(a);
    Checkpoint ck(dir);
    ModelConfig c = parse_model_config(ck.config(), ck.config_path());
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
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
            linears.push_back({{"name", name.substr(0, name.size() - suffix.size())},
                               {"in_features", shape[1]},
                               {"out_features", shape[0]}});
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
              {"dtype", storage_to_dtype(ck.storage_dtype())},
              {"bytes_on_disk", ck.bytes_on_disk()},
              {"files", ck.weight_files().size()},
              {"linears", linears}};
    if (c.arch == Arch::OPT) {
        j["do_layer_norm_before"] = c.do_layer_norm_before;
        j["word_embed_proj_dim"] = c.word_embed_proj_dim;
    } else {
        j["rope_theta"] = c.rope_theta;
        j["rope_scaling"] = c.rope.type.empty() ? json(nullptr) : json(c.rope.type);
    }
    if (a.has("json")) {
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
    std::printf("dtype          %s\n", storage_to_dtype(ck.storage_dtype()).c_str());
    std::printf("bytes on disk  %s (%zu file%s)\n", with_commas(ck.bytes_on_disk()).c_str(), ck.weight_files().size(),
                ck.weight_files().size() == 1 ? "" : "s");
    return 0;
}

int cmd_check(const Args& a) {
    a.check_known({"model", "json", "device", "dtype", "mode"}, "check");
    auto m = load_model(a);
    json j = {{"model", m->source_dir},
              {"ok", true},
              {"parameters", m->parameter_count()},
              {"dtype", dtype_name(m->dtype())},
              {"device", device_name(m->device())},
              {"warnings", m->warnings}};
    if (a.has("json"))
        std::cout << j.dump(2) << std::endl;
    else
        std::printf("%s: ok, %lld parameters loaded as %s on %s, %zu warning(s)\n", m->source_dir.c_str(),
                    (long long)m->parameter_count(), dtype_name(m->dtype()).c_str(), device_name(m->device()).c_str(),
                    m->warnings.size());
    return 0;
}

}  // namespace qs::cli
