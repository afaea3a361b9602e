// The session engine (#12): originals are never duplicated, switching configurations shares
// untouched tensors, a cancel never changes the applied configuration, and block-sequential
// models give the same numbers as models held in memory.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>

#include "data/eval_text.h"
#include "eval/perplexity.h"
#include "io/checkpoint.h"
#include "models/causal_lm.h"
#include "models/original_weights.h"
#include "quant/quant_session.h"
#include "test_util.h"
#include "tokenizers/tokenizer.h"

using namespace qs;

namespace {

std::string model_dir(const std::string& name) {
    return name == "TinyStories-656K" ? source_path("resources/models/TinyStories-656K") : test_data("models/" + name);
}

std::shared_ptr<CausalLM> load(const std::string& name, HoldMode mode = HoldMode::InMemory,
                               c10::ScalarType dtype = at::kFloat) {
    LoadOptions o;
    o.mode = mode;
    o.dtype = dtype;
    return std::shared_ptr<CausalLM>(load_causal_lm(model_dir(name), o));
}

std::shared_ptr<const Tokenizer> tok(const std::string& name) {
    return std::shared_ptr<const Tokenizer>(load_tokenizer(model_dir(name)));
}

MethodConfig cfg(std::vector<std::string> methods, int bits = 4, int64_t group = 32) {
    MethodConfig c;
    c.methods = std::move(methods);
    c.weight.bits = bits;
    c.weight.group_size = group;
    c.calib_samples = 4;
    c.calib_seqlen = 64;
    return c;
}

// data pointer of every tensor slot, by name
std::map<std::string, const void*> pointers(CausalLM& m) {
    std::map<std::string, const void*> out;
    m.for_each_slot([&](const std::string& n, at::Tensor& t) {
        if (t.defined()) out[n] = t.data_ptr();
    });
    return out;
}

at::Tensor eval_ids(const std::string& name) {
    static std::map<std::string, at::Tensor> cache;
    auto& ids = cache[name];
    if (!ids.defined()) ids = at::tensor(tok(name)->encode(default_eval_text().text, true), at::kLong);
    return ids;
}

double ppl(QuantSession& s, const std::string& name, int64_t seqlen = 64, int64_t n = 3) {
    PplOptions o;
    o.seqlen = seqlen;
    o.nsamples = n;
    return s.perplexity(eval_ids(name), o).ppl;
}

// A progress whose cancel flag is raised after `after` reports.
struct CancelAfter {
    std::atomic<bool> flag{false};
    std::atomic<int> left;
    explicit CancelAfter(int after) : left(after) {}
    Progress progress() {
        Progress p;
        p.cancel = &flag;
        p.report = [this](double, const std::string&) {
            if (--left <= 0) flag = true;
        };
        return p;
    }
};

}  // namespace

TEST(SessionEngine, OriginalsAreZeroCopyViewsOfTheMappedFile) {
    c10::InferenceMode guard;
    auto m = load("TinyStories-656K");
    ASSERT_TRUE(m->originals);
    EXPECT_TRUE(m->originals->zero_copy());
    // every weight of the loaded model lives inside the mapped checkpoint: no copy was made
    Checkpoint ck(model_dir("TinyStories-656K"));
    const at::Tensor v = m->originals->get("model.layers.0.mlp.up_proj.weight");
    EXPECT_EQ(v.data_ptr(), m->blocks[0].up.weight.data_ptr());
    EXPECT_TRUE(at::equal(v, ck.load("model.layers.0.mlp.up_proj.weight")));
}

TEST(SessionEngine, SwitchingConfigurationsDoesNotCopyUntouchedWeights) {
    c10::InferenceMode guard;
    for (c10::ScalarType dt : {at::kFloat, at::kBFloat16}) {  // zero-copy views, and converted originals
        auto m = load("TinyStories-656K", HoldMode::InMemory, dt);
        QuantSession s(m, nullptr);
        const auto before = pointers(*m);
        s.apply(cfg({"rtn"}, 4, 32));
        auto after = pointers(*m);
        int changed = 0, same = 0;
        for (const auto& [n, p] : before) {
            const bool quantized = n.find("_proj.weight") != std::string::npos;
            if (quantized) {
                EXPECT_NE(after[n], p) << n;
                ++changed;
            } else {
                EXPECT_EQ(after[n], p) << n << " was copied";
                ++same;
            }
        }
        EXPECT_EQ(changed, 14);  // 2 blocks x 7 Linears
        EXPECT_GT(same, 0);
        const auto rtn4 = pointers(*m);
        s.apply(cfg({"rtn"}, 3, 32));  // another configuration: untouched tensors still shared
        for (const auto& [n, p] : before)
            if (n.find("_proj.weight") == std::string::npos) {
                EXPECT_EQ(pointers(*m)[n], p) << n;
            }
        s.reset();  // back to the very same original tensors
        if (dt == at::kFloat) {
            EXPECT_EQ(pointers(*m), before);
        }
        for (const auto& [n, p] : before)
            if (n.find("_proj.weight") == std::string::npos) {
                EXPECT_EQ(pointers(*m)[n], p) << n;
            }
    }
}

