#include "core/process_setup.h"

#include <malloc.h>

#include "core/device.h"
#include "core/signals.h"

namespace qs {

int prepare_process() {
    // Tensors up to 32 MiB come from the heap and freed ones are kept (up to 256 MiB at the
    // top) instead of being unmapped and page-faulted back on the next op (AWQ search on a random
    // OPT-125m, 2 x 512 calibration tokens, 2-core VM: 51 s -> 47 s).
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
