// Dataset-text views of the tokenizer's UTF-8 code (tokenizers/unicode.h): one validator and
// one Python str.isspace() in the engine.
#include "data/utf8.h"

#include "tokenizers/unicode.h"

namespace qs {

namespace {

namespace U = tok::unicode;

// Bytes of the UTF-8 encoding of a code point.
size_t utf8_length(char32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

size_t find_invalid_utf8(std::string_view s) {
    if (U::is_valid_utf8(s)) return std::string::npos;
    // utf8_to_u32 decodes an invalid byte as U+FFFD: the first U+FFFD not spelled as one is it.
    size_t at = 0;
    for (const char32_t cp : U::utf8_to_u32(s)) {
        if (cp == 0xFFFD && s.substr(at, kReplacement.size()) != kReplacement) return at;
        at += utf8_length(cp);
    }
    return std::string::npos;  // not reached: is_valid_utf8 said there is an invalid byte
}

std::string_view python_strip(std::string_view s) {
    // Valid UTF-8 assumed (the readers validate first), so each code point's encoded length
    // is the number of bytes it was decoded from.
    const std::u32string cps = U::utf8_to_u32(s);
    size_t b = 0, first = 0;
    for (; first < cps.size() && U::is_python_space(cps[first]); ++first) b += utf8_length(cps[first]);
    size_t e = s.size();
    for (size_t last = cps.size(); last > first && U::is_python_space(cps[last - 1]); --last)
        e -= utf8_length(cps[last - 1]);
    return s.substr(b, e - b);
}

}  // namespace qs
