// Reading dataset files: whole text files and JSON-lines "text" records, plain or .zst
// (streamed, see zstd_stream.h), with errors that name the file, the line and the problem.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "core/progress.h"

namespace qs {

enum class DatasetFormat {
    Text,         // .txt: the whole file is the text
    JsonLines,    // .jsonl: one JSON object per line, the text in its "text" field
    WikitextRaw,  // .raw: WikiText raw file, one row per line (see wikitext.h)
};

// A text that is read whole (a .txt dataset, the rows or records of a perplexity text) may
// have at most this many bytes: tokenizing takes ~40 bytes of memory per byte of text, so
// 32 MiB of text already needs ~1.3 GB. WikiText-2's test split is 1.3 MB.
constexpr uint64_t kMaxTextBytes = uint64_t(32) << 20;
// A JSON-lines file may have at most this many records (the shuffle keeps 16 bytes per record;
// the Pile validation set has 214,670).
constexpr int64_t kMaxJsonlRecords = int64_t(1) << 24;

// "<path>: more than 32 MiB of text; ..." (the error for a text over kMaxTextBytes).
std::string text_too_large(const std::string& path, uint64_t max_bytes = kMaxTextBytes);

// The format from the file name (".zst" is looked through: "val.jsonl.zst" is JsonLines).
// Throws qs::Error naming the file for any other extension.
DatasetFormat dataset_format(const std::string& path);

// The whole (decompressed) file as a string, exactly as its bytes are (no newline
// translation). Throws qs::Error naming the file for I/O or zstd errors and for text that is
// not UTF-8 ("<path>: invalid UTF-8 at byte offset X (line L, column C)"; offsets count
// decompressed bytes from 0, lines and columns from 1), and for more than max_bytes of text.
std::string read_text_file(const std::string& path, const Progress& progress = {}, uint64_t max_bytes = kMaxTextBytes);

// Streams a JSON-lines file: calls fn(text, line_number) with the "text" field of every
// non-blank line (a record; records are numbered from 0), in file order; blank lines are
// skipped. Returns the number of records. Throws qs::Error "<path>: line N: <problem>" for a
// line that is not UTF-8 (with its byte offset), is not valid JSON, is not an object, has no
// "text" field or a non-string one. If `want` is given, records for which want(record) is
// false are counted but neither checked nor parsed (for re-reading a file already checked).
// Lines longer than kMaxLineBytes and more than kMaxJsonlRecords records are errors.
int64_t for_each_jsonl_text(const std::string& path,
                            const std::function<void(std::string&& text, int64_t line_number)>& fn,
                            const Progress& progress = {}, const std::function<bool(int64_t record)>& want = {});

// "1,234,567": integers with thousands separators, for descriptions.
std::string with_commas(int64_t n);
// "1 block", "128 blocks", "1,024 samples": with_commas(n) and the noun, plural unless n == 1.
std::string count_of(int64_t n, const std::string& noun);

}  // namespace qs
