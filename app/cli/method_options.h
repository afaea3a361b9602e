// The method options shared by `ppl`, `quantize` and `sweep`, declared once with CLI11 (name,
// type, default, help) and written into a MethodConfig; sweep grids reuse the declarations.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

#include "quant/method_config.h"

namespace qs::cli {

// The --help group the method options are listed under.
extern const char* const kMethodGroup;

// Declares the method options on `app`, writing into `c` (which must outlive the parse). Their
// defaults are c's values; with `presets`, --method smoothquant first sets SmoothQuant's W8A8
// defaults (set_w8a8), which the other options then override.
void add_method_options(CLI::App& app, MethodConfig& c, bool presets = true);

// Whether NAME (without "--") is a method option.
bool is_method_option(const std::string& name);

// Applies one method option given as text, as on the command line, then validates the result
// (used by sweep grids), e.g. ("sq-alpha", "0.5"). Throws qs::Error on a bad value.
void apply_override(MethodConfig& c, const std::string& name, const std::string& value);

}  // namespace qs::cli
