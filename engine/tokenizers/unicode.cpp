#include "tokenizers/unicode.h"

#include <cstdlib>
#include <memory>

#include <utf8proc.h>

#include "core/error.h"

namespace qs::tok::unicode {

namespace {
utf8proc_category_t category(char32_t cp) { return utf8proc_category(static_cast<utf8proc_int32_t>(cp)); }
}  // namespace

bool is_number(char32_t c) {
    const auto k = category(c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

bool is_punctuation(char32_t c) {
    const auto k = category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

bool is_word_char(char32_t c) {
    const auto k = category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_ME) ||  // L, M
           k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_PC || c == 0x200C ||
           c == 0x200D || (c >= 0x24B6 && c <= 0x24E9);
}

bool is_white_space(char32_t c) {
    // PropList.txt White_Space (unchanged since Unicode 6.3).
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
    if (c < 0x85) return false;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_python_space(char32_t c) { return is_white_space(c) || (c >= 0x1C && c <= 0x1F); }

// ---- UTF-8 ----------------------------------------------------------------------------

namespace {
// Length of a valid UTF-8 sequence at s[i] (1..4), or 0 if the bytes there are not one.
std::size_t valid_seq_len(std::string_view s, std::size_t i) {
    const auto u = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = u(i);
    const std::size_t n = s.size();
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return (i + 1 < n && (u(i + 1) & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (i + 1 >= n) return 0;
        const unsigned char c1 = u(i + 1);
        const unsigned char lo = (c == 0xE0) ? 0xA0 : 0x80, hi = (c == 0xED) ? 0x9F : 0xBF;
        if (c1 < lo || c1 > hi) return 0;
        if (i + 2 >= n || (u(i + 2) & 0xC0) != 0x80) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (i + 1 >= n) return 0;
        const unsigned char c1 = u(i + 1);
        const unsigned char lo = (c == 0xF0) ? 0x90 : 0x80, hi = (c == 0xF4) ? 0x8F : 0xBF;
        if (c1 < lo || c1 > hi) return 0;
        if (i + 2 >= n || (u(i + 2) & 0xC0) != 0x80) return 0;
        if (i + 3 >= n || (u(i + 3) & 0xC0) != 0x80) return 0;
        return 4;
    }
    return 0;
}

// Length of the maximal prefix of an ill-formed sequence at s[i] (at least 1): the bytes that
// would start a valid sequence but are cut short (Unicode "maximal subpart").
std::size_t maximal_subpart(std::string_view s, std::size_t i) {
    const auto u = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = u(i);
    const std::size_t n = s.size();
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 1;
    std::size_t k = 1;
    if (i + 1 >= n || u(i + 1) < lo || u(i + 1) > hi) return 1;
    ++k;
    while (k <= need && i + k < n && (u(i + k) & 0xC0) == 0x80) ++k;
    return k;  // < need + 1 here, since the sequence was invalid
}

char32_t decode_at(std::string_view s, std::size_t i, std::size_t len) {
    const auto u = [&](std::size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[k])); };
    switch (len) {
        case 1:
            return u(i);
        case 2:
            return ((u(i) & 0x1F) << 6) | (u(i + 1) & 0x3F);
        case 3:
            return ((u(i) & 0x0F) << 12) | ((u(i + 1) & 0x3F) << 6) | (u(i + 2) & 0x3F);
        default:
            return ((u(i) & 0x07) << 18) | ((u(i + 1) & 0x3F) << 12) | ((u(i + 2) & 0x3F) << 6) | (u(i + 3) & 0x3F);
    }
}
}  // namespace

std::u32string utf8_to_u32(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            out.push_back(static_cast<unsigned char>(s[i]));
            ++i;
            continue;
        }
        const std::size_t len = valid_seq_len(s, i);
        if (len == 0) {
            out.push_back(0xFFFD);
            i += 1;
            continue;
        }
        out.push_back(decode_at(s, i, len));
        i += len;
    }
    return out;
}

void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80)
        out.push_back(static_cast<char>(c));
    else if (c < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (c >> 6)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (c >> 12)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (c >> 18)));
        out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
}

std::string u32_to_utf8(std::u32string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : s) append_utf8(out, c);
    return out;
}

std::string utf8_lossy(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t len = valid_seq_len(s, i);
        if (len) {
            out.append(s.substr(i, len));
            i += len;
            continue;
        }
        out.append("\xEF\xBF\xBD");
        i += maximal_subpart(s, i);
    }
    return out;
}

bool is_valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t len = valid_seq_len(s, i);
        if (!len) return false;
        i += len;
    }
    return true;
}

// ---- Normalization ----------------------------------------------------------------------

std::string normalize(std::string_view utf8, NormalForm form) {
    if (utf8.empty()) return {};
    int options = UTF8PROC_STABLE;
    switch (form) {
        case NormalForm::NFC:
            options |= UTF8PROC_COMPOSE;
            break;
        case NormalForm::NFD:
            options |= UTF8PROC_DECOMPOSE;
            break;
        case NormalForm::NFKC:
            options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
            break;
        case NormalForm::NFKD:
            options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
            break;
    }
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()), static_cast<utf8proc_ssize_t>(utf8.size()),
                     &out, static_cast<utf8proc_option_t>(options));
    const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(out, &std::free);
    if (n < 0) throw Error(std::string("Unicode normalization: ") + utf8proc_errmsg(n));
    return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

std::u32string normalize(std::u32string_view text, NormalForm form) {
    return utf8_to_u32(normalize(u32_to_utf8(text), form));
}

}  // namespace qs::tok::unicode
