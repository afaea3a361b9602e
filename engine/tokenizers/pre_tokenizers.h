// Pre-tokenizers of Hugging Face tokenizer.json ("pre_tokenizer"): ByteLevel (with the GPT-2
// split regex), Split (String / Regex pattern, all five behaviours, invert), Metaspace,
// Digits, WhitespaceSplit, Whitespace, Punctuation, Sequence.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qs::tok {

struct PreSplit {
    std::u32string text;
    bool at_origin = false;  // starts at offset 0 of the original text (Metaspace "first")
};

class PreTokenizer {
  public:
    virtual ~PreTokenizer() = default;
    // Replaces every split by its sub-splits (empty ones dropped).
    virtual void pre_tokenize(std::vector<PreSplit>& splits) const = 0;
    // True when the output pieces are in the byte-level alphabet.
    virtual bool byte_level() const { return false; }
};

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& source);

class Regex;
// The GPT-2 pattern of ByteLevel(use_regex=true) and of the slow GPT2Tokenizer, compiled once
// per process.
const Regex& gpt2_split_regex();

}  // namespace qs::tok
