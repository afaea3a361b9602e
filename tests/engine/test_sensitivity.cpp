// Per-layer sensitivity map (#16 item 4), checked against an independent computation: the model
// with exactly that Linear (block) replaced by its quantized weight, evaluated by the ordinary
// perplexity evaluator over all blocks with the KL reference, and the imatrix as a plain sum of
// squares of the Linear's inputs.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <sstream>

#include "data/eval_text.h"
#include "eval/perplexity.h"
#include "models/causal_lm.h"
#include "quant/linear_quant.h"
#include "quant/quant_session.h"
#include "quant/sensitivity.h"
#include "test_util.h"
#include "tokenizers/tokenizer.h"

using namespace qs;

namespace {

std::string model_dir(const std::string& name) {
    return name == "TinyStories-656K" ? source_path("resources/models/TinyStories-656K") : test_data("models/" + name);
}

std::shared_ptr<CausalLM> load(const std::string& name, HoldMode mode = HoldMode::InMemory) {
    LoadOptions o;
    o.mode = mode;
    return std::shared_ptr<CausalLM>(load_causal_lm(model_dir(name), o));
}

std::shared_ptr<const Tokenizer> tok(const std::string& name) {
    return std::shared_ptr<const Tokenizer>(load_tokenizer(model_dir(name)));
}

at::Tensor ids_of(const std::string& name) {
    return at::tensor(tok(name)->encode(default_eval_text().text, true), at::kLong);
}

MethodConfig rtn(int bits, int64_t group) {
    MethodConfig c;
    c.methods = {"rtn"};
    c.weight.bits = bits;
    c.weight.group_size = group;
    return c;
}

SensitivityOptions small(int64_t seqlen = 64, int64_t n = 3) {
    SensitivityOptions o;
    o.seqlen = seqlen;
    o.nsamples = n;
    return o;
}

// Independent: a fresh model with `names` quantized by RTN with `spec` (after `prep` applied to the
// session, e.g. a rotation), ppl and KL over the same windows by evaluate_perplexity.
PplResult only_these(const std::string& model, const std::vector<std::string>& names, const QuantSpec& spec,
                     const MethodConfig& prep, int64_t seqlen, int64_t n) {
    c10::InferenceMode guard;
    auto m = load(model);
    QuantSession s(m, tok(model));
    if (!prep.methods.empty()) s.apply(prep);
    for (const auto& nm : names) {
        Linear* l = m->find_linear(nm);
        EXPECT_NE(l, nullptr) << nm;
        l->weight = pseudo_quantize(l->weight, spec);
    }
    auto ref = s.original_model();
    PplOptions o;
    o.seqlen = seqlen;
    o.nsamples = n;
    o.kl_reference = ref.get();
    return evaluate_perplexity(*m, ids_of(model), o);
}

const SensitivityEntry& entry(const SensitivityResult& r, const std::string& name) {
    for (const auto& e : r.entries)
        if (e.name == name) return e;
    throw std::runtime_error("no entry " + name);
}

}  // namespace

