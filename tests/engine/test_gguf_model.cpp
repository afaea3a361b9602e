// GGUF files as models: the real stories260K (GGUF v1) against its Hugging Face conversion,
// tiny GGUFs of every supported type / architecture / tokenizer family against transformers'
// own GGUF loader (tools/goldens/make_gguf_models.py), config and name mapping, errors.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "engine/gguf_test_util.h"
#include "engine/test_util.h"
#include "io/checkpoint.h"
#include "io/gguf_model.h"
#include "io/safetensors.h"
#include "models/causal_lm.h"
#include "models/generate.h"
#include "models/model_summary.h"
#include "tokenizers/tokenizer.h"

using namespace qs;
using qs::test::GgufBytes;
namespace fs = std::filesystem;

namespace {

const std::string kStories = "gguf/stories260K/tinyllamas-stories-260k-f32.gguf";

void write_bytes(const fs::path& p, const std::vector<uint8_t>& b) {
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

void expect_logits_and_greedy(const std::string& model_path, const std::string& golden) {
    SafetensorsFile g(test_data(golden));
    auto m = load_causal_lm(model_path);
    const at::Tensor want = g.load("logits");
    const at::Tensor got = m->forward(g.load("input_ids")).to(at::kFloat);
    ASSERT_EQ(got.sizes(), want.sizes());
    const double diff = (got - want).abs().max().item<double>();
    EXPECT_LE(diff, 1e-4) << model_path << ": max |logit difference| " << diff;
    const at::Tensor prompt = g.load("greedy_prompt"), expect = g.load("greedy_tokens");
    GenerateOptions o;
    o.max_new_tokens = expect.numel();
    const auto out =
        generate(*m, std::vector<int64_t>(prompt.data_ptr<int64_t>(), prompt.data_ptr<int64_t>() + prompt.numel()), o);
    EXPECT_EQ(out, std::vector<int64_t>(expect.data_ptr<int64_t>(), expect.data_ptr<int64_t>() + expect.numel()))
        << model_path;
}

}  // namespace

TEST(GgufModel, Stories260KVersion1EqualsItsHuggingFaceConversion) {
    GgufModel g(test_data(kStories));
    EXPECT_EQ(g.file().header().version, 1u);
    SafetensorsFile hf(test_data("models/stories260K/model.safetensors"));
    // The GGUF also stores the output head (a copy of the embedding); the HF folder ties it.
    ASSERT_EQ(hf.header().tensors.size() + 1, g.tensors().size());
    EXPECT_TRUE(at::equal(g.load("lm_head.weight", at::kFloat), hf.load("model.embed_tokens.weight")));
    for (const auto& t : hf.header().tensors) {
        SCOPED_TRACE(t.name);
        ASSERT_TRUE(g.has(t.name));
        EXPECT_EQ(g.info(t.name).type_name(), "F32");
        // Bit-identical, q/k rows included (the HF file was permuted independently).
        EXPECT_TRUE(at::equal(g.load(t.name, at::kFloat), hf.load(t.name)));
    }
    const ModelConfig a = parse_model_config(g.hf_config(), "gguf");
    const ModelConfig b = parse_model_config(read_json_file(test_data("models/stories260K/config.json")), "hf");
    EXPECT_EQ(a.model_type, b.model_type);
    EXPECT_EQ(a.vocab_size, b.vocab_size);
    EXPECT_EQ(a.hidden_size, b.hidden_size);
    EXPECT_EQ(a.num_layers, b.num_layers);
    EXPECT_EQ(a.num_heads, b.num_heads);
    EXPECT_EQ(a.num_kv_heads, b.num_kv_heads);
    EXPECT_EQ(a.head_dim, b.head_dim);
    EXPECT_EQ(a.intermediate_size, b.intermediate_size);
    EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
    EXPECT_FALSE(a.tie_word_embeddings);  // output.weight present
    EXPECT_TRUE(b.tie_word_embeddings);
    EXPECT_FLOAT_EQ(float(a.rms_norm_eps), float(b.rms_norm_eps));
    EXPECT_EQ(a.rope_theta, b.rope_theta);
    EXPECT_EQ(a.bos_token_id, b.bos_token_id);
    EXPECT_EQ(a.eos_token_id, b.eos_token_id);
}

TEST(GgufModel, Stories260KLogitsAndGreedyMatchTransformers) {
    expect_logits_and_greedy(test_data(kStories), "goldens/stories260K.safetensors");
}

class GgufTinyModel : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufTinyModel, LogitsAndGreedyMatchTransformersGgufLoader) {
    expect_logits_and_greedy(test_data("gguf/" + GetParam() + ".gguf"), "goldens/gguf/" + GetParam() + ".safetensors");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufTinyModel,
                         ::testing::Values("tiny-llama-smollm", "tiny-qwen2", "tiny-llama3-bpe", "tiny-gpt2-pre"),
                         [](const auto& info) {
                             std::string s = info.param;
                             for (auto& ch : s)
                                 if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return s;
                         });

