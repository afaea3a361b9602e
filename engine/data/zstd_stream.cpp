#include "data/zstd_stream.h"

#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/strings.h"
#include "io/file_checks.h"

namespace qs {

bool is_zstd_path(const std::string& path) { return ends_with(path, ".zst"); }

std::string strip_zst_suffix(const std::string& path) {
    return is_zstd_path(path) ? path.substr(0, path.size() - 4) : path;
}

ByteReader::ByteReader(const std::string& path, uint64_t max_bytes) : path_(path), max_bytes_(max_bytes) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a folder, expected a file");
    const int fd = open_regular_file(path, &file_size_);  // refuses FIFOs and devices (/dev/zero)
    file_ = ::fdopen(fd, "rb");
    if (!file_) {
        const int err = errno;
        ::close(fd);
        throw Error(path + ": cannot open (" + std::strerror(err) + ")");
    }
    if (is_zstd_path(path)) {
        ZSTD_DStream* ds = ZSTD_createDStream();
        if (!ds) {
            std::fclose(file_);
            throw Error(path + ": cannot create a zstd decompression stream");
        }
        ZSTD_initDStream(ds);
        dstream_ = ds;
        in_buf_.resize(ZSTD_DStreamInSize());
    }
}

ByteReader::~ByteReader() {
    if (dstream_) ZSTD_freeDStream(static_cast<ZSTD_DStream*>(dstream_));
    if (file_) std::fclose(file_);
}

uint64_t ByteReader::file_bytes_consumed() const { return file_read_ - (in_size_ - in_pos_); }

double ByteReader::fraction() const {
    if (file_size_ == 0) return eof_ ? 1.0 : 0.0;
    return std::min(1.0, static_cast<double>(file_bytes_consumed()) / static_cast<double>(file_size_));
}

void ByteReader::count(size_t n) {
    produced_ += n;
    if (produced_ > max_bytes_)
        throw Error(path_ + ": more than " + byte_size_text(max_bytes_) + " of data" +
                    (dstream_ ? " after decompression (a zstd bomb?)" : "") + "; QuantScope reads at most " +
                    byte_size_text(max_bytes_) + " of a dataset file");
}

size_t ByteReader::read_raw(char* out, size_t n) {
    if (eof_) return 0;
    const size_t got = std::fread(out, 1, n, file_);
    if (got < n) {
        if (std::ferror(file_)) throw Error(path_ + ": read error (" + std::strerror(errno) + ")");
        if (got == 0) eof_ = true;
    }
    file_read_ += got;
    return got;
}

size_t ByteReader::read(char* out, size_t n) {
    if (n == 0) return 0;
    if (!dstream_) {
        const size_t got = read_raw(out, n);  // 0 only at the end of the file
        count(got);
        return got;
    }

    auto* ds = static_cast<ZSTD_DStream*>(dstream_);
    ZSTD_outBuffer ob{out, n, 0};
    for (;;) {
        if (in_pos_ == in_size_ && !eof_) {
            in_size_ = read_raw(in_buf_.data(), in_buf_.size());
            in_pos_ = 0;
        }
        ZSTD_inBuffer ib{in_buf_.data(), in_size_, in_pos_};
        const size_t ret = ZSTD_decompressStream(ds, &ob, &ib);
        const bool progressed = ib.pos != in_pos_ || ob.pos > 0;
        in_pos_ = ib.pos;
        if (ZSTD_isError(ret)) {
            throw Error(path_ + ": corrupt zstd data (" + ZSTD_getErrorName(ret) + ") after reading " +
                        std::to_string(file_read_) + " of its " + std::to_string(file_size_) + " bytes");
        }
        // Only a call that moved data tells where we are: after a finished frame, a call with no
        // input returns the size of the next (absent) frame header, not "incomplete".
        if (progressed) last_hint_ = ret;
        if (ob.pos > 0) {
            count(ob.pos);
            return ob.pos;
        }
        if (in_pos_ == in_size_ && eof_) {
            if (file_read_ == 0) throw Error(path_ + ": empty file, not a zstd stream");
            if (last_hint_ != 0)
                throw Error(path_ + ": truncated zstd stream (the file ends inside a frame after " +
                            std::to_string(file_read_) + " bytes)");
            return 0;
        }
    }
}

}  // namespace qs
