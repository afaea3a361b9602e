// Locating the bundled resources (default model, wikitext-2, calibration text).
// Resolved relative to the running executable: <exe dir>/../share/quantscope, which holds
// both in the build tree (build/bin + build/share/quantscope) and in any install prefix.
// QUANTSCOPE_RESOURCES overrides it. Never the current directory, never a build-time path.
#pragma once
#include <string>

namespace qs {

std::string executable_dir();
// Throws qs::Error if the folder cannot be found.
std::string resource_dir();
std::string default_model_dir();  // <res>/models/TinyStories-656K
std::string resource_path(const std::string& relative);

}  // namespace qs
