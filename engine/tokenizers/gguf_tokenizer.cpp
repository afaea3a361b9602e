// The tokenizer inside a GGUF file (tokenizer.ggml.* metadata), rebuilt as the Hugging Face
// tokenizer it was converted from, then run by the existing implementations:
//  - "gpt2" (byte-level BPE): a tokenizer.json document (vocab, merges, the pre-tokenizer the
//    original model uses for llama.cpp's tokenizer.ggml.pre type, CONTROL / USER_DEFINED tokens
//    as added tokens) -> make_hf_json_tokenizer.
//  - "llama" (SentencePiece BPE with scores): a serialized SentencePiece ModelProto (pieces,
//    scores, types; identity normalizer with the file's add_space_prefix) -> the SentencePiece
//    shim, as transformers' slow LlamaTokenizer.
// BOS / EOS ids and add_bos_token / add_eos_token come from the file, with llama.cpp's defaults.
#include <cstring>

#include "core/error.h"
#include "io/gguf.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/tokenizer_impls.h"

namespace qs::tok {

using nlohmann::json;

namespace {

constexpr size_t kMaxGgufVocab = size_t(1) << 22;  // tokens and merges

// llama.cpp's token types (llama_token_type).
enum TokenType : int64_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// The pre-tokenizers of the Hugging Face tokenizer.json files behind llama.cpp's pre types.
// Regexes as in tokenizer.json of Meta-Llama-3 and Qwen2 (llama.cpp's llama-vocab.cpp has
// the same expressions).
const char* const kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";
const char* const kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";

struct PreType {
    json normalizer, pre_tokenizer;
    bool ignore_merges = false;
    bool add_bos = false;      // llama.cpp's default when the file has no add_bos_token
    bool clean_spaces = true;  // llama.cpp's clean_spaces = transformers' clean_up_tokenization_spaces
};

json byte_level(bool use_regex) {
    return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}
json split_then_byte_level(const char* pattern) {
    return {{"type", "Sequence"},
            {"pretokenizers",
             json::array(
                 {{{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
                  byte_level(false)})}};
}

const char* const kSupportedPre =
    "gpt-2, phi-2, smollm, starcoder, llama-bpe (llama3, llama-v3), qwen2, deepseek-r1-qwen";

PreType pre_type(const std::string& pre, const std::string& path) {
    PreType t;
    if (pre == "gpt-2" || pre == "phi-2") {
        t.pre_tokenizer = byte_level(true);
    } else if (pre == "smollm" || pre == "starcoder") {
        // HuggingFaceTB/SmolLM*, bigcode/starcoder: single digits, then GPT-2's split.
        t.pre_tokenizer = {
            {"type", "Sequence"},
            {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)})}};
        t.clean_spaces = false;
    } else if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3") {
        t.pre_tokenizer = split_then_byte_level(kLlama3Pattern);
        t.ignore_merges = true;
        t.add_bos = true;
    } else if (pre == "qwen2" || pre == "deepseek-r1-qwen") {
        t.normalizer = {{"type", "NFC"}};
        t.pre_tokenizer = split_then_byte_level(kQwen2Pattern);
        t.clean_spaces = false;
    } else {
        throw Error(path + ": tokenizer.ggml.pre '" + pre + "' is not supported (supported: " + kSupportedPre + ")");
    }
    return t;
}

struct Vocab {
    const std::vector<std::string>* tokens = nullptr;
    std::vector<int64_t> types;  // NORMAL when the file has none
    std::vector<double> scores;  // empty when the file has none
    int64_t bos = -1, eos = -1, unk = -1, pad = -1;
};

