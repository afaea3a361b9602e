// engine/data readers: streamed zstd (ByteReader), lines (LineReader), UTF-8 checks,
// JSON-lines "text" records and whole text files, with their exact error messages.
// Fixtures: tests/data/datasets/README.md says how each file was made.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/line_reader.h"
#include "data/text_source.h"
#include "data/utf8.h"
#include "data/zstd_stream.h"
#include "engine/test_util.h"

namespace fs = std::filesystem;
using namespace qs;

namespace {

std::string read_bytes(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string read_all(ByteReader& r, size_t chunk) {
    std::string out;
    std::vector<char> buf(chunk);
    for (size_t got; (got = r.read(buf.data(), buf.size())) > 0;) out.append(buf.data(), got);
    return out;
}

std::vector<std::string> jsonl_texts(const std::string& path, std::vector<int64_t>* lines = nullptr) {
    std::vector<std::string> out;
    for_each_jsonl_text(path, [&](std::string&& t, int64_t line) {
        out.push_back(std::move(t));
        if (lines) lines->push_back(line);
    });
    return out;
}

}  // namespace

// ---------------------------------------------------------------- zstd streaming

TEST(DataZstd, DecompressesLikeTheZstdTool) {
    // small.jsonl.zst = `zstd -19 --check small.jsonl`: streaming it must give the plain file back,
    // whatever the size of the caller's reads (1 byte exercises the flush-only calls).
    const std::string plain = read_bytes(test_data("datasets/small.jsonl"));
    for (size_t chunk : {size_t{1}, size_t{7}, size_t{1} << 16}) {
        ByteReader r(test_data("datasets/small.jsonl.zst"));
        EXPECT_TRUE(r.compressed());
        EXPECT_EQ(read_all(r, chunk), plain) << "chunk " << chunk;
        EXPECT_DOUBLE_EQ(r.fraction(), 1.0);
        EXPECT_EQ(r.read(nullptr, 0), 0u);
    }
    ByteReader plain_reader(test_data("datasets/small.jsonl"));
    EXPECT_FALSE(plain_reader.compressed());
    EXPECT_EQ(read_all(plain_reader, 5), plain);
}

TEST(DataZstd, BundledWikitextStreamsToTheOriginalSize) {
    // resources/.../wiki.test.raw.zst decompresses to 1,290,590 bytes (PROVENANCE.md; `zstd -lv`).
    ByteReader r(source_path("resources/data/wikitext-2-raw-v1/wiki.test.raw.zst"));
    EXPECT_EQ(read_all(r, 4096).size(), 1290590u);
}

TEST(DataZstd, ConcatenatedFramesAreOneStream) {
    auto dir = temp_dir("frames");
    const std::string z = read_bytes(test_data("datasets/small.jsonl.zst"));
    write_file(dir / "twice.jsonl.zst", z + z);
    const std::string plain = read_bytes(test_data("datasets/small.jsonl"));
    ByteReader r((dir / "twice.jsonl.zst").string());
    EXPECT_EQ(read_all(r, 10), plain + plain);
    EXPECT_EQ(jsonl_texts((dir / "twice.jsonl.zst").string()).size(), 6u);
    fs::remove_all(dir);
}

TEST(DataZstd, CorruptTruncatedEmptyAndNonZstdNameTheFile) {
    // corrupt.jsonl.zst: small.jsonl.zst with 4 bytes in the middle XOR 0x5A (the frame checksum
    // catches it); truncated.jsonl.zst: small.jsonl.zst without its last 10 bytes.
    QS_EXPECT_ERROR_CONTAINS(
        jsonl_texts(test_data("datasets/corrupt.jsonl.zst")),
        "corrupt.jsonl.zst: corrupt zstd data (Data corruption detected) after reading 91 of its 91 bytes");
    QS_EXPECT_ERROR_CONTAINS(
        jsonl_texts(test_data("datasets/truncated.jsonl.zst")),
        "truncated.jsonl.zst: truncated zstd stream (the file ends inside a frame after 81 bytes)");
    QS_EXPECT_ERROR_CONTAINS(read_text_file(test_data("datasets/truncated.jsonl.zst")),
                             "truncated.jsonl.zst: truncated zstd stream");

    auto dir = temp_dir("zstd_errors");
    write_file(dir / "empty.txt.zst", "");
    QS_EXPECT_ERROR_CONTAINS(read_text_file((dir / "empty.txt.zst").string()),
                             "empty.txt.zst: empty file, not a zstd stream");
    write_file(dir / "plain.txt.zst", "this is not zstd\n");
    QS_EXPECT_ERROR_CONTAINS(read_text_file((dir / "plain.txt.zst").string()),
                             "plain.txt.zst: corrupt zstd data (Unknown frame descriptor)");
    fs::remove_all(dir);
}

TEST(DataZstd, MissingFileAndFolder) {
    QS_EXPECT_ERROR_CONTAINS(ByteReader(test_data("datasets/nope.jsonl.zst")), "nope.jsonl.zst: does not exist");
    QS_EXPECT_ERROR_CONTAINS(ByteReader(test_data("datasets")), "datasets: is a folder, expected a file");
}

TEST(DataZstd, SuffixHelpers) {
    EXPECT_TRUE(is_zstd_path("a/val.jsonl.zst"));
    EXPECT_FALSE(is_zstd_path("a/val.jsonl"));
    EXPECT_EQ(strip_zst_suffix("a/val.jsonl.zst"), "a/val.jsonl");
    EXPECT_EQ(strip_zst_suffix("a/val.jsonl"), "a/val.jsonl");
}

// ---------------------------------------------------------------- lines

TEST(DataLines, KeepNewlinesNumbersAndOffsets) {
    // small.jsonl: 4 lines of 24, 56, 1 and 23 bytes (the last ends in "\n" too).
    for (const char* name : {"datasets/small.jsonl", "datasets/small.jsonl.zst"}) {
        LineReader r(test_data(name));
        std::string line;
        std::vector<std::string> lines;
        std::vector<uint64_t> offsets;
        while (r.next(line)) {
            lines.push_back(line);
            offsets.push_back(r.line_offset());
            EXPECT_EQ(r.line_number(), static_cast<int64_t>(lines.size()));
        }
        ASSERT_EQ(lines.size(), 4u) << name;
        EXPECT_EQ(lines[0], "{\"text\": \"Hello world\"}\n");
        EXPECT_EQ(lines[2], "\n");
        EXPECT_EQ(offsets, (std::vector<uint64_t>{0, 24, 80, 81}));
        EXPECT_FALSE(r.next(line));
    }
}

TEST(DataLines, LastLineWithoutNewlineAndLongLines) {
    auto dir = temp_dir("lines");
    // A 200,000-byte line spans several 64 KiB buffers; the file's last line has no "\n".
    const std::string big(200000, 'x');
    write_file(dir / "l.txt", "a\n" + big + "\n\nend");
    LineReader r((dir / "l.txt").string());
    std::string line;
    ASSERT_TRUE(r.next(line));
    EXPECT_EQ(line, "a\n");
    ASSERT_TRUE(r.next(line));
    EXPECT_EQ(line, big + "\n");
    EXPECT_EQ(r.line_offset(), 2u);
    ASSERT_TRUE(r.next(line));
    EXPECT_EQ(line, "\n");
    ASSERT_TRUE(r.next(line));
    EXPECT_EQ(line, "end");
    EXPECT_EQ(r.line_number(), 4);
    EXPECT_EQ(r.line_offset(), 200004u);
    EXPECT_FALSE(r.next(line));
    write_file(dir / "empty.txt", "");
    LineReader e((dir / "empty.txt").string());
    EXPECT_FALSE(e.next(line));
    fs::remove_all(dir);
}

// ---------------------------------------------------------------- UTF-8

TEST(DataUtf8, FindsTheFirstInvalidByte) {
    EXPECT_EQ(find_invalid_utf8(""), std::string::npos);
    EXPECT_EQ(find_invalid_utf8("plain ascii\n"), std::string::npos);
    EXPECT_EQ(find_invalid_utf8("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"),
              std::string::npos);                          // é € 😀 U+10FFFF
    EXPECT_EQ(find_invalid_utf8("ab\xff"), 2u);            // never valid
    EXPECT_EQ(find_invalid_utf8("a\x80"), 1u);             // lone continuation byte
    EXPECT_EQ(find_invalid_utf8("a\xc0\xaf"), 1u);         // overlong '/'
    EXPECT_EQ(find_invalid_utf8("a\xe0\x80\xaf"), 1u);     // overlong, 3 bytes
    EXPECT_EQ(find_invalid_utf8("ab\xed\xa0\x80"), 2u);    // surrogate U+D800
    EXPECT_EQ(find_invalid_utf8("\xf4\x90\x80\x80"), 0u);  // U+110000
    EXPECT_EQ(find_invalid_utf8("xyz\xe2\x82"), 3u);       // cut off at the end
    EXPECT_EQ(find_invalid_utf8("\xc3\x28"), 0u);          // lead byte without continuation
}

TEST(DataUtf8, PythonStrip) {
    // Python: "\u00a0\t jjj \u3000\n".strip() == "jjj"; "\u200b".strip() keeps U+200B (not a space).
    EXPECT_EQ(python_strip("  cc\n"), "cc");
    EXPECT_EQ(python_strip("\xc2\xa0\t jjj \xe3\x80\x80\n"), "jjj");
    EXPECT_EQ(python_strip("\x1c\x1f a b \x0b\x0c"), "a b");
    EXPECT_EQ(python_strip("\xe2\x80\x8b"), "\xe2\x80\x8b");
    EXPECT_EQ(python_strip(" \n\t "), "");
    EXPECT_EQ(python_strip("\xc3\xa9"), "\xc3\xa9");
}

// ---------------------------------------------------------------- JSON lines

TEST(DataJsonl, TextFieldsPlainAndZst) {
    // small.jsonl: records on lines 1, 2 and 4 (line 3 is blank and skipped); escapes decoded.
    for (const char* name : {"datasets/small.jsonl", "datasets/small.jsonl.zst"}) {
        std::vector<int64_t> lines;
        const auto t = jsonl_texts(test_data(name), &lines);
        ASSERT_EQ(t.size(), 3u) << name;
        EXPECT_EQ(t[0], "Hello world");
        EXPECT_EQ(t[1], "Second \xc3\xa9 line\nwith newline");
        EXPECT_EQ(t[2], "  padded  ");
        EXPECT_EQ(lines, (std::vector<int64_t>{1, 2, 4}));
    }
}

TEST(DataJsonl, ErrorsNameFileLineAndProblem) {
    QS_EXPECT_ERROR_CONTAINS(jsonl_texts(test_data("datasets/malformed.jsonl")),
                             "malformed.jsonl: line 3: malformed JSON (parse error at column 16: syntax error while "
                             "parsing object - unexpected end of input; expected '}')");
    QS_EXPECT_ERROR_CONTAINS(jsonl_texts(test_data("datasets/no_text.jsonl")),
                             "no_text.jsonl: line 2: no \"text\" field");
    // bad_utf8.jsonl: line 1 is 15 bytes; line 2 is {"text": "bad \xff byte"}: 0xFF is its 15th byte.
    QS_EXPECT_ERROR_CONTAINS(jsonl_texts(test_data("datasets/bad_utf8.jsonl")),
                             "bad_utf8.jsonl: line 2: invalid UTF-8 at byte offset 29 (column 15)");
    QS_EXPECT_ERROR_CONTAINS(jsonl_texts(test_data("datasets/bad_utf8.jsonl.zst")),
                             "bad_utf8.jsonl.zst: line 2: invalid UTF-8 at byte offset 29 of the decompressed data "
                             "(column 15)");

    auto dir = temp_dir("jsonl_errors");
    write_file(dir / "types.jsonl", "{\"text\": \"a\"}\n{\"text\": 5}\n");
    QS_EXPECT_ERROR_CONTAINS(jsonl_texts((dir / "types.jsonl").string()),
                             "types.jsonl: line 2: \"text\" is a JSON number, expected a string");
    write_file(dir / "array.jsonl", "[\"text\"]\n");
    QS_EXPECT_ERROR_CONTAINS(jsonl_texts((dir / "array.jsonl").string()),
                             "array.jsonl: line 1: expected a JSON object with a \"text\" field, got a JSON array");
    write_file(dir / "crlf.jsonl", "{\"text\": \"a\"}\r\n\r\n{\"text\": \"b\"}\r\n");
    EXPECT_EQ(jsonl_texts((dir / "crlf.jsonl").string()), (std::vector<std::string>{"a", "b"}));
    fs::remove_all(dir);
}

TEST(DataJsonl, Cancellation) {
    std::atomic<bool> cancel{true};
    Progress p;
    p.cancel = &cancel;
    EXPECT_THROW(for_each_jsonl_text(
                     test_data("datasets/small.jsonl.zst"), [](std::string&&, int64_t) {}, p),
                 Cancelled);
}

// ---------------------------------------------------------------- text files and formats

TEST(DataText, WholeFileAsIsAndUtf8Errors) {
    EXPECT_EQ(read_text_file(test_data("datasets/calib.txt")), "abcdefghijklmnopqrstuvwxyz\n");
    EXPECT_EQ(read_text_file(test_data("datasets/small.jsonl.zst")), read_bytes(test_data("datasets/small.jsonl")));
    // bad_utf8.txt = "line one\nline two \xc3\x28 end\n": 0xC3 (not followed by a continuation byte) at
    // offset 9 + 9 = 18, line 2, column 10.
    QS_EXPECT_ERROR_CONTAINS(read_text_file(test_data("datasets/bad_utf8.txt")),
                             "bad_utf8.txt: invalid UTF-8 at byte offset 18 (line 2, column 10)");
    auto dir = temp_dir("text");
    write_file(dir / "crlf.txt", "a\r\nb");
    EXPECT_EQ(read_text_file((dir / "crlf.txt").string()), "a\r\nb");  // no newline translation
    fs::remove_all(dir);
}

TEST(DataText, FormatFromName) {
    EXPECT_EQ(dataset_format("x/a.txt"), DatasetFormat::Text);
    EXPECT_EQ(dataset_format("x/a.txt.zst"), DatasetFormat::Text);
    EXPECT_EQ(dataset_format("x/val.jsonl.zst"), DatasetFormat::JsonLines);
    EXPECT_EQ(dataset_format("x/wiki.test.raw"), DatasetFormat::WikitextRaw);
    QS_EXPECT_ERROR_CONTAINS(dataset_format("x/data.csv"),
                             "x/data.csv: unsupported dataset file; expected .txt, .raw (WikiText) or .jsonl");
    EXPECT_EQ(with_commas(0), "0");
    EXPECT_EQ(with_commas(999), "999");
    EXPECT_EQ(with_commas(1296370), "1,296,370");
    EXPECT_EQ(with_commas(-4358), "-4,358");
}
