// GPT-2 byte-level alphabet: every byte maps to a printable code point (bytes_to_unicode),
// so byte-level BPE vocabularies are strings of those code points.
#pragma once
#include <string>
#include <string_view>

namespace qs::tok::byte_level {

char32_t byte_to_char(unsigned char b);
// -1 if c is not one of the 256 byte-level characters.
int char_to_byte(char32_t c);
// UTF-8 bytes of `text` -> the byte-level string (UTF-8 encoded).
std::string encode(std::string_view text);
// Appends the bytes a byte-level token stands for. Returns false (appending nothing) if the
// token holds a character outside the byte-level alphabet.
bool decode_token(std::string_view token, std::string& bytes);

}  // namespace qs::tok::byte_level
