// What transformers reads next to the vocabulary files: tokenizer_config.json with
// special_tokens_map.json laid over it (the same precedence as from_pretrained), and
// small helpers shared by the tokenizer implementations.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizers/added_vocabulary.h"

namespace qs::tok {

struct HfTokenizerConfig {
    std::string tokenizer_class;
    std::optional<bool> add_bos_token, add_eos_token, add_prefix_space, legacy, clean_up_tokenization_spaces;
    // bos_token, eos_token, unk_token, pad_token, sep_token, cls_token, mask_token -> token
    // (id unset, flags as written; a plain string gives special=true and no stripping).
    std::map<std::string, AddedToken> special;
    std::vector<AddedToken> additional_special;
    std::vector<AddedToken> added_tokens_decoder;  // with ids

    const AddedToken* get(const std::string& key) const {
        const auto it = special.find(key);
        return it == special.end() ? nullptr : &it->second;
    }
    // Special tokens in transformers' order (bos, eos, unk, sep, pad, cls, mask, additional).
    std::vector<AddedToken> all_special() const;
};

// Reads <dir>/tokenizer_config.json and <dir>/special_tokens_map.json (both optional).
// Throws qs::Error naming the file if one is not valid JSON.
HfTokenizerConfig read_hf_config(const std::string& dir);

// Reads and parses a JSON file; throws qs::Error naming it.
nlohmann::json read_json_file(const std::string& path);
std::string read_text_file(const std::string& path);

// transformers' clean_up_tokenization().
std::string clean_up_tokenization(const std::string& s);

}  // namespace qs::tok
