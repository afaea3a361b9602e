#include "data/line_reader.h"

#include <cstring>

#include "core/error.h"
#include "io/file_checks.h"

namespace qs {

LineReader::LineReader(const std::string& path, size_t max_line_bytes)
    : reader_(path), buf_(1 << 16), max_line_(max_line_bytes) {}

bool LineReader::fill() {
    pos_ = 0;
    len_ = reader_.read(buf_.data(), buf_.size());
    return len_ > 0;
}

bool LineReader::next(std::string& line) {
    line.clear();
    const uint64_t start = consumed_;
    for (;;) {
        if (pos_ == len_ && !fill()) break;
        const char* begin = buf_.data() + pos_;
        const auto* nl = static_cast<const char*>(std::memchr(begin, '\n', len_ - pos_));
        const size_t take = nl ? static_cast<size_t>(nl - begin) + 1 : len_ - pos_;
        line.append(begin, take);
        pos_ += take;
        consumed_ += take;
        if (line.size() > max_line_)
            throw Error(path() + ": line " + std::to_string(line_number_ + 1) + " is longer than " +
                        byte_size_text(max_line_) + " (it starts at byte offset " + std::to_string(start) +
                        (compressed() ? " of the decompressed data" : "") +
                        "); QuantScope refuses lines that long (not a line-based text dataset?)");
        if (nl) break;
    }
    if (consumed_ == start) return false;
    ++line_number_;
    line_offset_ = start;
    return true;
}

}  // namespace qs
