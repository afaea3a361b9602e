#include "data/text_source.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "core/strings.h"
#include "data/line_reader.h"
#include "data/utf8.h"
#include "data/zstd_stream.h"
#include "io/file_checks.h"

namespace qs {

DatasetFormat dataset_format(const std::string& path) {
    const std::string name = strip_zst_suffix(path);
    if (ends_with(name, ".txt")) return DatasetFormat::Text;
    if (ends_with(name, ".jsonl")) return DatasetFormat::JsonLines;
    if (ends_with(name, ".raw")) return DatasetFormat::WikitextRaw;
    throw Error(path +
                ": unsupported dataset file; expected .txt, .raw (WikiText) or .jsonl, optionally "
                "compressed as .zst");
}

std::string with_commas(int64_t n) {
    std::string digits = std::to_string(n < 0 ? -n : n);
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

std::string count_of(int64_t n, const std::string& noun) { return with_commas(n) + " " + noun + (n == 1 ? "" : "s"); }

static std::string offset_words(bool compressed, uint64_t offset) {
    return "byte offset " + std::to_string(offset) + (compressed ? " of the decompressed data" : "");
}

std::string text_too_large(const std::string& path, uint64_t max_bytes) {
    return path + ": more than " + byte_size_text(max_bytes) + " of text" +
           (is_zstd_path(path) ? " after decompression" : "") + "; QuantScope reads at most " +
           byte_size_text(max_bytes) +
           " of text for perplexity or calibration (tokenizing it takes ~40x its size in "
           "memory); use a smaller file";
}

std::string read_text_file(const std::string& path, const Progress& progress, uint64_t max_bytes) {
    ByteReader reader(path);
    std::string text;
    if (!reader.compressed() && reader.file_size() > max_bytes) throw Error(text_too_large(path, max_bytes));
    if (!reader.compressed()) text.reserve(reader.file_size());
    std::vector<char> buf(1 << 20);
    progress(0.0, "reading " + path);
    for (;;) {
        progress.check();
        const size_t got = reader.read(buf.data(), buf.size());
        if (got == 0) break;
        if (text.size() + got > max_bytes) throw Error(text_too_large(path, max_bytes));
        text.append(buf.data(), got);
        progress(reader.fraction(), "reading " + path);
    }
    const size_t bad = find_invalid_utf8(text);
    if (bad != std::string::npos) {
        const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + bad, '\n'));
        const size_t line_start = text.rfind('\n', bad == 0 ? std::string::npos : bad - 1);
        const size_t column = bad - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
        throw Error(path + ": invalid UTF-8 at " + offset_words(reader.compressed(), bad) + " (line " +
                    std::to_string(line) + ", column " + std::to_string(column) + ")");
    }
    return text;
}

static bool is_blank_json_line(const std::string& line) {
    return std::all_of(line.begin(), line.end(),
                       [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 7: ..." ->
// "parse error at column 7: ..." (each JSON-lines record is parsed on its own).
static std::string json_error_text(const std::string& what) {
    std::string s = what;
    const size_t bracket = s.find("] ");
    if (s.rfind("[json.exception", 0) == 0 && bracket != std::string::npos) s = s.substr(bracket + 2);
    const std::string at_line = "at line 1, column";
    const size_t p = s.find(at_line);
    if (p != std::string::npos) s.replace(p, at_line.size(), "at column");
    return s;
}

int64_t for_each_jsonl_text(const std::string& path,
                            const std::function<void(std::string&& text, int64_t line_number)>& fn,
                            const Progress& progress, const std::function<bool(int64_t record)>& want) {
    LineReader lines(path);
    std::string line;
    int64_t records = 0;
    progress(0.0, "reading " + path);
    while (lines.next(line)) {
        progress.check();
        const int64_t n = lines.line_number();
        if ((n & 1023) == 0) progress(lines.fraction(), "reading " + path);
        if (is_blank_json_line(line)) continue;
        if (records >= kMaxJsonlRecords)
            throw Error(path + ": more than " + with_commas(kMaxJsonlRecords) +
                        " records; QuantScope reads at most that many from a JSON-lines file");
        if (want && !want(records)) {
            ++records;
            continue;
        }
        auto where = [&] { return path + ": line " + std::to_string(n) + ": "; };
        const size_t bad = find_invalid_utf8(line);
        if (bad != std::string::npos) {
            throw Error(where() + "invalid UTF-8 at " + offset_words(lines.compressed(), lines.line_offset() + bad) +
                        " (column " + std::to_string(bad + 1) + ")");
        }
        // Parse without the line terminator, so nlohmann's positions stay on "line 1".
        size_t end = line.size();
        if (end > 0 && line[end - 1] == '\n') --end;
        if (end > 0 && line[end - 1] == '\r') --end;
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(end));
        } catch (const nlohmann::json::exception& e) {
            throw Error(where() + "malformed JSON (" + json_error_text(e.what()) + ")");
        }
        if (!j.is_object())
            throw Error(where() + "expected a JSON object with a \"text\" field, got a JSON " + j.type_name());
        auto it = j.find("text");
        if (it == j.end()) throw Error(where() + "no \"text\" field");
        if (!it->is_string()) throw Error(where() + "\"text\" is a JSON " + it->type_name() + ", expected a string");
        ++records;
        fn(std::move(it->get_ref<std::string&>()), n);
    }
    progress(1.0, "read " + path);
    return records;
}

}  // namespace qs
