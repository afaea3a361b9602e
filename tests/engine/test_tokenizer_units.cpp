// Tokenizer pieces on their own: UTF-8, Unicode properties, normalization (utf8proc), the
// Oniguruma regex wrapper, the factory and its errors, BOS conventions, thread safety.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

#include "engine/test_tokenizer_util.h"
#include "engine/test_util.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/tokenizer_impls.h"
#include "tokenizers/normalizers.h"
#include "tokenizers/regex.h"
#include "tokenizers/unicode.h"

namespace fs = std::filesystem;
using qs::tok::Regex;
namespace U = qs::tok::unicode;

namespace {
std::u32string u32(const std::string& s) { return U::utf8_to_u32(s); }

// Matches as UTF-8 strings; also checks that the code-point overload finds the same ranges.
std::vector<std::string> split_all(const Regex& re, const std::string& text) {
    std::vector<std::string> out;
    for (const auto& [b, e] : re.find_all(std::string_view(text))) out.push_back(text.substr(b, e - b));
    const std::u32string u = u32(text);
    std::vector<std::string> via_u32;
    for (const auto& [b, e] : re.find_all(std::u32string_view(u)))
        via_u32.push_back(U::u32_to_utf8(u.substr(b, e - b)));
    EXPECT_EQ(via_u32, out) << re.pattern();
    return out;
}

struct TempDir {
    fs::path path;
    TempDir() {
        path = fs::temp_directory_path() /
               ("qs_tok_test_" + std::to_string(::getpid()) + "_" + std::to_string(reinterpret_cast<uintptr_t>(this)));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    void write(const std::string& name, const std::string& content) const {
        std::ofstream(path / name, std::ios::binary) << content;
    }
};
}  // namespace

TEST(TokenizerUnicode, Utf8RoundTripAndLossy) {
    const std::string s = "a\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80";  // a é 日 😀
    EXPECT_EQ(u32(s), (std::u32string{U'a', 0xE9, 0x65E5, 0x1F600}));
    EXPECT_EQ(U::u32_to_utf8(u32(s)), s);
    EXPECT_TRUE(U::is_valid_utf8(s));
    // Maximal subparts: a truncated 3-byte sequence is one U+FFFD, a lone continuation byte one.
    EXPECT_EQ(U::utf8_lossy("x\xE6\x97y"), "x\xEF\xBF\xBDy");
    EXPECT_EQ(U::utf8_lossy("\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(U::utf8_lossy("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
    EXPECT_FALSE(U::is_valid_utf8("\xC0\xAF"));
}

TEST(TokenizerUnicode, PropertiesAndWhitespace) {
    EXPECT_TRUE(U::is_number(U'7'));
    EXPECT_TRUE(U::is_number(0x0663));  // Arabic-Indic three (Nd)
    EXPECT_TRUE(U::is_number(0x216B));  // Roman numeral twelve (Nl)
    EXPECT_TRUE(U::is_number(0x00BD));  // ½ (No)
    EXPECT_FALSE(U::is_number(U'a'));
    EXPECT_TRUE(U::is_punctuation(0x3001));  // 、 (Po)
    EXPECT_TRUE(U::is_punctuation(0x2014));  // — (Pd)
    EXPECT_TRUE(U::is_punctuation(U'_'));    // Pc
    EXPECT_FALSE(U::is_punctuation(U'+'));   // Sm
    EXPECT_TRUE(U::is_word_char(0x01C5));    // ǅ (Lt)
    EXPECT_TRUE(U::is_word_char(0x0301));    // combining acute (Mn)
    EXPECT_TRUE(U::is_word_char(0x24B6));    // Ⓐ (So, Other_Alphabetic)
    EXPECT_TRUE(U::is_word_char(0x200D));    // ZWJ (Join_Control)
    EXPECT_FALSE(U::is_word_char(0x00BD));   // ½ (No)
    EXPECT_FALSE(U::is_word_char(0x1F600));
    EXPECT_TRUE(U::is_white_space(0x3000));
    EXPECT_TRUE(U::is_white_space(0x85));
    EXPECT_FALSE(U::is_white_space(0x200B));
    EXPECT_FALSE(U::is_white_space(0x1F));
    EXPECT_TRUE(U::is_python_space(0x1F));
}

TEST(TokenizerUnicode, Normalization) {
    using F = U::NormalForm;
    EXPECT_EQ(U::normalize(u32("e\xCC\x81"), F::NFC), u32("\xC3\xA9"));  // e + U+0301 -> é
    EXPECT_EQ(U::normalize(u32("\xC3\xA9"), F::NFD), u32("e\xCC\x81"));
    EXPECT_EQ(U::normalize(std::u32string{0x1100, 0x1161, 0x11A8}, F::NFC), std::u32string{0xAC01});  // Hangul LVT
    EXPECT_EQ(U::normalize(std::u32string{0xAC01}, F::NFD), (std::u32string{0x1100, 0x1161, 0x11A8}));
    // Canonical reordering: dot below (220) before dot above (230), then composition.
    EXPECT_EQ(U::normalize(std::u32string{U'q', 0x0307, 0x0323}, F::NFC), (std::u32string{U'q', 0x0323, 0x0307}));
    EXPECT_EQ(U::normalize(std::u32string{U's', 0x0307, 0x0323}, F::NFC), std::u32string{0x1E69});
    EXPECT_EQ(U::normalize(std::u32string{0x212B}, F::NFC), std::u32string{0xC5});              // Angstrom sign -> Å
    EXPECT_EQ(U::normalize(std::u32string{0x0958}, F::NFC), (std::u32string{0x0915, 0x093C}));  // composition exclusion
    EXPECT_EQ(U::normalize(std::string_view(""), F::NFC), "");
    EXPECT_EQ(U::normalize(std::string_view("a\0b", 3), F::NFKC), std::string("a\0b", 3));
    // Expected strings from HF tokenizers 0.20.3, normalizers.NFC/NFD/NFKC/NFKD().normalize_str.
    const std::u32string in = {0xFB01, 0x2460, U' ', 0xFF76, 0xFF9E, U' ', 0x212B, U' ',
                               0x1E9B, 0x0323, U' ', 0x338F, U' ',   U'x', 0xB2};
    EXPECT_EQ(U::normalize(in, F::NFC), (std::u32string{0xFB01, 0x2460, U' ', 0xFF76, 0xFF9E, U' ', 0xC5, U' ', 0x1E9B,
                                                        0x0323, U' ', 0x338F, U' ', U'x', 0xB2}));
    EXPECT_EQ(U::normalize(in, F::NFD), (std::u32string{0xFB01, 0x2460, U' ', 0xFF76, 0xFF9E, U' ', U'A', 0x030A, U' ',
                                                        0x017F, 0x0323, 0x0307, U' ', 0x338F, U' ', U'x', 0xB2}));
    EXPECT_EQ(U::normalize(in, F::NFKC), u32("fi1 \xE3\x82\xAC \xC3\x85 \xE1\xB9\xA9 kg x2"));
    EXPECT_EQ(U::normalize(in, F::NFKD),
              (std::u32string{U'f', U'i', U'1', U' ', 0x30AB, 0x3099, U' ', U'A', 0x030A, U' ', U's', 0x0323, 0x0307,
                              U' ', U'k', U'g', U' ', U'x', U'2'}));
    QS_EXPECT_ERROR_CONTAINS(U::normalize(std::string_view("\xC3("), F::NFC), "Unicode normalization");
    // The tokenizer.json normalizers of each form (HF tokenizers 0.20.3 values as above).
    const auto run = [](const char* type, std::u32string s) {
        qs::tok::make_normalizer({{"type", type}}, "test")->normalize(s);
        return s;
    };
    EXPECT_EQ(run("NFC", in), U::normalize(in, F::NFC));
    EXPECT_EQ(run("NFD", in), U::normalize(in, F::NFD));
    EXPECT_EQ(run("NFKC", in), u32("fi1 \xE3\x82\xAC \xC3\x85 \xE1\xB9\xA9 kg x2"));
    EXPECT_EQ(run("NFKD", in), U::normalize(in, F::NFKD));
    EXPECT_EQ(run("NFKC", U"plain ascii"), U"plain ascii");
}

TEST(TokenizerRegex, Gpt2Pattern) {
    const Regex re("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");
    EXPECT_EQ(split_all(re, "Hello, world! It's 2024."),
              (std::vector<std::string>{"Hello", ",", " world", "!", " It", "'s", " 2024", "."}));
    EXPECT_EQ(split_all(re, "a   b\n\n c"), (std::vector<std::string>{"a", "  ", " b", "\n\n", " c"}));
    EXPECT_EQ(split_all(re, "x  "), (std::vector<std::string>{"x", "  "}));
}

TEST(TokenizerRegex, Llama3Pattern) {
    const Regex re(
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
        "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
    EXPECT_EQ(split_all(re, "I'M 1234567 ok?!\n\n  x"),
              (std::vector<std::string>{"I", "'M", " ", "123", "456", "7", " ok", "?!\n\n", " ", " x"}));
    EXPECT_EQ(split_all(re, "it'S"), (std::vector<std::string>{"it", "'S"}));
}

TEST(TokenizerRegex, SyntaxAndErrors) {
    EXPECT_EQ(split_all(Regex("a{2,3}?"), "aaaa"), (std::vector<std::string>{"aa", "aa"}));
    EXPECT_EQ(split_all(Regex("[a-c]+|\\d"), "xabcz9"), (std::vector<std::string>{"abc", "9"}));
    EXPECT_EQ(split_all(Regex("(?=b)\\w"), "abab"), (std::vector<std::string>{"b", "b"}));
    EXPECT_EQ(split_all(Regex("\\x{65e5}|\\p{Han}"),
                        "\xE6\x97\xA5"
                        "a"
                        "\xE6\x9C\xAC"),
              (std::vector<std::string>{"\xE6\x97\xA5", "\xE6\x9C\xAC"}));
    // Lookbehind (Oniguruma has it); HF Split(Regex("(?<=a)b")) on "abcb" isolates only (1, 2).
    EXPECT_EQ(Regex("(?<=a)b").find_all(std::string_view("abcb")), (Regex::Ranges{{1, 2}}));
    // Byte offsets for UTF-8, code-point indices for the u32 overload.
    EXPECT_EQ(Regex("\\p{L}+").find_all(std::string_view(" \xC3\xA9t\xC3\xA9")), (Regex::Ranges{{1, 6}}));
    EXPECT_EQ(Regex("\\p{L}+").find_all(std::u32string_view(U" \u00E9t\u00E9")), (Regex::Ranges{{1, 4}}));
    EXPECT_TRUE(Regex("x").find_all(std::string_view()).empty());
    QS_EXPECT_ERROR_CONTAINS(Regex("\\p{Foo}"), "regular expression '\\p{Foo}': invalid character property name");
    QS_EXPECT_ERROR_CONTAINS(
        Regex("(ab", "tokenizer.json: Split pre_tokenizer"),
        "tokenizer.json: Split pre_tokenizer: regular expression '(ab': end pattern with unmatched parenthesis");
}

// tokenizers' find_matches (the onig crate's find_iter): empty matches count, except one right
// where the previous match ended; an empty text has none. Expected values from HF tokenizers
// 0.20.3: normalizers.Replace(Regex(p), "-").normalize_str(t) gives "-b-" for ("a*", "baa"),
// "-é-" for ("x*", "é") and ("x*", "éx"), "" for ("a*", "").
TEST(TokenizerRegex, EmptyMatchesLikeTokenizers) {
    EXPECT_EQ(Regex("a*").find_all(std::string_view("baa")), (Regex::Ranges{{0, 0}, {1, 3}}));
    EXPECT_EQ(Regex("x*").find_all(std::string_view("\xC3\xA9")), (Regex::Ranges{{0, 0}, {2, 2}}));
    EXPECT_EQ(Regex("x*").find_all(std::u32string_view(U"\u00E9x")), (Regex::Ranges{{0, 0}, {1, 2}}));
    EXPECT_TRUE(Regex("a*").find_all(std::string_view("")).empty());
    const auto replace = [](const char* pattern, const std::string& text) {
        const auto n = qs::tok::make_normalizer(
            {{"type", "Replace"}, {"pattern", {{"Regex", pattern}}}, {"content", "-"}}, "test");
        std::u32string u = u32(text);
        n->normalize(u);
        return U::u32_to_utf8(u);
    };
    EXPECT_EQ(replace("a*", "baa"), "-b-");
    EXPECT_EQ(replace("x*", "\xC3\xA9"), "-\xC3\xA9-");
    EXPECT_EQ(replace("x*", "\xC3\xA9x"), "-\xC3\xA9-");
    EXPECT_EQ(replace("a*", ""), "");
}

TEST(TokenizerLoad, PicksByFiles) {
    EXPECT_EQ(qs::load_tokenizer(source_path("resources/models/TinyStories-656K"))->kind(),
              "tokenizer.json (BPE, SentencePiece-style)");
    EXPECT_EQ(qs::load_tokenizer(test_data("tokenizers/llama3-style-synthetic"))->kind(),
              "tokenizer.json (BPE, byte-level)");
    EXPECT_EQ(qs::load_tokenizer(test_data("tokenizers/gpt2-bpe"))->kind(),
              "vocab.json + merges.txt (GPT-2 byte-level BPE)");
    EXPECT_EQ(qs::load_tokenizer(test_data("tokenizers/llama2-sentencepiece"))->kind(),
              "tokenizer.model (SentencePiece, via libquantscope_spm)");
}

TEST(TokenizerLoad, Errors) {
    QS_EXPECT_ERROR_CONTAINS(qs::load_tokenizer("/nonexistent/qs-model"), "/nonexistent/qs-model");
    TempDir d;
    QS_EXPECT_ERROR_CONTAINS(qs::load_tokenizer(d.path.string()), "no tokenizer in");
    d.write("vocab.json", "{}");
    QS_EXPECT_ERROR_CONTAINS(qs::load_tokenizer(d.path.string()), "no merges.txt");
    d.write("tokenizer.json", "{\"model\": ");
    QS_EXPECT_ERROR_CONTAINS(qs::load_tokenizer(d.path.string()), "tokenizer.json: invalid JSON");
    d.write("tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})");
    QS_EXPECT_ERROR_CONTAINS(qs::load_tokenizer(d.path.string()), "model type 'Unigram' is not supported");
    d.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}})");
    QS_EXPECT_ERROR_CONTAINS(qs::load_tokenizer(d.path.string()), "makes a token that is not in the vocabulary");
    d.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                                  "normalizer": {"type": "BertNormalizer"}})");
    QS_EXPECT_ERROR_CONTAINS(qs::load_tokenizer(d.path.string()), "normalizer type 'BertNormalizer' is not supported");
    d.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                                  "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "[x"}, "behavior": "Isolated"}})");
    QS_EXPECT_ERROR_CONTAINS(
        qs::load_tokenizer(d.path.string()),
        "tokenizer.json: Split pre_tokenizer: regular expression '[x': premature end of char-class");
    TempDir s;
    s.write("tokenizer.model", "this is not a sentencepiece model");
    QS_EXPECT_ERROR_CONTAINS(qs::load_tokenizer(s.path.string()), "tokenizer.model: SentencePiece cannot load it");
}

