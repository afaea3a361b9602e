// Internals shared by the export translation units (not part of the engine API).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/progress.h"
#include "export/export_types.h"
#include "models/causal_lm.h"
#include "quant/linear_quant.h"

namespace qs {
struct GptqLinear;
struct MethodConfig;
class QuantSession;
}  // namespace qs

namespace qs::exp {

// One tensor of the checkpoint to write: its header entry is known up front, its data is
// produced when it is written (so an export holds about one tensor at a time).
struct PlannedTensor {
    std::string name;
    c10::ScalarType dtype;
    std::vector<int64_t> shape;
    std::function<at::Tensor()> make;  // must return exactly dtype x shape (any device)
    uint64_t bytes() const;
};
using Plan = std::vector<PlannedTensor>;

// Counts the bytes written by one export and injects the test failure.
struct WriteCounter {
    uint64_t written = 0;
    int64_t fail_after = -1;
    void add(const std::string& path, uint64_t n);  // throws the injected failure
};

// Streams the plan into dir as model.safetensors, or as HF shards + model.safetensors.index.json
// when the data exceeds max_shard_bytes. Files are flushed and fsync'ed. Progress by bytes;
// cancellation is checked between tensors and between 16 MiB chunks. Returns the file names.
std::vector<std::string> write_plan(const std::string& dir, const Plan& plan, uint64_t max_shard_bytes,
                                    const std::map<std::string, std::string>& metadata, WriteCounter& counter,
                                    const Progress& progress);
void write_text_file(const std::string& path, const std::string& text, WriteCounter& counter);
void copy_file_counted(const std::string& from, const std::string& to, WriteCounter& counter);

// The session's applied configuration, or an empty one (nothing applied).
const MethodConfig& config_or_none(const QuantSession& s);

// A model object over a state (handles only), for enumerating and evaluating a state without
// touching the session's model.
std::unique_ptr<CausalLM> scratch_model(const CausalLM& like, const CausalLM::State& state);
// Linear by HF name in a model (decoder Linears, lm_head, project_in/out); nullptr if none.
const Linear* linear_by_name(const CausalLM& m, const std::string& name);

// The codes/scales/zeros of a Linear quantized by the session: quantize(pre.weight, spec),
// checked to reproduce cur.weight bit for bit (throws qs::Error naming the Linear otherwise).
QuantizedTensor requantize_checked(const Linear& pre, const Linear& cur, const QuantSpec& spec);
// Throws qs::Error naming the Linear unless dequantize(q), cast to cur's dtype, equals cur.weight
// bit for bit; returns q.
QuantizedTensor check_reproduces(QuantizedTensor q, const Linear& cur, const std::string& how);

// AWQ GEMM tensors of one quantized Linear.
struct AwqTensors {
    at::Tensor qweight, qzeros, scales;  // int32 [in, out/8], int32 [in/g, out/8], fp16 [in/g, out]
};
AwqTensors awq_gemm_pack(const QuantizedTensor& q);
// Int8 W8A16 tensors of one Linear.
struct Int8Tensors {
    at::Tensor weight, scale;  // int8 [out, in], float32 [out]
};
Int8Tensors int8_pack(const QuantizedTensor& q);

// compressed-tensors pack-quantized tensors of one Linear (models/compressed_tensors_weight.h).
struct CtTensors {
    at::Tensor packed, scale, zero_point, shape;  // zero_point undefined when symmetric
};
CtTensors ct_pack(const QuantizedTensor& q, c10::ScalarType scale_dtype);
// GPTQ's recorded codes and grid of one Linear as a QuantizedTensor of `spec` (symmetric: codes
// shifted to the signed range, zero 0). Throws when its groups are not contiguous (act-order).
QuantizedTensor gptq_quantized(const GptqLinear& g, const QuantSpec& spec);
// One config group of a compressed-tensors quantization_config: a weight spec and its targets
// (["Linear"] for the configuration's own spec; the exact Linear names for a mixed-precision
// override's spec, which the package's matching prefers to the class name).
struct CtGroup {
    QuantSpec spec;
    std::vector<std::string> targets;
};
// config.json's quantization_config, as compressed-tensors writes it: groups "group_0", ... in
// the given order (the package numbers them by their first module, in module order).
nlohmann::json ct_quantization_config(const std::vector<CtGroup>& groups, const std::vector<std::string>& ignore);

// Why a spec / Linear cannot be written as AWQ GEMM or int8 (every reason; empty when it can).
std::vector<ExportProblem> awq_gemm_spec_problems(const QuantSpec& spec);
std::string awq_gemm_linear_problem(const Linear& l, int64_t group);
std::vector<ExportProblem> int8_spec_problems(const QuantSpec& spec);
// `who`: "" for the configuration's spec, else the Linear an override gives this spec ("'x': ").
std::vector<ExportProblem> ct_spec_problems(const QuantSpec& spec, const std::string& who = "");
std::string ct_linear_problem(const Linear& l, const QuantSpec& spec);

}  // namespace qs::exp
