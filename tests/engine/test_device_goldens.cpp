// The transformers goldens (logits: tools/goldens/make_model_goldens.py, perplexity:
// make_ppl_goldens.py) on a chosen device, in fp32, bf16 and fp16. The device is
// $QS_TEST_DEVICE (cpu, cuda, mps; default cpu): in CTest these run on the CPU in every dtype the
// linked libtorch offers there, and tools/gpu_check.sh runs them with QS_TEST_DEVICE=cuda.
// A dtype the device does not offer (fp16 on the CPU with libtorch 1.13) is skipped, saying so.
//
// Each check prints one "[ device   ]" line (tools/gpu_check.sh collects them into its table).
// Tolerances, all against the fp32 goldens of transformers:
//  * fp32: logits max |difference| <= 1e-4 and perplexity within 1e-3 relative, window NLLs
//    within 1e-4: the CPU goldens' own tolerances. On CUDA libtorch keeps fp32 matmuls in full
//    fp32 (TF32 is off by default for matmuls), so the same bounds apply.
//  * bf16 / fp16: weights and activations are rounded to 8 / 11 significant bits (unit roundoff
//    u = 2^-8 = 3.9e-3 / 2^-11 = 4.9e-4), so the logits can only be compared relative to their
//    scale: max |difference| <= kHalfLogitUlps * u * max|logit|. Perplexity: within
//    kHalfPplUlps * u relative of the fp32 golden (bf16: 1.2 %, fp16: 0.15 %; the CPU test
//    of bf16 against our own fp32 allows 1 %).
//    Measured on the CPU (libtorch 2.11, 2026-12-04), worst over the fixtures: logits 3.45 u*max
//    (bf16, qwen2-bias-random) and 4.29 u*max (fp16, stories260K); perplexity 0.21 u (bf16) and
//    0.64 u (fp16), both stories260K. The bounds leave 2.8x (logits) and 4.7x (ppl) for other
//    kernels' summation orders (cuBLAS accumulates fp16 GEMMs with reduced-precision reductions
//    by default, and splits the reductions differently).
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include "core/device.h"
#include "data/eval_text.h"
#include "engine/test_util.h"
#include "eval/perplexity.h"
#include "io/safetensors.h"
#include "models/causal_lm.h"
#include "quant/linear_quant.h"
#include "tokenizers/tokenizer.h"

using namespace qs;

namespace {

constexpr double kHalfLogitUlps = 12.0;  // max|diff| / (u * max|logit|)
constexpr double kHalfPplUlps = 3.0;     // |ppl / golden - 1| / u

c10::Device test_device() { return parse_device(env_or("QS_TEST_DEVICE", "cpu")); }

double unit_roundoff(c10::ScalarType t) {
    switch (t) {
        case at::kBFloat16:
            return 1.0 / 256;  // 2^-8
        case at::kHalf:
            return 1.0 / 2048;  // 2^-11
        default:
            return 0;  // fp32: absolute bounds instead
    }
}

std::string model_dir(const std::string& name) {
    if (name == "TinyStories-656K") return source_path("resources/models/TinyStories-656K");
    return test_data("models/" + name);
}

void report(const char* what, const std::string& model, c10::ScalarType dt, double value, double tol) {
    std::printf("[ device   ] %s %s %s %s %.3e tol %.3e %s\n", what, test_device().str().c_str(),
                dtype_name(dt).c_str(), model.c_str(), value, tol, value <= tol ? "ok" : "FAIL");
    std::fflush(stdout);
}

// (model, dtype) from a parameter "model:dtype".
struct Param {
    std::string model;
    c10::ScalarType dtype;
};
Param split(const std::string& p) {
    const auto colon = p.find(':');
    return {p.substr(0, colon), parse_dtype(p.substr(colon + 1))};
}

// Loads the model on the test device in the dtype, or skips when the device lacks the dtype.
#define QS_LOAD_OR_SKIP(var, prm)                                                                            \
    const c10::Device dev = test_device();                                                                   \
    {                                                                                                        \
        const auto offered = available_dtypes(dev);                                                          \
        if (std::find(offered.begin(), offered.end(), dtype_name(prm.dtype)) == offered.end())               \
            GTEST_SKIP() << dtype_name(prm.dtype) << " is not offered on " << dev.str() << " with libtorch " \
                         << libtorch_version();                                                              \
    }                                                                                                        \
    LoadOptions lo;                                                                                          \
    lo.device = dev;                                                                                         \
    lo.dtype = prm.dtype;                                                                                    \
    auto var = load_causal_lm(model_dir(prm.model), lo)

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
    std::string s = info.param;
    for (auto& ch : s)
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return s;
}