TEST(SessionEngine, CancelledApplyKeepsThePreviousConfiguration) {
    c10::InferenceMode guard;
    for (HoldMode mode : {HoldMode::InMemory, HoldMode::BlockSequential}) {
        auto m = load("stories260K", mode);
        QuantSession s(m, tok("stories260K"));
        const MethodConfig a = cfg({"rtn"}, 3, 32);
        s.apply(a);
        const double ppl_a = ppl(s, "stories260K");
        CancelAfter c(3);
        EXPECT_THROW(s.apply(cfg({"awq"}, 3, 32), c.progress()), Cancelled);
        ASSERT_NE(s.applied_config(), nullptr);
        EXPECT_EQ(s.applied_config()->to_json(), a.to_json());
        EXPECT_EQ(ppl(s, "stories260K"), ppl_a);
        for (const auto& b : m->blocks) EXPECT_EQ(b.loaded, mode == HoldMode::InMemory);
    }
}

// A cancel is not an error: code that turns a qs::Error into a message or a fallback (a missing
// tokenizer, an unreadable workspace model) must not swallow it.
TEST(SessionEngine, CancelPassesThroughErrorHandlers) {
    c10::InferenceMode guard;
    auto m = load("stories260K", HoldMode::InMemory);
    QuantSession s(m, tok("stories260K"));
    CancelAfter c(2);
    bool handled_as_error = false, cancelled = false;
    try {
        try {
            s.apply(cfg({"awq"}, 3, 32), c.progress());
        } catch (const Error&) {
            handled_as_error = true;
        }
    } catch (const Cancelled& e) {
        cancelled = true;
        EXPECT_STREQ(e.what(), "cancelled");
    }
    EXPECT_TRUE(cancelled);
    EXPECT_FALSE(handled_as_error);
}

TEST(SessionEngine, CancelledEvaluationKeepsTheConfiguration) {
    c10::InferenceMode guard;
    for (HoldMode mode : {HoldMode::InMemory, HoldMode::BlockSequential}) {
        auto m = load("stories260K", mode);
        QuantSession s(m, tok("stories260K"));
        const MethodConfig a = cfg({"rotate", "rtn"}, 4, 32);
        PplOptions o;
        o.seqlen = 64;
        o.nsamples = 3;
        const double full = s.evaluate(a, eval_ids("stories260K"), o).ppl.ppl;
        s.reset();
        std::atomic<bool> flag{false};
        Progress p;
        p.cancel = &flag;
        int windows = 0;  // cancel inside the perplexity, after its first window
        EXPECT_THROW(s.evaluate(a, eval_ids("stories260K"), o, p,
                                [&](int64_t, double) {
                                    ++windows;
                                    flag = true;
                                }),
                     Cancelled);
        EXPECT_GE(windows, 1);
        ASSERT_NE(s.applied_config(), nullptr);
        EXPECT_EQ(s.applied_config()->to_json(), a.to_json());
        for (const auto& b : m->blocks) EXPECT_EQ(b.loaded, mode == HoldMode::InMemory) << "half-loaded block";
        EXPECT_EQ(s.evaluate(a, eval_ids("stories260K"), o).ppl.ppl, full);
    }
}

class BlockSequential : public ::testing::TestWithParam<std::string> {};

