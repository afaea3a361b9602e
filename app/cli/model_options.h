// Options shared by the commands that read a model: --model, and for those that load its
// weights --device, --dtype, --mode (declared once, with CLI11).
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "models/causal_lm.h"

namespace qs::cli {

struct ModelOptions {
    std::string model;  // empty: the bundled default model
    std::string device = "cpu";
    std::string dtype = "fp32";
    std::string mode = "auto";

    std::string dir() const;  // --model, or the bundled default model
    LoadOptions load_options() const;
    // Loads the model, printing load warnings to stderr.
    std::unique_ptr<CausalLM> load() const;
    // The model's architecture only (config.json, or a GGUF file's metadata), without its weights.
    ModelConfig config() const;
};

// The --help group --device, --dtype and --mode are listed under.
extern const char* const kLoadGroup;

// --model; with `loading`, also --device, --dtype and --mode.
void add_model_options(CLI::App& app, ModelOptions& o, bool loading = true);

// Progress on stderr as a single updating line (only when stderr is a terminal; otherwise
// one line per 10%).
Progress stderr_progress(const std::string& what);

}  // namespace qs::cli
