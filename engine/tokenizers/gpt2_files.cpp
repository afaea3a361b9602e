// vocab.json + merges.txt (GPT-2, OPT, ...) as transformers' slow GPT2Tokenizer: split on the
// special tokens, GPT-2 regex, byte-level BPE; BOS only with add_bos_token (OPT: </s> = 2).
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "tokenizers/added_vocabulary.h"
#include "tokenizers/bpe_model.h"
#include "tokenizers/byte_level.h"
#include "tokenizers/hf_config.h"
#include "tokenizers/pre_tokenizers.h"
#include "tokenizers/tokenizer_impls.h"
#include "tokenizers/unicode.h"
#include "tokenizers/regex.h"

namespace qs::tok {

using nlohmann::json;

namespace {

class Gpt2FilesTokenizer : public Tokenizer {
  public:
    explicit Gpt2FilesTokenizer(const std::string& dir) {
        namespace fs = std::filesystem;
        const std::string vocab_path = (fs::path(dir) / "vocab.json").string();
        const std::string merges_path = (fs::path(dir) / "merges.txt").string();
        const json v = read_json_file(vocab_path);
        if (!v.is_object()) throw Error(vocab_path + ": expected a JSON object of token -> id");
        std::unordered_map<std::string, int64_t> vocab;
        vocab.reserve(v.size());
        for (const auto& kv : v.items()) {
            if (!kv.value().is_number_integer())
                throw Error(vocab_path + ": entry '" + kv.key() + "' has no integer id");
            vocab.emplace(kv.key(), kv.value().get<int64_t>());
        }
        // merges.txt: "#version" header, then "a b" per line.
        std::vector<std::pair<std::string, std::string>> merges;
        std::istringstream ms(read_text_file(merges_path));
        std::string line;
        std::size_t lineno = 0;
        while (std::getline(ms, line)) {
            ++lineno;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty() || (lineno == 1 && line.rfind("#version", 0) == 0)) continue;
            std::istringstream ls(line);
            std::string a, b, extra;
            if (!(ls >> a >> b) || (ls >> extra))
                throw Error(merges_path + ":" + std::to_string(lineno) + ": expected two tokens, got '" + line + "'");
            merges.emplace_back(a, b);
        }

        const HfTokenizerConfig cfg = read_hf_config(dir);
        // GPT2Tokenizer's defaults for what the config does not say.
        auto special_content = [&](const char* key, const char* dflt) -> std::string {
            if (const AddedToken* t = cfg.get(key)) return t->content;
            return dflt ? dflt : "";
        };
        const std::string unk = special_content("unk_token", "<|endoftext|>");
        BpeConfig bc;
        bc.unk_token = vocab.count(unk) ? unk : std::string();
        encoder_size_ = static_cast<int64_t>(vocab.size());
        int64_t next_id = encoder_size_;
        auto id_for = [&](const std::string& content) {
            const auto it = vocab.find(content);
            return it != vocab.end() ? it->second : next_id++;
        };

        // added_tokens.json (old-style added tokens, not special), then the special tokens.
        const std::string added_path = (fs::path(dir) / "added_tokens.json").string();
        if (fs::is_regular_file(added_path)) {
            const json a = read_json_file(added_path);
            if (!a.is_object()) throw Error(added_path + ": expected a JSON object of token -> id");
            for (const auto& kv : a.items()) {
                AddedToken t;
                t.content = kv.key();
                t.id = kv.value().get<int64_t>();
                next_id = std::max(next_id, t.id + 1);
                splitter_.add(t);
            }
        }
        for (const auto& t : cfg.added_tokens_decoder) {
            splitter_.add(t);
            next_id = std::max(next_id, t.id + 1);
        }
        std::vector<AddedToken> specials;
        if (!cfg.get("bos_token")) specials.push_back(AddedToken{"<|endoftext|>", -1, true});
        if (!cfg.get("eos_token")) specials.push_back(AddedToken{"<|endoftext|>", -1, true});
        if (!cfg.get("unk_token")) specials.push_back(AddedToken{"<|endoftext|>", -1, true});
        for (const auto& t : cfg.all_special()) specials.push_back(t);
        for (auto& t : specials) {
            if (const auto* known = find_added(t.content))
                t.id = known->id;
            else
                t.id = id_for(t.content);
            t.special = true;
            splitter_.add(t);
            special_ids_.push_back(t.id);
        }
        for (const auto& t : splitter_.tokens()) {
            added_by_id_[t.id] = t.content;
            if (!vocab.count(t.content)) ++added_not_in_vocab_;
        }
        bpe_ = std::make_unique<BpeModel>(std::move(vocab), merges, bc, vocab_path);

