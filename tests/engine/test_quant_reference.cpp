// The quantization engine against an independent Python reference written on top of
// Hugging Face transformers (tools/goldens/quant_reference.py -> tests/data/goldens/
// quant_reference.json): calibration statistics, salient channels, RTN, the seed notebook's
// salient keep/scale experiments, llm-awq auto-scale (loss curves, chosen ratios, scales),
// auto-clip, AutoAWQ duo scaling and SmoothQuant W8A8, on TinyStories-656K and stories260K.
//
// Set-up shared with the reference: calibration = the bundled tinyshakespeare, whole text
// tokenized without BOS, first 32 consecutive blocks of 256 tokens; perplexity = docs/notes.md §6
// protocol on the bundled wikitext-2 test text, seqlen 512, first 10 windows.
//
// Tolerances (both sides compute in float32 with different kernels and summation orders; the
// activations agree to ~1e-7 relative). Measured values are from this machine; the reference's
// own sensitivity runs are in the JSON ("sensitivity").
//  * statistics, AWQ and SmoothQuant scales, clip maxima: kStatRelTol = 1e-5 relative (measured
//    <= 4e-7). mean|x| is summed in float64 on both sides; the scales are mean|x|^r normalised
//    or max|x|^a / max|W|^(1-a), a few float32 ulp apart.
//  * AWQ loss curves: kLossRelTol = 1e-3 relative (measured <= 2.4e-4: scales an ulp apart move a
//    few weights across a rounding boundary of the 3-bit grid). Chosen ratios: exactly, unless
//    the reference's runner-up is within kTieGap = 2 * kLossRelTol of the best (a near-tie,
//    reported; the curve is compared instead). Beyond that gap a flip is impossible while both
//    losses are within kLossRelTol.
//  * perplexity, weight-only runs (fp32, RTN, salient keep/scale, AWQ, duo): kPplRelTol = 1e-4
//    (measured <= 3.4e-7: RTN and salient weights are bit-identical to the reference's, AWQ's
//    nearly so; what remains is the forward's summation order).
//  * perplexity, W8A8 runs: kPplActRelTol = 2e-3 (measured <= 6.1e-4). Per-token 8-bit rounding
//    of activations flips elements whose x/s lies within an ulp of a .5 boundary; the reference
//    itself moves by up to 4.8e-4 when only its attention kernel changes (eager -> sdpa).
//  * perplexity, AWQ + auto-clip: kPplClipRelTol = 4e-2 (measured 2.6e-4 and 9.7e-3). Clip search
//    is ill-conditioned at the ulp level: clipping both ends of a group at +-m makes the 3-bit
//    asymmetric zero point round(m / (2m/7)) = round(3.5 +- ulp), so ulp-level differences in the
//    scales flip ~1.5-2% of the (row, group) choices and the ppl: nudging mean|x| by 1e-7..5e-7
//    moves the reference's own stories260K ppl from 162.45 to 159.6..163.8 (-1.8%..+0.8%). The
//    choices themselves are checked precisely (compare_clip): >= 95% identical, all on the grid.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include "core/device.h"
#include "data/calibration.h"
#include "data/eval_text.h"
#include "engine/test_util.h"
#include "eval/perplexity.h"
#include "models/causal_lm.h"
#include "quant/awq.h"
#include "quant/calib_stats.h"
#include "quant/method_config.h"
#include "quant/quant_session.h"
#include "quant/smoothquant.h"
#include "tokenizers/tokenizer.h"

using namespace qs;
using json = nlohmann::json;

