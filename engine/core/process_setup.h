// Process start-up for the programs that run the engine (CLI, GUI, benchmarks). Torch-free
// header: the GUI's main() includes it.
//
// Threads. Debian's libtorch 1.13 starts with ONE intra-op thread (its default comes from cpuinfo,
// which does not see a VM's cores), so prepare_process sets every core. Its GEMMs run in OpenBLAS:
// packaging/setup-debian.sh installs and selects the OpenMP build (libopenblas0-openmp), whose
// threads are libgomp's own, so libtorch and OpenBLAS share one pool. With the pthread build, the
// two pools spin against each other. Measured 2026-12-05 (tools/bench/bench_threads.sh, AWQ
// auto-scale + clip on a random OPT-125m, 2 x 512 calibration tokens, 2-core Xeon, medians of 3
// interleaved; docs/bench/threads_debian_opt125m_20261205.*): OpenMP OpenBLAS + libgomp's default
// wait 38.3 s; pthread OpenBLAS + OMP_WAIT_POLICY=PASSIVE (what QuantScope set up to 2026-12-04,
// through a .preinit_array environment entry or a re-exec) 49.9 s; pthread + default wait 80.5 s;
// OpenMP + PASSIVE 46.6 s. So no wait policy is set any more, and neither workaround is needed;
// `--version` warns when the pthread build is the one in use.
#pragma once

namespace qs {

// Call first thing in main(): keeps freed heap memory for reuse, in one heap for all threads
// (mallopt; measured in process_setup.cpp), reports EFBIG instead of dying of SIGXFSZ, and sets the
// intra-op thread count to $OMP_NUM_THREADS or every core. Returns the thread count.
int prepare_process();

}  // namespace qs