        bos_ = bpe_id(special_content("bos_token", "<|endoftext|>"));
        eos_ = bpe_id(special_content("eos_token", "<|endoftext|>"));
        add_bos_ = cfg.add_bos_token.value_or(false);
        add_prefix_space_ = cfg.add_prefix_space.value_or(false);
        clean_up_ = cfg.clean_up_tokenization_spaces.value_or(false);
    }

    std::vector<int64_t> encode(const std::string& text, bool add_bos) const override {
        std::vector<int64_t> ids;
        if (add_bos && add_bos_ && bos_ >= 0) ids.push_back(bos_);
        const std::string t = add_prefix_space_ ? " " + text : text;
        for (const auto& piece : splitter_.split(t)) {
            if (piece.id >= 0) {
                ids.push_back(piece.id);
                continue;
            }
            for (const auto& [b, e] : gpt2_split_regex().find_all(std::string_view(piece.text)))
                bpe_->tokenize(byte_level::encode(piece.text.substr(b, e - b)), ids);
        }
        return ids;
    }

    std::string decode(const std::vector<int64_t>& ids, bool skip_special) const override {
        // PreTrainedTokenizer._decode: byte-level runs, non-special added tokens kept apart
        // and joined with spaces (spaces_between_special_tokens=True).
        std::vector<std::string> sub_texts;
        std::string bytes;
        bool have_run = false;
        auto flush = [&] {
            if (!have_run) return;
            sub_texts.push_back(unicode::utf8_lossy(bytes));
            bytes.clear();
            have_run = false;
        };
        for (int64_t id : ids) {
            const bool special = is_special(id);
            if (skip_special && special) continue;
            const auto a = added_by_id_.find(id);
            if (a != added_by_id_.end() && !special) {
                flush();
                sub_texts.push_back(a->second);
                continue;
            }
            const std::string* tok = a != added_by_id_.end() ? &a->second : bpe_->id_to_token(id);
            if (!tok) continue;
            if (!byte_level::decode_token(*tok, bytes)) bytes += *tok;
            have_run = true;
        }
        flush();
        std::string out;
        for (std::size_t i = 0; i < sub_texts.size(); ++i) {
            if (i) out += ' ';
            out += sub_texts[i];
        }
        return clean_up_ ? clean_up_tokenization(out) : out;
    }

    int64_t bos_id() const override { return bos_; }
    int64_t eos_id() const override { return eos_; }
    int64_t vocab_size() const override { return encoder_size_ + added_not_in_vocab_; }
    std::string kind() const override { return "vocab.json + merges.txt (GPT-2 byte-level BPE)"; }

  private:
    const AddedToken* find_added(const std::string& content) const {
        for (const auto& t : splitter_.tokens())
            if (t.content == content) return &t;
        return nullptr;
    }
    int64_t bpe_id(const std::string& content) const {
        if (const AddedToken* a = find_added(content)) return a->id;
        return bpe_->token_to_id(content);
    }
    bool is_special(int64_t id) const {
        for (int64_t s : special_ids_)
            if (s == id) return true;
        return false;
    }

    std::unique_ptr<BpeModel> bpe_;
    SlowTokenSplitter splitter_;
    std::unordered_map<int64_t, std::string> added_by_id_;
    std::vector<int64_t> special_ids_;
    int64_t encoder_size_ = 0, added_not_in_vocab_ = 0;
    int64_t bos_ = -1, eos_ = -1;
    bool add_bos_ = false, add_prefix_space_ = false, clean_up_ = false;
};

}  // namespace

std::unique_ptr<Tokenizer> make_gpt2_files_tokenizer(const std::string& dir) {
    return std::make_unique<Gpt2FilesTokenizer>(dir);
}

}  // namespace qs::tok
