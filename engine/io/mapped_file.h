// Read-only memory map of a whole file (RAII). Pages are released with drop().
//
// Every live mapping is guarded against SIGBUS (io/map_guard.h): when another program
// truncates or rewrites the file while it is mapped, reads see zeros instead of killing the
// process, and check_intact() reports it. Only regular files are mapped (a FIFO is refused
// instead of blocking).
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>

namespace qs {

class MappedFile {
  public:
    explicit MappedFile(const std::string& path);  // throws qs::Error naming the file
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }
    // Tell the kernel we no longer need [offset, offset+len): the pages leave our RSS.
    void drop(size_t offset, size_t len) const;

    // Throws qs::Error("<file>: the file changed while it was read (it was modified or
    // truncated by another program); reopen the model") when a read of this mapping hit the
    // end of a truncated file (SIGBUS caught) or the file's size or modification time differ
    // from when it was mapped. Cheap (an atomic load and an fstat): call it after every
    // stage that read the mapping (the end of a load, a perplexity window, an export).
    void check_intact() const;
    // check_intact() of every live MappedFile in the process.
    static void check_all_intact();

  private:
    std::string path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    int fd_ = -1;          // kept open to notice in-place modifications (fstat)
    int guard_slot_ = -1;  // map_guard registration
    off_t mapped_size_ = 0;
    struct timespec mapped_mtime_ {};
};

}  // namespace qs
