// tokenizer.model (SentencePiece) through libquantscope_spm, loaded with dlopen(RTLD_LOCAL |
// RTLD_DEEPBIND) so that sentencepiece's bundled protobuf never meets libtorch's (docs/notes.md §3).
// Encoding and decoding follow transformers' slow LlamaTokenizer (legacy=True), as llm-awq
// uses it: split on <s>, </s>, <unk>, SentencePiece on each piece, BOS from add_bos_token.
#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "core/error.h"
#include "core/resources.h"
#include "tokenizers/added_vocabulary.h"
#include "tokenizers/decoders.h"
#include "tokenizers/hf_config.h"
#include "tokenizers/spm_shim/spm_api.h"
#include "tokenizers/tokenizer_impls.h"

namespace qs::tok {

namespace {

constexpr const char* kShimName = "libquantscope_spm.so";

// RTLD_DEEPBIND keeps sentencepiece bound to its own protobuf. AddressSanitizer refuses
// DEEPBIND, so ASan builds (fuzzers) load it without; such a build that also holds libtorch's
// protobuf may then meet the clash of docs/notes.md §3.
#if defined(__SANITIZE_ADDRESS__)
#define QS_SPM_NO_DEEPBIND 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QS_SPM_NO_DEEPBIND 1
#endif
#endif
#ifdef QS_SPM_NO_DEEPBIND
constexpr int kDlopenFlags = RTLD_NOW | RTLD_LOCAL;
#else
constexpr int kDlopenFlags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#endif

struct ShimApi {
    int (*abi_version)(void);
    qs_spm* (*load)(const char*, qs_spm_bytes_sink, void*);
    qs_spm* (*load_serialized)(const char*, size_t, qs_spm_bytes_sink, void*);
    void (*free_)(qs_spm*);
    int32_t (*piece_size)(const qs_spm*);
    int32_t (*special_id)(const qs_spm*, int);
    int32_t (*piece_to_id)(const qs_spm*, const char*, size_t);
    int (*piece_type)(const qs_spm*, int32_t);
    int (*id_to_piece)(const qs_spm*, int32_t, qs_spm_bytes_sink, void*);
    int (*encode)(const qs_spm*, const char*, size_t, qs_spm_ids_sink, void*, qs_spm_bytes_sink, void*);
    int (*decode_pieces)(const qs_spm*, const char* const*, const size_t*, size_t, qs_spm_bytes_sink, void*);
    int (*decode_ids)(const qs_spm*, const int32_t*, size_t, qs_spm_bytes_sink, void*);
};

void append_bytes(void* ctx, const char* data, size_t n) { static_cast<std::string*>(ctx)->append(data, n); }
void append_ids(void* ctx, const int32_t* ids, size_t n) {
    auto* v = static_cast<std::vector<int64_t>*>(ctx);
    v->insert(v->end(), ids, ids + n);
}

// The library is loaded once per process and never unloaded.
const ShimApi& shim() {
    static std::mutex mu;
    static ShimApi api{};
    static bool loaded = false;
    std::lock_guard<std::mutex> lock(mu);
    if (loaded) return api;
    std::string tried;
    void* h = nullptr;
    for (const std::string& path : sentencepiece_shim_candidates()) {
        if (!std::filesystem::exists(path)) {
            tried += "\n  " + path + " (not found)";
            continue;
        }
        h = dlopen(path.c_str(), kDlopenFlags);
        if (h) break;
        const char* e = dlerror();
        tried += "\n  " + path + " (" + (e ? e : "dlopen failed") + ")";
    }
    if (!h)
        throw Error(std::string("cannot load ") + kShimName +
                    ", which QuantScope needs to read SentencePiece tokenizer.model files (set QUANTSCOPE_SPM_LIB "
                    "to its path); tried:" +
                    tried);
    auto sym = [&](const char* name) {
        void* p = dlsym(h, name);
        if (!p) throw Error(std::string(kShimName) + " has no symbol " + name + " (mismatched build?)");
        return p;
    };
    ShimApi a{};
    a.abi_version = reinterpret_cast<int (*)(void)>(sym("qs_spm_abi_version"));
    if (a.abi_version() != QS_SPM_ABI_VERSION)
        throw Error(std::string(kShimName) + " has ABI version " + std::to_string(a.abi_version()) + ", expected " +
                    std::to_string(QS_SPM_ABI_VERSION));
    a.load = reinterpret_cast<decltype(a.load)>(sym("qs_spm_load"));
    a.load_serialized = reinterpret_cast<decltype(a.load_serialized)>(sym("qs_spm_load_serialized"));
    a.free_ = reinterpret_cast<decltype(a.free_)>(sym("qs_spm_free"));
    a.piece_size = reinterpret_cast<decltype(a.piece_size)>(sym("qs_spm_piece_size"));
    a.special_id = reinterpret_cast<decltype(a.special_id)>(sym("qs_spm_special_id"));
    a.piece_to_id = reinterpret_cast<decltype(a.piece_to_id)>(sym("qs_spm_piece_to_id"));
    a.piece_type = reinterpret_cast<decltype(a.piece_type)>(sym("qs_spm_piece_type"));
    a.id_to_piece = reinterpret_cast<decltype(a.id_to_piece)>(sym("qs_spm_id_to_piece"));
    a.encode = reinterpret_cast<decltype(a.encode)>(sym("qs_spm_encode"));
    a.decode_pieces = reinterpret_cast<decltype(a.decode_pieces)>(sym("qs_spm_decode_pieces"));
    a.decode_ids = reinterpret_cast<decltype(a.decode_ids)>(sym("qs_spm_decode_ids"));
    api = a;
    loaded = true;
    return api;
}

class SentencePieceTokenizer : public Tokenizer {
  public:
    // sp: a model loaded through the shim (owned from here on); cfg plays tokenizer_config.json;
    // source names the model in errors.
    // decoder: when set, decode() runs it over the pieces as transformers' LlamaTokenizerFast
    // does (a converted tokenizer, e.g. from GGUF); otherwise the slow LlamaTokenizer's decode.
    SentencePieceTokenizer(qs_spm* sp, const HfTokenizerConfig& cfg, const std::string& source, const std::string& kind,
                           std::unique_ptr<Decoder> decoder = nullptr)
        : api_(shim()), sp_(sp), path_(source), kind_(kind), decoder_(std::move(decoder)) {
        const int32_t n = api_.piece_size(sp_);
        pieces_.resize(static_cast<std::size_t>(n));
        for (int32_t i = 0; i < n; ++i) api_.id_to_piece(sp_, i, append_bytes, &pieces_[static_cast<std::size_t>(i)]);
        bos_ = api_.special_id(sp_, QS_SPM_BOS);
        eos_ = api_.special_id(sp_, QS_SPM_EOS);

        add_bos_ = cfg.add_bos_token.value_or(true);
        add_eos_ = cfg.add_eos_token.value_or(false);
        add_prefix_space_ = cfg.add_prefix_space.value_or(true);
        legacy_ = cfg.legacy.value_or(true);
        clean_up_ = cfg.clean_up_tokenization_spaces.value_or(false);
        // LlamaTokenizer's special tokens (defaults <unk>, <s>, </s>; pad none).
        std::vector<AddedToken> specials;
        auto named = [&](const char* key, const char* dflt) {
            AddedToken t;
            if (const AddedToken* c = cfg.get(key))
                t = *c;
            else if (dflt)
                t.content = dflt;
            else
                return;
            t.special = true;
            specials.push_back(t);
        };
        named("unk_token", "<unk>");
        named("bos_token", "<s>");
        named("eos_token", "</s>");
        named("pad_token", nullptr);
        for (auto t : cfg.additional_special) {
            t.special = true;
            specials.push_back(t);
        }
        for (auto t : cfg.added_tokens_decoder) splitter_.add(t);
        int64_t next_id = n;
        for (auto& t : specials) {
            const int32_t id = api_.piece_to_id(sp_, t.content.data(), t.content.size());
            const int32_t unk = api_.special_id(sp_, QS_SPM_UNK);
            t.id = (id >= 0 && (id != unk || t.content == pieces_[static_cast<std::size_t>(unk)])) ? id : next_id++;
            splitter_.add(t);
        }
        for (const auto& t : splitter_.tokens()) {
            if (t.special) special_contents_.push_back(t.content);
            if (t.special) special_ids_.push_back(t.id);
            if (t.id >= n) {
                extra_[t.id] = t.content;
                ++added_not_in_vocab_;
            }
        }
        if (const AddedToken* b = cfg.get("bos_token")) bos_ = id_of(b->content);
        if (const AddedToken* e = cfg.get("eos_token")) eos_ = id_of(e->content);
        can_cut_ = cut_is_exact();
    }
    ~SentencePieceTokenizer() override {
        if (sp_) api_.free_(sp_);
    }

