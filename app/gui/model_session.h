// Loading a model for the GUI, behind a torch-free header (docs/notes.md §4: Qt's `slots` macro
// and libtorch headers do not mix in one translation unit unless torch comes first).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/progress.h"
#include "models/model_summary.h"

namespace qs {
class CausalLM;
}

struct LoadRequest {
    std::string dir;
    std::string device = "cpu";
    std::string dtype = "fp32";
};

struct LoadedModel {
    std::shared_ptr<qs::CausalLM> model;
    qs::ModelSummary summary;
};

// Runs on a worker thread. Throws qs::Error with a message naming the file and the problem.
LoadedModel load_model_for_gui(const LoadRequest& req, const qs::Progress& progress);
std::string default_model_path();
std::vector<std::string> gui_available_devices();
std::vector<std::string> gui_available_dtypes(const std::string& device);
std::string gui_version_text();
