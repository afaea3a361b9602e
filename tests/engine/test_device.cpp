// Devices (issue #13): what --version and the About box say about cuda / mps, the errors for a
// device that is not usable, the dtypes offered on the CPU, and the float64 fallback for MPS.
#include <ATen/ATen.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <system_error>

#include "core/device.h"
#include "engine/test_util.h"

using namespace qs;

TEST(Device, CudaStatusSaysCompiledInAndWhyNotUsable) {
    const BackendStatus st = cuda_status();
    EXPECT_EQ(st.name, "cuda");
    const std::string line = st.line();
    if (!st.compiled) {
        EXPECT_NE(st.reason.find("CPU-only"), std::string::npos) << st.reason;
        EXPECT_EQ(line, "cuda: not compiled in (" + st.reason + ")");
        EXPECT_FALSE(st.usable);
        return;
    }
    EXPECT_EQ(st.build.rfind("CUDA ", 0), 0u) << st.build;
    void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!driver) {  // e.g. CI and the build machines: no NVIDIA driver
        EXPECT_FALSE(st.usable);
        EXPECT_EQ(st.reason.rfind("no NVIDIA driver (libcuda.so.1 cannot be loaded: ", 0), 0u) << st.reason;
        EXPECT_EQ(line, "cuda: compiled in (" + st.build + "), not usable here: " + st.reason);
    } else if (st.usable) {
        EXPECT_NE(st.detail.find("device"), std::string::npos) << st.detail;
        EXPECT_EQ(line, "cuda: compiled in (" + st.build + "), usable: " + st.detail);
    } else {
        EXPECT_FALSE(st.reason.empty());
    }
}

TEST(Device, MpsStatusAndUnusableDevicesAreRefusedWithTheReason) {
    const BackendStatus mps = mps_status();
    EXPECT_EQ(mps.name, "mps");
#if !defined(__APPLE__)
    EXPECT_EQ(mps.line(), "mps: not compiled in (Apple GPUs only (macOS))");
#endif
    for (const BackendStatus& st : {cuda_status(), mps}) {
        const auto avail = available_devices();
        const bool listed = std::find(avail.begin(), avail.end(), st.name) != avail.end();
        EXPECT_EQ(listed, st.usable) << st.line();
        if (!st.usable) {
            QS_EXPECT_ERROR_CONTAINS(parse_device(st.name), st.line());
            QS_EXPECT_ERROR_CONTAINS(parse_device(st.name + ":0"), "is not available with this build of libtorch");
        } else {
            EXPECT_EQ(parse_device(st.name).type(), st.name == "cuda" ? c10::DeviceType::CUDA : c10::DeviceType::MPS);
        }
    }
    const std::string text = torch_runtime_text();
    EXPECT_EQ(text.rfind("libtorch " + libtorch_version() + " (devices: cpu", 0), 0u) << text;
    EXPECT_NE(text.find("\n" + cuda_status().line()), std::string::npos) << text;
    EXPECT_NE(text.find("\n" + mps.line()), std::string::npos) << text;
}

TEST(Device, Fp16OnTheCpuFollowsTheLibtorchVersion) {
    const auto cpu = available_dtypes(c10::Device(c10::kCPU));
    const bool fp16 = std::find(cpu.begin(), cpu.end(), "fp16") != cpu.end();
    EXPECT_EQ(fp16, TORCH_VERSION_MAJOR >= 2);
    if (fp16) {
        EXPECT_NO_THROW(check_device_dtype(c10::Device(c10::kCPU), at::kHalf));
        // the kernels exist: a half matmul on the CPU
        at::Tensor a = at::ones({4, 8}, at::kHalf), b = at::ones({8, 3}, at::kHalf);
        EXPECT_EQ(at::matmul(a, b).sum().item<double>(), 96.0);
    } else {
        QS_EXPECT_ERROR_CONTAINS(check_device_dtype(c10::Device(c10::kCPU), at::kHalf),
                                 "fp16 is not supported on the CPU");
    }
}

TEST(Device, Float64FallsBackToFloat32OnMpsOnly) {
    const c10::Device cpu(c10::kCPU), mps(c10::kMPS), cuda(c10::kCUDA);
    EXPECT_EQ(accumulation_dtype(cpu), at::kDouble);
    EXPECT_EQ(accumulation_dtype(cuda), at::kDouble);
    EXPECT_EQ(accumulation_dtype(mps), at::kFloat);
    EXPECT_EQ(precision_note(cpu, "x"), "");
    EXPECT_EQ(precision_note(cuda, "x"), "");
    EXPECT_EQ(precision_note(mps, "AWQ losses"),
              "AWQ losses computed in float32 on mps (it has no float64; float64 on cpu/cuda)");
    at::Tensor t = at::tensor({1.5f, -2.25f});
    at::Tensor d = to_float64(t);
    EXPECT_EQ(d.scalar_type(), at::kDouble);
    EXPECT_TRUE(d.device().is_cpu());
    EXPECT_EQ(d[1].item<double>(), -2.25);
}

// The PyPI wheel's libtorch.so exports ~145 libstdc++ symbols of its own (std::filesystem among
// them). Ahead of the system libstdc++ in the lookup order they interposed on it process-wide, and
// std::filesystem::remove_all(path, ec) jumped to address 0 (quantscope-cli quantize --force
// crashed). cmake/QsTorch.cmake links libstdc++ first; this checks where the symbol resolves.
TEST(Device, StdFilesystemResolvesToLibstdcxx) {
    using RemoveAll = std::uintmax_t (*)(const std::filesystem::path&, std::error_code&);
    const RemoveAll f = &std::filesystem::remove_all;
    Dl_info info{};
    ASSERT_NE(dladdr(reinterpret_cast<void*>(f), &info), 0);
    ASSERT_NE(info.dli_fname, nullptr);
    EXPECT_NE(std::string(info.dli_fname).find("libstdc++"), std::string::npos)
        << "std::filesystem::remove_all resolves to " << info.dli_fname;
    const auto dir = temp_dir("remove_all");
    std::filesystem::create_directories(dir / "a" / "b");
    write_file(dir / "a" / "b" / "f.bin", "x");
    std::error_code ec;
    EXPECT_EQ(f(dir, ec), 4u);  // dir, a, b, f.bin
    EXPECT_FALSE(ec) << ec.message();
}
