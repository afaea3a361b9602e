#include "core/device.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
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

namespace {

// "13.0" from a CUDA version number 1000 * major + 10 * minor.
std::string cuda_version_text(long v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }

// What the NVIDIA driver says, asked directly through libcuda's C API (loaded with dlopen, so
// nothing here needs the CUDA toolkit): whether the driver library loads, cuInit's result,
// the CUDA version the driver supports, and the devices. Asked once per process; the library
// stays loaded (libtorch uses the same one).
struct DriverProbe {
    bool loaded = false;
    std::string error;  // why the driver is not usable (empty when it is)
    int version = 0;    // cuDriverGetVersion
    std::vector<std::string> devices;
};

const DriverProbe& cuda_driver() {
    static const DriverProbe probe = [] {
        DriverProbe p;
        void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char* e = dlerror();
            p.error =
                std::string("no NVIDIA driver (libcuda.so.1 cannot be loaded: ") + (e ? e : "dlopen failed") + ")";
            return p;
        }
        p.loaded = true;
        using InitFn = int (*)(unsigned);
        using IntFn = int (*)(int*);
        using GetFn = int (*)(int*, int);
        using NameFn = int (*)(char*, int, int);
        using ErrFn = int (*)(int, const char**);
        auto init = reinterpret_cast<InitFn>(dlsym(h, "cuInit"));
        auto version = reinterpret_cast<IntFn>(dlsym(h, "cuDriverGetVersion"));
        auto count = reinterpret_cast<IntFn>(dlsym(h, "cuDeviceGetCount"));
        auto get = reinterpret_cast<GetFn>(dlsym(h, "cuDeviceGet"));
        auto name = reinterpret_cast<NameFn>(dlsym(h, "cuDeviceGetName"));
        auto err_name = reinterpret_cast<ErrFn>(dlsym(h, "cuGetErrorString"));
        if (!init || !version || !count || !get || !name) {
            p.error = "the NVIDIA driver library libcuda.so.1 lacks cuInit/cuDeviceGetCount (a broken driver install?)";
            return p;
        }
        if (version(&p.version) != 0) p.version = 0;
        if (int rc = init(0); rc != 0) {
            const char* msg = nullptr;
            if (err_name) err_name(rc, &msg);
            p.error = rc == 100
                          ? std::string("no CUDA device (the NVIDIA driver found none)")
                          : "the NVIDIA driver failed to initialise (cuInit: " + std::string(msg ? msg : "error") +
                                ", code " + std::to_string(rc) + ")";
        } else {
            int n = 0;
            if (count(&n) != 0) n = 0;
            for (int i = 0; i < n; ++i) {
                int dev = 0;
                char buf[256] = {0};
                if (get(&dev, i) == 0 && name(buf, sizeof buf - 1, dev) == 0)
                    p.devices.emplace_back(buf);
                else
                    p.devices.emplace_back("device " + std::to_string(i));
            }
            if (n == 0) p.error = "no CUDA device (the NVIDIA driver found none)";
        }
        if (p.error.rfind("no CUDA device", 0) == 0)
            if (const char* vis = std::getenv("CUDA_VISIBLE_DEVICES"))
                p.error += "; CUDA_VISIBLE_DEVICES='" + std::string(vis) + "'";
        return p;
    }();
    return probe;
}

}  // namespace

std::string BackendStatus::line() const {
    std::string s = name + ": ";
    if (!compiled) return s + "not compiled in (" + reason + ")";
    s += "compiled in" + (build.empty() ? std::string() : " (" + build + ")");
    if (usable) return s + ", usable" + (detail.empty() ? std::string() : ": " + detail);
    return s + ", not usable here: " + reason;
}

BackendStatus cuda_status() {
    BackendStatus st;
    st.name = "cuda";
    // Registered when libtorch_cuda is loaded (the pip / LibTorch CUDA builds link it as always-needed).
    st.compiled = at::CUDAHooksRegistry()->Has("CUDAHooks");
    if (!st.compiled) {
        st.reason = "this libtorch " + libtorch_version() +
                    " is CPU-only; build the GPU variant: packaging/setup-debian.sh --libtorch pip";
        return st;
    }
    const long runtime = at::detail::getCUDAHooks().versionCUDART();
    st.build = "CUDA " + cuda_version_text(runtime);
    const DriverProbe& d = cuda_driver();
    // Only ask libtorch once the driver answered (it would otherwise warn on stderr).
    if (!d.error.empty()) {
        st.reason = d.error;
        return st;
    }
    const std::string driver = d.version ? "driver supports CUDA " + cuda_version_text(d.version) : "driver";
    if (d.version && d.version / 1000 < runtime / 1000) {
        st.reason = "the NVIDIA " + driver + ", this libtorch needs CUDA " + cuda_version_text(runtime) +
                    " (update the NVIDIA driver)";
        return st;
    }
    st.usable = at::hasCUDA();
    if (!st.usable) {
        st.reason = "libtorch found no usable CUDA device (" + driver + ", " + std::to_string(d.devices.size()) +
                    " device(s) listed by the driver)";
        return st;
    }
    st.detail = driver + ", " + std::to_string(d.devices.size()) +
                (d.devices.size() == 1 ? " device: " : " devices: ") + join(d.devices);
    return st;
}

