#include "tokenizers/byte_level.h"

#include <array>
#include <cstdint>

#include "tokenizers/unicode.h"

namespace qs::tok::byte_level {

namespace {
struct Tables {
    std::array<char32_t, 256> to_char{};
    std::array<std::string, 256> to_utf8{};
    Tables() {
        std::array<bool, 256> direct{};
        for (int b = '!'; b <= '~'; ++b) direct[b] = true;
        for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
        for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
        int n = 0;
        for (int b = 0; b < 256; ++b) {
            to_char[b] = direct[b] ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
            unicode::append_utf8(to_utf8[b], to_char[b]);
        }
    }
};
const Tables& tables() {
    static const Tables t;
    return t;
}
}  // namespace

char32_t byte_to_char(unsigned char b) { return tables().to_char[b]; }

int char_to_byte(char32_t c) {
    static const std::array<int16_t, 256 + 68> rev = [] {
        std::array<int16_t, 256 + 68> r{};
        r.fill(-1);
        for (int b = 0; b < 256; ++b) r[tables().to_char[b]] = static_cast<int16_t>(b);
        return r;
    }();
    return c < rev.size() ? rev[c] : -1;
}

std::string encode(std::string_view text) {
    const Tables& t = tables();
    std::string out;
    out.reserve(text.size() * 2);
    for (unsigned char b : text) out += t.to_utf8[b];
    return out;
}

bool decode_token(std::string_view token, std::string& bytes) {
    const std::u32string cps = unicode::utf8_to_u32(token);
    std::string tmp;
    tmp.reserve(cps.size());
    for (char32_t c : cps) {
        const int b = char_to_byte(c);
        if (b < 0) return false;
        tmp.push_back(static_cast<char>(b));
    }
    bytes += tmp;
    return true;
}

}  // namespace qs::tok::byte_level
