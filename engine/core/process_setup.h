// Process start-up for the programs that run the engine (CLI, GUI, benchmarks). Torch-free
// header: the GUI's main() includes it.
//
// Measured on a 2-core VM (tools/bench, AWQ search on a random OPT-125m, 2 calibration blocks):
// Debian's libtorch 1.13 starts with ONE intra-op thread (its default comes from cpuinfo,
// which does not see the VM's cores), so elementwise ops ran on one core: 76 s. With every core
// but libgomp's default active wait, the OpenMP threads spin against OpenBLAS's own threads:
// 93-100 s. With OMP_WAIT_POLICY=PASSIVE: 51 s; plus a heap that keeps freed blocks instead of
// returning (and re-faulting) them on every tensor: 47 s.
#pragma once

namespace qs {

// Call first thing in main(). With Debian's libtorch (OpenBLAS threads beside libgomp's; see
// QS_OMP_PASSIVE_WAIT in process_setup.cpp): if the process would use more than one CPU thread and
// OMP_WAIT_POLICY is not set, sets OMP_WAIT_POLICY=PASSIVE and re-executes the program once
// (libgomp reads it only when it is loaded); OMP_NUM_THREADS=1 (the tests) skips that.
// Then keeps freed heap memory for reuse, in one heap for all threads (mallopt), and sets the intra-op thread count to
// $OMP_NUM_THREADS or every core. Returns the thread count.
int prepare_process(char** argv);

// Sets OMP_WAIT_POLICY=PASSIVE (when unset and more than one thread is wanted) before any
// shared library's initializer has run, so libgomp reads it at load and prepare_process need
// not re-execute the program (which loads libtorch twice: ~0.5 s of start-up on the 2-core
// VM). Registered by QS_EARLY_ENVIRONMENT() in the program's main file: an entry in the
// executable's .preinit_array, which the dynamic loader calls before every constructor.
void early_environment(int argc, char** argv, char** envp);

}  // namespace qs

#define QS_EARLY_ENVIRONMENT()                                                                        \
    __attribute__((section(".preinit_array"), used)) static void (*const qs_early_environment_entry)( \
        int, char**, char**) = &qs::early_environment
