// #16 item 3: KL divergence against the unquantized model (llama.cpp --kl-divergence).
// Hand-derived cases for the per-token KL, the percentiles and the top-1 agreement; the
// session's KL equals the KL recomputed here from the two models' logits, in memory and
// block-sequential alike. (tools/check_kl.py checks the CLI's numbers against torch's kl_div
// on logits computed by transformers.)
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "data/eval_text.h"
#include "eval/kl_divergence.h"
#include "eval/perplexity.h"
#include "models/causal_lm.h"
#include "quant/quant_session.h"
#include "test_util.h"
#include "tokenizers/tokenizer.h"

using namespace qs;

namespace {
at::Tensor logits(std::vector<float> v, int64_t vocab) { return at::tensor(v, at::kFloat).view({-1, vocab}); }
}  // namespace

// p = softmax(1, 0) = (s, 1-s), q = softmax(0, 1) = (1-s, s), s = sigmoid(1):
// KL = s ln(s/(1-s)) + (1-s) ln((1-s)/s) = (2s - 1) * 1 = tanh(1/2).
// p = (1/2, 1/2), q = softmax(ln 3, 0) = (3/4, 1/4): KL = 1/2 ln(2/3) + 1/2 ln 2 = 1/2 ln(4/3).
TEST(KlDivergence, HandDerivedTokens) {
    c10::InferenceMode guard;
    int64_t agree = 0;
    at::Tensor kl = token_kl(logits({1, 0, 0, 0, 5, 2}, 2), logits({0, 1, std::log(3.0f), 0, 7, 4}, 2), &agree);
    ASSERT_EQ(kl.numel(), 3);
    EXPECT_NEAR(kl[0].item<float>(), std::tanh(0.5), 1e-6);
    EXPECT_NEAR(kl[1].item<float>(), 0.5 * std::log(4.0 / 3.0), 1e-6);
    EXPECT_NEAR(kl[2].item<float>(), 0.0, 1e-6);  // the same distribution shifted by a constant
    // argmax: 0 vs 1 (differs), 0 vs 0 (tie in the base resolves to the first index), 0 vs 0
    EXPECT_EQ(agree, 2);
    // KL is not symmetric: KL(q || p) for the second token = 3/4 ln(3/2) + 1/4 ln(1/2)
    at::Tensor rev = token_kl(logits({std::log(3.0f), 0}, 2), logits({0, 0}, 2), nullptr);
    EXPECT_NEAR(rev[0].item<float>(), 0.75 * std::log(1.5) + 0.25 * std::log(0.5), 1e-6);
    QS_EXPECT_ERROR_CONTAINS(token_kl(at::zeros({2, 3}), at::zeros({2, 4}), nullptr),
                             "base logits [2, 3] and quantized logits [2, 4] differ in shape");
}

// Percentiles interpolate linearly between sorted values (llama.cpp, numpy's default):
// 0..9: median 4.5, 99.9th = 0.999 * 9 = 8.991.
TEST(KlDivergence, PercentilesAndAccumulator) {
    std::vector<float> v = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    EXPECT_DOUBLE_EQ(percentile_sorted(v, 0.5), 4.5);
    EXPECT_NEAR(percentile_sorted(v, 0.999), 8.991, 1e-12);
    EXPECT_EQ(percentile_sorted(v, 0), 0);
    EXPECT_EQ(percentile_sorted(v, 1), 9);
    EXPECT_EQ(percentile_sorted({3.0f}, 0.999), 3.0);
    QS_EXPECT_ERROR_CONTAINS(percentile_sorted({}, 0.5), "empty");

    c10::InferenceMode guard;
    KlAccumulator acc;
    EXPECT_EQ(acc.stats().tokens, 0);
    acc.add(logits({1, 0, 0, 0}, 2), logits({0, 1, std::log(3.0f), 0}, 2));  // tanh(.5), .5 ln(4/3)
    acc.add(logits({2, 1, 0}, 3), logits({2, 1, 0}, 3));                     // 0
    const KlStats s = acc.stats();
    const double a = std::tanh(0.5), b = 0.5 * std::log(4.0 / 3.0);
    EXPECT_EQ(s.tokens, 3);
    EXPECT_NEAR(s.mean, (a + b) / 3, 1e-6);
    EXPECT_NEAR(s.median, b, 1e-6);
    EXPECT_NEAR(s.p99_9, b + 0.998 * (a - b), 1e-6);  // p = 0.999 * 2 = 1.998 -> between b and a
    EXPECT_NEAR(s.max, a, 1e-6);
    EXPECT_NEAR(s.top1, 2.0 / 3.0, 1e-12);
}

namespace {

struct Loaded {
    std::shared_ptr<CausalLM> model;
    std::shared_ptr<const Tokenizer> tok;
    at::Tensor ids;
};

Loaded load(const std::string& name, HoldMode mode) {
    const std::string dir = test_data("models/" + name);
    LoadOptions o;
    o.mode = mode;
    Loaded l;
    l.model = std::shared_ptr<CausalLM>(load_causal_lm(dir, o));
    l.tok = std::shared_ptr<const Tokenizer>(load_tokenizer(dir));
    l.ids = at::tensor(l.tok->encode(default_eval_text().text, true), at::kLong);
    return l;
}

MethodConfig rtn3() {
    MethodConfig c;
    c.methods = {"rtn"};
    c.weight.bits = 3;
    c.weight.group_size = 32;
    return c;
}

}  // namespace

