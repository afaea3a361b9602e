#include "core/device.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/version.h>
#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <fstream>

#include "core/error.h"

namespace qs {

static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
}

int init_compute_threads() {
    const char* env = std::getenv("OMP_NUM_THREADS");
    int n = env && *env ? std::atoi(env) : static_cast<int>(std::thread::hardware_concurrency());
    if (n < 1) n = 1;
    // Worker threads pick the count up from ATen on their first parallel op.
    if (at::get_num_threads() != n) at::set_num_threads(n);
    return at::get_num_threads();
}

int compute_threads() { return at::get_num_threads(); }

std::vector<std::string> available_devices() {
    std::vector<std::string> out{"cpu"};
    if (at::hasCUDA()) out.push_back("cuda");
    if (at::hasMPS()) out.push_back("mps");
    return out;
}

c10::Device parse_device(const std::string& s) {
    std::string base = s.substr(0, s.find(':'));
    if (base != "cpu" && base != "cuda" && base != "mps")
        throw Error("unknown device '" + s + "' (expected one of: cpu, cuda, mps)");
    auto avail = available_devices();
    if (std::find(avail.begin(), avail.end(), base) == avail.end())
        throw Error("device '" + s + "' is not available with this build of libtorch " + libtorch_version() +
                    " on this machine (available: " + join(avail) + ")");
    try {
        return c10::Device(s);
    } catch (const std::exception&) {
        throw Error("invalid device string '" + s + "'");
    }
}

c10::ScalarType parse_dtype(const std::string& s) {
    if (s == "fp32" || s == "float32" || s == "float") return at::kFloat;
    if (s == "bf16" || s == "bfloat16") return at::kBFloat16;
    if (s == "fp16" || s == "float16" || s == "half") return at::kHalf;
    throw Error("unknown dtype '" + s + "' (expected fp32, bf16 or fp16)");
}

std::string dtype_name(c10::ScalarType t) {
    switch (t) {
        case at::kFloat: return "fp32";
        case at::kBFloat16: return "bf16";
        case at::kHalf: return "fp16";
        case at::kDouble: return "fp64";
        case at::kChar: return "int8";
        case at::kByte: return "uint8";
        case at::kInt: return "int32";
        case at::kLong: return "int64";
        default: return c10::toString(t);
    }
}

std::string device_name(const c10::Device& d) { return d.str(); }

void check_device_dtype(const c10::Device& d, c10::ScalarType t) {
    if (d.is_cpu() && t == at::kHalf)
        throw Error("fp16 is not supported on the CPU: libtorch " + libtorch_version() +
                    " has no fp16 matrix multiply on CPU ('addmm_impl_cpu_' not implemented for 'Half'). "
                    "Use bf16 or fp32 on the CPU, or fp16 on cuda/mps.");
}

std::vector<std::string> available_dtypes(const c10::Device& d) {
    if (d.is_cpu()) return {"fp32", "bf16"};
    return {"fp32", "bf16", "fp16"};
}

std::string libtorch_version() {
    return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
           std::to_string(TORCH_VERSION_PATCH);
}

static int find_blas(struct dl_phdr_info* info, size_t, void* data) {
    const char* name = info->dlpi_name;
    if (!name || !*name) return 0;
    auto* found = static_cast<int*>(data);
    std::string n(name);
    if (n.find("libblas.so") != std::string::npos) {
        // Resolve the alternatives symlink: the reference BLAS lives in .../blas/, OpenBLAS in .../openblas*/.
        char buf[4096];
        std::string real = n;
        if (realpath(name, buf)) real = buf;
        if (real.find("openblas") == std::string::npos && real.find("blis") == std::string::npos &&
            real.find("mkl") == std::string::npos && real.find("atlas") == std::string::npos)
            *found = 1;
    }
    return 0;
}

bool reference_blas_detected() {
    int found = 0;
    dl_iterate_phdr(find_blas, &found);
    return found != 0;
}

}  // namespace qs