TEST(GgufModel, EveryLinearStatesItsSourceType) {
    auto m = load_causal_lm(test_data("gguf/tiny-llama-smollm.gguf"));
    const std::map<std::string, std::string> want = {{"model.layers.0.self_attn.q_proj", "Q4_K"},
                                                     {"model.layers.0.self_attn.k_proj", "Q5_K"},
                                                     {"model.layers.0.self_attn.v_proj", "Q6_K"},
                                                     {"model.layers.0.self_attn.o_proj", "Q3_K"},
                                                     {"model.layers.0.mlp.gate_proj", "Q2_K"},
                                                     {"model.layers.0.mlp.up_proj", "Q4_0"},
                                                     {"model.layers.0.mlp.down_proj", "Q8_0"},
                                                     {"model.layers.1.self_attn.q_proj", "Q4_1"},
                                                     {"model.layers.1.self_attn.k_proj", "F16"},
                                                     {"model.layers.1.self_attn.v_proj", "BF16"},
                                                     {"model.layers.1.self_attn.o_proj", "Q5_0"},
                                                     {"model.layers.1.mlp.gate_proj", "Q5_1"},
                                                     {"model.layers.1.mlp.up_proj", "Q4_K"},
                                                     {"model.layers.1.mlp.down_proj", "Q6_K"},
                                                     {"lm_head", "Q6_K"}};
    const ModelSummary s = summarize(*m);
    ASSERT_EQ(s.linears.size(), want.size());
    for (const auto& l : s.linears) EXPECT_EQ(l.source_type, want.at(l.name)) << l.name;
    EXPECT_EQ(s.source_type_counts.at("Q4_K"), 2);
    EXPECT_EQ(s.source_type_counts.at("Q6_K"), 3);
    EXPECT_EQ(s.source_type_counts.size(), 12u);
    // Safetensors models state their stored dtype.
    auto hf = load_causal_lm(test_data("models/stories260K"));
    for (const auto& l : summarize(*hf).linears) EXPECT_EQ(l.source_type, "F32") << l.name;
}

TEST(GgufModel, BF16LoadConvertsDequantizedValues) {
    GgufModel g(test_data("gguf/tiny-llama-smollm.gguf"));
    const std::string n = "model.layers.0.self_attn.q_proj.weight";
    EXPECT_TRUE(at::equal(g.load(n, at::kBFloat16), g.load(n, at::kFloat).to(at::kBFloat16)));
    EXPECT_EQ(g.info(n).gguf_name, "blk.0.attn_q.weight");
    EXPECT_EQ(g.info(n).unpermute_heads, 4);
    EXPECT_EQ(g.info("model.layers.0.self_attn.k_proj.weight").unpermute_heads, 1);
    EXPECT_EQ(g.info("model.layers.0.self_attn.v_proj.weight").unpermute_heads, 0);
    GgufModel q(test_data("gguf/tiny-qwen2.gguf"));  // qwen2 keeps HF's rotary order
    EXPECT_EQ(q.info("model.layers.0.self_attn.q_proj.weight").unpermute_heads, 0);
    EXPECT_EQ(q.hf_config()["tie_word_embeddings"], true);
    EXPECT_EQ(q.hf_config()["model_type"], "qwen2");
}