TEST(Sensitivity, EachLinearEqualsTheModelWithOnlyThatLinearQuantized) {
    auto m = load("TinyStories-656K");
    QuantSession s(m, tok("TinyStories-656K"));
    const MethodConfig c = rtn(3, 64);
    SensitivityResult r = compute_sensitivity(s, c, ids_of("TinyStories-656K"), "wikitext-2", small());
    // 2 blocks x 7 Linears, then 2 blocks
    ASSERT_EQ(r.entries.size(), 16u);
    EXPECT_EQ(r.entries[0].name, "model.layers.0.self_attn.q_proj");
    EXPECT_EQ(r.entries[14].kind, "block");
    EXPECT_EQ(r.entries[14].name, "model.layers.0");
    EXPECT_EQ(r.seqlen, 64);
    EXPECT_EQ(r.nsamples, 3);

    // the unquantized reference is the ordinary perplexity of the original model
    {
        auto o = load("TinyStories-656K");
        PplOptions po;
        po.seqlen = 64;
        po.nsamples = 3;
        EXPECT_NEAR(r.base_ppl, evaluate_perplexity(*o, ids_of("TinyStories-656K"), po).ppl, 1e-9 * r.base_ppl);
    }
    for (const std::string name : {"model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj"}) {
        const SensitivityEntry& e = entry(r, name);
        PplResult want = only_these("TinyStories-656K", {name}, c.weight, MethodConfig(), 64, 3);
        EXPECT_NEAR(e.ppl, want.ppl, 1e-5 * want.ppl) << name;
        EXPECT_NEAR(e.delta_ppl, want.ppl - r.base_ppl, 1e-5 * want.ppl) << name;
        ASSERT_TRUE(want.kl);
        EXPECT_NEAR(e.kl.mean, want.kl->mean, 1e-5 + 1e-4 * want.kl->mean) << name;
        EXPECT_NEAR(e.kl.p99_9, want.kl->p99_9, 1e-4 + 1e-4 * want.kl->p99_9) << name;
        EXPECT_DOUBLE_EQ(e.kl.top1, want.kl->top1) << name;
        EXPECT_EQ(e.kl.tokens, 3 * 63);
        EXPECT_GT(e.kl.mean, 0);
        EXPECT_GT(e.weight_rel_error, 0.05);
    }
    // a block = all its Linears at once
    {
        std::vector<std::string> all;
        for (const char* n : {"q_proj", "k_proj", "v_proj", "o_proj"})
            all.push_back(std::string("model.layers.1.self_attn.") + n);
        for (const char* n : {"gate_proj", "up_proj", "down_proj"})
            all.push_back(std::string("model.layers.1.mlp.") + n);
        PplResult want = only_these("TinyStories-656K", all, c.weight, MethodConfig(), 64, 3);
        EXPECT_NEAR(entry(r, "model.layers.1").ppl, want.ppl, 1e-5 * want.ppl);
        EXPECT_NEAR(entry(r, "model.layers.1").kl.mean, want.kl->mean, 1e-5 + 1e-4 * want.kl->mean);
    }
    // the whole configuration on the same windows is the ordinary evaluation
    ASSERT_TRUE(r.total_ppl);
    {
        auto o = load("TinyStories-656K");
        QuantSession s2(o, tok("TinyStories-656K"));
        PplOptions po;
        po.seqlen = 64;
        po.nsamples = 3;
        EXPECT_NEAR(*r.total_ppl, s2.evaluate(c, ids_of("TinyStories-656K"), po).ppl.ppl, 1e-9 * *r.total_ppl);
    }
    EXPECT_NE(r.protocol.find("3 non-overlapping windows of 64 tokens"), std::string::npos) << r.protocol;
    EXPECT_TRUE(s.carries(c));  // the session keeps the configuration it applied
}

TEST(Sensitivity, ImatrixIsTheSumOfSquaredInputsPerChannel) {
    auto m = load("TinyStories-656K");
    QuantSession s(m, tok("TinyStories-656K"));
    SensitivityOptions o = small(32, 2);
    o.blocks = false;
    o.total = false;
    SensitivityResult r = compute_sensitivity(s, rtn(4, 32), ids_of("TinyStories-656K"), "wikitext-2", o);
    ASSERT_EQ(r.imatrix.size(), 14u);
    // independently: hook the original model's down_proj of block 1 and sum x^2 over the same tokens
    c10::InferenceMode guard;
    auto ref = load("TinyStories-656K");
    at::Tensor want;
    ref->set_observer([&](const Linear& l, const at::Tensor& x) {
        if (l.name == "model.layers.1.mlp.down_proj") want = x.reshape({-1, x.size(-1)}).pow(2).sum(0);
    });
    ref->forward(ids_of("TinyStories-656K").narrow(0, 0, 64).view({2, 32}));
    ASSERT_TRUE(want.defined());
    at::Tensor got;
    for (const auto& [n, t] : r.imatrix)
        if (n == "model.layers.1.mlp.down_proj") got = t;
    ASSERT_TRUE(got.defined());
    EXPECT_TRUE(at::allclose(got, want, 1e-5, 1e-6)) << (got - want).abs().max();
    const SensitivityEntry& e = entry(r, "model.layers.1.mlp.down_proj");
    EXPECT_EQ(e.imatrix.tokens, 64);
    EXPECT_NEAR(e.imatrix.mean_sq, want.mean().item<double>() / 64, 1e-6 * e.imatrix.mean_sq);
    EXPECT_NEAR(e.imatrix.max_ratio, (want.max() / want.mean()).item<double>(), 1e-4 * e.imatrix.max_ratio);
    EXPECT_EQ(e.imatrix.top_channel, want.argmax().item<int64_t>());
    // JSON and CSV carry the same numbers
    nlohmann::json j = r.to_json(true);
    EXPECT_EQ(j.at("imatrix_sum_sq").at("model.layers.1.mlp.down_proj").size(), size_t(got.numel()));
    EXPECT_DOUBLE_EQ(j.at("entries").at(13).at("kl").at("mean").get<double>(), r.entries[13].kl.mean);
    EXPECT_TRUE(j.at("total").is_null());
    std::istringstream csv(r.to_csv());
    std::string line;
    int rows = 0;
    std::getline(csv, line);
    EXPECT_EQ(line.rfind("kind,name,role,block,params,ppl,delta_ppl,kl_mean", 0), 0u) << line;
    while (std::getline(csv, line)) ++rows;
    EXPECT_EQ(rows, 14);
}

