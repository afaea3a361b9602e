#include "tokenizers/normalizers.h"

#include <vector>

#include "core/error.h"
#include "tokenizers/unicode.h"
#include "tokenizers/regex.h"

namespace qs::tok {

using nlohmann::json;

void replace_all(std::u32string& s, const std::u32string& from, const std::u32string& to) {
    if (from.empty()) return;
    std::u32string out;
    std::size_t pos = 0;
    bool any = false;
    for (;;) {
        const std::size_t f = s.find(from, pos);
        if (f == std::u32string::npos) break;
        if (!any) {
            out.reserve(s.size());
            any = true;
        }
        out.append(s, pos, f - pos);
        out += to;
        pos = f + from.size();
    }
    if (!any) return;
    out.append(s, pos, std::u32string::npos);
    s.swap(out);
}

namespace {

class SequenceNormalizer : public Normalizer {
  public:
    std::vector<std::unique_ptr<Normalizer>> items;
    void normalize(std::u32string& s) const override {
        for (const auto& n : items) n->normalize(s);
    }
};

class PrependNormalizer : public Normalizer {
  public:
    std::u32string prepend;
    void normalize(std::u32string& s) const override {
        if (!s.empty()) s.insert(0, prepend);
    }
};

class ReplaceNormalizer : public Normalizer {
  public:
    std::u32string from, to;
    std::unique_ptr<Regex> regex;
    void normalize(std::u32string& s) const override {
        if (!regex) {
            replace_all(s, from, to);
            return;
        }
        const auto m = regex->find_all(s);
        if (m.empty()) return;
        std::u32string out;
        std::size_t pos = 0;
        for (const auto& r : m) {
            out.append(s, pos, r.first - pos);
            out += to;
            pos = r.second;
        }
        out.append(s, pos, std::u32string::npos);
        s.swap(out);
    }
};

class UnicodeNormalizer : public Normalizer {  // NFC, NFD, NFKC, NFKD
  public:
    explicit UnicodeNormalizer(unicode::NormalForm f) : form(f) {}
    unicode::NormalForm form;
    void normalize(std::u32string& s) const override {
        for (char32_t c : s)
            if (c >= 0x80) {
                s = unicode::normalize(s, form);
                return;
            }  // ASCII is invariant
    }
};

class StripNormalizer : public Normalizer {
  public:
    bool left = true, right = true;
    void normalize(std::u32string& s) const override {
        std::size_t b = 0, e = s.size();
        if (left)
            while (b < e && unicode::is_white_space(s[b])) ++b;
        if (right)
            while (e > b && unicode::is_white_space(s[e - 1])) --e;
        s = s.substr(b, e - b);
    }
};

std::string get_string(const json& j, const char* key, const std::string& source) {
    if (!j.contains(key) || !j[key].is_string())
        throw Error(source + ": normalizer " + j.value("type", std::string("?")) + " needs a string '" + key + "'");
    return j[key].get<std::string>();
}

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& source) {
    if (j.is_null()) return nullptr;
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
        throw Error(source + ": malformed normalizer (expected an object with a 'type')");
    const std::string type = j["type"].get<std::string>();
    if (type == "Sequence") {
        auto n = std::make_unique<SequenceNormalizer>();
        if (!j.contains("normalizers") || !j["normalizers"].is_array())
            throw Error(source + ": Sequence normalizer without 'normalizers'");
        for (const auto& k : j["normalizers"]) {
            auto c = make_normalizer(k, source);
            if (c) n->items.push_back(std::move(c));
        }
        return n;
    }
    if (type == "Prepend") {
        auto n = std::make_unique<PrependNormalizer>();
        n->prepend = unicode::utf8_to_u32(get_string(j, "prepend", source));
        return n;
    }
    if (type == "Replace") {
        auto n = std::make_unique<ReplaceNormalizer>();
        n->to = unicode::utf8_to_u32(get_string(j, "content", source));
        const json& p = j.contains("pattern") ? j["pattern"] : json();
        if (p.is_object() && p.contains("String") && p["String"].is_string()) {
            n->from = unicode::utf8_to_u32(p["String"].get<std::string>());
        } else if (p.is_object() && p.contains("Regex") && p["Regex"].is_string()) {
            n->regex = std::make_unique<Regex>(p["Regex"].get<std::string>(), source + ": Replace normalizer");
        } else {
            throw Error(source + ": Replace normalizer needs a pattern {\"String\": ...} or {\"Regex\": ...}");
        }
        return n;
    }
    if (type == "NFC") return std::make_unique<UnicodeNormalizer>(unicode::NormalForm::NFC);
    if (type == "NFD") return std::make_unique<UnicodeNormalizer>(unicode::NormalForm::NFD);
    if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(unicode::NormalForm::NFKC);
    if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(unicode::NormalForm::NFKD);
    if (type == "Strip") {
        auto n = std::make_unique<StripNormalizer>();
        n->left = j.value("strip_left", true);
        n->right = j.value("strip_right", true);
        return n;
    }
    throw Error(source + ": normalizer type '" + type +
                "' is not supported (supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Strip)");
}

}  // namespace qs::tok
