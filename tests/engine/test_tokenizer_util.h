// Helpers for the tokenizer tests: the wikitext-2 protocol text and the id hash the goldens
// (tools/goldens/make_tokenizer_goldens.py) store.
#pragma once
#include <zstd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/test_util.h"

namespace qs_test {

inline std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// docs/notes.md §6: rows = lines of wiki.test.raw (blank lines -> "", others keep their "\n"),
// text = "\n\n".join(rows).
inline std::string wikitext2_protocol_text() {
    const std::string z = read_file(source_path("resources/data/wikitext-2-raw-v1/wiki.test.raw.zst"));
    const unsigned long long n = ZSTD_getFrameContentSize(z.data(), z.size());
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN) return {};
    std::string raw(static_cast<std::size_t>(n), '\0');
    const std::size_t got = ZSTD_decompress(raw.data(), raw.size(), z.data(), z.size());
    if (ZSTD_isError(got)) return {};
    raw.resize(got);
    std::vector<std::string> rows;
    std::size_t pos = 0;
    while (pos < raw.size()) {
        std::size_t e = raw.find('\n', pos);
        const bool nl = e != std::string::npos;
        if (!nl) e = raw.size();
        std::string line = raw.substr(pos, e - pos);
        pos = nl ? e + 1 : e;
        const bool blank = line.find_first_not_of(" \t\r\f\v") == std::string::npos;
        rows.push_back(blank ? std::string() : line + (nl ? "\n" : ""));
    }
    std::string text;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (i) text += "\n\n";
        text += rows[i];
    }
    return text;
}

// FNV-1a 64 over the 4 little-endian bytes of each id (as the goldens define it).
inline std::string fnv1a64_hex(const std::vector<int64_t>& ids) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int64_t id : ids) {
        const uint32_t v = static_cast<uint32_t>(id);
        for (int k = 0; k < 4; ++k) {
            h ^= (v >> (8 * k)) & 0xFF;
            h *= 0x100000001b3ULL;
        }
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

}  // namespace qs_test
