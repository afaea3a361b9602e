// tokenizer.json with a BPE model, encoded and decoded as transformers' PreTrainedTokenizerFast
// (over `tokenizers`) does: added tokens -> normalizer -> pre-tokenizer -> BPE -> post-processor.
#include <filesystem>
#include <unordered_set>

#include "core/error.h"
#include "tokenizers/added_vocabulary.h"
#include "tokenizers/bpe_model.h"
#include "tokenizers/decoders.h"
#include "tokenizers/hf_config.h"
#include "tokenizers/normalizers.h"
#include "tokenizers/pre_tokenizers.h"
#include "tokenizers/tokenizer_impls.h"
#include "tokenizers/unicode.h"

namespace qs::tok {

using nlohmann::json;

namespace {

struct Template {
    std::vector<int64_t> prefix, suffix;  // ids around the single sequence $A
};

void special_ids(const json& specials, const std::string& name, const std::string& source, std::vector<int64_t>& out) {
    if (!specials.is_object() || !specials.contains(name))
        throw Error(source + ": post_processor template uses '" + name + "', which is not in its special_tokens");
    const json& s = specials[name];
    if (!s.contains("ids") || !s["ids"].is_array())
        throw Error(source + ": post_processor special token '" + name + "' has no ids");
    for (const auto& id : s["ids"]) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0)
            throw Error(source + ": post_processor special token '" + name +
                        "' has an id that is not a token id: " + id.dump());
        out.push_back(id.get<int64_t>());
    }
}

// Adds what a post-processor puts around a single sequence.
void parse_post_processor(const json& j, const std::string& source, Template& t) {
    if (j.is_null()) return;
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
        throw Error(source + ": malformed post_processor");
    const std::string type = j["type"].get<std::string>();
    if (type == "ByteLevel") return;
    if (type == "Sequence") {
        if (!j.contains("processors") || !j["processors"].is_array())
            throw Error(source + ": Sequence post_processor without 'processors'");
        for (const auto& p : j["processors"]) parse_post_processor(p, source, t);
        return;
    }
    if (type == "TemplateProcessing") {
        if (!j.contains("single") || !j["single"].is_array())
            throw Error(source + ": TemplateProcessing without a 'single' template");
        const json specials = j.contains("special_tokens") ? j["special_tokens"] : json::object();
        Template mine;
        bool seen_a = false;
        for (const auto& item : j["single"]) {
            if (item.contains("Sequence")) {
                seen_a = true;
            } else if (item.contains("SpecialToken")) {
                const json& st = item["SpecialToken"];
                if (!st.is_object() || !st.contains("id") || !st["id"].is_string())
                    throw Error(source + ": TemplateProcessing SpecialToken without a string 'id'");
                const std::string name = st["id"].get<std::string>();
                special_ids(specials, name, source, seen_a ? mine.suffix : mine.prefix);
            } else {
                throw Error(source + ": unknown item in the TemplateProcessing template");
            }
        }
        t.prefix.insert(t.prefix.end(), mine.prefix.begin(), mine.prefix.end());
        t.suffix.insert(t.suffix.begin(), mine.suffix.begin(), mine.suffix.end());
        return;
    }
    if (type == "RobertaProcessing" || type == "BertProcessing") {
        if (!j.contains("cls") || !j.contains("sep") || !j["cls"].is_array() || !j["sep"].is_array() ||
            j["cls"].size() != 2 || j["sep"].size() != 2 || !j["cls"][1].is_number_integer() ||
            !j["sep"][1].is_number_integer() || j["cls"][1].get<int64_t>() < 0 || j["sep"][1].get<int64_t>() < 0)
            throw Error(source + ": " + type + " needs cls and sep as [token, id]");
        t.prefix.insert(t.prefix.begin(), j["cls"][1].get<int64_t>());
        t.suffix.push_back(j["sep"][1].get<int64_t>());
        return;
    }
    throw Error(
        source + ": post_processor type '" + type +
        "' is not supported (supported: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence)");
}