// With a rotation, "only that Linear" means the rotated model with only that Linear quantized:
// the same as rotating the model (function-preserving) and quantizing that one weight.
TEST(Sensitivity, RotatedConfigurationQuantizesInTheRotatedBasis) {
    MethodConfig c = rtn(4, 32);
    c.methods = {"rotate", "rtn"};
    c.rotation = RotationKind::Hadamard;
    c.seed = 3;
    auto m = load("TinyStories-656K");
    QuantSession s(m, tok("TinyStories-656K"));
    SensitivityOptions o = small();
    o.blocks = false;
    SensitivityResult r = compute_sensitivity(s, c, ids_of("TinyStories-656K"), "wikitext-2", o);
    MethodConfig rotate_only = c;
    rotate_only.methods = {"rotate"};
    const std::string name = "model.layers.0.mlp.down_proj";
    PplResult want = only_these("TinyStories-656K", {name}, c.weight, rotate_only, 64, 3);
    EXPECT_NEAR(entry(r, name).ppl, want.ppl, 1e-4 * want.ppl);
    EXPECT_NEAR(entry(r, name).kl.mean, want.kl->mean, 1e-5 + 1e-3 * want.kl->mean);
    // the reference is the rotated, unquantized model: the original function
    PplOptions po;
    po.seqlen = 64;
    po.nsamples = 3;
    EXPECT_NEAR(r.base_ppl, evaluate_perplexity(*load("TinyStories-656K"), ids_of("TinyStories-656K"), po).ppl,
                1e-4 * r.base_ppl);
}

// AWQ auto-scale + clip: the scales are function-preserving, the clips are not; the reference is
// still the original function, and the whole configuration's weights are the candidates' weights.
TEST(Sensitivity, AwqClipsGoWithTheCandidateNotTheReference) {
    MethodConfig c = rtn(3, 32);
    c.methods = {"awq"};
    c.awq_clip = true;
    c.calib_samples = 4;
    c.calib_seqlen = 64;
    auto m = load("TinyStories-656K");
    QuantSession s(m, tok("TinyStories-656K"));
    SensitivityOptions o = small();
    o.blocks = false;
    SensitivityResult r = compute_sensitivity(s, c, ids_of("TinyStories-656K"), "wikitext-2", o);
    PplOptions po;
    po.seqlen = 64;
    po.nsamples = 3;
    const double original = evaluate_perplexity(*load("TinyStories-656K"), ids_of("TinyStories-656K"), po).ppl;
    EXPECT_NEAR(r.base_ppl, original, 1e-4 * original);
    // the session's model (every Linear quantized) holds the weights the candidates used
    c10::InferenceMode guard;
    auto ref = s.prequant_model({}, false, /*with_clips=*/false);
    const Linear* q = s.model().find_linear("model.layers.1.mlp.down_proj");
    const Linear* w = ref->find_linear("model.layers.1.mlp.down_proj");
    const double rel = ((q->weight - w->weight).norm() / w->weight.norm()).item<double>();
    EXPECT_NEAR(entry(r, "model.layers.1.mlp.down_proj").weight_rel_error, rel, 1e-6);
}

TEST(Sensitivity, BlockSequentialModelGivesTheSameMap) {
    const MethodConfig c = rtn(3, 16);
    SensitivityOptions o = small(48, 2);
    o.total = false;
    auto a = load("stories260K");
    QuantSession sa(a, tok("stories260K"));
    SensitivityResult ra = compute_sensitivity(sa, c, ids_of("stories260K"), "wikitext-2", o);
    auto b = load("stories260K", HoldMode::BlockSequential);
    QuantSession sb(b, tok("stories260K"));
    ASSERT_TRUE(sb.block_sequential());
    SensitivityResult rb = compute_sensitivity(sb, c, ids_of("stories260K"), "wikitext-2", o);
    EXPECT_NE(rb.mode.find("block-sequential"), std::string::npos) << rb.mode;
    ASSERT_EQ(ra.entries.size(), rb.entries.size());
    for (size_t i = 0; i < ra.entries.size(); ++i) {
        EXPECT_EQ(ra.entries[i].name, rb.entries[i].name);
        EXPECT_NEAR(ra.entries[i].ppl, rb.entries[i].ppl, 1e-5 * ra.entries[i].ppl) << ra.entries[i].name;
        EXPECT_NEAR(ra.entries[i].kl.mean, rb.entries[i].kl.mean, 1e-6 + 1e-4 * ra.entries[i].kl.mean);
    }
}