namespace {

constexpr double kStatRelTol = 1e-5;
constexpr double kLossRelTol = 1e-3;
constexpr double kTieGap = 2e-3;         // > kLossRelTol: a gap this small could flip
constexpr double kPplRelTol = 1e-4;      // weight-only runs (fp32, RTN, salient, AWQ, duo)
constexpr double kPplActRelTol = 2e-3;   // W8A8 runs (8-bit activation fake quantization)
constexpr double kPplClipRelTol = 4e-2;  // AWQ + auto-clip
constexpr double kClipFlipFraction = 0.05;

const json& golden() {
    static const json g = [] {
        std::ifstream f(test_data("goldens/quant_reference.json"));
        if (!f) throw std::runtime_error("cannot open tests/data/goldens/quant_reference.json");
        return json::parse(f);
    }();
    return g;
}

std::string model_dir(const std::string& name) {
    if (name == "TinyStories-656K") return source_path("resources/models/TinyStories-656K");
    return test_data("models/" + name);
}

// One loaded model, its tokenizer, the tokenized evaluation text and a session, per model
// (loaded once for all the tests of that model).
struct Ctx {
    std::shared_ptr<CausalLM> model;
    std::shared_ptr<const Tokenizer> tok;
    at::Tensor eval_ids;
    std::unique_ptr<QuantSession> session;
};

Ctx& ctx(const std::string& name) {
    static std::map<std::string, std::unique_ptr<Ctx>> cache;
    auto& c = cache[name];
    if (!c) {
        c = std::make_unique<Ctx>();
        // $QS_TEST_DEVICE (default cpu): tools/gpu_check.sh runs the AWQ comparison on cuda.
        LoadOptions lo;
        lo.device = parse_device(env_or("QS_TEST_DEVICE", "cpu"));
        c->model = std::shared_ptr<CausalLM>(load_causal_lm(model_dir(name), lo));
        c->tok = std::shared_ptr<const Tokenizer>(load_tokenizer(model_dir(name)));
        const std::vector<int64_t> ids = c->tok->encode(default_eval_text().text, /*add_bos=*/true);
        c->eval_ids = at::tensor(ids, at::kLong);
        c->session = std::make_unique<QuantSession>(c->model, c->tok);
    }
    return *c;
}

MethodConfig base_config() {
    const json& m = golden()["_meta"];
    MethodConfig cfg;
    cfg.calib_path = "";  // the bundled tinyshakespeare
    cfg.calib_samples = m["calib_samples"].get<int64_t>();
    cfg.calib_seqlen = m["calib_seqlen"].get<int64_t>();
    return cfg;
}

QuantSpec wspec(int bits, int64_t group) {
    QuantSpec s;
    s.bits = bits;
    s.granularity = Granularity::PerGroup;
    s.group_size = group;
    s.symmetric = false;
    return s;
}

double ppl_of(Ctx& c) {
    const json& m = golden()["_meta"];
    PplOptions o;
    o.seqlen = m["eval_seqlen"].get<int64_t>();
    o.nsamples = m["eval_windows"].get<int64_t>();
    return evaluate_perplexity(c.session->model(), c.eval_ids, o).ppl;
}

void expect_ppl(const std::string& model, const std::string& key, double got, double tol = kPplRelTol) {
    const double want = golden()[model]["ppl"][key].get<double>();
    const double rel = std::abs(got - want) / want;
    std::printf("[ qref     ] %-17s %-34s python %12.6f  C++ %12.6f  rel %.2e (tol %.0e)\n", model.c_str(), key.c_str(),
                want, got, rel, tol);
    EXPECT_LE(rel, tol) << model << " " << key << ": python " << want << ", C++ " << got;
}

struct VecDiff {
    double worst = INFINITY;  // max_i |got_i - want_i| / max(|want_i|, floor), floor = 1e-6 * max|want|
    int64_t worst_index = -1;
    double got_at_worst = 0, want_at_worst = 0;
    int64_t beyond = 0;  // elements beyond the tolerance
};

VecDiff vec_diff(const at::Tensor& got_in, const json& want_json, double tol) {
    VecDiff d;
    const std::vector<float> wv = want_json.get<std::vector<float>>();
    at::Tensor want = at::tensor(wv, at::kFloat).to(at::kDouble);
    at::Tensor got = got_in.cpu().to(at::kDouble).reshape({-1});
    if (got.numel() != want.numel()) return d;
    const double floor = std::max(1e-30, 1e-6 * want.abs().max().item<double>());
    at::Tensor rel = (got - want).abs() / at::clamp_min(want.abs(), floor);
    d.worst_index = rel.argmax().item<int64_t>();
    d.worst = rel[d.worst_index].item<double>();
    d.got_at_worst = got[d.worst_index].item<double>();
    d.want_at_worst = want[d.worst_index].item<double>();
    d.beyond = (rel > tol).sum().item<int64_t>();
    return d;
}

void expect_close(const std::string& what, const at::Tensor& got, const json& want, double tol) {
    ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
    const VecDiff d = vec_diff(got, want, tol);
    EXPECT_LE(d.worst, tol) << what << ": " << d.beyond << " of " << want.size()
                            << " elements beyond the tolerance; worst at flat index " << d.worst_index << ": C++ "
                            << d.got_at_worst << ", python " << d.want_at_worst << " (relative " << d.worst << ")";
}

std::vector<int64_t> to_vec(const at::Tensor& t) {
    at::Tensor c = t.to(at::kLong).contiguous().cpu();
    return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

class QuantReference : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(QuantReference, CalibrationSetAndStatistics) {
    c10::InferenceMode guard;
    const std::string name = GetParam();
    const json& g = golden()[name];
    Ctx& c = ctx(name);
    MethodConfig cfg = base_config();
    std::string desc;
    const at::Tensor& blocks = c.session->calibration_blocks(cfg, &desc);
    ASSERT_EQ(blocks.size(0), cfg.calib_samples) << desc;
    ASSERT_EQ(blocks.size(1), cfg.calib_seqlen) << desc;
    EXPECT_EQ(to_vec(blocks[0].narrow(0, 0, 8)), g["calib_first_ids"].get<std::vector<int64_t>>());
    const std::vector<int64_t> flat = to_vec(blocks);
    int64_t checksum = 0;  // sum of (i + 1) * id_i
    for (size_t i = 0; i < flat.size(); ++i) checksum += static_cast<int64_t>(i + 1) * flat[i];
    EXPECT_EQ(checksum, g["calib_ids_checksum"].get<int64_t>()) << desc;
    EXPECT_EQ(c.eval_ids.numel(), g["eval_tokens"].get<int64_t>());

    const auto st_ptr = c.session->original_stats(cfg);
    const CalibStats& st = *st_ptr;
    for (const auto& [lname, s] : g["calib_stats"].items()) {
        const ChannelStats& cs = st.at(lname);
        EXPECT_EQ(cs.tokens, s["tokens"].get<int64_t>()) << lname;
        expect_close(name + " " + lname + " mean|x|", cs.mean_abs, s["mean_abs"], kStatRelTol);
        expect_close(name + " " + lname + " max|x|", cs.max_abs, s["max_abs"], kStatRelTol);
    }
    for (const auto& [lname, s] : g["salient"].items()) {
        const at::Tensor& imp = st.at(lname).mean_abs;
        EXPECT_EQ(to_vec(salient_channels(imp, 0.01)), s["salient_1pct"].get<std::vector<int64_t>>()) << lname;
        const auto top = s["top8"].get<std::vector<int64_t>>();
        if (s["top8_min_rel_gap"].get<double>() > 10 * kStatRelTol)
            EXPECT_EQ(to_vec(std::get<1>(at::topk(imp, static_cast<int64_t>(top.size())))), top) << lname;
        else
            std::printf("[ qref     ] %s %s: top-8 ranking has a near-tie (gap %.1e); not compared\n", name.c_str(),
                        lname.c_str(), s["top8_min_rel_gap"].get<double>());
    }
}

TEST_P(QuantReference, RtnAndSalientChannelExperiments) {
    c10::InferenceMode guard;
    const std::string name = GetParam();
    Ctx& c = ctx(name);
    MethodConfig cfg = base_config();
    c.session->reset();
    expect_ppl(name, "fp32", ppl_of(c));

    cfg.methods = {"rtn"};
    for (auto [bits, group] : {std::pair<int, int64_t>{3, 32}, {4, 64}}) {
        cfg.weight = wspec(bits, group);
        c.session->apply(cfg);
        expect_ppl(name, "rtn_w" + std::to_string(bits) + "_g" + std::to_string(group), ppl_of(c));
    }
    cfg.weight = wspec(3, 32);
    cfg.awq_salient = 0.01;
    cfg.methods = {"awq-keep"};
    c.session->apply(cfg);
    expect_ppl(name, "awq_keep_1pct_w3_g32", ppl_of(c));
    cfg.methods = {"awq-scale"};
    for (int f = 1; f <= 4; ++f) {
        cfg.awq_factor = f;
        c.session->apply(cfg);
        expect_ppl(name, "awq_scale_1pct_x" + std::to_string(f) + "_w3_g32", ppl_of(c));
    }
    c.session->reset();
}

namespace {

void compare_groups(const std::string& name, const std::vector<AwqGroup>& got, const json& want) {
    ASSERT_EQ(got.size(), want.size()) << name;
    double worst_curve = 0, worst_scales = 0;
    int ties = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const AwqGroup& a = got[i];
        const json& w = want[i];
        const std::string label = name + " block " + std::to_string(a.block) + " " + a.prev_op;
        EXPECT_EQ(a.block, w["block"].get<int64_t>()) << label;
        EXPECT_EQ(a.prev_op, w["prev_op"].get<std::string>()) << label;
        EXPECT_EQ(a.linears, w["linears"].get<std::vector<std::string>>()) << label;
        EXPECT_EQ(a.inspected, w["inspected"].get<std::string>()) << label;
        const auto loss = w["loss"].get<std::vector<double>>();
        ASSERT_EQ(a.loss.size(), loss.size()) << label;
        double curve = 0;
        for (size_t r = 0; r < loss.size(); ++r) curve = std::max(curve, std::abs(a.loss[r] - loss[r]) / loss[r]);
        worst_curve = std::max(worst_curve, curve);
        EXPECT_LE(curve, kLossRelTol) << label << ": loss curve differs by " << curve << " relative";
        const int best = w["best"].get<int>();
        const double gap = w["best_rel_gap"].get<double>();
        if (gap > kTieGap) {
            EXPECT_EQ(a.best, best) << label << " (runner-up " << gap << " above the best)";
        } else {
            ++ties;
            std::printf(
                "[ qref     ] %s: near-tie (runner-up %.1e above the best); chosen ratio python %d, C++ %d; "
                "curve compared instead\n",
                label.c_str(), gap, best, a.best);
        }
        if (w.contains("scales") && a.best == best) {
            expect_close(label + " scales", a.scales, w["scales"], kStatRelTol);
            worst_scales = std::max(worst_scales, vec_diff(a.scales, w["scales"], kStatRelTol).worst);
        }
    }
    std::printf(
        "[ qref     ] %s: %zu groups, worst loss-curve difference %.1e, worst scales difference %.1e, "
        "%d near-ties\n",
        name.c_str(), got.size(), worst_curve, worst_scales, ties);
}

// Clip maxima are max|w| * (1 - i/20) of the scaled weight per (row, group). Both sides must
// pick grid points; the indices must agree except for a small fraction: clipping both ends of
// a group at +-m makes the 3-bit asymmetric zero point round(m / (2m/7)) = round(3.5 +- ulp), a
// tie decided by the last ulp of the scaled weights, so ulp-level differences in the AWQ scales
// flip a few choices (the reference flips ~1.5% of its own under a 1e-7 nudge of mean|x|).
void compare_clip(const std::string& label, const AwqClip& got, const json& want) {
    EXPECT_EQ(got.max_val.sizes().vec(), want["shape"].get<std::vector<int64_t>>()) << label;
    const std::vector<float> ref = want["max_val"].get<std::vector<float>>();
    const std::vector<float> org = want["org_max"].get<std::vector<float>>();
    at::Tensor mvt = got.max_val.cpu().to(at::kDouble).contiguous().reshape({-1});
    ASSERT_EQ(mvt.numel(), static_cast<int64_t>(ref.size())) << label;
    const double* mv = mvt.data_ptr<double>();
    int64_t agree = 0, off_grid = 0, n = 0;
    double worst = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        if (!(org[i] > 0)) continue;
        ++n;
        const double rc = mv[i] / org[i], rp = ref[i] / org[i];
        const long ic = std::lround((1 - rc) * 20), ip = std::lround((1 - rp) * 20);
        if (ic < 0 || ic >= 10 || std::abs(rc - (1 - ic / 20.0)) > kStatRelTol) ++off_grid;
        if (ic == ip) {
            ++agree;
            worst = std::max(worst, std::abs(mv[i] - ref[i]) / ref[i]);
        }
    }
    std::printf(
        "[ qref     ] %s clip: %lld of %lld (row, group) choices equal to python's, worst difference "
        "there %.1e\n",
        label.c_str(), static_cast<long long>(agree), static_cast<long long>(n), worst);
    EXPECT_EQ(off_grid, 0) << label << ": clip values that are not max|w| * (1 - i/20), i < 10";
    EXPECT_GE(agree, static_cast<int64_t>(std::ceil((1 - kClipFlipFraction) * n))) << label;
    EXPECT_LE(worst, kStatRelTol) << label;
}

}  // namespace

