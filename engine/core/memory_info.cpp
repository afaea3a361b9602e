#include "core/memory_info.h"

#include <dlfcn.h>

#include <fstream>
#include <sstream>
#include <string>

namespace qs {

namespace {

// "Key:   123 kB" from a /proc file, in bytes; 0 when absent.
uint64_t proc_kib(const char* path, const std::string& key) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, key.size(), key) != 0 || line.size() <= key.size() || line[key.size()] != ':') continue;
        std::istringstream s(line.substr(key.size() + 1));
        uint64_t kib = 0;
        s >> kib;
        return kib * 1024;
    }
    return 0;
}

}  // namespace

std::optional<uint64_t> device_available_bytes(const c10::Device& device) {
    if (device.is_cpu()) {
        const uint64_t b = proc_kib("/proc/meminfo", "MemAvailable");
        if (b) return b;
        return std::nullopt;
    }
    if (device.is_cuda()) {
        using Fn = int (*)(size_t*, size_t*);
        auto fn = reinterpret_cast<Fn>(::dlsym(RTLD_DEFAULT, "cudaMemGetInfo"));
        size_t free_b = 0, total = 0;
        if (fn && fn(&free_b, &total) == 0) return free_b;
    }
    return std::nullopt;
}

uint64_t process_rss_bytes() { return proc_kib("/proc/self/status", "VmRSS"); }
uint64_t process_peak_rss_bytes() { return proc_kib("/proc/self/status", "VmHWM"); }

}  // namespace qs
