// Token ids and decoded text against goldens from the real Hugging Face libraries
// (tests/data/goldens/tokenizers/*.json, made by tools/goldens/make_tokenizer_goldens.py).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "engine/test_tokenizer_util.h"
#include "engine/test_util.h"
#include "tokenizers/tokenizer.h"

namespace {

using nlohmann::json;

json load_golden(const std::string& name) {
    const std::string text = qs_test::read_file(test_data("goldens/tokenizers/" + name + ".json"));
    return json::parse(text);
}

std::string show(const std::vector<int64_t>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s + "]";
}

// `path`: the tokenizer to check against the golden, when not the golden's own folder (the
// same tokenizer in another file format).
void check_cases(const std::string& name, const std::string& path = "") {
    const json g = load_golden(name);
    const auto tok = qs::load_tokenizer(path.empty() ? source_path(g["folder"].get<std::string>()) : path);
    ASSERT_TRUE(tok);
    if (!g["bos_id"].is_null()) {
        EXPECT_EQ(tok->bos_id(), g["bos_id"].get<int64_t>());
    }
    if (!g["eos_id"].is_null()) {
        EXPECT_EQ(tok->eos_id(), g["eos_id"].get<int64_t>());
    }
    EXPECT_EQ(tok->vocab_size(), g["vocab_size"].get<int64_t>());
    int failures = 0;
    for (const auto& c : g["cases"]) {
        const std::string cname = c["name"].get<std::string>();
        const std::string text = c["text"].get<std::string>();
        const auto want = c["ids"].get<std::vector<int64_t>>();
        const auto want_s = c["ids_special"].get<std::vector<int64_t>>();
        const auto got = tok->encode(text, false);
        const auto got_s = tok->encode(text, true);
        EXPECT_EQ(got, want) << name << " case " << cname << "\n got  " << show(got) << "\n want " << show(want);
        EXPECT_EQ(got_s, want_s) << name << " case " << cname << " (with special tokens)";
        EXPECT_EQ(tok->decode(want_s, true), c["decode"].get<std::string>()) << name << " decode " << cname;
        EXPECT_EQ(tok->decode(want_s, false), c["decode_keep"].get<std::string>())
            << name << " decode (keep) " << cname;
        if (got != want && ++failures > 5) break;
    }
    for (const auto& d : g["decode_only"]) {
        const auto ids = d["ids"].get<std::vector<int64_t>>();
        EXPECT_EQ(tok->decode(ids, true), d["decode"].get<std::string>()) << name << " decode " << show(ids);
        EXPECT_EQ(tok->decode(ids, false), d["decode_keep"].get<std::string>())
            << name << " decode (keep) " << show(ids);
    }
}

const std::string& wikitext() {
    static const std::string t = qs_test::wikitext2_protocol_text();
    return t;
}

void check_wikitext(const std::string& name, const std::string& path = "") {
    const json g = load_golden(name);
    ASSERT_TRUE(g.contains("wikitext"));
    const json& w = g["wikitext"];
    const std::string& text = wikitext();
    ASSERT_FALSE(text.empty()) << "could not build the wikitext-2 protocol text";
    const auto tok = qs::load_tokenizer(path.empty() ? source_path(g["folder"].get<std::string>()) : path);
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok->encode(text, true);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ timing   ] %s: wikitext-2 test (%zu bytes) -> %zu ids in %.3f s\n", name.c_str(), text.size(),
                ids.size(), sec);
    EXPECT_EQ(static_cast<int64_t>(ids.size()), w["count"].get<int64_t>());
    EXPECT_EQ(qs_test::fnv1a64_hex(ids), w["fnv1a64"].get<std::string>());
    const auto first = w["first_ids"].get<std::vector<int64_t>>();
    ASSERT_GE(ids.size(), first.size());
    for (std::size_t i = 0; i < first.size(); ++i) {
        if (ids[i] != first[i]) {
            ADD_FAILURE() << name << ": wikitext id " << i << " is " << ids[i] << ", expected " << first[i];
            break;
        }
    }
    // Typically 0.3-0.7 s (SentencePiece 0.1.97 itself: ~1-2 s); the bound only catches a
    // quadratic regression on a loaded 2-core CI machine.
    EXPECT_LT(sec, 10.0) << "encoding wikitext-2 should take well under a few seconds";
}

}  // namespace

