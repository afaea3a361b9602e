// Atomic creation of an output folder: everything is written into `<dest>.tmp-<pid>` next to
// the destination, every file and the folder are fsync'ed, then the folder is renamed to
// `dest` in one step. Until commit() the destination is never touched; destroying an
// uncommitted AtomicDir (error, cancellation) removes the temporary folder. Temporaries of
// killed processes (`<dest>.tmp-<pid>` / `.old-<pid>` whose pid no longer runs) are removed
// when the next AtomicDir for the same destination is created (notes() says which).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qs {

// Refuses (qs::Error) an output folder that would write into or over a source folder:
// out == source, out inside source, or source inside out (paths compared after resolving
// symlinks and "..", for an out that does not exist yet through its nearest existing parent).
void check_output_not_source(const std::string& out, const std::string& source);

// Free bytes available to this user on the file system that would hold `path` (its nearest
// existing parent). Throws qs::Error when it cannot be determined.
uint64_t free_bytes_at(const std::string& path);

// fsync of a file or folder by path; throws qs::Error naming it.
void fsync_path(const std::string& path);

class AtomicDir {
  public:
    // Creates the temporary folder `<dest>.tmp-<pid>` (removing a stale one of the same name)
    // and the destination's parent folders. When dest exists: with replace=false throws
    // "exists"; with replace=true it must be a folder holding a config.json (a model folder),
    // which commit() replaces.
    AtomicDir(const std::string& dest, bool replace);
    ~AtomicDir();  // removes the temporary folder unless committed
    AtomicDir(const AtomicDir&) = delete;
    AtomicDir& operator=(const AtomicDir&) = delete;

    const std::string& temp_path() const { return tmp_; }
    // What the constructor cleaned up (remove_stale_temporaries), for the export report.
    const std::vector<std::string>& notes() const { return notes_; }
    const std::string& dest() const { return dest_; }
    // fsyncs the temporary folder, renames it to dest (moving a replaced folder aside first
    // and deleting it after), fsyncs the parent. On failure the destination is as before.
    void commit();
    bool committed() const { return committed_; }

  private:
    std::string dest_, tmp_;
    bool replace_ = false, committed_ = false;
    std::vector<std::string> notes_;
};

}  // namespace qs
