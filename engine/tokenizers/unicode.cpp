#include "tokenizers/unicode.h"

#include <algorithm>
#include <array>

#include "tokenizers/unicode_tables.h"

namespace qs::tok::unicode {

namespace T = unicode_tables;

GeneralCategory category(char32_t cp) {
    static const std::array<uint8_t, 128> ascii = [] {
        std::array<uint8_t, 128> a{};
        const T::CategoryRun* b = T::kCategoryRuns;
        std::size_t r = 0;
        for (char32_t c = 0; c < 128; ++c) {
            while (r + 1 < T::kCategoryRunsSize && b[r + 1].start <= c) ++r;
            a[c] = b[r].category;
        }
        return a;
    }();
    if (cp < 128) return static_cast<GeneralCategory>(ascii[cp]);
    if (cp > 0x10FFFF) return GeneralCategory::Cn;
    const T::CategoryRun* b = T::kCategoryRuns;
    const T::CategoryRun* e = b + T::kCategoryRunsSize;
    const T::CategoryRun* it =
        std::upper_bound(b, e, cp, [](char32_t v, const T::CategoryRun& r) { return v < r.start; });
    return static_cast<GeneralCategory>((it - 1)->category);
}

bool is_white_space(char32_t c) {
    // PropList.txt White_Space (unchanged since Unicode 6.3).
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
    if (c < 0x85) return false;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_python_space(char32_t c) { return is_white_space(c) || (c >= 0x1C && c <= 0x1F); }

uint32_t category_mask_from_name(std::string_view n) {
    using G = GeneralCategory;
    struct Name { const char* name; uint32_t mask; };
    static const Name names[] = {
        {"L", kMaskL}, {"Letter", kMaskL}, {"M", kMaskM}, {"Mark", kMaskM}, {"N", kMaskN}, {"Number", kMaskN},
        {"Lu", cat_bit(G::Lu)}, {"Ll", cat_bit(G::Ll)}, {"Lt", cat_bit(G::Lt)}, {"Lm", cat_bit(G::Lm)},
        {"Lo", cat_bit(G::Lo)}, {"Mn", cat_bit(G::Mn)}, {"Mc", cat_bit(G::Mc)}, {"Me", cat_bit(G::Me)},
        {"Nd", cat_bit(G::Nd)}, {"Nl", cat_bit(G::Nl)}, {"No", cat_bit(G::No)},
        {"P", cat_bit(G::Pc) | cat_bit(G::Pd) | cat_bit(G::Ps) | cat_bit(G::Pe) | cat_bit(G::Pi) |
                  cat_bit(G::Pf) | cat_bit(G::Po)},
        {"Pc", cat_bit(G::Pc)}, {"Pd", cat_bit(G::Pd)}, {"Ps", cat_bit(G::Ps)}, {"Pe", cat_bit(G::Pe)},
        {"Pi", cat_bit(G::Pi)}, {"Pf", cat_bit(G::Pf)}, {"Po", cat_bit(G::Po)},
        {"S", cat_bit(G::Sm) | cat_bit(G::Sc) | cat_bit(G::Sk) | cat_bit(G::So)},
        {"Sm", cat_bit(G::Sm)}, {"Sc", cat_bit(G::Sc)}, {"Sk", cat_bit(G::Sk)}, {"So", cat_bit(G::So)},
        {"Z", cat_bit(G::Zs) | cat_bit(G::Zl) | cat_bit(G::Zp)},
        {"Zs", cat_bit(G::Zs)}, {"Zl", cat_bit(G::Zl)}, {"Zp", cat_bit(G::Zp)},
        {"C", cat_bit(G::Cc) | cat_bit(G::Cf) | cat_bit(G::Cs) | cat_bit(G::Co) | cat_bit(G::Cn)},
        {"Cc", cat_bit(G::Cc)}, {"Cf", cat_bit(G::Cf)}, {"Cs", cat_bit(G::Cs)}, {"Co", cat_bit(G::Co)},
        {"Cn", cat_bit(G::Cn)},
    };
    for (const Name& x : names)
        if (n == x.name) return x.mask;
    return 0;
}

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
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 1;
    std::size_t k = 1;
    if (i + 1 >= n || u(i + 1) < lo || u(i + 1) > hi) return 1;
    ++k;
    while (k <= need && i + k < n && (u(i + k) & 0xC0) == 0x80) ++k;
    return k;  // < need + 1 here, since the sequence was invalid
}

char32_t decode_at(std::string_view s, std::size_t i, std::size_t len) {
    const auto u = [&](std::size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[k])); };
    switch (len) {
        case 1: return u(i);
        case 2: return ((u(i) & 0x1F) << 6) | (u(i + 1) & 0x3F);
        case 3: return ((u(i) & 0x0F) << 12) | ((u(i + 1) & 0x3F) << 6) | (u(i + 2) & 0x3F);
        default:
            return ((u(i) & 0x07) << 18) | ((u(i + 1) & 0x3F) << 12) | ((u(i + 2) & 0x3F) << 6) | (u(i + 3) & 0x3F);
    }
}
}  // namespace