TEST(GgufModel, FindGgufInFoldersAndFiles) {
    const fs::path d = temp_dir("find_gguf");
    EXPECT_EQ(find_gguf(d.string()), "");
    fs::copy_file(test_data("gguf/tiny-qwen2.gguf"), d / "a.gguf");
    EXPECT_EQ(find_gguf(d.string()), (d / "a.gguf").string());
    EXPECT_EQ(find_gguf((d / "a.gguf").string()), (d / "a.gguf").string());
    auto m = load_causal_lm(d.string());  // a folder holding one .gguf opens as a model
    EXPECT_EQ(m->config.model_type, "qwen2");
    fs::copy_file(test_data("gguf/tiny-qwen2.gguf"), d / "b.gguf");
    QS_EXPECT_ERROR_CONTAINS(find_gguf(d.string()), "holds several GGUF files (a.gguf, b.gguf)");
    EXPECT_EQ(find_gguf(test_data("models/stories260K")), "");  // an HF folder
    EXPECT_EQ(find_gguf(test_data("models/stories260K/config.json")), "");
    fs::remove_all(d);
}

TEST(GgufModel, Llama3RopeScalingIsRecoveredFromRopeFreqs) {
    SafetensorsFile cases(test_data("goldens/rope_llama3_cases.safetensors"));
    const nlohmann::json meta = read_json_file(test_data("goldens/rope_llama3_cases.json"))["cases"];
    const fs::path d = temp_dir("rope_freqs");
    for (const char* name : {"llama31_8b_hd128", "llama32_1b_hd64"}) {
        SCOPED_TRACE(name);
        const nlohmann::json& c = meta[name];
        const int64_t hd = c["head_dim"].get<int64_t>();
        // llama.cpp stores the divisor of each default frequency: default / llama3.
        const at::Tensor factors = (cases.load(std::string(name) + ".default_inv_freq").to(at::kDouble) /
                                    cases.load(std::string(name) + ".inv_freq").to(at::kDouble))
                                       .to(at::kFloat);
        GgufBytes g;
        g.header(2, 6).kv_str("general.architecture", "llama").kv_u32("llama.embedding_length", uint32_t(hd * 2));
        g.kv_u32("llama.block_count", 1)
            .kv_u32("llama.attention.head_count", 2)
            .kv_u32("llama.feed_forward_length", 32);
        g.str("llama.rope.freq_base").put<uint32_t>(6).put<float>(c["rope_theta"].get<float>());
        g.tensor("token_embd.weight", {uint64_t(hd * 2), 4}, 0, 0);
        g.tensor("rope_freqs.weight", {uint64_t(hd / 2)}, 0, uint64_t(hd * 2 * 4 * 4));
        g.align();
        g.zeros(static_cast<size_t>(hd * 2 * 4 * 4));
        g.raw(factors.data_ptr<float>(), static_cast<size_t>(factors.numel()) * 4);
        write_bytes(d / "m.gguf", g.b);
        const GgufModel m((d / "m.gguf").string());
        const ModelConfig mc = parse_model_config(m.hf_config(), "m");
        EXPECT_EQ(mc.rope.type, "llama3");
        EXPECT_DOUBLE_EQ(mc.rope.factor, c["factor"].get<double>());
        EXPECT_EQ(mc.rope.low_freq_factor, c["low_freq_factor"].get<double>());
        EXPECT_EQ(mc.rope.high_freq_factor, c["high_freq_factor"].get<double>());
        EXPECT_EQ(mc.rope.original_max_position_embeddings, c["original_max_position_embeddings"].get<int64_t>());
    }
    fs::remove_all(d);
}

