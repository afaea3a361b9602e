#include "tokenizers/regex.h"

#include <mutex>

#include <oniguruma.h>

#include "core/error.h"
#include "tokenizers/unicode.h"

namespace qs::tok {

namespace {
std::string onig_message(int code, OnigErrorInfo* info) {
    OnigUChar buf[ONIG_MAX_ERROR_MESSAGE_LEN];
    const int n = info ? onig_error_code_to_str(buf, code, info) : onig_error_code_to_str(buf, code);
    return std::string(reinterpret_cast<const char*>(buf), n > 0 ? static_cast<std::size_t>(n) : 0);
}

OnigRegex as_onig(void* p) { return static_cast<OnigRegex>(p); }

// Length of the UTF-8 sequence starting with byte c (1 for anything else, as Rust's
// chars().next().len_utf8() on valid input).
std::size_t utf8_len(unsigned char c) { return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }
}  // namespace

Regex::Regex(std::string_view pattern, std::string_view where)
    : pattern_(pattern), where_(where.empty() ? std::string() : std::string(where) + ": ") {
    static std::once_flag init;
    std::call_once(init, [] {
        OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
        onig_initialize(encodings, 1);
    });
    // What the onig crate's Regex::new passes: no options, Syntax::default() = OnigDefaultSyntax
    // (ONIG_SYNTAX_ONIGURUMA in Oniguruma 6.9.8, the version onig_sys bundles and Debian 12 ships).
    const auto* p = reinterpret_cast<const OnigUChar*>(pattern_.data());
    OnigRegex re = nullptr;
    OnigErrorInfo info{};
    const int r =
        onig_new(&re, p, p + pattern_.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &info);
    if (r != ONIG_NORMAL) throw Error(where_ + "regular expression '" + pattern_ + "': " + onig_message(r, &info));
    re_ = re;
}

Regex::~Regex() {
    if (re_) onig_free(as_onig(re_));
}

Regex::Ranges Regex::find_all(std::string_view utf8) const {
    Ranges out;
    if (utf8.empty()) return out;  // tokenizers' find_matches answers an empty text without searching
    const auto* str = reinterpret_cast<const OnigUChar*>(utf8.data());
    const OnigUChar* end = str + utf8.size();
    OnigRegion* region = onig_region_new();
    std::size_t from = 0;
    bool have_last = false;
    std::size_t last_end = 0;
    while (from <= utf8.size()) {
        onig_region_clear(region);
        const int r = onig_search(as_onig(re_), str, end, str + from, end, region, ONIG_OPTION_NONE);
        if (r == ONIG_MISMATCH) break;
        if (r < 0) {
            onig_region_free(region, 1);
            throw Error(where_ + "regular expression '" + pattern_ + "': " + onig_message(r, nullptr));
        }
        const auto b = static_cast<std::size_t>(region->beg[0]), e = static_cast<std::size_t>(region->end[0]);
        if (b == e && have_last && last_end == e) {
            from += from < utf8.size() ? utf8_len(static_cast<unsigned char>(utf8[from])) : 1;
            continue;
        }
        out.emplace_back(b, e);
        from = last_end = e;
        have_last = true;
    }
    onig_region_free(region, 1);
    return out;
}

Regex::Ranges Regex::find_all(std::u32string_view text) const {
    std::string utf8;
    utf8.reserve(text.size());
    std::vector<std::size_t> index_at_byte;  // code point index of each byte offset (+ the end)
    index_at_byte.reserve(text.size() + 1);
    for (std::size_t i = 0; i < text.size(); ++i) {
        unicode::append_utf8(utf8, text[i]);
        index_at_byte.resize(utf8.size(), i);
    }
    index_at_byte.push_back(text.size());
    Ranges out = find_all(std::string_view(utf8));
    for (auto& [b, e] : out) {
        b = index_at_byte[b];
        e = index_at_byte[e];
    }
    return out;
}

}  // namespace qs::tok
