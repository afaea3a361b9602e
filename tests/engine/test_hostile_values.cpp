// Nonsense values (issue #15): never accepted, never turned into NaN, never an internal error.
// Method parameters (MethodConfig::validate, shared by the CLI, sweep grids, the GUI and
// workspaces), generation and perplexity options, tokenizer files with hostile ids, token ids
// outside the model's vocabulary, and a model that computes NaN: each must end in a qs::Error
// naming the file or option and the problem.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "engine/test_export_util.h"
#include "engine/test_util.h"
#include "eval/perplexity.h"
#include "models/generate.h"
#include "quant/method_config.h"
#include "tokenizers/tokenizer.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace qs;
using namespace qs::test;

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
}  // namespace

// ---------------------------------------------------------------- method configuration

TEST(HostileValues, MethodConfigRefusesNonsense) {
    struct Case {
        std::function<void(MethodConfig&)> set;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {[](MethodConfig& c) { c.sq_alpha = kNaN; }, "sq_alpha (--sq-alpha) must be a number in [0, 1], found nan"},
        {[](MethodConfig& c) { c.sq_alpha = -5; }, "sq_alpha (--sq-alpha) must be a number in [0, 1], found -5"},
        {[](MethodConfig& c) { c.awq_factor = kInf; },
         "awq_factor (--awq-factor) must be a positive finite number, found inf"},
        {[](MethodConfig& c) { c.awq_factor = 0; },
         "awq_factor (--awq-factor) must be a positive finite number, found 0"},
        {[](MethodConfig& c) { c.awq_salient = kNaN; },
         "awq_salient (--awq-salient) must be a fraction in [0, 1], found nan"},
        {[](MethodConfig& c) { c.awq_salient = 2; },
         "awq_salient (--awq-salient) must be a fraction in [0, 1], found 2"},
        {[](MethodConfig& c) { c.weight.bits = 99; }, "w_bits (--w-bits) must be an integer in 2..8, found 99"},
        {[](MethodConfig& c) { c.weight.bits = 1; }, "w_bits (--w-bits) must be an integer in 2..8, found 1"},
        {[](MethodConfig& c) { c.weight.group_size = 0; }, "group_size (--group-size) must be a positive integer"},
        {[](MethodConfig& c) { c.act.bits = 1; }, "a_bits (--a-bits) must be 0 (off) or an integer in 2..16, found 1"},
        {[](MethodConfig& c) { c.calib_samples = 0; },
         "calib_samples (--calib-samples) must be an integer in 1..1000000"},
        {[](MethodConfig& c) { c.calib_seqlen = -5; },
         "calib_seqlen (--calib-seqlen) must be an integer in 2..1048576"},
    };
    for (const auto& k : cases) {
        MethodConfig c;
        c.methods = {"awq", "rtn"};
        EXPECT_NO_THROW(c.validate());
        k.set(c);
        QS_EXPECT_ERROR_CONTAINS(c.validate(), k.expected);
        // the same value read from JSON (workspaces) is refused with the same words, never clamped
        QS_EXPECT_ERROR_CONTAINS(MethodConfig::from_json(c.to_json()), k.expected);
    }
}

TEST(HostileValues, CalibrationBlocksMustFitTheModelContext) {
    MethodConfig c;
    c.methods = {"awq", "rtn"};
    c.calib_seqlen = 100000;
    EXPECT_NO_THROW(c.validate());
    QS_EXPECT_ERROR_CONTAINS(c.validate_for_model(512),
                             "calib_seqlen (--calib-seqlen) 100000 is longer than the model's context "
                             "(max_position_embeddings 512)");
    c.methods = {"rtn"};  // no calibration: nothing to fit
    EXPECT_NO_THROW(c.validate_for_model(512));
    // the session refuses it before doing anything (this hung: attention over 100,000 positions)
    auto model = load(tinystories());
    QuantSession s(model, tokenizer(tinystories()));
    c.methods = {"awq-scale"};
    QS_EXPECT_ERROR_CONTAINS(s.apply(c), "is longer than the model's context (max_position_embeddings 512)");
}

