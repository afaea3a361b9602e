#include "data/wikitext.h"

#include "core/resources.h"
#include "core/error.h"
#include "data/line_reader.h"
#include "data/text_source.h"
#include "data/utf8.h"

namespace qs {

std::string wikitext2_default_path() { return resource_path("data/wikitext-2-raw-v1/wiki.test.raw.zst"); }

// Python universal newlines on one '\n'-terminated physical line: split at every "\r\n" or
// lone "\r", each piece ending in "\n" (the last keeps whatever ending the line had).
static void split_universal_newlines(const std::string& line, std::vector<std::string>& out) {
    size_t start = 0;
    for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] != '\r') continue;
        out.push_back(line.substr(start, i - start) + "\n");
        if (i + 1 < line.size() && line[i + 1] == '\n') ++i;
        start = i + 1;
    }
    if (start < line.size()) out.push_back(line.substr(start));
}

std::vector<std::string> wikitext_rows(const std::string& path, const Progress& progress) {
    LineReader lines(path);
    std::vector<std::string> rows;
    std::string line;
    std::vector<std::string> pieces;
    uint64_t bytes = 0;
    progress(0.0, "reading " + path);
    while (lines.next(line)) {
        bytes += line.size() + 2;  // joined with "\n\n"
        if (bytes > kMaxTextBytes) throw Error(text_too_large(path));
        progress.check();
        if ((lines.line_number() & 1023) == 0) progress(lines.fraction(), "reading " + path);
        const size_t bad = find_invalid_utf8(line);
        if (bad != std::string::npos) {
            throw Error(path + ": line " + std::to_string(lines.line_number()) + ": invalid UTF-8 at byte offset " +
                        std::to_string(lines.line_offset() + bad) +
                        (lines.compressed() ? " of the decompressed data" : "") + " (column " +
                        std::to_string(bad + 1) + ")");
        }
        pieces.clear();
        if (line.find('\r') == std::string::npos)
            pieces.push_back(std::move(line));
        else
            split_universal_newlines(line, pieces);
        for (auto& row : pieces) {
            if (python_strip(row).empty()) row.clear();
            rows.push_back(std::move(row));
        }
    }
    progress(1.0, "read " + path);
    return rows;
}

std::string join_rows(const std::vector<std::string>& rows, const std::string& separator) {
    size_t total = 0;
    for (const auto& r : rows) total += r.size();
    std::string text;
    if (!rows.empty()) text.reserve(total + separator.size() * (rows.size() - 1));
    for (size_t i = 0; i < rows.size(); ++i) {
        if (i) text += separator;
        text += rows[i];
    }
    return text;
}

std::string wikitext2_test_text(const std::string& path_to_raw_or_zst, const Progress& progress) {
    return join_rows(wikitext_rows(path_to_raw_or_zst, progress));
}

}  // namespace qs
