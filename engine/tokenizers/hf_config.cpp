#include "tokenizers/hf_config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/file_checks.h"

namespace qs::tok {

using nlohmann::json;

std::string read_text_file(const std::string& path) {
    return read_file_capped(path, kMaxTokenizerFileBytes, "a tokenizer file");  // regular files only
}

json read_json_file(const std::string& path) { return parse_json_text(read_text_file(path), path); }

namespace {
std::optional<AddedToken> parse_token(const json& v, const std::string& path, const std::string& key) {
    AddedToken t;
    t.special = true;
    if (v.is_null()) return std::nullopt;
    if (v.is_string()) {
        t.content = v.get<std::string>();
    } else if (v.is_object() && v.contains("content") && v["content"].is_string()) {
        t.content = v["content"].get<std::string>();
        t.lstrip = v.value("lstrip", false);
        t.rstrip = v.value("rstrip", false);
        t.single_word = v.value("single_word", false);
        t.normalized = v.value("normalized", false);
        if (v.contains("special") && v["special"].is_boolean()) t.special = v["special"].get<bool>();
    } else {
        throw Error(path + ": '" + key + "' must be a string or an object with 'content'");
    }
    return t;
}

void read_opt_bool(const json& j, const char* key, std::optional<bool>& out) {
    if (j.contains(key) && j[key].is_boolean()) out = j[key].get<bool>();
}

const char* const kSpecialKeys[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                    "pad_token", "cls_token", "mask_token"};

void read_specials(const json& j, const std::string& path, HfTokenizerConfig& c) {
    for (const char* key : kSpecialKeys) {
        if (!j.contains(key)) continue;
        auto t = parse_token(j[key], path, key);
        if (t)
            c.special[key] = *t;
        else
            c.special.erase(key);
    }
    if (j.contains("additional_special_tokens") && j["additional_special_tokens"].is_array()) {
        c.additional_special.clear();
        for (const auto& v : j["additional_special_tokens"]) {
            auto t = parse_token(v, path, "additional_special_tokens");
            if (t) c.additional_special.push_back(*t);
        }
    }
}
}  // namespace

std::vector<AddedToken> HfTokenizerConfig::all_special() const {
    std::vector<AddedToken> out;
    for (const char* key : kSpecialKeys)
        if (const AddedToken* t = get(key)) out.push_back(*t);
    for (const auto& t : additional_special) out.push_back(t);
    return out;
}

HfTokenizerConfig read_hf_config(const std::string& dir) {
    namespace fs = std::filesystem;
    HfTokenizerConfig c;
    const std::string cfg = (fs::path(dir) / "tokenizer_config.json").string();
    if (fs::is_regular_file(cfg)) {
        const json j = read_json_file(cfg);
        if (!j.is_object()) throw Error(cfg + ": expected a JSON object");
        if (j.contains("tokenizer_class") && j["tokenizer_class"].is_string())
            c.tokenizer_class = j["tokenizer_class"].get<std::string>();
        read_opt_bool(j, "add_bos_token", c.add_bos_token);
        read_opt_bool(j, "add_eos_token", c.add_eos_token);
        read_opt_bool(j, "add_prefix_space", c.add_prefix_space);
        read_opt_bool(j, "legacy", c.legacy);
        read_opt_bool(j, "clean_up_tokenization_spaces", c.clean_up_tokenization_spaces);
        read_specials(j, cfg, c);
        if (j.contains("added_tokens_decoder") && j["added_tokens_decoder"].is_object()) {
            for (const auto& kv : j["added_tokens_decoder"].items()) {
                auto t = parse_token(kv.value(), cfg, "added_tokens_decoder");
                if (!t) continue;
                try {
                    t->id = std::stoll(kv.key());
                } catch (...) {
                    throw Error(cfg + ": added_tokens_decoder key '" + kv.key() + "' is not an id");
                }
                if (!kv.value().is_object() || !kv.value().contains("special")) t->special = false;
                c.added_tokens_decoder.push_back(*t);
            }
        }
    }
    const std::string map = (fs::path(dir) / "special_tokens_map.json").string();
    if (fs::is_regular_file(map)) {
        const json j = read_json_file(map);
        if (!j.is_object()) throw Error(map + ": expected a JSON object");
        read_specials(j, map, c);
    }
    return c;
}

std::string clean_up_tokenization(const std::string& in) {
    static const std::pair<const char*, const char*> reps[] = {
        {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    std::string s = in;
    for (const auto& r : reps) {
        const std::string from = r.first, to = r.second;
        std::string out;
        std::size_t pos = 0;
        for (std::size_t f = s.find(from); f != std::string::npos; f = s.find(from, pos)) {
            out.append(s, pos, f - pos);
            out += to;
            pos = f + from.size();
        }
        out.append(s, pos, std::string::npos);
        s.swap(out);
    }
    return s;
}

}  // namespace qs::tok
