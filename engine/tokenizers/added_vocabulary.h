// Added and special tokens: matched in the text before the model sees it.
//  - AddedVocabulary: tokenizers' AddedVocabulary (leftmost-longest match, lstrip / rstrip /
//    single_word, non-normalized tokens matched in the raw text, normalized ones in the
//    normalized text).
//  - SlowTokenSplitter: transformers' slow PreTrainedTokenizer.tokenize() split (Trie +
//    Python str.lstrip/rstrip semantics) used with vocab.json/merges.txt and tokenizer.model.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace qs::tok {

class Normalizer;

struct AddedToken {
    std::string content;
    int64_t id = -1;
    bool special = false;
    bool lstrip = false;
    bool rstrip = false;
    bool single_word = false;
    bool normalized = false;
};

// Leftmost-longest matcher of a set of code-point strings.
class TokenTrie {
  public:
    void add(const std::u32string& s, int index);
    bool empty() const { return nodes_.size() <= 1; }
    // From position `from`: the leftmost start of a match and the longest match there.
    bool find(const std::u32string& text, std::size_t from, std::size_t& start, std::size_t& end, int& index) const;

  private:
    struct Node {
        std::map<char32_t, int> next;
        int index = -1;
    };
    std::vector<Node> nodes_{1};
    std::unordered_set<char32_t> first_;
};

struct TextSegment {
    std::u32string text;  // normalized text (id < 0)
    bool at_origin = false;
    int64_t id = -1;  // >= 0: an added token
};

class AddedVocabulary {
  public:
    void add(const AddedToken& t);  // later additions of the same content are ignored
    // Call after all add()s and whenever the normalizer changes.
    void build(const Normalizer* normalizer);
    std::vector<TextSegment> extract_and_normalize(const std::u32string& text, const Normalizer* normalizer) const;

    const AddedToken* find_id(int64_t id) const;
    const AddedToken* find_content(const std::string& content) const;
    const std::vector<AddedToken>& tokens() const { return tokens_; }

  private:
    void split(const std::u32string& s, bool at_origin, const TokenTrie& trie, const std::vector<int>& map,
               std::vector<TextSegment>& out) const;
    std::vector<AddedToken> tokens_;
    std::unordered_map<int64_t, std::size_t> by_id_;
    std::unordered_map<std::string, std::size_t> by_content_;
    TokenTrie raw_trie_, norm_trie_;
    std::vector<int> raw_map_, norm_map_;  // trie index -> tokens_ index
};

// transformers' slow-tokenizer split on added tokens.
class SlowTokenSplitter {
  public:
    void add(const AddedToken& t);
    bool empty() const { return tokens_.empty(); }
    struct Piece {
        std::string text;
        int64_t id = -1;  // >= 0: an added token (text = its content)
    };
    std::vector<Piece> split(const std::string& text) const;
    const std::vector<AddedToken>& tokens() const { return tokens_; }

  private:
    std::vector<AddedToken> tokens_;
    std::unordered_map<std::string, std::size_t> by_content_;
    TokenTrie trie_;
};

}  // namespace qs::tok
