// UTF-8 validation and Python-compatible whitespace stripping for dataset text.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace qs {

// Offset of the first byte that does not start (or continue) a well-formed UTF-8 sequence
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or std::string::npos
// when the whole text is valid. A sequence cut off by the end of the text is invalid.
size_t find_invalid_utf8(std::string_view text);

// Python's str.strip() on UTF-8 text: removes leading and trailing characters for which
// str.isspace() is true (ASCII \t\n\v\f\r and space, \x1c-\x1f, U+0085, U+00A0, U+1680,
// U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000). Expects valid UTF-8.
std::string_view python_strip(std::string_view text);

}  // namespace qs