TEST(TokenizerLoad, MinimalTokenizerJson) {
    TempDir d;
    d.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<s>": 3},
                                  "merges": [["a", "b"]]},
                                  "added_tokens": [{"id": 3, "content": "<s>", "special": true}],
                                  "post_processor": {"type": "TemplateProcessing",
                                     "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                                     "special_tokens": {"<s>": {"id": "<s>", "ids": [3], "tokens": ["<s>"]}}}})");
    const auto t = qs::load_tokenizer(d.path.string());
    EXPECT_EQ(t->encode("abab<s>a", true), (std::vector<int64_t>{3, 2, 2, 3, 0}));
    EXPECT_EQ(t->encode("abab<s>a", false), (std::vector<int64_t>{2, 2, 3, 0}));
    EXPECT_EQ(t->bos_id(), 3);
    EXPECT_EQ(t->eos_id(), -1);
    EXPECT_EQ(t->decode({3, 2, 0}, true), "ab a");  // no decoder: tokens joined with spaces
    EXPECT_EQ(t->decode({3, 2, 0}, false), "<s> ab a");
}

TEST(TokenizerBos, Conventions) {
    const auto opt = qs::load_tokenizer(test_data("tokenizers/opt-bpe"));
    EXPECT_EQ(opt->encode("Hello, my dog is cute", true), (std::vector<int64_t>{2, 31414, 6, 127, 2335, 16, 11962}));
    EXPECT_EQ(opt->bos_id(), 2);
    EXPECT_EQ(opt->eos_id(), 2);
    const auto gpt2 = qs::load_tokenizer(test_data("tokenizers/gpt2-bpe"));
    EXPECT_EQ(gpt2->bos_id(), 50256);
    EXPECT_EQ(gpt2->encode("Hello", true), gpt2->encode("Hello", false));  // GPT-2 adds no BOS (HF)
    const auto llama = qs::load_tokenizer(test_data("tokenizers/llama2-sentencepiece"));
    EXPECT_EQ(llama->bos_id(), 1);
    EXPECT_EQ(llama->eos_id(), 2);
    EXPECT_EQ(llama->vocab_size(), 32000);
    const auto tiny = qs::load_tokenizer(source_path("resources/models/TinyStories-656K"));
    EXPECT_EQ(tiny->bos_id(), 1);
    EXPECT_EQ(tiny->eos_id(), 2);
    EXPECT_EQ(tiny->vocab_size(), 2048);
    EXPECT_EQ(tiny->encode("Once", true).front(), 1);
}

