// Devices and dtypes: parsing user strings, run-time availability checks.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>
#include <vector>

namespace qs {

// "cpu", "cuda", "cuda:1", "mps". Throws qs::Error naming the available devices and, for an
// unavailable cuda/mps, why (backend_status().line).
c10::Device parse_device(const std::string& s);
// "fp32"/"float32", "bf16"/"bfloat16", "fp16"/"float16"/"half".
c10::ScalarType parse_dtype(const std::string& s);
std::string dtype_name(c10::ScalarType t);  // "fp32", "bf16", "fp16", ...
std::string device_name(const c10::Device& d);

// Devices usable with the linked libtorch on this machine, e.g. {"cpu","cuda"}.
std::vector<std::string> available_devices();
// Throws qs::Error if the (device, dtype) pair cannot run (fp16 matmul on CPU with libtorch 1.x).
void check_device_dtype(const c10::Device& d, c10::ScalarType t);
// dtypes offered for a device (fp16 is offered on the CPU from libtorch 2.0 on).
std::vector<std::string> available_dtypes(const c10::Device& d);

// A GPU backend as seen from here: compiled into the linked libtorch or not, usable on this
// machine or not, and why not.
struct BackendStatus {
    std::string name;       // "cuda", "mps"
    bool compiled = false;  // the linked libtorch carries the backend
    bool usable = false;    // ... and this machine can run it
    std::string build;      // e.g. "CUDA 13.0" (what the libtorch was built with), empty if not compiled
    std::string detail;     // when usable, e.g. "driver CUDA 13.0, 1 device: NVIDIA H200"
    std::string reason;     // when not usable, e.g. "no NVIDIA driver (libcuda.so.1 cannot be loaded: ...)"
    // One line for --version and error messages, e.g. "cuda: compiled in (CUDA 13.0), not
    // usable here: no NVIDIA driver (...)".
    std::string line() const;
};
BackendStatus cuda_status();
BackendStatus mps_status();
// The libtorch/device part of --version and the About box: "libtorch 2.11.0 (devices: cpu;
// 2 CPU threads)", then one line per GPU backend (BackendStatus::line).
std::string torch_runtime_text();

// Reductions that are float64 on the CPU and CUDA run in float32 on MPS (it has no float64).
// accumulation_dtype: kDouble, or kFloat on MPS. precision_note: "" where float64 is used, else
// a sentence for the result saying that `what` ran in float32 on this device.
c10::ScalarType accumulation_dtype(const c10::Device& d);
std::string precision_note(const c10::Device& d, const std::string& what);
// t as float64 for an exact reduction: on its device, or copied to the CPU where the device has
// no float64 (MPS).
at::Tensor to_float64(const at::Tensor& t);

// t / d, correctly rounded on every device. CUDA (and MPS) compute a tensor divided by a CPU
// scalar as t * (1/d), one bit off the quotient for many values: quantization scales such as
// (max - min) / 7 then differ by an ulp from the CPU's and the reference's, enough to flip the
// rounding of codes near a .5 boundary (measured on an H200: 0.24 % of w3 g32 codes, +0.25 %
// perplexity on TinyStories-656K). Dividing by a 0-dim tensor on t's own device keeps the true
// division; on the CPU it is the same kernel as t / d.
at::Tensor div_exact(const at::Tensor& t, double d);

// Intra-op threads for CPU tensor work. Debian's libtorch 1.13 starts with ONE thread on this
// kind of machine (its default comes from cpuinfo, which does not see the VM's cores), so only
// BLAS ran in parallel and every elementwise op on one core. Call once at start-up: uses
// $OMP_NUM_THREADS when set (the tests set 1), else every core. Returns the thread count.
int init_compute_threads();
int compute_threads();

std::string libtorch_version();
// True when libtorch resolved a reference (non-optimised) BLAS; see docs/notes.md §2.
bool reference_blas_detected();
// The real path of the libblas.so.3 this process loaded (Debian's libtorch links it), or "".
std::string blas_library();
// True when that is OpenBLAS's pthread build: its thread pool then competes with libgomp's
// (docs/bench/threads_debian_opt125m_20261205.txt: AWQ search 2.1x slower than with the OpenMP build).
bool pthread_openblas_detected();
// "\nwarning: ..." naming the fix when the BLAS in use is slow for QuantScope (reference or pthread
// OpenBLAS), else "". Printed by --version in the CLI and the GUI.
std::string blas_warning();

}  // namespace qs