TEST(TokenizerGoldens, TinyStories656K) { check_cases("TinyStories-656K"); }
TEST(TokenizerGoldens, Stories260K) { check_cases("stories260K"); }
TEST(TokenizerGoldens, Llama2SentencePiece) { check_cases("llama2-sentencepiece"); }
TEST(TokenizerGoldens, Gpt2Bpe) { check_cases("gpt2-bpe"); }
TEST(TokenizerGoldens, OptBpe) { check_cases("opt-bpe"); }
TEST(TokenizerGoldens, Llama3StyleSynthetic) { check_cases("llama3-style-synthetic"); }
TEST(TokenizerGoldens, Qwen2StyleSynthetic) { check_cases("qwen2-style-synthetic"); }
TEST(TokenizerGoldens, MetaspaceSynthetic) { check_cases("metaspace-synthetic"); }

// GGUF metadata tokenizers (tokenizers/gguf_tokenizer.cpp): tiny models with vocabularies
// trained like each llama.cpp pre-tokenizer family (tools/goldens/make_gguf_models.py), and the
// real stories260K SentencePiece vocabulary of a GGUF v1 file against its HF conversion's golden.
const std::string kStoriesGguf = "gguf/stories260K/tinyllamas-stories-260k-f32.gguf";
TEST(TokenizerGoldens, GgufSmollmPre) { check_cases("tiny-llama-smollm"); }
TEST(TokenizerGoldens, GgufQwen2Pre) { check_cases("tiny-qwen2"); }
TEST(TokenizerGoldens, GgufLlamaBpePre) { check_cases("tiny-llama3-bpe"); }
TEST(TokenizerGoldens, GgufGpt2Pre) { check_cases("tiny-gpt2-pre"); }
TEST(TokenizerGoldens, GgufLlamaSentencePieceStories260K) { check_cases("stories260K", test_data(kStoriesGguf)); }
TEST(TokenizerWikitext, GgufSmollmPre) { check_wikitext("tiny-llama-smollm"); }
TEST(TokenizerWikitext, GgufQwen2Pre) { check_wikitext("tiny-qwen2"); }
TEST(TokenizerWikitext, GgufLlamaBpePre) { check_wikitext("tiny-llama3-bpe"); }
TEST(TokenizerWikitext, GgufGpt2Pre) { check_wikitext("tiny-gpt2-pre"); }
TEST(TokenizerWikitext, GgufLlamaSentencePieceStories260K) { check_wikitext("stories260K", test_data(kStoriesGguf)); }

TEST(TokenizerWikitext, ProtocolText) {
    const std::string& t = wikitext();
    // 4,358 rows joined by "\n\n"; the raw file is 1,290,590 bytes.
    EXPECT_EQ(t.size(), 1290590u - 1467u * 2u + 4357u * 2u);
}
TEST(TokenizerWikitext, Llama2SentencePiece341469) {
    check_wikitext("llama2-sentencepiece");
    const json g = load_golden("llama2-sentencepiece");
    EXPECT_EQ(g["wikitext"]["count"].get<int64_t>(), 341469);  // docs/notes.md §6
}
TEST(TokenizerWikitext, TinyStories656K) { check_wikitext("TinyStories-656K"); }
TEST(TokenizerWikitext, Stories260K) { check_wikitext("stories260K"); }
TEST(TokenizerWikitext, Gpt2Bpe) { check_wikitext("gpt2-bpe"); }
TEST(TokenizerWikitext, OptBpe) { check_wikitext("opt-bpe"); }
TEST(TokenizerWikitext, Llama3StyleSynthetic) { check_wikitext("llama3-style-synthetic"); }
TEST(TokenizerWikitext, Qwen2StyleSynthetic) { check_wikitext("qwen2-style-synthetic"); }
TEST(TokenizerWikitext, MetaspaceSynthetic) { check_wikitext("metaspace-synthetic"); }