    std::vector<int64_t> encode(const std::string& text, bool add_bos) const override {
        std::vector<int64_t> ids;
        if (add_bos && add_bos_ && bos_ >= 0) ids.push_back(bos_);
        for (const auto& piece : splitter_.split(text)) {
            if (piece.id >= 0) {
                ids.push_back(piece.id);
                continue;
            }
            if (can_cut_ && piece.text.size() > kLongText)
                encode_long(piece.text, ids);
            else
                encode_piece(piece.text, ids);
        }
        if (add_bos && add_eos_ && eos_ >= 0) ids.push_back(eos_);
        return ids;
    }

    // LlamaTokenizer: convert_ids_to_tokens (skipping special ids) + convert_tokens_to_string.
    std::string decode(const std::vector<int64_t>& ids, bool skip_special) const override {
        if (decoder_) return decode_fast(ids, skip_special);
        std::vector<std::string> tokens;
        tokens.reserve(ids.size());
        for (int64_t id : ids) {
            if (skip_special && is_special_id(id)) continue;
            const auto x = extra_.find(id);
            if (x != extra_.end()) {
                tokens.push_back(x->second);
                continue;
            }
            if (id < 0 || id >= static_cast<int64_t>(pieces_.size())) continue;
            tokens.push_back(pieces_[static_cast<std::size_t>(id)]);
        }
        if (tokens.empty()) return std::string();
        static const std::string kSpace = "\xE2\x96\x81";
        if (add_prefix_space_ && tokens[0].compare(0, kSpace.size(), kSpace) == 0) tokens[0].erase(0, kSpace.size());
        std::string out;
        std::vector<std::string> current;
        bool prev_special = false;
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            const std::string& t = tokens[i];
            if (is_special_content(t)) {
                if (!prev_special && i != 0 && legacy_) out += ' ';
                out += decode_pieces(current) + t;
                prev_special = true;
                current.clear();
            } else {
                if (prev_special && i == 1 && add_prefix_space_ && t.compare(0, kSpace.size(), kSpace) != 0) out += ' ';
                current.push_back(t);
                prev_special = false;
            }
        }
        out += decode_pieces(current);
        return clean_up_ ? clean_up_tokenization(out) : out;
    }

