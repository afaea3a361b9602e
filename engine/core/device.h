// Devices and dtypes: parsing user strings, run-time availability checks.
#pragma once
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>
#include <vector>

namespace qs {

// "cpu", "cuda", "cuda:1", "mps". Throws qs::Error naming the available devices.
c10::Device parse_device(const std::string& s);
// "fp32"/"float32", "bf16"/"bfloat16", "fp16"/"float16"/"half".
c10::ScalarType parse_dtype(const std::string& s);
std::string dtype_name(c10::ScalarType t);  // "fp32", "bf16", "fp16", ...
std::string device_name(const c10::Device& d);

// Devices usable with the linked libtorch on this machine, e.g. {"cpu","cuda"}.
std::vector<std::string> available_devices();
// Throws qs::Error if the (device, dtype) pair cannot run (fp16 matmul on CPU).
void check_device_dtype(const c10::Device& d, c10::ScalarType t);
// dtypes offered for a device (fp16 is not offered on CPU).
std::vector<std::string> available_dtypes(const c10::Device& d);

// Intra-op threads for CPU tensor work. Debian's libtorch 1.13 starts with ONE thread on this
// kind of machine (its default comes from cpuinfo, which does not see the VM's cores), so only
// BLAS ran in parallel and every elementwise op on one core. Call once at start-up: uses
// $OMP_NUM_THREADS when set (the tests set 1), else every core. Returns the thread count.
int init_compute_threads();
int compute_threads();

std::string libtorch_version();
// True when libtorch resolved a reference (non-optimised) BLAS; see NOTES §2.
bool reference_blas_detected();

}  // namespace qs
