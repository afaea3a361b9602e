#include "export/atomic_dir.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "io/safe_output.h"

namespace fs = std::filesystem;

namespace qs {

namespace {

std::string errno_text() { return std::strerror(errno); }

}  // namespace

void check_output_not_source(const std::string& out, const std::string& source) {
    if (out.empty()) throw Error("no output folder given");
    const fs::path o = resolved_path(out), s = resolved_path(source);
    std::error_code ec;
    const bool source_is_folder = fs::is_directory(s, ec);
    if (o == s)
        throw Error(out + ": the output folder is the source model " + (source_is_folder ? "folder" : "file") +
                    "; choose another --out");
    if (path_is_inside(o, s))
        throw Error(out + ": the output folder lies inside the source model folder " + source +
                    "; choose a folder outside it");
    if (path_is_inside(s, o))
        throw Error(out + ": the source model " + (source_is_folder ? "folder " : "file ") + source +
                    " lies inside this output folder, which export would replace; choose another --out");
}

uint64_t free_bytes_at(const std::string& path) {
    fs::path p = fs::absolute(path);
    while (!p.empty() && !fs::exists(p)) p = p.parent_path();
    if (p.empty()) p = "/";
    struct statvfs st;
    if (::statvfs(p.c_str(), &st) != 0) throw Error(p.string() + ": cannot read the free space (" + errno_text() + ")");
    return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

void fsync_path(const std::string& path) {
    const bool dir = fs::is_directory(path);
    int fd = ::open(path.c_str(), dir ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
    if (fd < 0) throw Error(path + ": cannot open for fsync (" + errno_text() + ")");
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) throw Error(path + ": fsync failed (" + std::string(std::strerror(err)) + ")");
}

AtomicDir::AtomicDir(const std::string& dest, bool replace) : replace_(replace) {
    dest_ = resolved_path(dest).string();
    notes_ = remove_stale_temporaries(dest_);  // what killed exports left here (SIGKILL, power loss)
    std::error_code ec;
    if (fs::exists(dest_)) {
        if (!replace) throw Error(dest + ": already exists; choose a new folder or pass --force to replace it");
        if (!fs::is_directory(dest_))
            throw Error(dest + ": exists and is not a folder; --force replaces only a model folder");
        if (!fs::exists(fs::path(dest_) / "config.json"))
            throw Error(dest +
                        ": exists and holds no config.json; --force replaces only a model folder, "
                        "never an arbitrary folder");
    }
    const fs::path parent = fs::path(dest_).parent_path();
    fs::create_directories(parent, ec);
    if (ec) throw Error(parent.string() + ": cannot create the output's parent folder (" + ec.message() + ")");
    tmp_ = dest_ + ".tmp-" + std::to_string(::getpid());
    fs::remove_all(tmp_, ec);  // a stale folder of a crashed run that had our pid
    if (!fs::create_directory(tmp_, ec) || ec)
        throw Error(tmp_ + ": cannot create the temporary output folder (" +
                    (ec ? ec.message() : std::string("exists")) + ")");
}

AtomicDir::~AtomicDir() {
    if (committed_) return;
    std::error_code ec;
    fs::remove_all(tmp_, ec);  // best effort; never throws from a destructor
}

void AtomicDir::commit() {
    if (committed_) return;
    for (const auto& e : fs::recursive_directory_iterator(tmp_))
        if (e.is_regular_file()) fsync_path(e.path().string());
    fsync_path(tmp_);
    std::string aside;
    if (fs::exists(dest_)) {
        if (!replace_) throw Error(dest_ + ": appeared while exporting; not replaced");
        aside = dest_ + ".old-" + std::to_string(::getpid());
        std::error_code ec;
        fs::remove_all(aside, ec);
        if (::rename(dest_.c_str(), aside.c_str()) != 0)
            throw Error(dest_ + ": cannot move the folder being replaced aside (" + errno_text() + ")");
    }
    if (::rename(tmp_.c_str(), dest_.c_str()) != 0) {
        const std::string why = errno_text();
        if (!aside.empty()) (void)::rename(aside.c_str(), dest_.c_str());
        throw Error(dest_ + ": cannot rename the finished export into place (" + why + ")");
    }
    committed_ = true;
    if (!aside.empty()) {
        std::error_code ec;
        fs::remove_all(aside, ec);
    }
    try {
        fsync_path(fs::path(dest_).parent_path().string());
    } catch (const Error&) {
        // the rename is done; a failed parent fsync only weakens durability after a crash
    }
}

}  // namespace qs
