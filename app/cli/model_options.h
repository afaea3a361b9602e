// Options shared by the commands that load a model: --model, --device, --dtype.
#pragma once
#include <memory>
#include <string>

#include "args.h"
#include "models/causal_lm.h"

namespace qs::cli {

std::string model_dir(const Args& a);  // --model, or the bundled default model
LoadOptions load_options(const Args& a);
// Loads the model, printing load warnings to stderr.
std::unique_ptr<CausalLM> load_model(const Args& a);
// Progress on stderr as a single updating line (only when stderr is a terminal; otherwise
// one line per 10%).
Progress stderr_progress(const std::string& what);

}  // namespace qs::cli
