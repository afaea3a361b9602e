// Export formats, options and report: plain data, torch-free (the GUI includes this header;
// engine/export/export.h has the functions).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace qs {

enum class ExportFormat { Fake, AwqGemm, Int8, Transformed, CompressedTensors };

ExportFormat parse_export_format(const std::string& s);  // "fake" | "awq-gemm" | "int8" | "transformed" |
                                                         // "compressed-tensors"
std::string export_format_name(ExportFormat f);
std::vector<std::string> export_format_names();         // for menus, in the order above
std::string export_format_description(ExportFormat f);  // one line, for a dialog

// One reason a format cannot hold a configuration, with the fix in the words of each front end:
// the command line's flags and the workbench's controls.
struct ExportProblem {
    std::string problem;  // what is wrong ("AWQ GEMM needs asymmetric weights with a zero point")
    std::string cli_fix;  // "drop --symmetric" ("" when there is nothing to change)
    std::string gui_fix;  // "untick \"symmetric\" in the methods panel"
};
// All problems in one message: "<problem>; <fix>", several numbered on their own lines.
std::string describe_export_problems(const std::vector<ExportProblem>& problems, bool gui);

struct ExportOptions {
    ExportFormat format = ExportFormat::Fake;
    std::string out_dir;
    bool force = false;  // replace an existing model folder at out_dir (never the source)
    // fake / transformed / int8 / compressed-tensors (non-quantized tensors, and the
    // compressed-tensors weight_scale): "float32" | "float16" | "bfloat16";
    // "" = the source checkpoint's storage dtype. awq-gemm always stores fp16.
    std::string dtype;
    // fake only: write the model exactly as the awq-gemm export of the same session represents
    // it ("AWQ reference"): quantized Linears (q - z) * fp16(s), computed exactly in float32,
    // and every other tensor rounded through fp16. Needs an awq-gemm-exportable configuration.
    // Then `dtype` defaults to float32.
    bool awq_reference = false;
    uint64_t max_shard_bytes = 5000000000ull;  // transformers' default "5GB" shards
    bool copy_tokenizer = true;                // tokenizer + generation config files
    // Test hooks: fail the export with an injected write error once this many bytes were
    // written (-1 = off); pretend the file system has this many free bytes (-1 = ask it).
    int64_t test_fail_after_bytes = -1;
    int64_t test_free_bytes = -1;
};

struct ExportReport {
    std::string format;
    std::string out_dir;
    std::string source_dir;
    std::string configuration;  // MethodConfig::describe()
    nlohmann::json configuration_json;
    std::string dtype;               // dtype of the non-quantized tensors
    std::vector<std::string> files;  // written, relative to out_dir
    uint64_t bytes_written = 0;
    uint64_t estimated_bytes = 0;
    int64_t quantized_linears = 0;
    std::vector<std::string> notes;
    double seconds = 0;
    nlohmann::json to_json() const;
};

}  // namespace qs