TEST(HostileValues, GenerateOptions) {
    auto bad = [](std::function<void(GenerateOptions&)> set, const std::string& expected) {
        GenerateOptions o;
        set(o);
        QS_EXPECT_ERROR_CONTAINS(check_generate_options(o), expected);
    };
    EXPECT_NO_THROW(check_generate_options(GenerateOptions{}));
    bad([](GenerateOptions& o) { o.temperature = kNaN; },
        "temperature (--temperature) must be a positive finite number, found nan");
    bad([](GenerateOptions& o) { o.temperature = 0; },
        "temperature (--temperature) must be a positive finite number, found 0");
    bad([](GenerateOptions& o) { o.top_p = -1; }, "top_p (--top-p) must be in (0, 1] (1 = off), found -1");
    bad([](GenerateOptions& o) { o.top_p = kNaN; }, "top_p (--top-p) must be in (0, 1] (1 = off), found nan");
    bad([](GenerateOptions& o) { o.top_k = -1; }, "top_k (--top-k) must be >= 0");
    bad([](GenerateOptions& o) { o.max_new_tokens = -1; }, "max_new_tokens (--max-new-tokens) must be in 0..1048576");
    auto model = load(tinystories());
    GenerateOptions o;
    o.sample = true;
    o.top_p = -1;
    QS_EXPECT_ERROR_CONTAINS(generate(*model, {1, 2}, o), "top_p (--top-p) must be in (0, 1]");
}

TEST(HostileValues, PerplexityOptions) {
    auto model = load(tinystories());
    const at::Tensor ids = ids_1d(model->config.vocab_size, 1000);
    PplOptions o;
    o.seqlen = -5;  // was silently the model default
    QS_EXPECT_ERROR_CONTAINS(evaluate_perplexity(*model, ids, o),
                             "seqlen (--seqlen) must be at least 2 (0 = the model default), found -5");
    o = {};
    o.nsamples = 0;
    QS_EXPECT_ERROR_CONTAINS(evaluate_perplexity(*model, ids, o),
                             "nsamples (--nsamples) must be a positive integer or all");
    o = {};
    o.batch = 0;
    QS_EXPECT_ERROR_CONTAINS(evaluate_perplexity(*model, ids, o), "batch (--batch) must be in 1..4096, found 0");
}

TEST(HostileValues, NaNPerplexityIsNeverReturned) {
    // Finite weights whose product overflows: the logits become NaN. Before: ppl = nan, exit 0.
    auto model = load(tinystories());
    model->final_norm.weight = model->final_norm.weight * 3e38f;
    PplOptions o;
    o.seqlen = 64;
    o.nsamples = 3;
    const at::Tensor ids = ids_1d(model->config.vocab_size, 200);
    QS_EXPECT_ERROR_CONTAINS(evaluate_perplexity(*model, ids, o),
                             "perplexity: window 1 of 3 (tokens 0..63) has a non-finite loss");
}

// ---------------------------------------------------------------- token ids and tokenizers

namespace {

// A copy of TinyStories-656K whose tokenizer.json is edited by `edit`.
std::string model_with_tokenizer(const TempDir& tmp, const std::string& name, const std::function<void(json&)>& edit) {
    const std::string dir = tmp / name;
    fs::copy(tinystories(), dir);
    json j;
    std::ifstream(fs::path(dir) / "tokenizer.json") >> j;
    edit(j);
    std::ofstream(fs::path(dir) / "tokenizer.json") << j.dump();
    return dir;
}

}  // namespace

