// libFuzzer target for config.json: qs::parse_json_text + qs::parse_model_config (+ the
// layer check made before anything is allocated). Any input is either a configuration that
// satisfies what the loader relies on, or a qs::Error. Built and run by run_fuzz.sh.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "io/file_checks.h"
#include "models/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    qs::fuzz::expect_only_qs_errors("fuzz_config_json", [&] {
        const nlohmann::json j = qs::parse_json_text(text, "config.json");
        const qs::ModelConfig c = qs::parse_model_config(j, "config.json");
        // What a parsed configuration promises (the loader sizes tensors from these).
        if (c.hidden_size <= 0 || c.num_layers <= 0 || c.num_heads <= 0 || c.num_kv_heads <= 0 || c.head_dim <= 0 ||
            c.vocab_size <= 0 || c.intermediate_size <= 0 || c.max_position_embeddings <= 0)
            qs::fuzz::bug("fuzz_config_json", "a non-positive size was accepted");
        if (c.num_heads % c.num_kv_heads != 0) qs::fuzz::bug("fuzz_config_json", "heads % kv_heads != 0 accepted");
        if (c.arch == qs::Arch::Llama && (c.head_dim % 2 != 0 || !(c.rms_norm_eps > 0) || !(c.rope_theta > 0)))
            qs::fuzz::bug("fuzz_config_json", "a value that gives NaN or breaks rope was accepted");
        if (c.num_layers > 4096 || c.hidden_size > (int64_t(1) << 24) || c.vocab_size > (int64_t(1) << 24))
            qs::fuzz::bug("fuzz_config_json", "an implausible size was accepted");
        const std::vector<std::string> names = {"model.layers.0.mlp.up_proj.weight",
                                                "model.layers.1.mlp.up_proj.weight",
                                                "model.decoder.layers.1.fc1.weight"};
        qs::check_layers_present(c, "config.json", names);
        (void)c.default_seqlen();
    });
    return 0;
}