std::u32string utf8_to_u32(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        if (static_cast<unsigned char>(s[i]) < 0x80) { out.push_back(static_cast<unsigned char>(s[i])); ++i; continue; }
        const std::size_t len = valid_seq_len(s, i);
        if (len == 0) { out.push_back(0xFFFD); i += 1; continue; }
        out.push_back(decode_at(s, i, len));
        i += len;
    }
    return out;
}

void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) out.push_back(static_cast<char>(c));
    else if (c < 0x800) { out.push_back(static_cast<char>(0xC0 | (c >> 6))); out.push_back(static_cast<char>(0x80 | (c & 0x3F))); }
    else if (c < 0x10000) {
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
        if (len) { out.append(s.substr(i, len)); i += len; continue; }
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

namespace {
constexpr char32_t SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
constexpr int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

uint8_t ccc(char32_t cp) {
    if (cp < 0x300) return 0;
    const T::CccRun* b = T::kCccRuns;
    const T::CccRun* e = b + T::kCccRunsSize;
    const T::CccRun* it = std::upper_bound(b, e, cp, [](char32_t v, const T::CccRun& r) { return v < r.first; });
    if (it == b) return 0;
    --it;
    return cp <= it->last ? it->ccc : 0;
}

void decompose_into(char32_t cp, std::u32string& out) {
    if (cp >= SBase && cp < SBase + SCount) {
        const int s = static_cast<int>(cp - SBase);
        out.push_back(LBase + s / NCount);
        out.push_back(VBase + (s % NCount) / TCount);
        if (s % TCount) out.push_back(TBase + s % TCount);
        return;
    }
    if (cp < 0xC0) { out.push_back(cp); return; }
    const T::Decomposition* b = T::kDecompositions;
    const T::Decomposition* e = b + T::kDecompositionsSize;
    const T::Decomposition* it =
        std::lower_bound(b, e, cp, [](const T::Decomposition& d, char32_t v) { return d.cp < v; });
    if (it != e && it->cp == cp) out.append(T::kDecompositionPool + it->offset, it->length);
    else out.push_back(cp);
}

char32_t compose_pair(char32_t a, char32_t b) {
    if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount)
        return SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
    if (a >= SBase && a < SBase + SCount && (a - SBase) % TCount == 0 && b > TBase && b < TBase + TCount)
        return a + (b - TBase);
    const T::Composition* bg = T::kCompositions;
    const T::Composition* e = bg + T::kCompositionsSize;
    const T::Composition* it = std::lower_bound(bg, e, std::make_pair(a, b), [](const T::Composition& c, const std::pair<char32_t, char32_t>& v) {
        return c.first != v.first ? c.first < v.first : c.second < v.second;
    });
    if (it != e && it->first == a && it->second == b) return it->composite;
    return 0;
}
}  // namespace

std::u32string nfd(std::u32string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (char32_t c : s) decompose_into(c, out);
    // Canonical ordering: stable sort of each run of nonzero-ccc marks.
    for (std::size_t i = 0; i < out.size();) {
        if (ccc(out[i]) == 0) { ++i; continue; }
        std::size_t j = i;
        while (j < out.size() && ccc(out[j]) != 0) ++j;
        std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(i), out.begin() + static_cast<std::ptrdiff_t>(j),
                         [](char32_t x, char32_t y) { return ccc(x) < ccc(y); });
        i = j;
    }
    return out;
}

std::u32string nfc(std::u32string_view s) {
    std::u32string d = nfd(s);
    if (d.empty()) return d;
    std::u32string out;
    out.reserve(d.size());
    std::size_t starter = std::u32string::npos;  // index in out of the last starter
    for (char32_t c : d) {
        const int cc = ccc(c);
        if (starter != std::u32string::npos) {
            // c is blocked from the starter if a character between them has ccc 0 or >= ccc(c);
            // the sequence is canonically ordered, so the last one decides.
            const bool adjacent = out.size() - 1 == starter;
            const int prev = adjacent ? -1 : ccc(out.back());
            if (adjacent || (prev != 0 && prev < cc)) {
                const char32_t comp = compose_pair(out[starter], c);
                if (comp) { out[starter] = comp; continue; }
            }
        }
        if (cc == 0) starter = out.size();
        out.push_back(c);
    }
    return out;
}

}  // namespace qs::tok::unicode
