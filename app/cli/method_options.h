// The method options shared by `ppl`, `quantize` and `sweep` (see --help).
#pragma once
#include <set>
#include <string>

#include "args.h"
#include "quant/method_config.h"

namespace qs::cli {

const std::set<std::string>& method_option_names();
const std::set<std::string>& method_flag_names();
// Builds the configuration; defaults depend on the methods (SmoothQuant: W8 per-channel
// symmetric + A8 per-token unless overridden).
MethodConfig method_config(const Args& a);
// Applies one "name=value" override (used by sweep grids), e.g. "sq-alpha=0.5".
void apply_override(MethodConfig& c, const std::string& name, const std::string& value);

}  // namespace qs::cli
