// UTF-8 <-> code points, Unicode general categories, White_Space, NFC/NFD.
// Data from the generated unicode_categories/decompositions/compositions.cpp (Unicode version
// in unicode_tables::kUnicodeVersion).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace qs::tok::unicode {

// Order must match CATS in tools/goldens/gen_unicode_tables.py.
enum class GeneralCategory : uint8_t {
    Cn, Lu, Ll, Lt, Lm, Lo, Mn, Mc, Me, Nd, Nl, No, Pc, Pd, Ps, Pe,
    Pi, Pf, Po, Sm, Sc, Sk, So, Zs, Zl, Zp, Cc, Cf, Cs, Co
};
constexpr uint32_t cat_bit(GeneralCategory c) { return 1u << static_cast<uint32_t>(c); }
constexpr uint32_t kMaskL = cat_bit(GeneralCategory::Lu) | cat_bit(GeneralCategory::Ll) |
                            cat_bit(GeneralCategory::Lt) | cat_bit(GeneralCategory::Lm) |
                            cat_bit(GeneralCategory::Lo);
constexpr uint32_t kMaskM = cat_bit(GeneralCategory::Mn) | cat_bit(GeneralCategory::Mc) |
                            cat_bit(GeneralCategory::Me);
constexpr uint32_t kMaskN = cat_bit(GeneralCategory::Nd) | cat_bit(GeneralCategory::Nl) |
                            cat_bit(GeneralCategory::No);

GeneralCategory category(char32_t cp);
inline uint32_t category_bit(char32_t cp) { return cat_bit(category(cp)); }
inline bool is_letter(char32_t cp) { return (category_bit(cp) & kMaskL) != 0; }
inline bool is_number(char32_t cp) { return (category_bit(cp) & kMaskN) != 0; }
// The White_Space property (what Oniguruma's \s, Rust's char::is_whitespace match).
bool is_white_space(char32_t cp);
// Python's str.isspace(): White_Space plus U+001C..U+001F.
bool is_python_space(char32_t cp);
// Parses a \p{...} name ("L", "Letter", "Lu", "N", "Nd", ...); returns a category mask or 0.
uint32_t category_mask_from_name(std::string_view name);

// UTF-8. Invalid bytes decode to U+FFFD one byte at a time (the input of a tokenizer is
// expected to be valid UTF-8; this only keeps malformed input from crashing).
std::u32string utf8_to_u32(std::string_view s);
void append_utf8(std::string& out, char32_t cp);
std::string u32_to_utf8(std::u32string_view s);
// Decodes bytes as UTF-8, replacing each maximal invalid subsequence with U+FFFD
// (Rust String::from_utf8_lossy, Python bytes.decode('utf-8', 'replace')).
std::string utf8_lossy(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

std::u32string nfd(std::u32string_view s);
std::u32string nfc(std::u32string_view s);

}  // namespace qs::tok::unicode