std::vector<std::string> params(const std::vector<std::string>& models) {
    std::vector<std::string> out;
    for (const char* dt : {"fp32", "bf16", "fp16"})
        for (const auto& m : models) out.push_back(m + ":" + dt);
    return out;
}

class DeviceLogits : public ::testing::TestWithParam<std::string> {};
class DevicePpl : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(DeviceLogits, MatchTransformers) {
    const Param p = split(GetParam());
    QS_LOAD_OR_SKIP(m, p);
    SafetensorsFile g(test_data("goldens/" + p.model + ".safetensors"));
    for (const char* key : {"", "long_"}) {
        if (!g.find(std::string(key) + "input_ids")) continue;
        const at::Tensor expect = g.load(std::string(key) + "logits");
        const at::Tensor got = m->forward(g.load(std::string(key) + "input_ids")).to(at::kCPU).to(at::kFloat);
        ASSERT_EQ(got.sizes(), expect.sizes());
        ASSERT_TRUE(at::isfinite(got).all().item<bool>()) << p.model << " " << dtype_name(p.dtype);
        const double diff = (got - expect).abs().max().item<double>();
        const double u = unit_roundoff(p.dtype);
        const std::string label = p.model + (*key ? " (long)" : "");
        if (u == 0) {
            report("logits_maxabs", label, p.dtype, diff, 1e-4);
            EXPECT_LE(diff, 1e-4) << label << ": max |logit difference| " << diff;
        } else {
            // in units of u * max|logit|
            const double ulps = diff / (u * expect.abs().max().item<double>());
            report("logits_ulps", label, p.dtype, ulps, kHalfLogitUlps);
            EXPECT_LE(ulps, kHalfLogitUlps)
                << label << ": max |logit difference| " << diff << " = " << ulps << " u * max|logit|";
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DeviceLogits,
                         ::testing::ValuesIn(params({"TinyStories-656K", "stories260K", "opt-preln-random",
                                                     "opt-postln-projio-random", "llama-gqa-llama3rope-random",
                                                     "qwen2-bias-random"})),
                         param_name);

TEST_P(DevicePpl, TenWindowsMatchTransformers) {
    const Param p = split(GetParam());
    QS_LOAD_OR_SKIP(m, p);
    std::ifstream in(test_data("goldens/ppl.json"));
    const nlohmann::json g = nlohmann::json::parse(in)[p.model];
    auto tok = load_tokenizer(model_dir(p.model));
    const at::Tensor ids = at::tensor(tok->encode(default_eval_text().text, true), at::kLong);
    ASSERT_EQ(ids.numel(), g["tokens"].get<int64_t>());
    PplOptions o;
    o.seqlen = 512;
    o.nsamples = 10;
    const PplResult r = evaluate_perplexity(*m, ids, o);
    const double expect = g["nsamples_10"]["ppl"].get<double>();
    const double rel = std::abs(r.ppl / expect - 1);
    const double u = unit_roundoff(p.dtype);
    if (u == 0) {
        report("ppl_rel", p.model, p.dtype, rel, 1e-3);
        EXPECT_LE(rel, 1e-3) << p.model << ": ours " << r.ppl << " vs transformers " << expect;
        const auto nlls = g["nsamples_10"]["nlls"].get<std::vector<double>>();
        ASSERT_EQ(r.window_nll.size(), nlls.size());
        double worst = 0;
        for (size_t i = 0; i < nlls.size(); ++i) worst = std::max(worst, std::abs(r.window_nll[i] - nlls[i]));
        report("window_nll_maxabs", p.model, p.dtype, worst, 1e-4);
        EXPECT_LE(worst, 1e-4) << p.model;
    } else {
        report("ppl_ulps", p.model, p.dtype, rel / u, kHalfPplUlps);
        EXPECT_LE(rel / u, kHalfPplUlps) << p.model << ": " << dtype_name(p.dtype) << " " << r.ppl
                                         << " vs fp32 transformers " << expect << " (relative " << rel << ")";
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DevicePpl,
                         ::testing::ValuesIn(params({"TinyStories-656K", "stories260K", "opt-ppl-random"})),
                         param_name);

// Fake quantization on the device is bitwise the CPU's (and so the Python references'): codes,
// scales and zero points of every 2-D weight of TinyStories-656K, in the weight formats the
// methods use, and 8-bit activation fake-quant of a random activation. On the CPU this compares
// the CPU with itself; tools/gpu_check.sh runs it with QS_TEST_DEVICE=cuda, where it caught
// scales one ulp off: CUDA divides by a CPU scalar as a multiplication by its reciprocal
// (div_exact in engine/core/device.h).
TEST(DeviceQuant, FakeQuantIsBitwiseTheCpus) {
    const c10::Device dev = test_device();
    SafetensorsFile f(model_dir("TinyStories-656K") + "/model.safetensors");
    struct Case {
        const char* name;
        QuantSpec spec;
    };
    std::vector<Case> cases(3);
    cases[0] = {"w3 g32 asym", QuantSpec{}};
    cases[0].spec.bits = 3;
    cases[0].spec.group_size = 32;
    cases[1] = {"w4 g128 sym", QuantSpec{}};
    cases[1].spec.symmetric = true;
    cases[2] = {"w8 per-channel sym", QuantSpec{}};
    cases[2].spec.bits = 8;
    cases[2].spec.granularity = Granularity::PerChannel;
    cases[2].spec.symmetric = true;
    int64_t weights = 0;
    for (const auto& c : cases) {
        int64_t differ = 0, total = 0;
        for (const auto& t : f.header().tensors) {
            if (t.shape.size() != 2 || t.name.find("embed") != std::string::npos) continue;
            const at::Tensor w = f.load(t.name, at::kFloat);
            const QuantizedTensor a = quantize(w, c.spec), b = quantize(w.to(dev), c.spec);
            differ += (a.codes != b.codes.cpu()).sum().item<int64_t>();
            total += a.codes.numel();
            EXPECT_TRUE(at::equal(a.scales, b.scales.cpu())) << t.name << " " << c.name << ": scales differ";
            EXPECT_TRUE(at::equal(a.zeros, b.zeros.cpu())) << t.name << " " << c.name << ": zero points differ";
            ++weights;
        }
        report("quant_codes_differ", std::string("TinyStories-656K ") + c.name, at::kFloat, double(differ), 0);
        EXPECT_EQ(differ, 0) << c.name << ": " << differ << " of " << total << " codes differ from the CPU's";
    }
    EXPECT_GT(weights, 0);
    const at::Tensor x = at::randn({64, 128}, at::TensorOptions().dtype(at::kFloat).device(at::kCPU)) * 3;
    const at::Tensor ax = fake_quant_activation(x, 8, true), bx = fake_quant_activation(x.to(dev), 8, true).cpu();
    report("act_quant_differ", "random 64x128 per-token a8", at::kFloat, (ax != bx).sum().item<double>(), 0);
    EXPECT_TRUE(at::equal(ax, bx)) << "8-bit per-token activation fake-quant differs from the CPU's";
}
