// A small backtracking regular-expression engine over code points, enough for the
// pre-tokenizer patterns of Hugging Face tokenizers (GPT-2, Llama 3, Qwen2, ...), with the
// leftmost-first semantics of Oniguruma (which `tokenizers` uses) and Python's `regex`.
// Supported: literals and escapes (\r \n \t \f \v \e \0 \xHH \x{H..} \uHHHH), ., classes
// [...] with ranges and negation, \s \S \d \D \w \W \h \H, \p{..} \P{..} \p{^..} with general
// categories (L, Lu, N, Nd, P, ...), groups (...) (?:...) (?i:...) (?-i:...) (?i), lookahead
// (?=...) (?!...), anchors ^ $ \A \z \Z, quantifiers ? * + {n} {n,} {n,m} and lazy forms.
// \s is Unicode White_Space; \d is Nd; \w is L|M|Nd|Pc.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qs::tok {

class UnicodeRegex {
public:
    // Throws qs::Error (quoting the pattern) on syntax this engine does not support.
    explicit UnicodeRegex(std::string_view utf8_pattern);
    // Leftmost match starting at or after `from`. Returns false if none.
    bool search(std::u32string_view s, std::size_t from, std::size_t& start, std::size_t& end) const;
    // All non-overlapping matches, left to right (empty matches are skipped).
    std::vector<std::pair<std::size_t, std::size_t>> find_all(std::u32string_view s) const;
    const std::string& pattern() const { return pattern_; }

    // Compiled form (internal).
    struct CharClass {
        bool negate = false;
        bool icase = false;
        std::vector<std::pair<char32_t, char32_t>> ranges;
        uint32_t cat_mask = 0;                // union of \p{..}
        std::vector<uint32_t> neg_cat_masks;  // each \P{..}: matches if the category is not in it
        bool space = false, nonspace = false, digit = false, nondigit = false, word = false, nonword = false;
        bool dot = false;                     // "." (anything but \n)
        uint64_t ascii[2] = {0, 0};           // precomputed result for code points < 128
        bool in_ranges(char32_t c) const;
        bool raw_match(char32_t c) const;
        void finish();
        bool match(char32_t c) const {
            if (c < 128) return (ascii[c >> 6] >> (c & 63)) & 1;
            return raw_match(c) != negate;
        }
    };
    struct Inst {
        enum Op : uint8_t { Char, Class, Split, Jmp, Match, Look, Bol, Eol, BeginText, EndText, EndTextNl } op = Match;
        bool icase = false;
        bool neg = false;  // Look: negative
        char32_t c = 0;    // Char
        int x = 0, y = 0;  // Split: preferred x, then y; Jmp: x; Class: class index; Look: continuation
    };

private:
    std::size_t run(int pc, std::u32string_view s, std::size_t sp) const;
    std::string pattern_;
    std::vector<Inst> prog_;
    std::vector<CharClass> classes_;
    bool anchored_start_ = false;
};

}  // namespace qs::tok
