#include "io/file_checks.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace qs {

std::string byte_size_text(uint64_t b) {
    char buf[64];
    if (b < 1024)
        std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(b));
    else if (b < (uint64_t(1) << 20))
        std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
    else if (b < (uint64_t(1) << 30))
        std::snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
    else
        std::snprintf(buf, sizeof buf, "%.1f GiB", b / 1073741824.0);
    std::string s = buf;
    const std::string zero = ".0 ";  // "16.0 MiB" -> "16 MiB"
    const size_t p = s.find(zero);
    if (p != std::string::npos) s.erase(p, 2);
    return s;
}

std::string file_kind_text(unsigned mode) {
    if (S_ISDIR(mode)) return "a folder";
    if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISREG(mode)) return "a regular file";
    return "not a regular file";
}

namespace {

// "<path>: does not exist" etc. for a failed stat/open/opendir.
[[noreturn]] void throw_errno(const std::string& path, int err, const std::string& action) {
    switch (err) {
        case ENOENT:
            throw Error(path + ": does not exist");
        case ENOTDIR:
            throw Error(path + ": does not exist (a part of the path is not a folder)");
        case EACCES:
        case EPERM:
            throw Error(path + ": permission denied (" + action + ")");
        case ELOOP:
            throw Error(path + ": symbolic link loop (too many levels of symbolic links)");
        case ENAMETOOLONG:
            throw Error(path + ": the path is too long");
        default:
            throw Error(path + ": cannot " + action + " (" + std::strerror(err) + ")");
    }
}

std::string not_regular(const std::string& path, unsigned mode, const std::string& what) {
    return path + ": is " + file_kind_text(mode) + ", " +
           (what.empty() ? std::string("expected a regular file") : "expected " + what) +
           (S_ISFIFO(mode) || S_ISCHR(mode) || S_ISBLK(mode) || S_ISSOCK(mode)
                ? " (QuantScope reads only regular files: a pipe or device could block or never end)"
                : "");
}

}  // namespace

void check_regular_file(const std::string& path, const std::string& what) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw_errno(path, errno, "read it");
    if (!S_ISREG(st.st_mode)) throw Error(not_regular(path, st.st_mode, what));
}

int open_regular_file(const std::string& path, uint64_t* size) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        const int err = errno;
        struct stat st {};
        if (err != ENOENT && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
            throw Error(not_regular(path, st.st_mode, ""));
        throw_errno(path, err, "open it");
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw_errno(path, err, "read its size");
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(not_regular(path, st.st_mode, ""));
    }
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if (size) *size = static_cast<uint64_t>(st.st_size);
    return fd;
}

std::string read_file_capped(const std::string& path, uint64_t max_bytes, const std::string& what) {
    uint64_t size = 0;
    const int fd = open_regular_file(path, &size);
    auto too_big = [&](uint64_t n, bool at_least) {
        ::close(fd);
        return Error(path + ": " + (at_least ? "more than " : "") + byte_size_text(n) + ", larger than the " +
                     byte_size_text(max_bytes) + " " + what + " may have; not read");
    };
    if (size > max_bytes) throw too_big(size, false);
    std::string out;
    out.resize(static_cast<size_t>(size));
    size_t got = 0;
    for (;;) {
        if (got == out.size()) {
            if (out.size() >= max_bytes + 1) throw too_big(max_bytes, true);  // grew while read
            out.resize(std::min<uint64_t>(max_bytes + 1, out.size() + 65536));
        }
        const ssize_t n = ::read(fd, &out[got], out.size() - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd);
            throw Error(path + ": read error (" + std::strerror(err) + ")");
        }
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    ::close(fd);
    if (got > max_bytes)
        throw Error(path + ": grew past the " + byte_size_text(max_bytes) + " " + what + " may have while it was read");
    out.resize(got);
    return out;
}

nlohmann::json parse_json_text(const std::string& text, const std::string& label) {
    // nlohmann's parser is iterative, but dump() and comparisons recurse: refuse deep nesting.
    int depth = 0;
    bool in_string = false, escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxJsonDepth)
                throw Error(label + ": JSON nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw Error(label + ": invalid JSON (" + std::string(e.what()) + ")");
    }
}

nlohmann::json read_json_file_capped(const std::string& path, uint64_t max_bytes, const std::string& what) {
    return parse_json_text(read_file_capped(path, max_bytes, what), path);
}

void check_readable_folder(const std::string& dir, const std::string& what) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT) throw Error(dir + ": folder does not exist");
        throw_errno(dir, err, "open the folder");
    }
    if (!S_ISDIR(st.st_mode))
        throw Error(dir + ": is " + file_kind_text(st.st_mode) + ", not a folder (expected " + what + ")");
    DIR* d = ::opendir(dir.c_str());
    if (!d) throw_errno(dir, errno, "list the folder");
    ::closedir(d);
}

bool path_exists(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) return true;
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return false;
    throw_errno(path.string(), err, "look at it");
}

}  // namespace qs
