// The BPE model of Hugging Face `tokenizers` (models/bpe): vocab + ranked merges, applied to
// one pre-tokenized word at a time, with byte_fallback, unk / fuse_unk, ignore_merges and
// continuing_subword_prefix / end_of_word_suffix. Results are cached per word.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace qs::tok {

// Token ids are int32 in the tables below; added tokens use the same bound.
constexpr int64_t kMaxTokenId = 0x7FFFFFFF;
// Ids may leave holes, but at most this many beyond the vocabulary's size (the id table is
// dense: a single id of 2^31 - 1 would otherwise allocate 2^31 entries).
constexpr int64_t kMaxTokenIdHoles = int64_t(1) << 20;

struct BpeConfig {
    std::string unk_token;  // empty: no unk token
    bool fuse_unk = false;
    bool byte_fallback = false;
    bool ignore_merges = false;
    std::string continuing_subword_prefix;
    std::string end_of_word_suffix;
};

class BpeModel {
  public:
    // `source` names the file in error messages. Throws qs::Error if a merge's parts or
    // result are not in the vocabulary, and for ids outside 0..kMaxTokenId or more than
    // kMaxTokenIdHoles beyond the vocabulary's size.
    BpeModel(std::unordered_map<std::string, int64_t> vocab,
             const std::vector<std::pair<std::string, std::string>>& merges, BpeConfig config,
             const std::string& source);

    // Appends the ids of one word (a pre-tokenized piece).
    void tokenize(std::string_view word, std::vector<int64_t>& out) const;

    int64_t token_to_id(const std::string& token) const;  // -1 if absent
    const std::string* id_to_token(int64_t id) const;     // nullptr if absent
    int64_t size() const { return static_cast<int64_t>(vocab_.size()); }
    int64_t max_id() const { return static_cast<int64_t>(id_to_token_.size()) - 1; }
    const BpeConfig& config() const { return config_; }

  private:
    void merge_word(std::string_view word, std::vector<int64_t>& out) const;
    // Very long words (no pre-tokenizer: a whole text) are cut where no merge can join the
    // two sides, which gives the same result and keeps the work near-linear.
    void merge_long_word(std::string_view word, std::vector<int64_t>& out) const;
    bool can_cut_between(char32_t left, char32_t right) const;

    std::unordered_map<std::string, int64_t> vocab_;
    std::vector<std::string> id_to_token_;
    std::vector<bool> has_id_;
    std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // (a<<32|b) -> (rank, new id)
    int64_t unk_id_ = -1;
    std::vector<int32_t> byte_ids_;              // <0xNN> ids for byte_fallback, -1 if missing
    std::unordered_set<uint64_t> join_pairs_;    // (last char of left, first char of right) of every merge
    std::unordered_set<char32_t> single_chars_;  // characters that are tokens by themselves
    bool can_cut_ = false;
    BpeConfig config_;
    std::string source_;

    mutable std::mutex cache_mu_;
    mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace qs::tok
