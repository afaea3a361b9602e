// QuantScope workspaces (.qscope): a JSON file that reopens a session as it was: the model
// folder, device and dtype, the method configuration (methods, parameters, calibration set),
// the evaluation settings, the results table and the selected views. Torch-free and Qt-free:
// the GUI owns the dialogs, this file the format, the validation and the "model folder
// moved" detection. Format: docs/formats.md ("QuantScope workspace").
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "quant/method_config.h"

namespace qs {

// What identifies the model a workspace was made with (from its config.json), so that a
// relocated folder can be checked to hold the same architecture.
struct ModelFingerprint {
    std::string model_type;  // "llama", "opt", ...
    int64_t hidden_size = 0, num_layers = 0, vocab_size = 0, intermediate_size = 0;
    bool empty() const { return model_type.empty(); }
    std::string describe() const;  // "llama, 2 layers, hidden 128, FFN 384, vocab 2048"
    bool operator==(const ModelFingerprint& o) const;
    bool operator!=(const ModelFingerprint& o) const { return !(*this == o); }
};

// Reads config.json of a model folder. Throws qs::Error naming the file.
ModelFingerprint read_model_fingerprint(const std::string& model_dir);

// One row of the results table.
struct WorkspaceResult {
    std::string label;    // what the row is called in the table
    MethodConfig config;  // the configuration it was measured with
    double ppl = -1;      // < 0: not measured
    double size_mib_seed = -1, size_mib_packed = -1;
    std::string dataset, protocol, device, dtype;
    int64_t seqlen = 0, nsamples = 0;
    double seconds = 0;
    nlohmann::json extra = nlohmann::json::object();  // any further columns, kept as they are
};

// One open view (plot / panel) and its settings.
struct WorkspaceView {
    std::string kind;    // e.g. "heatmap", "channels", "histogram", "awq-curves", "ppl-sweep"
    std::string linear;  // the Linear it shows, "" if none
    nlohmann::json settings = nlohmann::json::object();
};

struct WorkspaceEval {
    std::string dataset = "wikitext2";  // "wikitext2" or a path
    int64_t seqlen = 0;                 // 0 = model default
    int64_t nsamples = 10;              // -1 = all windows
    int64_t batch = 1;
};

struct Workspace {
    static constexpr int kFormatVersion = 1;
    std::string model_path;      // absolute path of the model folder
    ModelFingerprint model;      // filled by save_workspace when empty
    std::string tokenizer_path;  // "" = the model folder
    std::string device = "cpu";
    std::string dtype = "fp32";
    MethodConfig config;   // methods, parameters and calibration set
    bool applied = false;  // whether `config` was applied to the model when saved
    WorkspaceEval eval;
    std::vector<WorkspaceResult> results;
    std::vector<WorkspaceView> views;
    int64_t selected_view = -1;  // index into views, -1 = none
    std::string selected_linear;
    nlohmann::json ui = nlohmann::json::object();  // free-form GUI state, kept as it is
};

// JSON form. `file` (the .qscope path) makes model_path also stored relative to the file's
// folder ("model_path_relative"), so a workspace moved together with its model still opens.
nlohmann::json workspace_to_json(const Workspace& ws, const std::string& file = "");
// Validates and reads; errors name `label` (the file) and the key at fault, e.g.
// "demo.qscope: 'results[2].ppl' must be a number".
Workspace workspace_from_json(const nlohmann::json& j, const std::string& label, const std::string& file = "");

// Writes atomically (temporary file, fsync, rename; io/safe_output.h), never into the model
// folder or the tokenizer folder. Fills ws.model from the model folder when it is empty and
// the folder exists. Returns notes (temporaries of killed processes that were removed).
std::vector<std::string> save_workspace(const Workspace& ws, const std::string& path);
// Reads and validates a .qscope file (a regular file of at most 64 MiB; the configuration
// must pass MethodConfig::validate(): a workspace with alpha -5 or w99 is refused, never
// clamped). A missing model folder is NOT an error here: ask check_model_location() and let
// the user pick the new place (relocate_model).
Workspace load_workspace(const std::string& path);

enum class ModelLocationStatus {
    Ok,         // the folder exists and holds the same model (or no fingerprint to compare)
    Missing,    // the folder does not exist (moved or deleted): ask for the new location
    NotAModel,  // the folder exists but has no readable config.json
    Different,  // the folder holds another architecture than the workspace was made with
};
struct ModelLocation {
    ModelLocationStatus status = ModelLocationStatus::Ok;
    std::string message;  // for a dialog, e.g. "The model folder /x/y was not found ..."
};
ModelLocation check_model_location(const Workspace& ws);
// Points the workspace at a new model folder after checking it holds a model with the same
// fingerprint. Throws qs::Error explaining what differs.
void relocate_model(Workspace& ws, const std::string& new_dir);

}  // namespace qs