TEST(TokenizerSentencePiece, ShimSearchOrder) {
    const char* old = std::getenv("QUANTSCOPE_SPM_LIB");
    const std::string saved = old ? old : "";
    ::setenv("QUANTSCOPE_SPM_LIB", "/custom/libquantscope_spm.so", 1);
    const auto c = qs::tok::sentencepiece_shim_candidates();
    ASSERT_GE(c.size(), 3u);
    EXPECT_EQ(c[0], "/custom/libquantscope_spm.so");
    EXPECT_NE(c[1].find("/lib/libquantscope_spm.so"), std::string::npos);
    EXPECT_NE(c[2].find("/lib/quantscope/libquantscope_spm.so"), std::string::npos);
    if (old)
        ::setenv("QUANTSCOPE_SPM_LIB", saved.c_str(), 1);
    else
        ::unsetenv("QUANTSCOPE_SPM_LIB");
}

TEST(TokenizerThreads, ConcurrentEncodeIsConsistent) {
    for (const std::string& dir : {test_data("tokenizers/gpt2-bpe"), test_data("tokenizers/llama2-sentencepiece"),
                                   source_path("resources/models/TinyStories-656K")}) {
        const auto tok = qs::load_tokenizer(dir);
        const std::string text = qs_test::read_file(test_data("tokenizer_texts/unicode.txt")) +
                                 qs_test::read_file(test_data("tokenizer_texts/english.txt"));
        const auto want = tok->encode(text, true);
        std::vector<std::vector<int64_t>> got(4);
        std::vector<std::thread> th;
        for (int i = 0; i < 4; ++i)
            th.emplace_back([&, i] {
                for (int k = 0; k < 20; ++k) got[static_cast<std::size_t>(i)] = tok->encode(text, true);
            });
        for (auto& t : th) t.join();
        for (const auto& g : got) EXPECT_EQ(g, want) << dir;
    }
}