TEST(GgufModel, ErrorsNameTheFileAndTheProblem) {
    const fs::path d = temp_dir("gguf_errors");
    auto file = [&](const GgufBytes& g) {
        write_bytes(d / "x.gguf", g.b);
        return (d / "x.gguf").string();
    };
    {
        GgufBytes g;
        g.header(0, 1).kv_str("general.architecture", "gpt2");
        QS_EXPECT_ERROR_CONTAINS(GgufModel(file(g)),
                                 "x.gguf: general.architecture is 'gpt2'; QuantScope opens GGUF "
                                 "models of architecture llama");
    }
    {
        GgufBytes g;
        g.header(0, 1).kv_str("general.architecture", "llama");
        QS_EXPECT_ERROR_CONTAINS(GgufModel(file(g)), "x.gguf: metadata 'llama.embedding_length' is missing");
    }
    {
        GgufBytes g;
        g.header(0, 2).kv_str("general.architecture", "llama").kv_u32("split.count", 3);
        QS_EXPECT_ERROR_CONTAINS(GgufModel(file(g)), "is one part of a split GGUF (3 files)");
    }
    {
        GgufBytes g;
        g.header(1, 5).kv_str("general.architecture", "llama").kv_u32("llama.embedding_length", 64);
        g.kv_u32("llama.block_count", 1)
            .kv_u32("llama.attention.head_count", 2)
            .kv_u32("llama.feed_forward_length", 32);
        g.tensor("token_embd.weight", {64, 4}, 0, 0).align().zeros(64 * 4 * 4);
        QS_EXPECT_ERROR_CONTAINS(
            load_causal_lm(file(g)),
            "x.gguf: required tensor for 'model.layers.0.self_attn.q_proj.weight' (shape [64, 64]) is missing");
    }
    {
        GgufBytes g;  // a tensor whose shape disagrees with the metadata
        g.header(2, 5).kv_str("general.architecture", "llama").kv_u32("llama.embedding_length", 64);
        g.kv_u32("llama.block_count", 1)
            .kv_u32("llama.attention.head_count", 2)
            .kv_u32("llama.feed_forward_length", 32);
        g.tensor("token_embd.weight", {64, 4}, 0, 0).tensor("blk.0.attn_q.weight", {64, 32}, 0, 1024);
        g.align().zeros(1024 + 64 * 32 * 4);
        QS_EXPECT_ERROR_CONTAINS(load_causal_lm(file(g)),
                                 "x.gguf: tensor 'blk.0.attn_q.weight' ('model.layers.0.self_attn.q_proj.weight') has "
                                 "shape [32, 64], expected [64, 64]");
    }
    {
        GgufBytes g;
        g.header(1, 5).kv_str("general.architecture", "llama").kv_u32("llama.embedding_length", 64);
        g.kv_u32("llama.block_count", 1)
            .kv_u32("llama.attention.head_count", 2)
            .kv_u32("llama.feed_forward_length", 32);
        g.tensor("blk.3.attn_q.weight", {64, 64}, 0, 0).align().zeros(64 * 64 * 4);
        QS_EXPECT_ERROR_CONTAINS(GgufModel(file(g)), "x.gguf: tensor 'token_embd.weight' is missing");
    }
    fs::remove_all(d);
}

