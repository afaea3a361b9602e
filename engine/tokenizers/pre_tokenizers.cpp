#include "tokenizers/pre_tokenizers.h"

#include <algorithm>
#include <functional>
#include <tuple>

#include "core/error.h"
#include "tokenizers/byte_level.h"
#include "tokenizers/normalizers.h"
#include "tokenizers/unicode.h"
#include "tokenizers/regex.h"

namespace qs::tok {

using nlohmann::json;

const Regex& gpt2_split_regex() {
    static const Regex re("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");
    return re;
}

namespace {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct Seg {
    std::size_t b, e;
    bool m;
};

// Full partition of [0, n) from sorted non-overlapping matches (tokenizers' find_matches).
std::vector<Seg> partition(std::size_t n, const std::vector<std::pair<std::size_t, std::size_t>>& matches) {
    std::vector<Seg> out;
    if (n == 0) {
        out.push_back({0, 0, false});
        return out;
    }
    std::size_t prev = 0;
    for (const auto& m : matches) {
        if (prev != m.first) out.push_back({prev, m.first, false});
        out.push_back({m.first, m.second, true});
        prev = m.second;
    }
    if (prev != n) out.push_back({prev, n, false});
    return out;
}

// tokenizers' NormalizedString::split.
std::vector<Seg> apply_behavior(std::vector<Seg> segs, Behavior b, bool invert) {
    if (invert)
        for (auto& s : segs) s.m = !s.m;
    std::vector<Seg> out;
    switch (b) {
        case Behavior::Isolated:
            out = segs;
            break;
        case Behavior::Removed:
            for (const auto& s : segs)
                if (!s.m) out.push_back(s);
            break;
        case Behavior::MergedWithPrevious: {
            bool prev_match = false;
            for (const auto& s : segs) {
                if (s.m && !prev_match && !out.empty())
                    out.back().e = s.e;
                else
                    out.push_back({s.b, s.e, false});
                prev_match = s.m;
            }
            break;
        }
        case Behavior::MergedWithNext: {
            bool prev_match = false;
            for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
                if (it->m && !prev_match && !out.empty())
                    out.back().b = it->b;
                else
                    out.push_back({it->b, it->e, false});
                prev_match = it->m;
            }
            std::reverse(out.begin(), out.end());
            break;
        }
        case Behavior::Contiguous: {
            bool prev_match = false;
            bool first = true;
            for (const auto& s : segs) {
                if (!first && s.m == prev_match)
                    out.back().e = s.e;
                else
                    out.push_back({s.b, s.e, false});
                prev_match = s.m;
                first = false;
            }
            break;
        }
    }
    return out;
}

void split_into(const PreSplit& in, const std::vector<Seg>& segs, std::vector<PreSplit>& out) {
    for (const auto& s : segs) {
        if (s.e <= s.b) continue;
        out.push_back({in.text.substr(s.b, s.e - s.b), in.at_origin && s.b == 0});
    }
}

// Matches of a per-character predicate: each matching character is its own match.
std::vector<std::pair<std::size_t, std::size_t>> char_matches(const std::u32string& t,
                                                              const std::function<bool(char32_t)>& pred) {
    std::vector<std::pair<std::size_t, std::size_t>> m;
    for (std::size_t i = 0; i < t.size(); ++i)
        if (pred(t[i])) m.push_back({i, i + 1});
    return m;
}

std::vector<std::pair<std::size_t, std::size_t>> string_matches(const std::u32string& t, const std::u32string& p) {
    std::vector<std::pair<std::size_t, std::size_t>> m;
    if (p.empty()) return m;
    for (std::size_t pos = t.find(p); pos != std::u32string::npos; pos = t.find(p, pos + p.size()))
        m.push_back({pos, pos + p.size()});
    return m;
}

Behavior parse_behavior(const json& j, const std::string& source, Behavior dflt) {
    if (!j.contains("behavior")) return dflt;
    const std::string b = j["behavior"].is_string() ? j["behavior"].get<std::string>() : "";
    if (b == "Removed") return Behavior::Removed;
    if (b == "Isolated") return Behavior::Isolated;
    if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
    if (b == "MergedWithNext") return Behavior::MergedWithNext;
    if (b == "Contiguous") return Behavior::Contiguous;
    throw Error(source + ": unknown split behavior '" + b + "'");
}

class SequencePre : public PreTokenizer {
  public:
    std::vector<std::unique_ptr<PreTokenizer>> items;
    void pre_tokenize(std::vector<PreSplit>& splits) const override {
        for (const auto& p : items) p->pre_tokenize(splits);
    }
    bool byte_level() const override {
        for (const auto& p : items)
            if (p->byte_level()) return true;
        return false;
    }
};

class SplitPre : public PreTokenizer {
  public:
    std::u32string literal;
    std::unique_ptr<Regex> regex;
    Behavior behavior = Behavior::Isolated;
    bool invert = false;
    void pre_tokenize(std::vector<PreSplit>& splits) const override {
        std::vector<PreSplit> out;
        out.reserve(splits.size() * 2);
        for (const auto& s : splits) {
            const auto m = regex ? regex->find_all(s.text) : string_matches(s.text, literal);
            split_into(s, apply_behavior(partition(s.text.size(), m), behavior, invert), out);
        }
        splits.swap(out);
    }
};

class ByteLevelPre : public PreTokenizer {
  public:
    bool add_prefix_space = true;
    bool use_regex = true;
    void pre_tokenize(std::vector<PreSplit>& splits) const override {
        std::vector<PreSplit> out;
        out.reserve(splits.size() * 2);
        for (auto& s : splits) {
            if (add_prefix_space && (s.text.empty() || s.text[0] != U' ')) s.text.insert(0, 1, U' ');
            if (use_regex)
                split_into(s,
                           apply_behavior(partition(s.text.size(), gpt2_split_regex().find_all(s.text)),
                                          Behavior::Isolated, false),
                           out);
            else if (!s.text.empty())
                out.push_back(std::move(s));
        }
        for (auto& s : out) {
            std::string utf8 = unicode::u32_to_utf8(s.text);
            std::u32string t;
            t.reserve(utf8.size());
            for (unsigned char b : utf8) t.push_back(byte_level::byte_to_char(b));
            s.text.swap(t);
        }
        splits.swap(out);
    }
    bool byte_level() const override { return true; }
};

class MetaspacePre : public PreTokenizer {
  public:
    char32_t replacement = 0x2581;
    enum class Scheme { Always, First, Never } scheme = Scheme::Always;
    bool split = true;
    void pre_tokenize(std::vector<PreSplit>& splits) const override {
        std::vector<PreSplit> out;
        out.reserve(splits.size() * 2);
        for (auto& s : splits) {
            for (char32_t& c : s.text)
                if (c == U' ') c = replacement;
            const bool starts = !s.text.empty() && s.text[0] == replacement;
            if (scheme == Scheme::Always && !starts)
                s.text.insert(0, 1, replacement);
            else if (scheme == Scheme::First && !starts && s.at_origin)
                s.text.insert(0, 1, replacement);
            if (split) {
                const auto m = char_matches(s.text, [this](char32_t c) { return c == replacement; });
                split_into(s, apply_behavior(partition(s.text.size(), m), Behavior::MergedWithNext, false), out);
            } else if (!s.text.empty()) {
                out.push_back(std::move(s));
            }
        }
        splits.swap(out);
    }
};

class PredicatePre : public PreTokenizer {
  public:
    std::function<bool(char32_t)> pred;
    Behavior behavior = Behavior::Isolated;
    void pre_tokenize(std::vector<PreSplit>& splits) const override {
        std::vector<PreSplit> out;
        for (const auto& s : splits)
            split_into(s, apply_behavior(partition(s.text.size(), char_matches(s.text, pred)), behavior, false), out);
        splits.swap(out);
    }
};

class RegexPre : public PreTokenizer {  // keeps the matches (Whitespace: \w+|[^\w\s]+)
  public:
    explicit RegexPre(const char* p) : regex(p) {}
    Regex regex;
    void pre_tokenize(std::vector<PreSplit>& splits) const override {
        std::vector<PreSplit> out;
        for (const auto& s : splits)
            split_into(s, apply_behavior(partition(s.text.size(), regex.find_all(s.text)), Behavior::Removed, true),
                       out);
        splits.swap(out);
    }
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& source) {
    if (j.is_null()) return nullptr;
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
        throw Error(source + ": malformed pre_tokenizer (expected an object with a 'type')");
    const std::string type = j["type"].get<std::string>();
    if (type == "Sequence") {
        auto p = std::make_unique<SequencePre>();
        if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
            throw Error(source + ": Sequence pre_tokenizer without 'pretokenizers'");
        for (const auto& k : j["pretokenizers"]) {
            auto c = make_pre_tokenizer(k, source);
            if (c) p->items.push_back(std::move(c));
        }
        return p;
    }
    if (type == "ByteLevel") {
        auto p = std::make_unique<ByteLevelPre>();
        p->add_prefix_space = j.value("add_prefix_space", true);
        p->use_regex = j.value("use_regex", true);
        return p;
    }
    if (type == "Split") {
        auto p = std::make_unique<SplitPre>();
        const json& pat = j.contains("pattern") ? j["pattern"] : json();
        if (pat.is_object() && pat.contains("String") && pat["String"].is_string())
            p->literal = unicode::utf8_to_u32(pat["String"].get<std::string>());
        else if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string())
            p->regex = std::make_unique<Regex>(pat["Regex"].get<std::string>(), source + ": Split pre_tokenizer");
        else
            throw Error(source + ": Split pre_tokenizer needs a pattern {\"String\": ...} or {\"Regex\": ...}");
        p->behavior = parse_behavior(j, source, Behavior::Isolated);
        p->invert = j.value("invert", false);
        return p;
    }
    if (type == "Metaspace") {
        auto p = std::make_unique<MetaspacePre>();
        std::string rep = "\xE2\x96\x81";
        if (j.contains("replacement") && j["replacement"].is_string()) rep = j["replacement"].get<std::string>();
        const std::u32string r = unicode::utf8_to_u32(rep);
        if (r.size() != 1) throw Error(source + ": Metaspace replacement must be one character");
        p->replacement = r[0];
        if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
            const std::string s = j["prepend_scheme"].get<std::string>();
            if (s == "always")
                p->scheme = MetaspacePre::Scheme::Always;
            else if (s == "first")
                p->scheme = MetaspacePre::Scheme::First;
            else if (s == "never")
                p->scheme = MetaspacePre::Scheme::Never;
            else
                throw Error(source + ": unknown Metaspace prepend_scheme '" + s + "'");
        } else if (j.contains("add_prefix_space")) {
            p->scheme = j.value("add_prefix_space", true) ? MetaspacePre::Scheme::Always : MetaspacePre::Scheme::Never;
        }
        p->split = j.value("split", true);
        return p;
    }
    if (type == "Digits") {
        auto p = std::make_unique<PredicatePre>();
        p->pred = [](char32_t c) { return unicode::is_number(c); };
        p->behavior = j.value("individual_digits", false) ? Behavior::Isolated : Behavior::Contiguous;
        return p;
    }
    if (type == "WhitespaceSplit") {
        auto p = std::make_unique<PredicatePre>();
        p->pred = [](char32_t c) { return unicode::is_white_space(c); };
        p->behavior = Behavior::Removed;
        return p;
    }
    if (type == "Whitespace") return std::make_unique<RegexPre>("\\w+|[^\\w\\s]+");
    if (type == "Punctuation") {
        auto p = std::make_unique<PredicatePre>();
        p->pred = [](char32_t c) {
            if (c < 128)
                return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
                       (c >= 0x7B && c <= 0x7E);
            return unicode::is_punctuation(c);
        };
        p->behavior = parse_behavior(j, source, Behavior::Isolated);
        return p;
    }
    throw Error(source + ": pre_tokenizer type '" + type +
                "' is not supported (supported: ByteLevel, Split, Metaspace, Digits, WhitespaceSplit, "
                "Whitespace, Punctuation, Sequence)");
}

}  // namespace qs::tok
