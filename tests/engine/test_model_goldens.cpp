// Model runtimes against goldens produced by Hugging Face transformers (tools/goldens/
// make_model_goldens.py): fp32 logits within 1e-4 and identical 32-token greedy
// continuations (KV cache path), for both real fixtures and four random architectures.
#include <ATen/ATen.h>
#include <torch/version.h>

#include <filesystem>

#include "engine/test_util.h"
#include "io/safetensors.h"
#include "models/causal_lm.h"
#include "models/generate.h"

using namespace qs;

namespace {

struct Case {
    const char* name;
    std::string dir;
};

std::string model_dir(const std::string& name) {
    if (name == "TinyStories-656K") return source_path("resources/models/TinyStories-656K");
    return test_data("models/" + name);
}

class ModelGolden : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(ModelGolden, LogitsMatchTransformers) {
    const std::string name = GetParam();
    SafetensorsFile g(test_data("goldens/" + name + ".safetensors"));
    auto m = load_causal_lm(model_dir(name));
    at::Tensor ids = g.load("input_ids");
    at::Tensor expect = g.load("logits");
    at::Tensor got = m->forward(ids).to(at::kFloat);
    ASSERT_EQ(got.sizes(), expect.sizes());
    double diff = (got - expect).abs().max().item<double>();
    EXPECT_LE(diff, 1e-4) << name << ": max |logit difference| " << diff;
    if (g.find("long_input_ids")) {
        at::Tensor lg = m->forward(g.load("long_input_ids")).to(at::kFloat);
        double d2 = (lg - g.load("long_logits")).abs().max().item<double>();
        EXPECT_LE(d2, 1e-4) << name << " (long sequence): max |logit difference| " << d2;
    }
}

TEST_P(ModelGolden, GreedyContinuationMatchesTransformers) {
    const std::string name = GetParam();
    SafetensorsFile g(test_data("goldens/" + name + ".safetensors"));
    auto m = load_causal_lm(model_dir(name));
    at::Tensor prompt = g.load("greedy_prompt");
    at::Tensor expect = g.load("greedy_tokens");
    std::vector<int64_t> p(prompt.data_ptr<int64_t>(), prompt.data_ptr<int64_t>() + prompt.numel());
    GenerateOptions o;
    o.max_new_tokens = expect.numel();
    auto got = generate(*m, p, o);
    std::vector<int64_t> e(expect.data_ptr<int64_t>(), expect.data_ptr<int64_t>() + expect.numel());
    EXPECT_EQ(got, e) << name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelGolden,
                         ::testing::Values("TinyStories-656K", "stories260K", "opt-preln-random",
                                           "opt-postln-projio-random", "llama-gqa-llama3rope-random",
                                           "qwen2-bias-random"),
                         [](const auto& info) {
                             std::string s = info.param;
                             for (auto& ch : s)
                                 if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return s;
                         });

TEST(ModelLoad, TinyStoriesParameterCountAndTies) {
    auto m = load_causal_lm(source_path("resources/models/TinyStories-656K"));
    EXPECT_EQ(m->parameter_count(), 656000);
    EXPECT_TRUE(m->tied());
    EXPECT_EQ(m->config.num_kv_heads, 4);
    EXPECT_NE(m->find_linear("model.layers.1.self_attn.q_proj"), nullptr);
    EXPECT_NE(m->find_linear("model.layers.0.mlp.down_proj"), nullptr);
}

TEST(ModelLoad, OptLinearsAreAddressableByHfNames) {
    auto m = load_causal_lm(test_data("models/opt-postln-projio-random"));
    EXPECT_NE(m->find_linear("model.decoder.layers.0.fc1"), nullptr);
    EXPECT_NE(m->find_linear("model.decoder.layers.1.self_attn.out_proj"), nullptr);
    EXPECT_NE(m->find_linear("model.decoder.project_in"), nullptr);
    EXPECT_NE(m->find_linear("model.decoder.project_out"), nullptr);
    EXPECT_FALSE(m->config.do_layer_norm_before);
}

// fp16 on the CPU: libtorch 2.x has the kernels (the model runs), 1.13 has no fp16 matmul there
// (refused with the reason).
TEST(ModelLoad, Bf16RunsOnCpuAndFp16AsTheLinkedLibtorchAllows) {
    LoadOptions o;
    o.dtype = at::kBFloat16;
    auto m = load_causal_lm(source_path("resources/models/TinyStories-656K"), o);
    EXPECT_EQ(m->dtype(), at::kBFloat16);
    at::Tensor logits = m->forward(at::tensor({1, 80, 147}, at::kLong).unsqueeze(0));
    EXPECT_TRUE(at::isfinite(logits).all().item<bool>());
    o.dtype = at::kHalf;
#if TORCH_VERSION_MAJOR >= 2
    auto mh = load_causal_lm(source_path("resources/models/TinyStories-656K"), o);
    EXPECT_EQ(mh->dtype(), at::kHalf);
    EXPECT_TRUE(at::isfinite(mh->forward(at::tensor({1, 80, 147}, at::kLong).unsqueeze(0))).all().item<bool>());
#else
    QS_EXPECT_ERROR_CONTAINS(load_causal_lm(source_path("resources/models/TinyStories-656K"), o),
                             "fp16 is not supported on the CPU");
#endif
}

TEST(ModelLoad, ObserverSeesEveryLinearInput) {
    auto m = load_causal_lm(test_data("models/opt-preln-random"));
    std::map<std::string, int64_t> seen;
    m->set_observer([&](const Linear& l, const at::Tensor& x) { seen[l.name] = x.size(-1); });
    m->forward(at::tensor({2, 5, 7}, at::kLong).unsqueeze(0));
    m->clear_observer();
    for (const Linear* l : m->linears()) {
        ASSERT_TRUE(seen.count(l->name)) << l->name;
        EXPECT_EQ(seen[l->name], l->in_features) << l->name;
    }
}