bool is_llama_like(const std::string& cls) {
    for (const char* c : {"LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer", "CodeLlamaTokenizerFast",
                          "GemmaTokenizer", "GemmaTokenizerFast"})
        if (cls == c) return true;
    return false;
}

class HfJsonTokenizer : public Tokenizer {
  public:
    // j: a tokenizer.json document; cfg: tokenizer_config.json + special_tokens_map.json;
    // source: where j came from (errors); kind: kind() when not empty.
    HfJsonTokenizer(const json& j, const HfTokenizerConfig& cfg, const std::string& source, const std::string& kind)
        : source_(source) {
        if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
            throw Error(source_ + ": no 'model' object (is this a Hugging Face tokenizer.json?)");
        load_model(j["model"]);
        normalizer_ = make_normalizer(j.value("normalizer", json()), source_);
        pre_ = make_pre_tokenizer(j.value("pre_tokenizer", json()), source_);
        decoder_ = make_decoder(j.value("decoder", json()), source_);
        parse_post_processor(j.value("post_processor", json()), source_, template_);

        if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
            for (size_t i = 0; i < j["added_tokens"].size(); ++i) {
                const json& a = j["added_tokens"][i];
                const std::string where = source_ + ": added_tokens[" + std::to_string(i) + "]";
                if (!a.is_object() || !a.contains("id") || !a.contains("content"))
                    throw Error(where + " is malformed (expected an object with 'id' and 'content')");
                if (!a["id"].is_number_integer() || a["id"].get<int64_t>() < 0 || a["id"].get<int64_t>() > kMaxTokenId)
                    throw Error(where + ": 'id' must be a token id (an integer in 0.." + std::to_string(kMaxTokenId) +
                                "), found " + a["id"].dump());
                if (!a["content"].is_string())
                    throw Error(where + ": 'content' must be a string, found " + a["content"].dump());
                auto flag = [&](const char* k, bool def) {
                    if (!a.contains(k) || a[k].is_null()) return def;
                    if (!a[k].is_boolean())
                        throw Error(where + ": '" + k + "' must be true or false, found " + a[k].dump());
                    return a[k].get<bool>();
                };
                AddedToken t;
                t.id = a["id"].get<int64_t>();
                t.content = a["content"].get<std::string>();
                t.special = flag("special", false);
                t.lstrip = flag("lstrip", false);
                t.rstrip = flag("rstrip", false);
                t.single_word = flag("single_word", false);
                t.normalized = flag("normalized", !t.special);
                added_.add(t);
            }
        }

        // transformers' layer: special tokens named in tokenizer_config.json /
        // special_tokens_map.json become (special) added tokens if they are not already.
        int64_t next_id = next_free_id();
        for (const auto& [id_hint, tok] : config_tokens(cfg)) {
            if (added_.find_content(tok.content)) continue;
            AddedToken t = tok;
            t.id = id_hint >= 0 ? id_hint : bpe_->token_to_id(t.content);
            if (t.id < 0) t.id = next_id++;
            added_.add(t);
        }
        added_.build(normalizer_.get());

        if (is_llama_like(cfg.tokenizer_class)) {
            // LlamaTokenizerFast.update_post_processor(): bos/eos from add_bos_token/add_eos_token.
            template_ = Template{};
            if (cfg.add_bos_token.value_or(true))
                if (const AddedToken* b = cfg.get("bos_token")) push_id(b->content, template_.prefix);
            if (cfg.add_eos_token.value_or(false))
                if (const AddedToken* e = cfg.get("eos_token")) push_id(e->content, template_.suffix);
        }
        // What the post-processor adds must be a token of this vocabulary (a BOS id outside it
        // would reach the model as an out-of-range index).
        for (const auto* ids : {&template_.prefix, &template_.suffix})
            for (int64_t id : *ids)
                if (!bpe_->id_to_token(id) && !added_.find_id(id))
                    throw Error(source_ + ": post_processor adds token id " + std::to_string(id) +
                                ", which is not in the vocabulary (" + std::to_string(bpe_->max_id() + 1) + " ids)");
        clean_up_ = cfg.clean_up_tokenization_spaces.value_or(false);
        if (const AddedToken* b = cfg.get("bos_token"))
            bos_ = id_of(b->content);
        else if (!template_.prefix.empty())
            bos_ = template_.prefix.front();
        if (const AddedToken* e = cfg.get("eos_token")) eos_ = id_of(e->content);

