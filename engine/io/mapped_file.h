// Read-only memory map of a whole file (RAII). Pages are released with drop().
#pragma once
#include <cstddef>
#include <cstdint>
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

private:
    std::string path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace qs