TEST_P(QuantReference, AwqAutoScaleAndClip) {
    c10::InferenceMode guard;
    const std::string name = GetParam();
    const json& g = golden()[name];
    Ctx& c = ctx(name);
    MethodConfig cfg = base_config();
    cfg.methods = {"awq"};
    cfg.weight = wspec(3, 32);

    cfg.awq_clip = false;
    ApplyReport r = c.session->apply(cfg);
    ASSERT_TRUE(r.awq.has_value());
    compare_groups(name, r.awq->groups, g["awq"]["groups"]);
    EXPECT_TRUE(r.awq->clips.empty());
    expect_ppl(name, "awq_auto_w3_g32", ppl_of(c));

    cfg.awq_clip = true;
    r = c.session->apply(cfg);
    ASSERT_TRUE(r.awq.has_value());
    compare_groups(name + " (clip)", r.awq->groups, g["awq"]["groups"]);  // clipping never changes the scales
    EXPECT_EQ(static_cast<int64_t>(r.awq->clips.size()), g["awq"]["clipped_linears"].get<int64_t>());
    for (const auto& [lname, want] : g["awq"]["clip"].items()) {
        const AwqClip* found = nullptr;
        for (const auto& cl : r.awq->clips)
            if (cl.linear == lname) found = &cl;
        ASSERT_NE(found, nullptr) << lname << " was not clipped";
        compare_clip(name + " " + lname, *found, want);
    }
    expect_ppl(name, "awq_auto_clip_w3_g32", ppl_of(c), kPplClipRelTol);

    cfg.awq_clip = false;
    cfg.duo_scaling = true;
    r = c.session->apply(cfg);
    ASSERT_TRUE(r.awq.has_value());
    compare_groups(name + " (duo)", r.awq->groups, g["awq"]["duo_groups"]);
    expect_ppl(name, "awq_auto_duo_w3_g32", ppl_of(c));
    c.session->reset();
}