TEST(HostileValues, TokenIdsOutsideTheModelVocabularyAreNamed) {
    // A tokenizer with an added token of id 5000 for a 2,048-token model: at::embedding failed
    // with "index out of range in self" (an internal error in the CLI and the GUI preview).
    TempDir tmp;
    const std::string dir = model_with_tokenizer(tmp, "m", [](json& j) {
        j["added_tokens"].push_back({{"id", 5000},
                                     {"content", "<big>"},
                                     {"special", false},
                                     {"lstrip", false},
                                     {"rstrip", false},
                                     {"single_word", false},
                                     {"normalized", false}});
    });
    auto tok = load_tokenizer(dir);
    const std::vector<int64_t> ids = tok->encode("Once upon a time <big> there was", true);
    ASSERT_NE(std::find(ids.begin(), ids.end(), 5000), ids.end());
    auto model = load(dir);
    const at::Tensor t = at::tensor(ids, at::kLong).view({1, -1});
    QS_EXPECT_ERROR_CONTAINS(model->forward(t),
                             "token id 5000 is outside the model's vocabulary [0, 2048) "
                             "(vocab_size in " +
                                 dir + "/config.json): the tokenizer does not belong");
    PplOptions o;
    o.seqlen = 4;
    QS_EXPECT_ERROR_CONTAINS(evaluate_perplexity(*model, at::tensor(ids, at::kLong), o), "token id 5000 is outside");
    QS_EXPECT_ERROR_CONTAINS(model->forward(at::full({1, 3}, -1, at::kLong)), "token id -1 is outside");
}

TEST(HostileValues, TokenizerFilesWithHostileIds) {
    TempDir tmp;
    // added tokens with string ids: was "[json.exception.type_error.302] type must be number" (exit 3)
    const std::string s = model_with_tokenizer(tmp, "string_id", [](json& j) { j["added_tokens"][1]["id"] = "1"; });
    QS_EXPECT_ERROR_CONTAINS(load_tokenizer(s), s + "/tokenizer.json: added_tokens[1]: 'id' must be a token id");
    const std::string c = model_with_tokenizer(tmp, "content", [](json& j) { j["added_tokens"][0]["content"] = 7; });
    QS_EXPECT_ERROR_CONTAINS(load_tokenizer(c), "tokenizer.json: added_tokens[0]: 'content' must be a string, found 7");
    const std::string f = model_with_tokenizer(tmp, "flag", [](json& j) { j["added_tokens"][0]["special"] = "yes"; });
    QS_EXPECT_ERROR_CONTAINS(load_tokenizer(f), "tokenizer.json: added_tokens[0]: 'special' must be true or false");
    // a vocabulary id of 2^31 - 1: was std::bad_alloc (a 2^31-entry table)
    const std::string big =
        model_with_tokenizer(tmp, "big_id", [](json& j) { j["model"]["vocab"]["zzzz"] = 2147483647; });
    QS_EXPECT_ERROR_CONTAINS(load_tokenizer(big), "tokenizer.json: token 'zzzz' has id 2147483647, far beyond the");
    const std::string huge =
        model_with_tokenizer(tmp, "huge_id", [](json& j) { j["model"]["vocab"]["zzzz"] = 4294967296LL; });
    QS_EXPECT_ERROR_CONTAINS(load_tokenizer(huge), "tokenizer.json: token id 4294967296 out of range");
    // the BOS the post-processor adds is not in the vocabulary
    const std::string bos = model_with_tokenizer(tmp, "bos", [](json& j) {
        for (auto& [k, v] : j["post_processor"]["special_tokens"].items()) v["ids"] = {99999};
        j.erase("added_tokens");
    });
    fs::remove(fs::path(bos) / "tokenizer_config.json");
    fs::remove(fs::path(bos) / "special_tokens_map.json");
    QS_EXPECT_ERROR_CONTAINS(load_tokenizer(bos),
                             "tokenizer.json: post_processor adds token id 99999, which is not in the vocabulary");
    const std::string neg = model_with_tokenizer(tmp, "neg", [](json& j) {
        for (auto& [k, v] : j["post_processor"]["special_tokens"].items()) v["ids"] = {"x"};
    });
    QS_EXPECT_ERROR_CONTAINS(load_tokenizer(neg), "has an id that is not a token id: \"x\"");
    // any other value of an unexpected type is a qs::Error naming the folder, not exit 3
    const std::string any = model_with_tokenizer(tmp, "any", [](json&) {});
    std::ofstream(fs::path(any) / "tokenizer_config.json") << R"({"bos_token": {"content": "<s>", "lstrip": "no"}})";
    QS_EXPECT_ERROR_CONTAINS(load_tokenizer(any), "tokenizer in " + any + ": a file has a value of an unexpected type");
}
