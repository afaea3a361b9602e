// UTF-8 <-> code points, the few Unicode properties the tokenizers test character by character,
// and normalization. Categories and normalization come from utf8proc (its Unicode version:
// utf8proc_unicode_version()); pattern matching is Oniguruma's (tokenizers/regex.h).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace qs::tok::unicode {

// General category N (Nd, Nl, No): Rust's char::is_numeric.
bool is_number(char32_t cp);
// General category P (Pc, Pd, Ps, Pe, Pi, Pf, Po).
bool is_punctuation(char32_t cp);
// The regex crate's \w (tokenizers' single_word check): Alphabetic, M, Nd, Pc, Join_Control.
// Alphabetic is approximated by L, Nl and the circled letters (the Other_Alphabetic symbols).
bool is_word_char(char32_t cp);
// The White_Space property (what Oniguruma's \s, Rust's char::is_whitespace match).
bool is_white_space(char32_t cp);
// Python's str.isspace(): White_Space plus U+001C..U+001F.
bool is_python_space(char32_t cp);

// UTF-8. Invalid bytes decode to U+FFFD one byte at a time (the input of a tokenizer is
// expected to be valid UTF-8; this only keeps malformed input from crashing).
std::u32string utf8_to_u32(std::string_view s);
void append_utf8(std::string& out, char32_t cp);
std::string u32_to_utf8(std::u32string_view s);
// Decodes bytes as UTF-8, replacing each maximal invalid subsequence with U+FFFD
// (Rust String::from_utf8_lossy, Python bytes.decode('utf-8', 'replace')).
std::string utf8_lossy(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

enum class NormalForm { NFC, NFD, NFKC, NFKD };
// Unicode normalization of valid UTF-8 (utf8proc_map); throws qs::Error on invalid input.
std::string normalize(std::string_view utf8, NormalForm form);
std::u32string normalize(std::u32string_view text, NormalForm form);

}  // namespace qs::tok::unicode
