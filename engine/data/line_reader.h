// Streaming line reader over a dataset file (plain or .zst, see zstd_stream.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/zstd_stream.h"

namespace qs {

// Longest line a dataset may have: a longer one (a 50 MB line, a zstd bomb of one line) is an
// error instead of an unbounded allocation.
constexpr size_t kMaxLineBytes = size_t(16) << 20;

class LineReader {
  public:
    // Throws qs::Error naming the file (see ByteReader).
    explicit LineReader(const std::string& path, size_t max_line_bytes = kMaxLineBytes);

    // Reads the next line into `line`, including its terminating '\n' when it has one (only the
    // last line of a file may lack it), like iterating over a Python file. Lines are split on
    // '\n' only; a '\r' stays in the line. Returns false at the end of the data. Throws
    // qs::Error "<path>: line N is longer than 16 MiB ..." for a longer line.
    bool next(std::string& line);

    int64_t line_number() const { return line_number_; }  // 1-based number of the last line read
    uint64_t line_offset() const {
        return line_offset_;
    }  // byte offset of its first byte in the
       // (decompressed) data
    const std::string& path() const { return reader_.path(); }
    bool compressed() const { return reader_.compressed(); }
    double fraction() const { return reader_.fraction(); }  // of the file consumed

  private:
    bool fill();
    ByteReader reader_;
    std::vector<char> buf_;
    size_t pos_ = 0, len_ = 0;
    uint64_t consumed_ = 0;  // bytes of data handed out so far
    int64_t line_number_ = 0;
    uint64_t line_offset_ = 0;
    size_t max_line_ = kMaxLineBytes;
};

}  // namespace qs
