#include "core/process_setup.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "core/device.h"

namespace qs {

namespace {

int wanted_threads() {
    const char* env = std::getenv("OMP_NUM_THREADS");
    const int n = env && *env ? std::atoi(env) : static_cast<int>(std::thread::hardware_concurrency());
    return n < 1 ? 1 : n;
}

}  // namespace

int prepare_process(char** argv) {
    if (wanted_threads() > 1 && !std::getenv("OMP_WAIT_POLICY") && !std::getenv("QS_PROCESS_PREPARED")) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        setenv("QS_PROCESS_PREPARED", "1", 1);  // never loop, even if the variable is dropped
        execv("/proc/self/exe", argv);
        // exec failed (no /proc?): go on with the default wait policy
    }
    // Tensors up to 32 MiB come from the heap and freed ones are kept (up to 256 MiB at the
    // top) instead of being unmapped and page-faulted back on the next op.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    return init_compute_threads();
}

}  // namespace qs