    int64_t bos_id() const override { return bos_; }
    int64_t eos_id() const override { return eos_; }
    int64_t vocab_size() const override { return static_cast<int64_t>(pieces_.size()) + added_not_in_vocab_; }
    std::string kind() const override { return kind_; }

  private:
    std::string decode_fast(const std::vector<int64_t>& ids, bool skip_special) const {
        std::vector<std::string> tokens;
        for (int64_t id : ids) {
            if (skip_special && is_special_id(id)) continue;
            const auto x = extra_.find(id);
            if (x != extra_.end())
                tokens.push_back(x->second);
            else if (id >= 0 && id < static_cast<int64_t>(pieces_.size()))
                tokens.push_back(pieces_[static_cast<std::size_t>(id)]);
        }
        decoder_->decode_chain(tokens);
        std::string out;
        for (const auto& t : tokens) out += t;
        return clean_up_ ? clean_up_tokenization(out) : out;
    }

    static constexpr std::size_t kLongText = 16384;
    static constexpr std::size_t kChunk = 4096;

    void encode_piece(std::string_view text, std::vector<int64_t>& ids) const {
        std::string err;
        if (api_.encode(sp_, text.data(), text.size(), append_ids, &ids, append_bytes, &err) != 0)
            throw Error(path_ + ": SentencePiece failed to encode: " + err);
    }

    // SentencePiece 0.1.x's BPE slows down quadratically on long inputs (a whole wikitext is
    // 13 s). A long text is cut at "x y" (a single space between ASCII letters/digits): the
    // right part drops its space, which the model's dummy prefix gives back as "▁". Exact when
    // no piece has "▁" after its start (checked at load with cut_is_exact()).
    void encode_long(const std::string& t, std::vector<int64_t>& ids) const {
        auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
        std::size_t begin = 0;
        while (begin < t.size()) {
            std::size_t cut = t.size(), next = t.size();
            if (t.size() - begin > kLongText) {
                for (std::size_t i = begin + kChunk; i + 1 < t.size(); ++i) {
                    if (t[i] == ' ' && alnum(t[i - 1]) && alnum(t[i + 1])) {
                        cut = i;
                        next = i + 1;
                        break;
                    }
                }
            }
            encode_piece(std::string_view(t).substr(begin, cut - begin), ids);
            begin = next;
        }
    }