Vocab read_vocab(const GgufFile& f) {
    Vocab v;
    const GgufValue* tokens = f.get_array("tokenizer.ggml.tokens", GgufValueType::STRING);
    if (!tokens || tokens->strs.empty())
        throw Error(f.path() + ": metadata 'tokenizer.ggml.tokens' is missing or empty");
    v.tokens = &tokens->strs;
    const size_t n = tokens->strs.size();
    // The vocabulary becomes a JSON object or a SentencePiece model (many times its size in
    // memory): refuse what no model has before building it.
    if (n > kMaxGgufVocab)
        throw Error(f.path() + ": tokenizer.ggml.tokens holds " + std::to_string(n) + " tokens, more than the " +
                    std::to_string(kMaxGgufVocab) + " QuantScope accepts (the largest vocabularies have about 260k)");
    if (const GgufValue* t = f.get_array("tokenizer.ggml.token_type", GgufValueType::I32)) {
        if (t->ints.size() != n)
            throw Error(f.path() + ": tokenizer.ggml.token_type has " + std::to_string(t->ints.size()) +
                        " entries for " + std::to_string(n) + " tokens");
        v.types = t->ints;
    } else {
        v.types.assign(n, kNormal);
    }
    if (const GgufValue* s = f.get_array("tokenizer.ggml.scores", GgufValueType::F32)) {
        if (s->floats.size() != n)
            throw Error(f.path() + ": tokenizer.ggml.scores has " + std::to_string(s->floats.size()) + " entries for " +
                        std::to_string(n) + " tokens");
        v.scores = s->floats;
    }
    auto id = [&](const char* key) -> int64_t {
        const auto x = f.get_int(key);
        if (!x) return -1;
        if (*x < 0 || *x >= static_cast<int64_t>(n))
            throw Error(f.path() + ": metadata '" + key + "' is " + std::to_string(*x) +
                        ", outside the vocabulary of " + std::to_string(n) + " tokens");
        return *x;
    };
    v.bos = id("tokenizer.ggml.bos_token_id");
    v.eos = id("tokenizer.ggml.eos_token_id");
    v.unk = id("tokenizer.ggml.unknown_token_id");
    v.pad = id("tokenizer.ggml.padding_token_id");
    return v;
}

void set_special(HfTokenizerConfig& cfg, const char* key, const Vocab& v, int64_t id) {
    if (id < 0) return;
    AddedToken t;
    t.content = (*v.tokens)[static_cast<size_t>(id)];
    t.id = id;
    t.special = true;
    cfg.special[key] = t;
}

// What a Hugging Face folder would hold for this vocabulary: tokenizer.json (+ the
// tokenizer_config.json side as HfTokenizerConfig), or tokenizer.model.
struct Converted {
    json tokenizer_json;      // gpt2
    std::string model_proto;  // llama: a serialized SentencePiece ModelProto
    json spm_decoder;         // llama: LlamaTokenizerFast's decoder
    HfTokenizerConfig cfg;
    json config_json;  // tokenizer_config.json
    std::string kind;
};

Converted convert_gpt2(const GgufFile& f, const Vocab& v) {
    const std::string pre_name = f.get_string("tokenizer.ggml.pre").value_or("");
    if (pre_name.empty())
        throw Error(f.path() +
                    ": has no tokenizer.ggml.pre, so the pre-tokenizer of its BPE vocabulary is unknown "
                    "(supported: " +
                    std::string(kSupportedPre) + ")");
    const PreType pt = pre_type(pre_name, f.path());
    const GgufValue* merges = f.get_array("tokenizer.ggml.merges", GgufValueType::STRING);
    if (!merges)
        throw Error(f.path() + ": metadata 'tokenizer.ggml.merges' is missing (needed by a gpt2 BPE tokenizer)");
    if (merges->strs.size() > kMaxGgufVocab)
        throw Error(f.path() + ": tokenizer.ggml.merges holds " + std::to_string(merges->strs.size()) +
                    " merges, more than the " + std::to_string(kMaxGgufVocab) + " QuantScope accepts");

    json vocab = json::object();
    json added = json::array();
    for (size_t i = 0; i < v.tokens->size(); ++i) {
        const std::string& tok = (*v.tokens)[i];
        vocab[tok] = i;  // a duplicate keeps its last id, as transformers' GGUF converter does
        if (v.types[i] == kControl || v.types[i] == kUserDefined)
            added.push_back({{"id", i},
                             {"content", tok},
                             {"special", v.types[i] == kControl},
                             {"lstrip", false},
                             {"rstrip", false},
                             {"single_word", false},
                             {"normalized", false}});
    }
    const bool add_bos = f.get_bool("tokenizer.ggml.add_bos_token").value_or(pt.add_bos);
    const bool add_eos = f.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
    json single = json::array(), specials = json::object();
    auto special_item = [&](int64_t id) {
        const std::string& tok = (*v.tokens)[static_cast<size_t>(id)];
        single.push_back({{"SpecialToken", {{"id", tok}, {"type_id", 0}}}});
        specials[tok] = {{"id", tok}, {"ids", json::array({id})}, {"tokens", json::array({tok})}};
    };
    if (add_bos && v.bos >= 0) special_item(v.bos);
    single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
    if (add_eos && v.eos >= 0) special_item(v.eos);
    json j = {{"model",
               {{"type", "BPE"},
                {"vocab", std::move(vocab)},
                {"merges", merges->strs},
                {"ignore_merges", pt.ignore_merges},
                {"byte_fallback", false}}},
              {"normalizer", pt.normalizer},
              {"pre_tokenizer", pt.pre_tokenizer},
              {"decoder", {{"type", "ByteLevel"}}},
              {"post_processor", {{"type", "TemplateProcessing"}, {"single", single}, {"special_tokens", specials}}},
              {"added_tokens", added}};
    Converted c;
    set_special(c.cfg, "bos_token", v, v.bos);
    set_special(c.cfg, "eos_token", v, v.eos);
    c.cfg.clean_up_tokenization_spaces = pt.clean_spaces;
    c.config_json = {{"tokenizer_class", "PreTrainedTokenizerFast"}, {"clean_up_tokenization_spaces", pt.clean_spaces}};
    if (v.bos >= 0) c.config_json["bos_token"] = (*v.tokens)[static_cast<size_t>(v.bos)];
    if (v.eos >= 0) c.config_json["eos_token"] = (*v.tokens)[static_cast<size_t>(v.eos)];
    c.tokenizer_json = std::move(j);
    c.kind = "GGUF gpt2 (byte-level BPE, pre-tokenizer " + pre_name + ")";
    return c;
}