// SentencePiece-style tokenizer.json edge cases (expected ids from transformers 4.46.3).
TEST(TokenizerSentencePieceStyle, ByteFallbackWithoutByteTokensGivesFusedUnk) {
    const auto tiny = qs::load_tokenizer(source_path("resources/models/TinyStories-656K"));
    // byte_fallback is on but the vocab has no <0xNN>: unknown characters become <unk> (0),
    // and runs of them fuse into one (fuse_unk).
    EXPECT_EQ(tiny->encode("a \xF0\x9F\x98\x80\xE6\x97\xA5\xE6\x9C\xAC b", false),
              (std::vector<int64_t>{104, 0, 80, 54}));
    EXPECT_EQ(tiny->encode("x\xC3\xA9\xC3\xA9y", false), (std::vector<int64_t>{80, 76, 0, 77}));
    // Its special tokens are "normalized": matched after Prepend/Replace, so the pattern is
    // "▁<|end_story|>" and needs a space before it.
    EXPECT_EQ(tiny->encode("Hello <|end_story|> world", false), (std::vector<int64_t>{80, 1288, 67, 2, 80, 410, 555}));
    EXPECT_EQ(tiny->encode("Hello<|end_story|>", false), (std::vector<int64_t>{80, 1288, 67, 208, 183, 209, 210}));
    // stories260K has the byte tokens: 😀 -> <0xF0> <0x9F> <0x98> <0x80>.
    const auto s260 = qs::load_tokenizer(test_data("models/stories260K"));
    EXPECT_EQ(s260->encode("a \xF0\x9F\x98\x80", false), (std::vector<int64_t>{261, 410, 243, 162, 155, 131}));
    EXPECT_EQ(s260->decode({261, 410, 243, 162, 155, 131}, true), "a \xF0\x9F\x98\x80");
}