    bool cut_is_exact() const {
        static const std::string kSpace = "\xE2\x96\x81";
        for (const auto& p : pieces_) {
            std::size_t k = 0;
            while (p.compare(k, kSpace.size(), kSpace) == 0) k += kSpace.size();
            if (p.find(kSpace, k) != std::string::npos) return false;  // "▁" inside a piece
        }
        for (const char* probe : {"hello world", "The 2 cats", "a b"}) {
            const std::string s = probe;
            std::vector<int64_t> whole, parts;
            encode_piece(s, whole);
            const std::size_t sp = s.find(' ');
            encode_piece(std::string_view(s).substr(0, sp), parts);
            encode_piece(std::string_view(s).substr(sp + 1), parts);
            if (whole != parts) return false;
        }
        return true;
    }

    std::string decode_pieces(const std::vector<std::string>& p) const {
        if (p.empty()) return std::string();
        std::vector<const char*> ptrs;
        std::vector<size_t> lens;
        for (const auto& s : p) {
            ptrs.push_back(s.data());
            lens.push_back(s.size());
        }
        std::string out;
        if (api_.decode_pieces(sp_, ptrs.data(), lens.data(), p.size(), append_bytes, &out) != 0)
            throw Error(path_ + ": SentencePiece failed to decode");
        return out;
    }
    bool is_special_id(int64_t id) const {
        for (int64_t s : special_ids_)
            if (s == id) return true;
        return false;
    }
    bool is_special_content(const std::string& t) const {
        for (const auto& s : special_contents_)
            if (s == t) return true;
        return false;
    }
    int64_t id_of(const std::string& content) const {
        for (const auto& t : splitter_.tokens())
            if (t.content == content) return t.id;
        return api_.piece_to_id(sp_, content.data(), content.size());
    }

    const ShimApi& api_;
    qs_spm* sp_ = nullptr;
    std::string path_, kind_;
    std::unique_ptr<Decoder> decoder_;
    std::vector<std::string> pieces_;
    SlowTokenSplitter splitter_;
    std::vector<std::string> special_contents_;
    std::vector<int64_t> special_ids_;
    std::unordered_map<int64_t, std::string> extra_;
    int64_t added_not_in_vocab_ = 0;
    int64_t bos_ = -1, eos_ = -1;
    bool add_bos_ = true, add_eos_ = false, add_prefix_space_ = true, legacy_ = true, clean_up_ = false;
    bool can_cut_ = false;
};

}  // namespace

std::vector<std::string> sentencepiece_shim_candidates() {
    namespace fs = std::filesystem;
    std::vector<std::string> out;
    if (const char* env = std::getenv("QUANTSCOPE_SPM_LIB"); env && *env) out.emplace_back(env);
    const fs::path exe = executable_dir();
    if (!exe.empty()) {
        out.push_back((exe / ".." / "lib" / kShimName).lexically_normal().string());
        out.push_back((exe / ".." / "lib" / "quantscope" / kShimName).lexically_normal().string());
#ifdef QS_SPM_INSTALL_LIBDIR
        const std::string p =
            (exe / ".." / QS_SPM_INSTALL_LIBDIR / "quantscope" / kShimName).lexically_normal().string();
        if (p != out.back()) out.push_back(p);
#endif
    }
    return out;
}

std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(const std::string& dir) {
    const std::string path = (std::filesystem::path(dir) / "tokenizer.model").string();
    std::string err;
    qs_spm* sp = shim().load(path.c_str(), append_bytes, &err);
    if (!sp) throw Error(path + ": SentencePiece cannot load it: " + err);
    return std::make_unique<SentencePieceTokenizer>(sp, read_hf_config(dir), path,
                                                    "tokenizer.model (SentencePiece, via libquantscope_spm)");
}

std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(const std::string& serialized_model_proto,
                                                        const HfTokenizerConfig& cfg, const std::string& source,
                                                        const std::string& kind, const nlohmann::json& decoder) {
    std::unique_ptr<Decoder> dec = decoder.is_null() ? nullptr : make_decoder(decoder, source);
    std::string err;
    qs_spm* sp =
        shim().load_serialized(serialized_model_proto.data(), serialized_model_proto.size(), append_bytes, &err);
    if (!sp) throw Error(source + ": SentencePiece cannot load the vocabulary: " + err);
    return std::make_unique<SentencePieceTokenizer>(sp, cfg, source, kind, std::move(dec));
}

}  // namespace qs::tok
