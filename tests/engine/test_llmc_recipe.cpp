// llm-compressor recipes (engine/quant/llmc_recipe.h): QuantScope regenerates, byte for byte,
// every recipe that tools/goldens/check_llmc_recipe.py loaded with llm-compressor's own parser
// (Recipe.create_instance) and checked (tests/data/llmc_recipes/summary.json); and the rules a
// recipe cannot express are refused or listed.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "quant/llmc_recipe.h"
#include "test_util.h"

namespace {

using json = nlohmann::json;

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    EXPECT_TRUE(f.good()) << path;
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

qs::LlmcModel model_of(const json& m) {
    qs::LlmcModel out;
    out.arch = m.at("arch").get<std::string>() == "opt" ? qs::Arch::OPT : qs::Arch::Llama;
    out.hidden_size = m.at("hidden_size").get<int64_t>();
    out.name = m.at("name").get<std::string>();
    return out;
}

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

}  // namespace

TEST(LlmcRecipe, RegeneratesFixtures) {
    const json summary = json::parse(read_file(test_data("llmc_recipes/summary.json")));
    ASSERT_GE(summary.at("cases").size(), 18u);
    EXPECT_EQ(summary.at("checked_with").at("llmcompressor").get<std::string>().rfind("0.14", 0), 0u);
    for (const auto& [name, c] : summary.at("cases").items()) {
        SCOPED_TRACE(name);
        const qs::MethodConfig cfg = qs::MethodConfig::from_json(c.at("configuration"));
        const qs::LlmcRecipe r = qs::make_llmc_recipe(cfg, model_of(c.at("model")));
        EXPECT_EQ(r.yaml, read_file(test_data("llmc_recipes/" + name + ".yaml")));
        EXPECT_EQ(json(r.not_carried_over), c.at("not_carried_over"));
        // What llm-compressor built from the file names the same modifiers, in order.
        std::string types;
        for (const auto& m : c.at("modifiers")) types += m.at("type").get<std::string>() + "\n";
        size_t at = 0;
        for (const auto& m : c.at("modifiers")) {
            const size_t p = r.yaml.find("    " + m.at("type").get<std::string>() + ":\n", at);
            ASSERT_NE(p, std::string::npos) << types;
            at = p;
        }
    }
}

TEST(LlmcRecipe, NothingToCarryIsRefused) {
    qs::MethodConfig none;
    QS_EXPECT_ERROR_CONTAINS(qs::make_llmc_recipe(none, {}), "no method");
    qs::MethodConfig rot;
    rot.methods = {"rotate"};
    rot.rotation = qs::RotationKind::Hadamard;
    qs::LlmcModel opt;
    opt.arch = qs::Arch::OPT;
    QS_EXPECT_ERROR_CONTAINS(qs::make_llmc_recipe(rot, opt), "has an llm-compressor counterpart: rotate");
    rot.rotation = qs::RotationKind::Random;
    QS_EXPECT_ERROR_CONTAINS(qs::make_llmc_recipe(rot, {}), "rotate --rotation random");
    qs::MethodConfig bad;
    bad.methods = {"rtn"};
    bad.weight.bits = 9;
    QS_EXPECT_ERROR_CONTAINS(qs::make_llmc_recipe(bad, {}), "w_bits (--w-bits)");
}

// A rotation alone on a LLaMA model: SpinQuant R1 and no quantization modifier.
TEST(LlmcRecipe, RotationOnly) {
    qs::MethodConfig rot;
    rot.methods = {"rotate"};
    rot.rotation = qs::RotationKind::PlainHadamard;
    qs::LlmcModel m;
    m.hidden_size = 128;
    const auto r = qs::make_llmc_recipe(rot, m);
    EXPECT_TRUE(contains(r.yaml, "    SpinQuantModifier:\n      rotations: [R1]\n      transform_type: hadamard\n"));
    EXPECT_FALSE(contains(r.yaml, "QuantizationModifier"));
    EXPECT_TRUE(r.not_carried_over.empty());
    EXPECT_TRUE(contains(r.yaml, "# Everything in the configuration is carried over.\n"));
}

// compressed-tensors' deterministic Hadamard needs a power of two (checked by the tools/
// script on the package: 576 refused); SmolLM2-135M's hidden size 576 gets random-hadamard.
TEST(LlmcRecipe, PlainHadamardNeedsPowerOfTwo) {
    qs::MethodConfig c;
    c.methods = {"rotate", "rtn"};
    c.rotation = qs::RotationKind::PlainHadamard;
    qs::LlmcModel m;
    m.hidden_size = 576;
    const auto r = qs::make_llmc_recipe(c, m);
    EXPECT_TRUE(contains(r.yaml, "transform_type: random-hadamard\n"));
    ASSERT_FALSE(r.not_carried_over.empty());
    EXPECT_TRUE(contains(r.not_carried_over.front(), "hidden_size is 576"));
    m.hidden_size = 512;
    EXPECT_TRUE(contains(qs::make_llmc_recipe(c, m).yaml, "transform_type: hadamard\n"));
}

// Numbers are written so that YAML reads them back as the same floats.
TEST(LlmcRecipe, FloatsRoundTrip) {
    qs::MethodConfig c;
    c.methods = {"smoothquant"};
    for (double a : {0.0, 1.0, 0.85, 0.1 + 0.2}) {
        c.sq_alpha = a;
        const auto y = qs::make_llmc_recipe(c, {}).yaml;
        const auto p = y.find("smoothing_strength: ");
        ASSERT_NE(p, std::string::npos);
        const std::string v = y.substr(p + 20, y.find('\n', p) - p - 20);
        EXPECT_EQ(std::stod(v), a) << v;
        EXPECT_NE(v.find_first_of(".e"), std::string::npos) << v;  // a float, not an int
    }
}

TEST(LlmcRecipe, JsonForm) {
    qs::MethodConfig c;
    c.methods = {"awq"};
    c.awq_clip = true;
    const auto r = qs::make_llmc_recipe(c, {});
    const json j = r.to_json();
    EXPECT_EQ(j.at("recipe").get<std::string>(), r.yaml);
    ASSERT_EQ(j.at("not_carried_over").size(), r.not_carried_over.size());
    EXPECT_TRUE(contains(j.at("not_carried_over")[0].get<std::string>(), "--awq-clip"));
    EXPECT_TRUE(contains(r.yaml, "# - awq --awq-clip: "));  // listed in the comment block too
}
