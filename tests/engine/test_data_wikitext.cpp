// WikiText-2 protocol text (docs/notes.md §6) and the perplexity text loader (eval_text.h).
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/eval_text.h"
#include "data/wikitext.h"
#include "engine/test_util.h"

namespace fs = std::filesystem;
using namespace qs;

namespace {

uint64_t fnv1a64(const std::string& s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

const std::string kBundled = "resources/data/wikitext-2-raw-v1/wiki.test.raw.zst";

// mini_wiki.raw = " \n = A = \n \n Alpha beta .\n\t\n = = B = = \n Gamma" (no final newline).
// Python (the HF `wikitext` builder's rule):
//   rows = [r if r.strip() else "" for r in open("mini_wiki.raw", encoding="utf-8")]
//   -> ['', ' = A = \n', '', ' Alpha beta .\n', '', ' = = B = = \n', ' Gamma']
//   "\n\n".join(rows) -> the string below.
const std::vector<std::string> kMiniRows = {"", " = A = \n", "", " Alpha beta .\n", "", " = = B = = \n", " Gamma"};
const std::string kMiniText = "\n\n = A = \n\n\n\n\n Alpha beta .\n\n\n\n\n = = B = = \n\n\n Gamma";

}  // namespace

TEST(DataWikitext, BundledTestSplitHasTheProtocolProperties) {
    // Expectations derived independently from the source file with Python 3:
    //   rows = [r if r.strip() else "" for r in open("wiki.test.raw", encoding="utf-8")]
    //   len(rows) == 4358; rows.count("") == 1467
    //   text = "\n\n".join(rows); b = text.encode()
    //   len(b) == 1296370 == sum(len(r.encode()) for r in rows) + 2 * (4358 - 1)
    //     (1,294,336 characters; the difference is non-ASCII text)
    //   text.startswith("\n\n = Robert Boulter = \n")   (row 0 is "", row 1 the title)
    //   text.endswith("Ed Parker , and Eddie Pelkey . \n")
    //   FNV-1a 64 of b (h = 0xcbf29ce484222325; per byte h ^= c; h *= 0x100000001b3 mod 2^64)
    //     == 0xbea3c3c87e6743df
    // wiki.test.raw is the file PROVENANCE.md describes (sha256 93dfa3fc...c4cf1); the bundled
    // .zst decompresses to it (checked with `zstd -dc | sha256sum`).
    const auto rows = wikitext_rows(source_path(kBundled));
    ASSERT_EQ(rows.size(), 4358u);
    size_t blank = 0, total = 0;
    for (const auto& r : rows) {
        blank += r.empty();
        total += r.size();
        if (!r.empty()) {
            EXPECT_EQ(r.back(), '\n');
        }
    }
    EXPECT_EQ(blank, 1467u);
    EXPECT_EQ(rows[0], "");
    EXPECT_EQ(rows[1], " = Robert Boulter = \n");

    const std::string text = wikitext2_test_text(source_path(kBundled));
    EXPECT_EQ(text.size(), total + 2 * (4358 - 1));
    EXPECT_EQ(text.size(), 1296370u);
    EXPECT_EQ(text.rfind("\n\n = Robert Boulter = \n", 0), 0u);
    EXPECT_EQ(text.substr(text.size() - 32), "Ed Parker , and Eddie Pelkey . \n");
    EXPECT_EQ(fnv1a64(text), 0xbea3c3c87e6743dfull);
}

TEST(DataWikitext, DefaultPathIsTheStagedResource) {
    const std::string p = wikitext2_default_path();
    EXPECT_TRUE(fs::exists(p)) << p;
    EXPECT_EQ(fs::path(p).filename(), "wiki.test.raw.zst");
    EXPECT_EQ(fs::file_size(p), fs::file_size(source_path(kBundled)));
}

TEST(DataWikitext, RowsOfASmallFilePlainZstAndCrlf) {
    EXPECT_EQ(wikitext_rows(test_data("datasets/mini_wiki.raw")), kMiniRows);
    EXPECT_EQ(wikitext2_test_text(test_data("datasets/mini_wiki.raw")), kMiniText);
    EXPECT_EQ(wikitext2_test_text(test_data("datasets/mini_wiki.raw.zst")), kMiniText);
    // Python's text mode reads "\r\n" and a lone "\r" as "\n": the same rows.
    auto dir = temp_dir("wiki");
    write_file(dir / "crlf.raw", " \r\n = A = \r\n \r\n Alpha beta .\r\n\t\r = = B = = \r\n Gamma");
    EXPECT_EQ(wikitext_rows((dir / "crlf.raw").string()), kMiniRows);
    // Non-UTF-8: file, line and byte offset.
    write_file(dir / "bad.raw", " \n = A = \n ok \xfe\n");
    QS_EXPECT_ERROR_CONTAINS(wikitext_rows((dir / "bad.raw").string()),
                             "bad.raw: line 3: invalid UTF-8 at byte offset 14 (column 5)");
    fs::remove_all(dir);
    EXPECT_EQ(join_rows({}), "");
    EXPECT_EQ(join_rows({"a"}), "a");
}

TEST(DataWikitext, Cancellation) {
    std::atomic<bool> cancel{false};
    Progress p;
    p.cancel = &cancel;
    p.report = [&](double, const std::string&) { cancel = true; };  // cancel at the first report
    EXPECT_THROW(wikitext2_test_text(source_path(kBundled), p), Cancelled);
}

TEST(DataEvalText, LoadsEachFormatWithADescription) {
    EvalText raw = load_eval_text(test_data("datasets/mini_wiki.raw.zst"));
    EXPECT_EQ(raw.text, kMiniText);
    EXPECT_EQ(raw.description,
              "mini_wiki.raw.zst: WikiText raw, 7 rows (\"\" for 3 blank lines) joined with \"\\n\\n\" "
              "(HF datasets / llm-awq protocol)");
    EXPECT_EQ(raw.source, test_data("datasets/mini_wiki.raw.zst"));

    EvalText txt = load_eval_text(test_data("datasets/calib.txt"));
    EXPECT_EQ(txt.text, "abcdefghijklmnopqrstuvwxyz\n");
    EXPECT_EQ(txt.description, "calib.txt: whole file as is (27 bytes)");

    EvalText jl = load_eval_text(test_data("datasets/small.jsonl.zst"));
    EXPECT_EQ(jl.text, "Hello world\n\nSecond \xc3\xa9 line\nwith newline\n\n  padded  ");
    EXPECT_EQ(jl.description, "small.jsonl.zst: 3 \"text\" records joined with \"\\n\\n\"");

    QS_EXPECT_ERROR_CONTAINS(load_eval_text(test_data("datasets/no_text.jsonl")),
                             "no_text.jsonl: line 2: no \"text\" field");
    QS_EXPECT_ERROR_CONTAINS(load_eval_text(test_data("datasets/README.md")), "README.md: unsupported dataset file");
    auto dir = temp_dir("eval");
    write_file(dir / "empty.txt", "");
    QS_EXPECT_ERROR_CONTAINS(load_eval_text((dir / "empty.txt").string()), "empty.txt: no text to evaluate");
    fs::remove_all(dir);
}

TEST(DataEvalText, DefaultIsTheBundledWikitext) {
    EvalText d = default_eval_text();
    EXPECT_EQ(d.text.size(), 1296370u);
    EXPECT_EQ(d.description,
              "wiki.test.raw.zst: WikiText raw, 4,358 rows (\"\" for 1,467 blank lines) joined with \"\\n\\n\" "
              "(HF datasets / llm-awq protocol)");
}
