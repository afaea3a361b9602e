#include "io/map_guard.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace qs::map_guard {

namespace {

enum : int { kFree = 0, kClaimed = 1, kLive = 2 };

struct Slot {
    std::atomic<int> state{kFree};
    std::atomic<uintptr_t> begin{0}, end{0};  // end rounded up to a page
    std::atomic<int> prot{PROT_READ};
    std::atomic<bool> faulted{false};
};

constexpr int kSlots = 4096;
Slot g_slots[kSlots];
std::atomic<int> g_high{0};  // slots [0, g_high) may be in use
uintptr_t g_page = 4096;
struct sigaction g_previous {};
std::atomic<bool> g_installed{false};
std::once_flag g_once;

void on_sigbus(int sig, siginfo_t* info, void* ctx) {
    const auto addr = reinterpret_cast<uintptr_t>(info ? info->si_addr : nullptr);
    const int high = g_high.load(std::memory_order_acquire);
    for (int i = 0; info && i < high; ++i) {
        Slot& s = g_slots[i];
        if (s.state.load(std::memory_order_acquire) != kLive) continue;
        const uintptr_t b = s.begin.load(std::memory_order_relaxed), e = s.end.load(std::memory_order_relaxed);
        if (addr < b || addr >= e) continue;
        const uintptr_t page = addr & ~(g_page - 1);
        void* r = ::mmap(reinterpret_cast<void*>(page), e - page, s.prot.load(std::memory_order_relaxed),
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (r != MAP_FAILED) {
            s.faulted.store(true, std::memory_order_release);
            return;  // the faulting instruction is retried and now reads zeros
        }
        break;
    }
    // Not ours: what would have happened without this handler.
    if ((g_previous.sa_flags & SA_SIGINFO) && g_previous.sa_sigaction) {
        g_previous.sa_sigaction(sig, info, ctx);
        return;
    }
    if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN && !(g_previous.sa_flags & SA_SIGINFO)) {
        g_previous.sa_handler(sig);
        return;
    }
    ::signal(SIGBUS, SIG_DFL);
    if (!info || info->si_code <= 0) ::raise(SIGBUS);  // sent by kill(): no fault to re-execute
    // a real fault re-executes the instruction and now gets the default action
}

void install() {
    const long p = ::sysconf(_SC_PAGESIZE);
    if (p > 0) g_page = static_cast<uintptr_t>(p);
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(SIGBUS, &sa, &g_previous) == 0) g_installed.store(true);
}

}  // namespace

int register_mapping(const void* data, size_t size, int prot) {
    std::call_once(g_once, install);
    if (!data || size == 0) return -1;
    for (int i = 0; i < kSlots; ++i) {
        int expected = kFree;
        if (!g_slots[i].state.compare_exchange_strong(expected, kClaimed)) continue;
        Slot& s = g_slots[i];
        const auto b = reinterpret_cast<uintptr_t>(data);
        s.begin.store(b);
        s.end.store((b + size + g_page - 1) & ~(g_page - 1));
        s.prot.store(prot);
        s.faulted.store(false);
        int high = g_high.load();
        while (high < i + 1 && !g_high.compare_exchange_weak(high, i + 1)) {}
        s.state.store(kLive, std::memory_order_release);
        return i;
    }
    return -1;
}

void unregister_mapping(int slot) {
    if (slot < 0 || slot >= kSlots) return;
    g_slots[slot].state.store(kFree, std::memory_order_release);
}

bool faulted(int slot) { return slot >= 0 && slot < kSlots && g_slots[slot].faulted.load(std::memory_order_acquire); }

bool handler_installed() { return g_installed.load(); }

}  // namespace qs::map_guard