TEST_P(BlockSequential, SamePerplexityAsInMemory) {
    c10::InferenceMode guard;
    const std::string name = GetParam();
    std::vector<MethodConfig> cfgs = {MethodConfig(),       cfg({"rtn"}, 3, 32),
                                      cfg({"smoothquant"}), cfg({"rotate", "rtn"}, 4, 32),
                                      cfg({"awq"}, 3, 32),  cfg({"awq-scale"}, 3, 32)};
    cfgs[2].act.bits = 8;
    cfgs[4].awq_clip = true;
    cfgs[5].awq_salient = 0.05;
    auto mem = load(name, HoldMode::InMemory);
    auto seq = load(name, HoldMode::BlockSequential);
    ASSERT_FALSE(mem->streamed());
    ASSERT_TRUE(seq->streamed());
    QuantSession a(mem, tok(name)), b(seq, tok(name));
    ASSERT_TRUE(b.block_sequential());
    PplOptions o;
    o.seqlen = 64;
    o.nsamples = 4;
    o.batch = 2;
    for (const auto& c : cfgs) {
        const EvalReport ra = a.evaluate(c, eval_ids(name), o);
        const EvalReport rb = b.evaluate(c, eval_ids(name), o);
        EXPECT_EQ(rb.mode, "block-sequential");
        EXPECT_NE(rb.ppl.protocol.find("block-sequential"), std::string::npos);
        EXPECT_NEAR(rb.ppl.ppl, ra.ppl.ppl, 1e-5 * ra.ppl.ppl) << c.describe();
        for (const auto& blk : seq->blocks) EXPECT_FALSE(blk.loaded);
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BlockSequential, ::testing::Values("stories260K", "opt-ppl-random"),
                         [](const auto& info) {
                             std::string s = info.param;
                             for (char& ch : s)
                                 if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return s;
                         });

TEST(SessionEngine, OriginalStatisticsComeFromTheOriginals) {
    c10::InferenceMode guard;
    auto m = load("stories260K");
    QuantSession s(m, tok("stories260K"));
    const MethodConfig c = cfg({"rotate", "rtn"}, 4, 32);
    auto fresh = load("stories260K");
    std::string desc;
    const CalibStats ref = collect_calibration_stats(*fresh, s.calibration_blocks(c, &desc), desc);
    s.apply(c);  // the working model is rotated and quantized now
    const auto st = s.original_stats(c);
    for (const auto& [n, cs] : ref.per_linear) {
        EXPECT_TRUE(at::equal(st->at(n).max_abs, cs.max_abs)) << n;
        EXPECT_TRUE(at::equal(st->at(n).mean_abs, cs.mean_abs)) << n;
    }
    EXPECT_EQ(s.applied_config()->to_json(), c.to_json());  // untouched by the statistics pass
}

TEST(SessionEngine, StatisticsDoNotDependOnTheChunkSize) {
    c10::InferenceMode guard;
    auto m = load("stories260K");
    QuantSession s(m, tok("stories260K"));
    MethodConfig c = cfg({"awq"});
    c.calib_samples = 12;
    std::string desc;
    const at::Tensor blocks = s.calibration_blocks(c, &desc);
    int partials = 0;
    CalibPassOptions o;
    o.chunk = 4;
    o.on_partial = [&](const CalibStats& p) {
        ++partials;
        EXPECT_EQ(p.samples_total, 12);
        EXPECT_EQ(p.samples_done, 4 * partials);
    };
    const CalibStats chunked = collect_calibration_stats(*m, blocks, desc, {}, 4, 64, o);
    const CalibStats whole = collect_calibration_stats(*m, blocks, desc);
    EXPECT_EQ(partials, 2);
    for (const auto& [n, cs] : whole.per_linear) {
        EXPECT_TRUE(at::equal(chunked.at(n).mean_abs, cs.mean_abs)) << n;
        EXPECT_TRUE(at::equal(chunked.at(n).sample_inputs, cs.sample_inputs)) << n;
    }
}

TEST(SessionEngine, ReapplyingAConfigurationRebuildsItWithoutSearch) {
    c10::InferenceMode guard;
    auto m = load("stories260K");
    QuantSession s(m, tok("stories260K"));
    MethodConfig awq = cfg({"awq"}, 3, 32);
    awq.awq_clip = true;
    const ApplyReport first = s.apply(awq);
    const double p1 = ppl(s, "stories260K");
    s.apply(cfg({"rtn"}, 4, 32));
    const ApplyReport again = s.apply(awq);
    EXPECT_EQ(ppl(s, "stories260K"), p1);
    ASSERT_FALSE(again.steps.empty());
    EXPECT_NE(again.steps.back().find("no new search"), std::string::npos);
    ASSERT_TRUE(again.awq);
    EXPECT_EQ(again.awq->groups.size(), first.awq->groups.size());
}

TEST(SessionEngine, AutoModeKeepsSmallModelsInMemory) {
    auto m = load("stories260K", HoldMode::Auto);
    EXPECT_FALSE(m->streamed());
    EXPECT_EQ(parse_hold_mode("block-sequential"), HoldMode::BlockSequential);
    QS_EXPECT_ERROR_CONTAINS(parse_hold_mode("fast"), "unknown mode 'fast'");
}

TEST(SessionEngine, BaselineEvaluationKeepsTheAppliedConfiguration) {
    c10::InferenceMode guard;
    auto m = load("stories260K");
    QuantSession s(m, tok("stories260K"));
    PplOptions o;
    o.seqlen = 64;
    o.nsamples = 3;
    const double original = s.evaluate(MethodConfig(), eval_ids("stories260K"), o).ppl.ppl;
    const MethodConfig a = cfg({"rtn"}, 3, 32);
    const double quantized = s.evaluate(a, eval_ids("stories260K"), o).ppl.ppl;
    const EvalReport base = s.evaluate(MethodConfig(), eval_ids("stories260K"), o);
    EXPECT_NEAR(base.ppl.ppl, original, 1e-9 * original);
    EXPECT_NE(base.mode.find("original weights"), std::string::npos);
    ASSERT_NE(s.applied_config(), nullptr);  // still carries rtn w3
    EXPECT_EQ(s.applied_config()->to_json(), a.to_json());
    EXPECT_EQ(ppl(s, "stories260K"), quantized);
}
