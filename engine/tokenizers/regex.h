// A compiled regular expression for the tokenizer patterns (pre-tokenizer Split, Replace
// normalizer/decoder), run by Oniguruma exactly as Hugging Face tokenizers runs it through the
// `onig` crate: UTF-8, Oniguruma's default syntax, no options, and the crate's find_iter rules.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qs::tok {

class Regex {
  public:
    using Ranges = std::vector<std::pair<std::size_t, std::size_t>>;
    // Compiles once; throws qs::Error "<where>: regular expression '<pattern>': <Oniguruma's
    // message>" (where: e.g. "tokenizer.json: Split pre_tokenizer"; may be empty).
    explicit Regex(std::string_view pattern, std::string_view where = {});
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // All matches left to right as byte ranges [begin, end) of `utf8` (valid UTF-8), as
    // tokenizers' find_matches gets them from the onig crate's find_iter: the next search starts
    // where the last match ended, an empty match right at the end of the previous match is
    // skipped (others count), and an empty text has no matches.
    Ranges find_all(std::string_view utf8) const;
    // The same over code points: ranges are indices into `text`.
    Ranges find_all(std::u32string_view text) const;
    const std::string& pattern() const { return pattern_; }

  private:
    std::string pattern_;
    std::string where_;   // error prefix
    void* re_ = nullptr;  // OnigRegex (oniguruma.h stays out of this header)
};

}  // namespace qs::tok
