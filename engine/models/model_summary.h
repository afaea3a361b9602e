// A plain-data description of a loaded model (no libtorch types), for the GUI and CLI.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qs {

class CausalLM;

struct LinearSummary {
    std::string name;
    int64_t in_features = 0, out_features = 0;
    bool bias = false;
    int64_t block = -1;       // decoder block index, -1 for lm_head / project_in / project_out
    std::string source_type;  // storage type in the source file: "BF16", "Q4_K" (GGUF), "awq-gemm"
};

struct ModelSummary {
    std::string source_dir, architecture, model_type, dtype, device;
    int64_t layers = 0, hidden_size = 0, heads = 0, kv_heads = 0, head_dim = 0, intermediate_size = 0;
    int64_t vocab_size = 0, max_position_embeddings = 0, parameters = 0;
    bool tied_embeddings = false;
    std::vector<LinearSummary> linears;
    std::map<std::string, int64_t> source_type_counts;  // Linears per source_type
    std::vector<std::string> warnings;
};

ModelSummary summarize(const CausalLM& model);

}  // namespace qs