// quantize --out from a GGUF: a Hugging Face folder (float32 by default) that computes the same
// logits, with the tokenizer written from the GGUF metadata (tokenizer.json for gpt2
// vocabularies, tokenizer.model for llama SentencePiece ones) giving the same ids.
TEST(GgufModel, ExportFromGgufWritesAnEquivalentHuggingFaceFolder) {
    const fs::path d = temp_dir("gguf_export");
    const std::vector<std::string> texts = {"Hello, my dog is cute. 12345 ünïcödé 日本語 😀",
                                            "  two  spaces\n\nand lines", "<|im_start|>user\nhi<|im_end|>"};
    for (const std::string& src : {test_data("gguf/tiny-llama-smollm.gguf"), test_data(kStories)}) {
        SCOPED_TRACE(src);
        const fs::path out = d / fs::path(src).stem();
        const std::string cmd = std::string(QS_CLI_PATH) + " quantize --model '" + src + "' --out '" + out.string() +
                                "' --json > /dev/null 2>&1";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
        auto a = load_causal_lm(src);
        auto b = load_causal_lm(out.string());
        EXPECT_EQ(b->dtype(), at::kFloat);
        const at::Tensor ids = at::arange(1, 40, at::kLong).unsqueeze(0);
        EXPECT_TRUE(at::equal(a->forward(ids), b->forward(ids)));
        const auto ta = load_tokenizer(src), tb = load_tokenizer(out.string());
        for (const auto& t : texts) {
            EXPECT_EQ(ta->encode(t, true), tb->encode(t, true)) << t;
            // tokenizer.model folders decode as the slow LlamaTokenizer (it strips one more leading
            // space than LlamaTokenizerFast, which a GGUF's transformers loader gives): ids only there.
            if (src != test_data(kStories)) {
                EXPECT_EQ(ta->decode(ta->encode(t, false), true), tb->decode(tb->encode(t, false), true)) << t;
            }
        }
        EXPECT_EQ(ta->bos_id(), tb->bos_id());
        EXPECT_EQ(ta->eos_id(), tb->eos_id());
    }
    EXPECT_TRUE(fs::exists(d / "tiny-llama-smollm" / "tokenizer.json"));
    EXPECT_TRUE(fs::exists(d / "tinyllamas-stories-260k-f32" / "tokenizer.model"));
    fs::remove_all(d);
}

// Every CLI command takes --model FILE.gguf (info, check, generate, ppl, sweep; quantize above).
TEST(GgufModel, EveryCliCommandOpensAGgufFile) {
    const std::string m = test_data("gguf/tiny-qwen2.gguf");
    auto run = [&](const std::string& args) {
        const std::string cmd = std::string(QS_CLI_PATH) + " " + args + " --model '" + m + "' 2>/dev/null";
        FILE* p = ::popen(cmd.c_str(), "r");
        std::string out;
        char buf[4096];
        size_t n;
        while (p && (n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        EXPECT_EQ(p ? ::pclose(p) : -1, 0) << cmd;
        return nlohmann::json::parse(out.substr(0, out.rfind('}') + 1));
    };
    const auto info = run("info --json");
    EXPECT_EQ(info["model_type"], "qwen2");
    EXPECT_EQ(info["tensor_types"]["Q8_0"], 3);  // token_embd, q_proj, up_proj
    EXPECT_EQ(info["linears"][0]["source_type"], "Q8_0");
    EXPECT_EQ(run("check --json")["ok"], true);
    const auto gen = run("generate --prompt 'Hello world' --max-new-tokens 3 --stop-at-eos 0 --json");
    EXPECT_EQ(gen["ids"].size(), 3u) << gen.dump();
    const auto ppl = run("ppl --nsamples 2 --seqlen 64 --json --method rtn --w-bits 4 --group-size 32");
    EXPECT_EQ(ppl["tokenizer"], "GGUF gpt2 (byte-level BPE, pre-tokenizer qwen2)");
    EXPECT_TRUE(std::isfinite(ppl["ppl"].get<double>()));
    const auto sweep =
        run("sweep --grid w-bits=4,8 --method rtn --group-size 32 --nsamples 1 --seqlen 64 --format json");
    EXPECT_EQ(sweep["rows"].size(), 2u);
}