TEST_P(QuantReference, SmoothQuantW8A8) {
    c10::InferenceMode guard;
    const std::string name = GetParam();
    const json& g = golden()[name];
    Ctx& c = ctx(name);
    MethodConfig cfg = base_config();
    cfg.weight.bits = 8;
    cfg.weight.granularity = Granularity::PerChannel;
    cfg.weight.symmetric = true;
    cfg.act.bits = 8;
    cfg.act.per_token = true;
    cfg.act.quantize_bmm = false;

    cfg.methods = {"rtn"};
    c.session->apply(cfg);
    expect_ppl(name, "w8a8_no_smooth_per_token", ppl_of(c), kPplActRelTol);

    cfg.methods = {"smoothquant"};
    for (const char* a : {"0.0", "0.5", "0.85"}) {
        cfg.sq_alpha = std::stod(a);
        ApplyReport r = c.session->apply(cfg);
        if (cfg.sq_alpha == 0.5) {
            const json& want = g["smoothquant"]["alpha_0.5_block0_scales"];
            ASSERT_GE(r.smooth.size(), 2u);
            for (size_t i = 0; i < 2; ++i) {
                ASSERT_TRUE(want.contains(r.smooth[i].norm)) << r.smooth[i].norm;
                expect_close(name + " smooth scales " + r.smooth[i].norm, r.smooth[i].scales, want[r.smooth[i].norm],
                             kStatRelTol);
            }
        }
        expect_ppl(name, std::string("sq_w8a8_alpha") + a + "_per_token", ppl_of(c), kPplActRelTol);
    }
    cfg.sq_alpha = 0.5;
    cfg.act.per_token = false;
    cfg.act.quantize_bmm = true;
    c.session->apply(cfg);
    expect_ppl(name, "sq_w8a8_alpha0.5_per_tensor_bmm", ppl_of(c), kPplActRelTol);
    c.session->reset();
}

INSTANTIATE_TEST_SUITE_P(RealModels, QuantReference, ::testing::Values("TinyStories-656K", "stories260K"),
                         [](const auto& info) {
                             std::string s = info.param;
                             for (auto& ch : s)
                                 if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return s;
                         });
