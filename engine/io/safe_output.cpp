#include "io/safe_output.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "core/error.h"

namespace fs = std::filesystem;

namespace qs {

fs::path resolved_path(const std::string& p) {
    std::error_code ec;
    fs::path abs = fs::absolute(p, ec);
    if (ec) throw Error(p + ": cannot resolve the path (" + ec.message() + ")");
    fs::path r = fs::weakly_canonical(abs, ec);
    if (ec) throw Error(p + ": cannot resolve the path (" + ec.message() + ")");
    std::string s = r.string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return fs::path(s);
}

bool path_is_inside(const fs::path& inner, const fs::path& outer) {
    auto i = inner.begin(), o = outer.begin();
    for (; o != outer.end(); ++o, ++i)
        if (i == inner.end() || *i != *o) return false;
    return true;
}

namespace {

bool process_runs(long pid) {
    if (pid <= 0) return true;  // never touch what we cannot attribute
    if (::kill(static_cast<pid_t>(pid), 0) == 0) return true;
    return errno != ESRCH;  // EPERM: it runs, as another user
}

}  // namespace

void check_output_file(const std::string& path, const std::vector<std::string>& protected_dirs) {
    if (path.empty()) throw Error("no output file given");
    const fs::path target = resolved_path(path);
    for (const auto& d : protected_dirs) {
        if (d.empty()) continue;
        const fs::path pd = resolved_path(d);
        std::error_code ec;
        if (target == pd && fs::is_regular_file(pd, ec))  // a one-file model (GGUF)
            throw Error(path +
                        ": is the source model file, which QuantScope reads; it never writes over a source "
                        "model (choose another file)");
        if (path_is_inside(target, pd))
            throw Error(path + ": lies inside the model folder " + d +
                        ", which QuantScope reads; it never writes into or over a source model (choose a file "
                        "outside that folder)");
    }
}

std::vector<std::string> remove_stale_temporaries(const std::string& dest) {
    std::vector<std::string> notes;
    const fs::path d = resolved_path(dest);
    const fs::path parent = d.parent_path();
    const std::string name = d.filename().string();
    if (name.empty()) return notes;
    std::error_code ec;
    std::vector<std::pair<fs::path, long>> olds;
    for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string n = it->path().filename().string();
        for (const char* kind : {".tmp-", ".old-"}) {
            const std::string prefix = name + kind;
            if (n.size() <= prefix.size() || n.compare(0, prefix.size(), prefix) != 0) continue;
            const std::string digits = n.substr(prefix.size());
            if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
            const long pid = std::stol(digits);
            if (pid == static_cast<long>(::getpid()) || process_runs(pid)) continue;
            if (kind[1] == 'o')
                olds.push_back({it->path(), pid});
            else {
                std::error_code rec;
                fs::remove_all(it->path(), rec);
                if (!rec)
                    notes.push_back("removed " + it->path().string() + ", left by process " + std::to_string(pid) +
                                    ", which no longer runs");
            }
        }
    }
    for (const auto& [p, pid] : olds) {
        std::error_code rec;
        // A replacing export was killed after moving the previous folder aside: put it back.
        if (!fs::exists(d, rec) && ::rename(p.c_str(), d.c_str()) == 0) {
            notes.push_back("restored " + d.string() + " from " + p.string() + " (process " + std::to_string(pid) +
                            " was replacing it and no longer runs)");
            continue;
        }
        fs::remove_all(p, rec);
        if (!rec)
            notes.push_back("removed " + p.string() + ", left by process " + std::to_string(pid) +
                            ", which no longer runs");
    }
    return notes;
}

std::string write_error_text(int err) {
    const std::string s = std::strerror(err);
    if (err == ENOSPC) return "disk full (" + s + ")";
    if (err == EDQUOT) return "disk quota exceeded (" + s + ")";
    if (err == EFBIG) return "file too large for the file system or the file-size limit (ulimit -f) (" + s + ")";
    return s;
}

AtomicFile::AtomicFile(const std::string& path, const std::vector<std::string>& protected_dirs) : path_(path) {
    check_output_file(path, protected_dirs);
    std::error_code ec;
    if (fs::is_directory(path, ec)) throw Error(path + ": is a folder; choose a file name");
    const fs::path parent = fs::absolute(path, ec).parent_path();
    if (!fs::is_directory(parent, ec)) throw Error(path + ": the folder " + parent.string() + " does not exist");
    notes_ = remove_stale_temporaries(path);
    tmp_ = path + ".tmp-" + std::to_string(::getpid());
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(path + ": cannot create (" + write_error_text(errno) + ")");
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
        const ssize_t w = ::write(fd_, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw Error(path_ + ": write failed (" + write_error_text(errno) + ")");
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
}

void AtomicFile::commit() {
    if (committed_) return;
    if (::fsync(fd_) != 0) throw Error(path_ + ": write failed (" + write_error_text(errno) + ")");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw Error(path_ + ": write failed (" + write_error_text(errno) + ")");
    if (::rename(tmp_.c_str(), path_.c_str()) != 0)
        throw Error(path_ + ": cannot rename the finished file into place (" + std::strerror(errno) + ")");
    committed_ = true;
    std::error_code ec;
    const fs::path parent = fs::absolute(path_, ec).parent_path();
    const int dfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);  // durability of the rename; the file itself is complete either way
        ::close(dfd);
    }
}

std::vector<std::string> write_file_atomic(const std::string& path, const std::string& bytes,
                                           const std::vector<std::string>& protected_dirs) {
    AtomicFile f(path, protected_dirs);
    f.write(bytes.data(), bytes.size());
    f.commit();
    return f.notes();
}

}  // namespace qs
