// AWQ auto-scale: the Gram-matrix loss (AwqOptions::gram_loss, the default) of the groups whose
// inspected module is the scaled Linear itself (out_proj, OPT fc1, fc2 / down_proj) equals
// llm-awq's direct evaluation (re-running the Linear for every ratio): same loss curves within
// float rounding, same chosen ratios, hence the same folded scales and weights.
#include <ATen/ATen.h>

#include <c10/core/InferenceMode.h>

#include <cmath>
#include <cstdio>

#include "engine/test_util.h"
#include "models/causal_lm.h"
#include "quant/awq.h"

using namespace qs;

namespace {

struct Run {
    AwqResult res;
    std::unique_ptr<CausalLM> model;
};

Run run(const std::string& dir, const at::Tensor& calib, const QuantSpec& spec, bool gram, bool clip) {
    auto m = load_causal_lm(dir);
    AwqOptions o;
    o.spec = spec;
    o.gram_loss = gram;
    o.clip = clip;
    o.chunk = 4;
    Run r;
    r.res = awq_auto(*m, calib, o);
    r.model = std::move(m);
    return r;
}

// The calibration set needs >= 4x more tokens than the widest Linear-only group has inputs,
// else awq_auto evaluates directly and there is nothing to compare.
void compare(const std::string& dir, int64_t vocab, int64_t n, int64_t t, const QuantSpec& spec, bool clip,
             int want_linear_only) {
    c10::InferenceMode guard;
    at::Generator gen = at::detail::createCPUGenerator(1234);
    at::Tensor calib = at::randint(4, vocab, {n, t}, gen, at::TensorOptions().dtype(at::kLong));
    Run gram = run(dir, calib, spec, true, clip), direct = run(dir, calib, spec, false, clip);
    ASSERT_EQ(gram.res.groups.size(), direct.res.groups.size());
    int linear_only = 0;
    bool all_same_ratio = true;
    double worst_all = 0;
    for (size_t i = 0; i < gram.res.groups.size(); ++i) {
        const AwqGroup &a = gram.res.groups[i], &b = direct.res.groups[i];
        const std::string label = dir + " " + a.inspected;
        const bool lin = a.linears.size() == 1 && a.inspected == a.linears[0];
        linear_only += lin;
        EXPECT_EQ(a.gram_loss, lin) << label << ": Gram loss used for exactly the Linear-only groups";
        EXPECT_FALSE(b.gram_loss) << label;
        ASSERT_EQ(a.loss.size(), b.loss.size()) << label;
        double worst = 0;
        for (size_t r = 0; r < a.loss.size(); ++r) {
            ASSERT_TRUE(std::isfinite(a.loss[r])) << label;
            ASSERT_GT(b.loss[r], 0) << label;
            worst = std::max(worst, std::abs(a.loss[r] - b.loss[r]) / b.loss[r]);
        }
        worst_all = std::max(worst_all, worst);
        EXPECT_LE(worst, 1e-5) << label << ": Gram loss curve differs from the direct one by " << worst;
        // the chosen ratio may only differ on a tie within that rounding
        if (a.best != b.best) {
            all_same_ratio = false;
            EXPECT_LE(std::abs(b.loss[a.best] - b.loss[b.best]) / b.loss[b.best], 1e-5) << label;
        }
    }
    EXPECT_EQ(linear_only, want_linear_only) << dir << ": Linear-only groups (out_proj, fc1/fc2 or down_proj)";
    std::printf("[ gram     ] %s: %d Linear-only groups, worst loss difference %.1e relative, ratios %s\n", dir.c_str(),
                linear_only, worst_all, all_same_ratio ? "all equal" : "differ on a tie");
    if (all_same_ratio) {  // then the scaled (and clipped) models are the same
        auto lg = gram.model->decoder_linears(), ld = direct.model->decoder_linears();
        ASSERT_EQ(lg.size(), ld.size());
        for (size_t i = 0; i < lg.size(); ++i) EXPECT_TRUE(at::equal(lg[i]->weight, ld[i]->weight)) << lg[i]->name;
        at::Tensor ids = calib.narrow(0, 0, 1);
        EXPECT_TRUE(at::equal(gram.model->forward(ids), direct.model->forward(ids))) << dir;
    }
}

}  // namespace

TEST(AwqGramLoss, LlamaGqaMatchesDirectEvaluation) {
    // TinyStories-656K: GQA (v -> o not scaled), down_proj is the Linear-only group.
    compare(source_path("resources/models/TinyStories-656K"), 2048, 16, 128,
            QuantSpec{3, Granularity::PerGroup, 32, false}, false, 2);
}

TEST(AwqGramLoss, OptMatchesDirectEvaluationWithClip) {
    // OPT: out_proj, fc1 and fc2 are Linear-only groups.
    compare(test_data("models/opt-preln-random"), 272, 8, 48, QuantSpec{3, Granularity::PerGroup, 16, false}, true, 6);
}