// A minimal protobuf writer for SentencePiece's ModelProto (sentencepiece_model.proto).
class Proto {
  public:
    std::string out;
    void varint(uint64_t v) {
        while (v >= 0x80) {
            out.push_back(static_cast<char>((v & 0x7F) | 0x80));
            v >>= 7;
        }
        out.push_back(static_cast<char>(v));
    }
    void tag(int field, int wire) { varint(static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire)); }
    void int_field(int field, int64_t v) {  // int32 / enum / bool (negatives as 10-byte varints)
        tag(field, 0);
        varint(static_cast<uint64_t>(v));
    }
    void bytes_field(int field, const std::string& s) {
        tag(field, 2);
        varint(s.size());
        out += s;
    }
    void float_field(int field, float f) {
        tag(field, 5);
        char b[4];
        std::memcpy(b, &f, 4);
        out.append(b, 4);
    }
};

Converted convert_llama(const GgufFile& f, Vocab v) {
    const size_t n = v.tokens->size();
    if (v.scores.empty())
        throw Error(f.path() +
                    ": metadata 'tokenizer.ggml.scores' is missing (needed by a llama SentencePiece tokenizer)");
    if (v.unk < 0) v.unk = 0;  // llama.cpp's defaults for SentencePiece vocabularies
    if (v.bos < 0 && n > 1) v.bos = 1;
    if (v.eos < 0 && n > 2) v.eos = 2;
    // SentencePiece requires exactly one UNKNOWN piece and control types for BOS / EOS.
    bool has_unknown = false, has_bytes = false;
    for (size_t i = 0; i < n; ++i) {
        has_unknown |= v.types[i] == kUnknown;
        has_bytes |= v.types[i] == kByte;
    }
    if (!has_unknown) v.types[static_cast<size_t>(v.unk)] = kUnknown;
    for (int64_t id : {v.bos, v.eos})
        if (id >= 0 && v.types[static_cast<size_t>(id)] == kNormal) v.types[static_cast<size_t>(id)] = kControl;

    const bool add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
    Proto model;
    for (size_t i = 0; i < n; ++i) {
        Proto piece;
        piece.bytes_field(1, (*v.tokens)[i]);
        piece.float_field(2, static_cast<float>(v.scores[i]));
        const int64_t type = v.types[i] >= kNormal && v.types[i] <= kByte ? v.types[i] : kNormal;
        piece.int_field(3, type);  // SentencePiece's Type enum has llama.cpp's numbers
        model.bytes_field(1, piece.out);
    }
    Proto trainer;
    trainer.int_field(3, 2);  // model_type BPE
    trainer.int_field(4, static_cast<int64_t>(n));
    trainer.int_field(35, has_bytes);  // byte_fallback
    trainer.int_field(40, v.unk);
    trainer.int_field(41, v.bos);
    trainer.int_field(42, v.eos);
    trainer.int_field(43, v.pad);
    trainer.bytes_field(45, (*v.tokens)[static_cast<size_t>(v.unk)]);
    if (v.bos >= 0) trainer.bytes_field(46, (*v.tokens)[static_cast<size_t>(v.bos)]);
    if (v.eos >= 0) trainer.bytes_field(47, (*v.tokens)[static_cast<size_t>(v.eos)]);
    if (v.pad >= 0) trainer.bytes_field(48, (*v.tokens)[static_cast<size_t>(v.pad)]);
    model.bytes_field(2, trainer.out);
    Proto norm;
    norm.bytes_field(1, "identity");
    norm.int_field(3, add_space_prefix);  // add_dummy_prefix
    norm.int_field(4, 0);                 // remove_extra_whitespaces
    norm.int_field(5, 1);                 // escape_whitespaces
    model.bytes_field(3, norm.out);

    Converted c;
    HfTokenizerConfig& cfg = c.cfg;
    cfg.add_bos_token = f.get_bool("tokenizer.ggml.add_bos_token").value_or(true);
    cfg.add_eos_token = f.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
    cfg.add_prefix_space = add_space_prefix;
    set_special(cfg, "bos_token", v, v.bos);
    set_special(cfg, "eos_token", v, v.eos);
    set_special(cfg, "unk_token", v, v.unk);
    for (size_t i = 0; i < n; ++i) {
        const auto id = static_cast<int64_t>(i);
        if ((v.types[i] == kControl || v.types[i] == kUserDefined) && id != v.bos && id != v.eos && id != v.unk) {
            AddedToken t;
            t.content = (*v.tokens)[i];
            t.id = id;
            t.special = v.types[i] == kControl;
            cfg.added_tokens_decoder.push_back(t);
        }
    }
    // Decoding as transformers' GGUF loader gives it (LlamaTokenizerFast, LlamaConverter's decoder).
    json decoder = {
        {"type", "Sequence"},
        {"decoders", json::array({{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
                                  {{"type", "ByteFallback"}},
                                  {{"type", "Fuse"}}})}};
    if (add_space_prefix)
        decoder["decoders"].push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    c.model_proto = std::move(model.out);
    c.spm_decoder = std::move(decoder);
    c.config_json = {{"tokenizer_class", "LlamaTokenizer"},
                     {"add_bos_token", *cfg.add_bos_token},
                     {"add_eos_token", *cfg.add_eos_token},
                     {"add_prefix_space", add_space_prefix},
                     {"legacy", true},
                     {"clean_up_tokenization_spaces", false}};
    for (const char* k : {"bos_token", "eos_token", "unk_token"})
        if (const AddedToken* t = cfg.get(k)) c.config_json[k] = t->content;
    c.kind = "GGUF llama (SentencePiece BPE, via libquantscope_spm)";
    return c;
}

Converted convert(const GgufFile& f) {
    const std::string model = f.get_string("tokenizer.ggml.model").value_or("");
    if (model.empty()) throw Error(f.path() + ": holds no tokenizer (metadata 'tokenizer.ggml.model' is missing)");
    const Vocab v = read_vocab(f);
    if (model == "gpt2") return convert_gpt2(f, v);
    if (model == "llama") return convert_llama(f, v);
    throw Error(f.path() + ": tokenizer.ggml.model '" + model +
                "' is not supported (gpt2 byte-level BPE, llama SentencePiece)");
}

}  // namespace

std::unique_ptr<Tokenizer> make_gguf_tokenizer(const std::string& gguf_path) {
    const GgufFile f(gguf_path);
    const Converted c = convert(f);
    if (!c.model_proto.empty())
        return make_sentencepiece_tokenizer(c.model_proto, c.cfg, f.path(), c.kind, c.spm_decoder);
    return make_hf_json_tokenizer(c.tokenizer_json, c.cfg, f.path(), c.kind);
}

}  // namespace qs::tok

namespace qs {

std::vector<std::pair<std::string, std::string>> gguf_tokenizer_files(const std::string& gguf_path) {
    const GgufFile f(gguf_path);
    const tok::Converted c = tok::convert(f);
    std::vector<std::pair<std::string, std::string>> out;
    if (!c.model_proto.empty())
        out.emplace_back("tokenizer.model", c.model_proto);
    else
        out.emplace_back("tokenizer.json", c.tokenizer_json.dump(2) + "\n");
    out.emplace_back("tokenizer_config.json", c.config_json.dump(2) + "\n");
    return out;
}

}  // namespace qs
