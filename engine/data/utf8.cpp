#include "data/utf8.h"

#include <cstdint>

namespace qs {

size_t find_invalid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;         // no overlongs
            else if (c == 0xED) hi = 0x9F;    // no surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;         // no overlongs
            else if (c == 0xF4) hi = 0x8F;    // <= U+10FFFF
        } else {
            return i;  // continuation byte, C0/C1, F5..FF
        }
        if (i + 1 >= n || p[i + 1] < lo || p[i + 1] > hi) return i;
        for (size_t k = 2; k < len; ++k)
            if (i + k >= n || (p[i + k] & 0xC0) != 0x80) return i;
        i += len;
    }
    return std::string::npos;
}

static bool is_py_space(uint32_t cp) {
    if (cp <= 0x20) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
    switch (cp) {
        case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200A;
    }
}

// Decodes the code point starting at s[i] (valid UTF-8 assumed); sets len.
static uint32_t decode_at(std::string_view s, size_t i, size_t& len) {
    const auto c = static_cast<unsigned char>(s[i]);
    auto cont = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k]) & 0x3F); };
    if (c < 0x80 || i + 1 >= s.size()) { len = 1; return c; }
    if (c < 0xE0) { len = 2; return ((c & 0x1Fu) << 6) | cont(1); }
    if (c < 0xF0) {
        if (i + 2 >= s.size()) { len = 1; return c; }
        len = 3;
        return ((c & 0x0Fu) << 12) | (cont(1) << 6) | cont(2);
    }
    if (i + 3 >= s.size()) { len = 1; return c; }
    len = 4;
    return ((c & 0x07u) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
}

std::string_view python_strip(std::string_view s) {
    size_t b = 0;
    while (b < s.size()) {
        size_t len;
        if (!is_py_space(decode_at(s, b, len))) break;
        b += len;
    }
    size_t e = s.size();
    while (e > b) {
        size_t start = e - 1;  // back up to the lead byte of the last character
        while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
        size_t len;
        if (!is_py_space(decode_at(s, start, len))) break;
        e = start;
    }
    return s.substr(b, e - b);
}

}  // namespace qs