BackendStatus mps_status() {
    BackendStatus st;
    st.name = "mps";
#if defined(__APPLE__)
    st.compiled = true;
    st.usable = at::hasMPS();
    if (!st.usable) st.reason = "no Metal GPU (MPS needs macOS 12.3 or newer on Apple silicon or an AMD GPU)";
#else
    st.reason = "Apple GPUs only (macOS)";
#endif
    return st;
}

std::string torch_runtime_text() {
    std::string s = "libtorch " + libtorch_version() + " (devices: " + join(available_devices()) + "; " +
                    std::to_string(compute_threads()) + " CPU threads)";
    const char* wait = std::getenv("OMP_WAIT_POLICY");
    s += "\nOpenMP wait policy: " + std::string(wait && *wait ? wait : "libgomp default (spin, then sleep)");
    const std::string blas = blas_library();
    if (!blas.empty()) s += "\nBLAS: " + blas;
    s += "\n" + cuda_status().line();
    s += "\n" + mps_status().line();
    return s;
}

std::vector<std::string> available_devices() {
    std::vector<std::string> out{"cpu"};
    if (cuda_status().usable) out.push_back("cuda");
    if (mps_status().usable) out.push_back("mps");
    return out;
}

c10::Device parse_device(const std::string& s) {
    std::string base = s.substr(0, s.find(':'));
    if (base != "cpu" && base != "cuda" && base != "mps")
        throw Error("unknown device '" + s + "' (expected one of: cpu, cuda, mps)");
    auto avail = available_devices();
    if (std::find(avail.begin(), avail.end(), base) == avail.end())
        throw Error("device '" + s + "' is not available with this build of libtorch " + libtorch_version() +
                    " on this machine: " + (base == "cuda" ? cuda_status() : mps_status()).line() +
                    " (available: " + join(avail) + ")");
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
        case at::kFloat:
            return "fp32";
        case at::kBFloat16:
            return "bf16";
        case at::kHalf:
            return "fp16";
        case at::kDouble:
            return "fp64";
        case at::kChar:
            return "int8";
        case at::kByte:
            return "uint8";
        case at::kInt:
            return "int32";
        case at::kLong:
            return "int64";
        default:
            return c10::toString(t);
    }
}

std::string device_name(const c10::Device& d) { return d.str(); }

// libtorch 1.x has no fp16 matrix multiply on the CPU; 2.x has (docs/notes.md §1, §2).
constexpr bool kCpuFp16 = TORCH_VERSION_MAJOR >= 2;

void check_device_dtype(const c10::Device& d, c10::ScalarType t) {
    if (!kCpuFp16 && d.is_cpu() && t == at::kHalf)
        throw Error("fp16 is not supported on the CPU: libtorch " + libtorch_version() +
                    " has no fp16 matrix multiply on CPU ('addmm_impl_cpu_' not implemented for 'Half'). "
                    "Use bf16 or fp32 on the CPU, or fp16 on cuda/mps (or build against libtorch 2.x).");
}

std::vector<std::string> available_dtypes(const c10::Device& d) {
    if (d.is_cpu() && !kCpuFp16) return {"fp32", "bf16"};
    return {"fp32", "bf16", "fp16"};
}

c10::ScalarType accumulation_dtype(const c10::Device& d) { return d.is_mps() ? at::kFloat : at::kDouble; }

std::string precision_note(const c10::Device& d, const std::string& what) {
    if (accumulation_dtype(d) == at::kDouble) return "";
    return what + " computed in float32 on " + d.str() + " (it has no float64; float64 on cpu/cuda)";
}

at::Tensor div_exact(const at::Tensor& t, double d) {
    if (t.is_cpu()) return t / d;
    return t / at::scalar_tensor(d, t.options());
}

at::Tensor to_float64(const at::Tensor& t) {
    return accumulation_dtype(t.device()) == at::kDouble ? t.to(at::kDouble) : t.to(at::kCPU).to(at::kDouble);
}

std::string libtorch_version() {
    return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
           std::to_string(TORCH_VERSION_PATCH);
}

static int find_blas(struct dl_phdr_info* info, size_t, void* data) {
    const char* name = info->dlpi_name;
    if (!name || !*name || std::string(name).find("libblas.so") == std::string::npos) return 0;
    // Resolve the alternatives symlink: the reference BLAS lives in .../blas/, OpenBLAS in .../openblas-*/.
    char buf[4096];
    *static_cast<std::string*>(data) = realpath(name, buf) ? buf : name;
    return 1;
}

std::string blas_library() {
    std::string path;
    dl_iterate_phdr(find_blas, &path);
    return path;
}

bool reference_blas_detected() {
    const std::string real = blas_library();
    return !real.empty() && real.find("openblas") == std::string::npos && real.find("blis") == std::string::npos &&
           real.find("mkl") == std::string::npos && real.find("atlas") == std::string::npos;
}

bool pthread_openblas_detected() { return blas_library().find("openblas-pthread") != std::string::npos; }

std::string blas_warning() {
    if (reference_blas_detected())
        return "\nwarning: libtorch uses the reference BLAS (about 13x slower); install libopenblas0-openmp "
               "(packaging/setup-debian.sh selects it)";
    if (pthread_openblas_detected())
        return "\nwarning: OpenBLAS's pthread build is in use; its threads compete with OpenMP's (AWQ search 2.1x "
               "slower): install libopenblas0-openmp and select it (update-alternatives --config "
               "libblas.so.3-x86_64-linux-gnu; packaging/setup-debian.sh does both)";
    return "";
}

}  // namespace qs
