// Opening and reading input files defensively: only regular files are read (a named pipe
// would block forever, /dev/zero never ends), small text/JSON files are read with a size cap
// (a huge sparse config.json must not be slurped), JSON is parsed with a nesting limit, and
// file-system errors (symlink loops, permission denied) become qs::Error naming the path.
// Torch-free.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

namespace qs {

// Caps for the files QuantScope reads whole.
constexpr uint64_t kMaxConfigJsonBytes = uint64_t(16) << 20;      // config.json, *_config.json, index.json
constexpr uint64_t kMaxTokenizerFileBytes = uint64_t(256) << 20;  // tokenizer.json, vocab.json, merges.txt
constexpr uint64_t kMaxWorkspaceBytes = uint64_t(64) << 20;       // .qscope workspaces
constexpr int kMaxJsonDepth = 128;                                // nesting of any JSON file read

// "2.5 GiB", "16 MiB", "300 bytes".
std::string byte_size_text(uint64_t bytes);

// What kind of thing `mode` (st_mode) is, for messages: "a folder", "a named pipe (FIFO)", ...
std::string file_kind_text(unsigned mode);

// Throws qs::Error "<path>: <problem>" unless path names a regular file (symlinks followed):
// does not exist, permission denied, symbolic link loop, a folder, a named pipe, a device...
// `what` names the expected file in the message ("expected a regular file" by default).
void check_regular_file(const std::string& path, const std::string& what = "");

// Opens a regular file read-only (O_CLOEXEC), never blocking on a FIFO (it is opened with
// O_NONBLOCK, checked with fstat, and refused). Returns the descriptor; *size gets the file size.
int open_regular_file(const std::string& path, uint64_t* size = nullptr);

// The whole file, refusing a file larger than max_bytes before reading any of it:
// "<path>: 3.0 GiB, more than the 16 MiB a config file may have (not a config file?)".
std::string read_file_capped(const std::string& path, uint64_t max_bytes, const std::string& what);

// Parses JSON text; errors name `label`: invalid JSON, or nesting deeper than kMaxJsonDepth.
nlohmann::json parse_json_text(const std::string& text, const std::string& label);

// read_file_capped + parse_json_text.
nlohmann::json read_json_file_capped(const std::string& path, uint64_t max_bytes, const std::string& what);

// A folder the user named (a model folder, a tokenizer folder): throws qs::Error
// "<dir>: <problem>" when it does not exist, is not a folder, cannot be listed (permission
// denied) or is a symbolic link loop. `what` says what was expected ("a Hugging Face model folder").
void check_readable_folder(const std::string& dir, const std::string& what);

// True if `path` exists (any kind, symlinks followed); throws qs::Error naming it for a
// symbolic link loop or a permission problem instead of std::filesystem_error.
bool path_exists(const std::filesystem::path& path);

}  // namespace qs
