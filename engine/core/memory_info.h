// Memory figures of this process and its devices (Linux /proc; CUDA through the runtime that
// libtorch loaded, when there is one). Used to choose block-sequential mode and by benchmarks.
#pragma once
#include <c10/core/Device.h>

#include <cstdint>
#include <optional>

namespace qs {

// Memory a model could still use on `device`: MemAvailable on the CPU, free device memory on
// CUDA; nullopt when unknown (MPS, or no CUDA runtime found).
std::optional<uint64_t> device_available_bytes(const c10::Device& device);
uint64_t process_rss_bytes();       // VmRSS
uint64_t process_peak_rss_bytes();  // VmHWM

}  // namespace qs