// The session's KL (original logits per window from the mapped checkpoint) equals the KL of
// logits recomputed here: the original model loaded on its own, the quantized one as the session
// left it. Block-sequential evaluation gives the same statistics.
TEST(KlDivergence, SessionMatchesRecomputedLogits) {
    c10::InferenceMode guard;
    PplOptions o;
    o.seqlen = 64;
    o.nsamples = 3;
    o.kl = true;
    Loaded l = load("stories260K", HoldMode::InMemory);
    QuantSession s(l.model, l.tok);
    EXPECT_FALSE(s.evaluate(MethodConfig(), l.ids, o).ppl.kl.has_value());  // the reference itself
    const EvalReport ev = s.evaluate(rtn3(), l.ids, o);
    ASSERT_TRUE(ev.ppl.kl.has_value());
    const KlStats& k = *ev.ppl.kl;
    EXPECT_EQ(k.tokens, 3 * 63);
    EXPECT_NE(ev.ppl.protocol.find("KL(original || quantized)"), std::string::npos);

    std::unique_ptr<CausalLM> orig = load_causal_lm(test_data("models/stories260K"));
    at::Tensor x = l.ids.narrow(0, 0, 3 * 64).view({3, 64});
    KlAccumulator acc;
    acc.add(orig->forward(x).narrow(1, 0, 63), s.model().forward(x).narrow(1, 0, 63));
    const KlStats ref = acc.stats();
    std::printf("[ measured ] stories260K rtn w3 g32: KL mean %.6f median %.6f p99.9 %.6f top1 %.4f\n", k.mean,
                k.median, k.p99_9, k.top1);
    EXPECT_GT(k.mean, 1e-3);
    EXPECT_LT(k.top1, 1.0);
    EXPECT_GT(k.top1, 0.3);
    EXPECT_NEAR(k.mean, ref.mean, 1e-6 * ref.mean + 1e-9);
    EXPECT_NEAR(k.median, ref.median, 1e-6 * ref.median + 1e-9);
    EXPECT_NEAR(k.p99_9, ref.p99_9, 1e-6 * ref.p99_9 + 1e-9);
    EXPECT_EQ(k.top1, ref.top1);

    Loaded b = load("stories260K", HoldMode::BlockSequential);
    QuantSession sb(b.model, b.tok);
    ASSERT_TRUE(sb.block_sequential());
    const EvalReport eb = sb.evaluate(rtn3(), b.ids, o);
    ASSERT_TRUE(eb.ppl.kl.has_value());
    EXPECT_NEAR(eb.ppl.kl->mean, k.mean, 1e-5 * k.mean);
    EXPECT_NEAR(eb.ppl.kl->p99_9, k.p99_9, 1e-5 * k.p99_9);
    EXPECT_EQ(eb.ppl.kl->top1, k.top1);
    EXPECT_NEAR(eb.ppl.ppl, ev.ppl.ppl, 1e-9 * ev.ppl.ppl);

    o.kl = false;
    EXPECT_FALSE(s.evaluate(rtn3(), l.ids, o).ppl.kl.has_value());
}

// quantscope-cli ppl --kl --json: the same statistics as the session; null without --kl and for
// the original weights.
TEST(KlDivergence, CliJson) {
    const std::string base = "ppl --model '" + test_data("models/stories260K") + "' --seqlen 64 --nsamples 3 --json";
    int rc = 0;
    const auto j = nlohmann::json::parse(run_cli_capture(base + " --method rtn --w-bits 3 --group-size 32 --kl", &rc));
    ASSERT_EQ(rc, 0);
    ASSERT_TRUE(j.at("kl").is_object());
    c10::InferenceMode guard;
    Loaded l = load("stories260K", HoldMode::InMemory);
    QuantSession s(l.model, l.tok);
    PplOptions o;
    o.seqlen = 64;
    o.nsamples = 3;
    o.kl = true;
    const KlStats k = *s.evaluate(rtn3(), l.ids, o).ppl.kl;
    EXPECT_NEAR(j["kl"]["mean"].get<double>(), k.mean, 1e-9 * k.mean);
    EXPECT_NEAR(j["kl"]["median"].get<double>(), k.median, 1e-9 * k.median);
    EXPECT_NEAR(j["kl"]["p99_9"].get<double>(), k.p99_9, 1e-9 * k.p99_9);
    EXPECT_EQ(j["kl"]["top1_agreement"].get<double>(), k.top1);
    EXPECT_EQ(j["kl"]["tokens"].get<int64_t>(), 3 * 63);
    EXPECT_TRUE(nlohmann::json::parse(run_cli_capture(base + " --method rtn --w-bits 3"))["kl"].is_null());
    EXPECT_TRUE(nlohmann::json::parse(run_cli_capture(base + " --kl"))["kl"].is_null());
    EXPECT_NE(run_cli_capture("--help").find("--kl"), std::string::npos);
}