        std::unordered_set<std::string> contents;
        for (int64_t i = 0; i <= bpe_->max_id(); ++i)
            if (const std::string* s = bpe_->id_to_token(i)) contents.insert(*s);
        for (const auto& t : added_.tokens()) contents.insert(t.content);
        vocab_size_ = static_cast<int64_t>(contents.size());

        const bool byte_level = (pre_ && pre_->byte_level()) ||
                                j.value("decoder", json()).dump().find("\"ByteLevel\"") != std::string::npos;
        kind_ = !kind.empty() ? kind
                : byte_level
                    ? "tokenizer.json (BPE, byte-level)"
                    : (bpe_->config().byte_fallback ||
                               j.value("normalizer", json()).dump().find("\xE2\x96\x81") != std::string::npos ||
                               j.value("pre_tokenizer", json()).dump().find("Metaspace") != std::string::npos
                           ? "tokenizer.json (BPE, SentencePiece-style)"
                           : "tokenizer.json (BPE)");
    }

    std::vector<int64_t> encode(const std::string& text, bool add_bos) const override {
        std::vector<int64_t> ids;
        if (add_bos) ids = template_.prefix;
        const std::u32string u = unicode::utf8_to_u32(text);
        std::vector<TextSegment> segs = added_.extract_and_normalize(u, normalizer_.get());
        std::vector<PreSplit> splits;
        for (auto& seg : segs) {
            if (seg.id >= 0) {
                ids.push_back(seg.id);
                continue;
            }
            splits.clear();
            splits.push_back({std::move(seg.text), seg.at_origin});
            if (pre_) pre_->pre_tokenize(splits);
            for (const auto& s : splits) bpe_->tokenize(unicode::u32_to_utf8(s.text), ids);
        }
        if (add_bos) ids.insert(ids.end(), template_.suffix.begin(), template_.suffix.end());
        return ids;
    }

    std::string decode(const std::vector<int64_t>& ids, bool skip_special) const override {
        std::vector<std::string> tokens;
        tokens.reserve(ids.size());
        for (int64_t id : ids) {
            const std::string* s = nullptr;
            if (const AddedToken* a = added_.find_id(id))
                s = &a->content;
            else
                s = bpe_->id_to_token(id);
            if (!s) continue;
            if (skip_special) {
                const AddedToken* a = added_.find_content(*s);
                if (a && a->special) continue;
            }
            tokens.push_back(*s);
        }
        std::string out;
        if (decoder_) {
            decoder_->decode_chain(tokens);
            for (const auto& t : tokens) out += t;
        } else {
            for (std::size_t i = 0; i < tokens.size(); ++i) {
                if (i) out += ' ';
                out += tokens[i];
            }
        }
        return clean_up_ ? clean_up_tokenization(out) : out;
    }

    int64_t bos_id() const override { return bos_; }
    int64_t eos_id() const override { return eos_; }
    int64_t vocab_size() const override { return vocab_size_; }
    std::string kind() const override { return kind_; }

  private:
    void load_model(const json& m) {
        const std::string type = m.value("type", std::string(m.contains("merges") ? "BPE" : ""));
        if (type != "BPE")
            throw Error(source_ + ": model type '" + type + "' is not supported (only BPE tokenizer.json models)");
        if (!m.contains("vocab") || !m["vocab"].is_object())
            throw Error(source_ + ": BPE model without a 'vocab' object");
        std::unordered_map<std::string, int64_t> vocab;
        vocab.reserve(m["vocab"].size());
        for (const auto& kv : m["vocab"].items()) {
            if (!kv.value().is_number_integer())
                throw Error(source_ + ": vocab entry '" + kv.key() + "' has no integer id");
            vocab.emplace(kv.key(), kv.value().get<int64_t>());
        }
        std::vector<std::pair<std::string, std::string>> merges;
        if (m.contains("merges") && m["merges"].is_array()) {
            merges.reserve(m["merges"].size());
            for (const auto& mg : m["merges"]) {
                if (mg.is_string()) {
                    const std::string s = mg.get<std::string>();
                    const std::size_t sp = s.find(' ');
                    if (sp == std::string::npos) throw Error(source_ + ": merge '" + s + "' is not 'a b'");
                    merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
                } else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) {
                    merges.emplace_back(mg[0].get<std::string>(), mg[1].get<std::string>());
                } else {
                    throw Error(source_ + ": malformed merge " + mg.dump());
                }
            }
        }
        BpeConfig c;
        auto str = [&](const char* k) {
            return m.contains(k) && m[k].is_string() ? m[k].get<std::string>() : std::string();
        };
        auto flag = [&](const char* k) { return m.contains(k) && m[k].is_boolean() && m[k].get<bool>(); };
        c.unk_token = str("unk_token");
        c.fuse_unk = flag("fuse_unk");
        c.byte_fallback = flag("byte_fallback");
        c.ignore_merges = flag("ignore_merges");
        c.continuing_subword_prefix = str("continuing_subword_prefix");
        c.end_of_word_suffix = str("end_of_word_suffix");
        bpe_ = std::make_unique<BpeModel>(std::move(vocab), merges, c, source_);
    }

    int64_t next_free_id() const {
        int64_t m = bpe_->max_id();
        for (const auto& t : added_.tokens()) m = std::max(m, t.id);
        return m + 1;
    }

    // Tokens transformers adds from the config: added_tokens_decoder (with ids), then the
    // named special tokens.
    static std::vector<std::pair<int64_t, AddedToken>> config_tokens(const HfTokenizerConfig& cfg) {
        std::vector<std::pair<int64_t, AddedToken>> out;
        for (const auto& t : cfg.added_tokens_decoder) out.push_back({t.id, t});
        for (auto t : cfg.all_special()) {
            t.special = true;
            out.push_back({-1, t});
        }
        return out;
    }

    int64_t id_of(const std::string& content) const {
        if (const AddedToken* a = added_.find_content(content)) return a->id;
        return bpe_->token_to_id(content);
    }
    void push_id(const std::string& content, std::vector<int64_t>& v) const {
        const int64_t id = id_of(content);
        if (id >= 0) v.push_back(id);
    }

    std::string source_;
    std::unique_ptr<BpeModel> bpe_;
    std::unique_ptr<Normalizer> normalizer_;
    std::unique_ptr<PreTokenizer> pre_;
    std::unique_ptr<Decoder> decoder_;
    AddedVocabulary added_;
    Template template_;
    bool clean_up_ = false;
    int64_t bos_ = -1, eos_ = -1, vocab_size_ = 0;
    std::string kind_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_hf_json_tokenizer(const std::string& dir) {
    const std::string source = (std::filesystem::path(dir) / "tokenizer.json").string();
    return std::make_unique<HfJsonTokenizer>(read_json_file(source), read_hf_config(dir), source, "");
}

std::unique_ptr<Tokenizer> make_hf_json_tokenizer(const nlohmann::json& tokenizer_json, const HfTokenizerConfig& cfg,
                                                  const std::string& source, const std::string& kind) {
    return std::make_unique<HfJsonTokenizer>(tokenizer_json, cfg, source, kind);
}

}  // namespace qs::tok
