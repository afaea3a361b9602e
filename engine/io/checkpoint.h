// A local Hugging Face model folder: config.json, optional generation_config.json and
// model.safetensors or a sharded model.safetensors.index.json.
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace qs {

class Checkpoint {
  public:
    // Throws qs::Error naming the folder/file and the problem (missing config, invalid JSON,
    // only pytorch_model.bin, broken index, bad safetensors header, ...).
    explicit Checkpoint(const std::string& dir);

    const std::string& dir() const { return dir_; }
    const nlohmann::json& config() const { return config_; }
    std::string config_path() const;
    const nlohmann::json& generation_config() const { return generation_config_; }  // {} if absent

    bool has(const std::string& name) const { return where_.count(name) != 0; }
    const TensorInfo& info(const std::string& name) const;  // throws if absent
    std::string file_of(const std::string& name) const;     // path of the file holding it
    std::vector<std::string> tensor_names() const;          // sorted
    at::Tensor load(const std::string& name, std::optional<c10::ScalarType> as = std::nullopt) const;
    // Zero-copy view of a stored tensor (SafetensorsFile::view); undefined when misaligned.
    at::Tensor view(const std::string& name) const;
    // Drops the mapped pages of a view (no-op for other tensors), or of every file.
    void release(const at::Tensor& t) const;
    void release_all() const;

    uint64_t bytes_on_disk() const;  // sum of the weight files' sizes
    std::vector<std::string> weight_files() const;
    // The most common floating dtype among stored tensors ("F32", "BF16", "F16").
    std::string storage_dtype() const;
    // Throws qs::Error naming the file when a weight file changed (truncated or rewritten by
    // another program) since it was mapped (MappedFile::check_intact).
    void check_intact() const;

  private:
    std::string dir_;
    nlohmann::json config_, generation_config_;
    std::vector<std::shared_ptr<SafetensorsFile>> files_;
    std::map<std::string, size_t> where_;  // tensor -> index in files_
};

// Reads and parses a JSON file of at most 16 MiB (io/file_checks.h); errors name the file.
nlohmann::json read_json_file(const std::string& path);

}  // namespace qs
