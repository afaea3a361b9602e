// Files QuantScope writes for the user (logits dumps, workspaces, CSV tables, plot images):
// never into or over a model folder it reads, always atomically (written under a temporary
// name next to the destination, fsync'ed, renamed), and temporaries that a killed process
// left next to the destination are removed by the next write to the same place.
// Torch-free and Qt-free (the GUI's ui/ layer uses it too). Export folders: atomic_dir.h.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qs {

// The path with symlinks and ".." resolved for the part that exists, without a trailing '/'.
std::filesystem::path resolved_path(const std::string& p);
// True if `inner` equals `outer` or lies below it (both resolved).
bool path_is_inside(const std::filesystem::path& inner, const std::filesystem::path& outer);

// Throws qs::Error when writing the file `path` would write into or over a folder in
// `protected_dirs` (the source model, its tokenizer folder): the file lies inside one (after
// resolving symlinks, also a symlink pointing into one). The message names the file, the
// folder and what to do. (A hard link elsewhere is safe: the atomic rename replaces the link,
// never the model's file.)
void check_output_file(const std::string& path, const std::vector<std::string>& protected_dirs);

// "<name>.tmp-<pid>" (and AtomicDir's "<name>.old-<pid>") next to `dest`: the temporaries a
// write to `dest` uses. Those whose process no longer runs are removed; returns one note per
// removal ("removed <path>, left by process 1234, which no longer runs").
std::vector<std::string> remove_stale_temporaries(const std::string& dest);

// The reason of a failed write, for messages: ENOSPC -> "disk full (No space left on
// device)", EFBIG -> "file too large for the file system or the file-size limit (ulimit -f)
// (File too large)", anything else strerror.
std::string write_error_text(int err);

// A file written atomically: write into temp_path() (or write()), then commit(). Until then
// the destination is untouched; destroying an uncommitted AtomicFile removes the temporary.
class AtomicFile {
  public:
    // Checks the destination (check_output_file, not a folder), removes stale temporaries of
    // dead processes (notes()), creates "<path>.tmp-<pid>".
    AtomicFile(const std::string& path, const std::vector<std::string>& protected_dirs = {});
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    const std::string& path() const { return path_; }
    const std::string& temp_path() const { return tmp_; }
    // Appends to the temporary file; throws qs::Error naming the destination (write_error_text).
    void write(const void* data, size_t n);
    // fsync, rename over the destination, fsync of the folder.
    void commit();
    const std::vector<std::string>& notes() const { return notes_; }

  private:
    std::string path_, tmp_;
    int fd_ = -1;
    bool committed_ = false;
    std::vector<std::string> notes_;
};

// AtomicFile in one call; returns its notes.
std::vector<std::string> write_file_atomic(const std::string& path, const std::string& bytes,
                                           const std::vector<std::string>& protected_dirs = {});

}  // namespace qs