TEST(Sensitivity, OptModelAndCancelAndBadInput) {
    auto m = load("opt-ppl-random");
    QuantSession s(m, tok("opt-ppl-random"));
    const MethodConfig c = rtn(4, 16);
    SensitivityOptions o = small(32, 2);
    o.total = false;
    int seen = 0;
    SensitivityResult r = compute_sensitivity(s, c, ids_of("opt-ppl-random"), "wikitext-2", o, {},
                                              [&](const SensitivityEntry&) { ++seen; });
    EXPECT_EQ(size_t(seen), r.entries.size());
    const std::string fc2 = r.entries[5].name;
    EXPECT_EQ(r.entries[5].role, "fc2") << fc2;
    PplResult want = only_these("opt-ppl-random", {fc2}, c.weight, MethodConfig(), 32, 2);
    EXPECT_NEAR(r.entries[5].ppl, want.ppl, 1e-5 * want.ppl);

    // cancel: throws Cancelled, the session keeps its configuration
    std::atomic<bool> flag{false};
    Progress p;
    p.cancel = &flag;
    int reports = 0;
    p.report = [&](double, const std::string&) {
        if (++reports == 3) flag = true;
    };
    EXPECT_THROW(compute_sensitivity(s, c, ids_of("opt-ppl-random"), "wikitext-2", o, p), Cancelled);
    EXPECT_TRUE(s.carries(c));

    QS_EXPECT_ERROR_CONTAINS(compute_sensitivity(s, MethodConfig(), ids_of("opt-ppl-random"), "wikitext-2", o),
                             "quantizes no weights");
    QS_EXPECT_ERROR_CONTAINS(compute_sensitivity(s, c, at::arange(10, at::kLong), "tiny.txt", o),
                             "tiny.txt has 10 tokens, fewer than one window of 32");
    SensitivityOptions none = o;
    none.linears = none.blocks = false;
    QS_EXPECT_ERROR_CONTAINS(compute_sensitivity(s, c, ids_of("opt-ppl-random"), "w", none), "nothing to measure");
}

// Mixed precision from the map: a hand-made map, ranked by mean KL and by delta ppl.
TEST(Sensitivity, MostSensitiveLinearsRankTheLinearEntries) {
    auto entry_of = [](const std::string& name, const std::string& kind, double kl, double dppl) {
        SensitivityEntry e;
        e.name = name;
        e.kind = kind;
        e.kl.mean = kl;
        e.delta_ppl = dppl;
        return e;
    };
    const std::vector<SensitivityEntry> map = {
        entry_of("a", "linear", 0.10, 5.0), entry_of("b", "linear", 0.30, 1.0), entry_of("c", "linear", 0.20, 9.0),
        entry_of("d", "linear", 0.30, 2.0),  // ties b on KL: model order keeps b first
        entry_of("model.layers.0", "block", 9.00, 99.0)};
    EXPECT_EQ(most_sensitive_linears(map, 2), (std::vector<std::string>{"b", "d"}));
    EXPECT_EQ(most_sensitive_linears(map, 3, "kl"), (std::vector<std::string>{"b", "d", "c"}));
    EXPECT_EQ(most_sensitive_linears(map, 2, "ppl"), (std::vector<std::string>{"c", "a"}));
    EXPECT_EQ(most_sensitive_linears(map, 10).size(), 4u);  // blocks are not candidates
    EXPECT_TRUE(most_sensitive_linears(map, 0).empty());
    const LinearOverride w8 = parse_linear_override("w8");
    const auto ov = most_sensitive_overrides(map, 2, w8, "ppl");
    ASSERT_EQ(ov.size(), 2u);
    EXPECT_EQ(ov.at("c"), w8);
    EXPECT_EQ(ov.at("a").bits, 8);
    EXPECT_THROW(most_sensitive_linears(map, 2, "top1"), Error);
    EXPECT_THROW(most_sensitive_linears(map, -1), Error);
}
