#include "core/process_setup.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "core/device.h"
#include "core/signals.h"

// QS_OMP_PASSIVE_WAIT (set by engine/CMakeLists.txt for Debian's libtorch): libgomp's threads
// share the cores with OpenBLAS's own thread pool there, and libgomp's default wait (spin, then
// sleep) makes the two pools spin against each other (measured below, in process_setup.h). A
// LibTorch or pip-wheel libtorch runs its GEMMs (MKL, oneDNN) on the same OpenMP pool, so there
// the default wait is faster: PASSIVE put every small op behind a futex wake-up. Measured
// 2026-12-04, Llama-2-7B-shaped bf16 cut to 8 layers, 4 x 256 tokens, 2 cores, libtorch 2.11,
// runs interleaved: 261, 266, 262 tok/s PASSIVE vs 281, 289, 280 tok/s default (+8 %).
#ifndef QS_OMP_PASSIVE_WAIT
#define QS_OMP_PASSIVE_WAIT 0
#endif

namespace qs {

namespace {

int wanted_threads(const char* env) {
    const int n = env && *env ? std::atoi(env) : static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    return n < 1 ? 1 : n;
}

int wanted_threads() { return wanted_threads(std::getenv("OMP_NUM_THREADS")); }

// The entry NAME=... of envp, or null.
char** env_entry(char** envp, const char* name) {
    const size_t n = std::strlen(name);
    for (char** e = envp; e && *e; ++e)
        if (std::strncmp(*e, name, n) == 0 && (*e)[n] == '=') return e;
    return nullptr;
}

}  // namespace

void early_environment(int, char**, char** envp) {
    // Runs before libc has set `environ` (getenv answers nothing yet, and a setenv here is
    // lost when libc's initializer sets environ = envp), so envp is edited in place. It has
    // no free slot: the entry "_" (the shell's path of the command, unused) gives its slot.
    // Without one, prepare_process re-executes the program as before.
    if (!QS_OMP_PASSIVE_WAIT) return;
    char** threads = env_entry(envp, "OMP_NUM_THREADS");
    if (wanted_threads(threads ? *threads + 16 : nullptr) <= 1 || env_entry(envp, "OMP_WAIT_POLICY")) return;
    static char passive[] = "OMP_WAIT_POLICY=PASSIVE";
    if (char** underscore = env_entry(envp, "_")) *underscore = passive;
}

int prepare_process(char** argv) {
    if (QS_OMP_PASSIVE_WAIT && wanted_threads() > 1 && !std::getenv("OMP_WAIT_POLICY") &&
        !std::getenv("QS_PROCESS_PREPARED")) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        setenv("QS_PROCESS_PREPARED", "1", 1);  // never loop, even if the variable is dropped
        execv("/proc/self/exe", argv);
        // exec failed (no /proc?): go on with the default wait policy
    }
    // Tensors up to 32 MiB come from the heap and freed ones are kept (up to 256 MiB at the
    // top) instead of being unmapped and page-faulted back on the next op.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    // One heap for every thread: a GUI worker thread otherwise gets an arena of its own whose
    // pages are fresh (faulted in) on its first jobs and trimmed between them. Measured on the
    // 768x3072 single-layer preview, called from a worker thread: 43-85 ms, 26-37 ms with one
    // arena (24 ms from the main thread).
    mallopt(M_ARENA_MAX, 1);
    ignore_file_size_signal();  // EFBIG is reported and cleaned up instead of a SIGXFSZ kill (core/signals.h)
    return init_compute_threads();
}

}  // namespace qs
