#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include "core/error.h"
#include "io/file_checks.h"
#include "io/map_guard.h"

namespace qs {

namespace {
std::mutex g_live_mu;
// Never destroyed: a MappedFile held by a static object (a cache of loaded models) is destroyed
// at exit after any ordinary static, and must still find the set (a destroyed set was a
// double free at exit).
std::set<const MappedFile*>& live() {
    static auto* s = new std::set<const MappedFile*>;
    return *s;
}
}  // namespace

MappedFile::MappedFile(const std::string& path) : path_(path) {
    uint64_t size = 0;
    fd_ = open_regular_file(path, &size);  // refuses folders, FIFOs, devices (a FIFO would block)
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        int e = errno;
        ::close(fd_);
        throw Error(path + ": cannot stat (" + std::strerror(e) + ")");
    }
    size_ = static_cast<size_t>(st.st_size);
    mapped_size_ = st.st_size;
    mapped_mtime_ = st.st_mtim;
    if (size_ > 0) {
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            ::close(fd_);
            throw Error(path + ": cannot memory-map (" + std::strerror(e) + ")");
        }
        data_ = static_cast<const uint8_t*>(p);
        guard_slot_ = map_guard::register_mapping(data_, size_, PROT_READ);
    }
    std::lock_guard<std::mutex> lock(g_live_mu);
    live().insert(this);
}

MappedFile::~MappedFile() {
    {
        std::lock_guard<std::mutex> lock(g_live_mu);
        live().erase(this);
    }
    map_guard::unregister_mapping(guard_slot_);
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
}

void MappedFile::drop(size_t offset, size_t len) const {
    if (!data_ || len == 0) return;
    long page = ::sysconf(_SC_PAGESIZE);
    uintptr_t begin = reinterpret_cast<uintptr_t>(data_) + offset;
    uintptr_t aligned = begin & ~static_cast<uintptr_t>(page - 1);
    size_t full = len + (begin - aligned);
    ::madvise(reinterpret_cast<void*>(aligned), full, MADV_DONTNEED);
}

void MappedFile::check_intact() const {
    bool changed = map_guard::faulted(guard_slot_);
    struct stat st {};
    if (!changed && fd_ >= 0 && ::fstat(fd_, &st) == 0)
        changed = st.st_size != mapped_size_ || st.st_mtim.tv_sec != mapped_mtime_.tv_sec ||
                  st.st_mtim.tv_nsec != mapped_mtime_.tv_nsec;
    if (changed)
        throw Error(path_ +
                    ": the file changed while it was read (it was modified or truncated by another program); "
                    "reopen the model");
}

void MappedFile::check_all_intact() {
    std::lock_guard<std::mutex> lock(g_live_mu);
    for (const MappedFile* f : live()) f->check_intact();
}

}  // namespace qs
