// Sequential reading of a dataset file; files whose name ends in ".zst" are decompressed on
// the fly with a ZSTD_DStream (bounded memory, never to a temporary file).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace qs {

// At most this much (decompressed) data is read from one dataset file, so that a zstd bomb (a
// small .zst expanding to terabytes) ends with an error instead of running for hours. The
// Pile validation set is 1.3 GB.
constexpr uint64_t kMaxDatasetBytes = uint64_t(4) << 30;

// True if the file name ends in ".zst".
bool is_zstd_path(const std::string& path);
// The name without a trailing ".zst" (e.g. "val.jsonl.zst" -> "val.jsonl").
std::string strip_zst_suffix(const std::string& path);

class ByteReader {
  public:
    // Opens the file; throws qs::Error naming it if it cannot be opened or is not a regular
    // file (a FIFO or a device such as /dev/zero is refused: it could block or never end).
    explicit ByteReader(const std::string& path, uint64_t max_bytes = kMaxDatasetBytes);
    ~ByteReader();
    ByteReader(const ByteReader&) = delete;
    ByteReader& operator=(const ByteReader&) = delete;

    // Reads up to n bytes of (decompressed) data into out; returns 0 only at the end of the
    // data. Throws qs::Error naming the file for read errors, corrupt zstd data and a zstd
    // stream that ends inside a frame (truncated file), and once more than max_bytes of data
    // were produced ("<path>: more than 4 GiB of data after decompression ...").
    size_t read(char* out, size_t n);

    const std::string& path() const { return path_; }
    bool compressed() const { return dstream_ != nullptr; }
    uint64_t file_size() const { return file_size_; }
    // Bytes of the file itself consumed so far (compressed bytes for .zst): for progress.
    uint64_t file_bytes_consumed() const;
    // Fraction of the file consumed, in [0, 1].
    double fraction() const;

  private:
    size_t read_raw(char* out, size_t n);
    std::string path_;
    void count(size_t n);
    std::FILE* file_ = nullptr;
    uint64_t max_bytes_ = kMaxDatasetBytes, produced_ = 0;
    uint64_t file_size_ = 0;
    uint64_t file_read_ = 0;  // bytes read from the file so far
    // zstd state (dstream_ is a ZSTD_DStream*, kept opaque so <zstd.h> stays in the .cpp)
    void* dstream_ = nullptr;
    std::vector<char> in_buf_;
    size_t in_pos_ = 0, in_size_ = 0;
    size_t last_hint_ = 1;  // last ZSTD_decompressStream return value; 0 = a frame just ended
    bool eof_ = false;
};

}  // namespace qs
