#include "tokenizers/decoders.h"

#include "core/error.h"
#include "tokenizers/byte_level.h"
#include "tokenizers/normalizers.h"
#include "tokenizers/unicode.h"
#include "tokenizers/regex.h"

namespace qs::tok {

using nlohmann::json;

namespace {

class SequenceDecoder : public Decoder {
  public:
    std::vector<std::unique_ptr<Decoder>> items;
    void decode_chain(std::vector<std::string>& t) const override {
        for (const auto& d : items) d->decode_chain(t);
    }
};

// All tokens -> bytes (a token with a character outside the byte alphabet keeps its UTF-8
// bytes), then one lossy UTF-8 decode of the whole sequence.
class ByteLevelDecoder : public Decoder {
  public:
    void decode_chain(std::vector<std::string>& t) const override {
        std::string bytes;
        for (const auto& tok : t)
            if (!byte_level::decode_token(tok, bytes)) bytes += tok;
        t.assign(1, unicode::utf8_lossy(bytes));
    }
};

class MetaspaceDecoder : public Decoder {
  public:
    std::string replacement = "\xE2\x96\x81";
    bool prepend = true;  // prepend_scheme != never
    void decode_chain(std::vector<std::string>& t) const override {
        for (std::size_t i = 0; i < t.size(); ++i) {
            std::string out;
            const std::string& s = t[i];
            for (std::size_t p = 0; p < s.size();) {
                if (s.compare(p, replacement.size(), replacement) == 0) {
                    if (!(i == 0 && prepend)) out.push_back(' ');
                    p += replacement.size();
                } else {
                    out.push_back(s[p++]);
                }
            }
            t[i].swap(out);
        }
    }
};

class ReplaceDecoder : public Decoder {
  public:
    std::u32string from, to;
    std::unique_ptr<Regex> regex;
    void decode_chain(std::vector<std::string>& t) const override {
        for (auto& s : t) {
            std::u32string u = unicode::utf8_to_u32(s);
            if (regex) {
                const auto m = regex->find_all(u);
                std::u32string out;
                std::size_t pos = 0;
                for (const auto& r : m) {
                    out.append(u, pos, r.first - pos);
                    out += to;
                    pos = r.second;
                }
                out.append(u, pos, std::u32string::npos);
                u.swap(out);
            } else {
                replace_all(u, from, to);
            }
            s = unicode::u32_to_utf8(u);
        }
    }
};

class ByteFallbackDecoder : public Decoder {
  public:
    static int hexval(char h) {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
    }
    // Rust u8::from_str_radix(&token[3..5], 16): an optional '+' then hex digits.
    static int parse_byte(const std::string& tok) {
        if (tok.size() != 6 || tok.compare(0, 3, "<0x") != 0 || tok[5] != '>') return -1;
        const char a = tok[3], b = tok[4];
        if (a == '+') return hexval(b);
        const int x = hexval(a), y = hexval(b);
        return (x < 0 || y < 0) ? -1 : x * 16 + y;
    }
    void decode_chain(std::vector<std::string>& t) const override {
        std::vector<std::string> out;
        out.reserve(t.size());
        std::string pending;
        auto flush = [&] {
            if (pending.empty()) return;
            if (unicode::is_valid_utf8(pending))
                out.push_back(pending);
            else
                for (std::size_t k = 0; k < pending.size(); ++k) out.push_back("\xEF\xBF\xBD");
            pending.clear();
        };
        for (auto& tok : t) {
            const int b = parse_byte(tok);
            if (b >= 0) {
                pending.push_back(static_cast<char>(b));
                continue;
            }
            flush();
            out.push_back(std::move(tok));
        }
        flush();
        t.swap(out);
    }
};

class FuseDecoder : public Decoder {
  public:
    void decode_chain(std::vector<std::string>& t) const override {
        std::string all;
        for (const auto& s : t) all += s;
        t.assign(1, all);
    }
};

class StripDecoder : public Decoder {
  public:
    char32_t content = ' ';
    std::size_t start = 0, stop = 0;
    void decode_chain(std::vector<std::string>& t) const override {
        for (auto& s : t) {
            const std::u32string u = unicode::utf8_to_u32(s);
            std::size_t b = 0;
            for (std::size_t i = 0; i < start && i < u.size(); ++i) {
                if (u[i] == content)
                    b = i + 1;
                else
                    break;
            }
            std::size_t e = u.size();
            for (std::size_t i = 0; i < stop && i < u.size(); ++i) {
                const std::size_t idx = u.size() - i - 1;
                if (u[idx] == content)
                    e = idx;
                else
                    break;
            }
            s = e > b ? unicode::u32_to_utf8(u.substr(b, e - b)) : std::string();
        }
    }
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& source) {
    if (j.is_null()) return nullptr;
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
        throw Error(source + ": malformed decoder (expected an object with a 'type')");
    const std::string type = j["type"].get<std::string>();
    if (type == "Sequence") {
        auto d = std::make_unique<SequenceDecoder>();
        if (!j.contains("decoders") || !j["decoders"].is_array())
            throw Error(source + ": Sequence decoder without 'decoders'");
        for (const auto& k : j["decoders"]) {
            auto c = make_decoder(k, source);
            if (c) d->items.push_back(std::move(c));
        }
        return d;
    }
    if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
    if (type == "Metaspace") {
        auto d = std::make_unique<MetaspaceDecoder>();
        if (j.contains("replacement") && j["replacement"].is_string())
            d->replacement = j["replacement"].get<std::string>();
        if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string())
            d->prepend = j["prepend_scheme"].get<std::string>() != "never";
        else if (j.contains("add_prefix_space"))
            d->prepend = j.value("add_prefix_space", true);
        return d;
    }
    if (type == "Replace") {
        auto d = std::make_unique<ReplaceDecoder>();
        if (!j.contains("content") || !j["content"].is_string())
            throw Error(source + ": Replace decoder needs 'content'");
        d->to = unicode::utf8_to_u32(j["content"].get<std::string>());
        const json& p = j.contains("pattern") ? j["pattern"] : json();
        if (p.is_object() && p.contains("String") && p["String"].is_string())
            d->from = unicode::utf8_to_u32(p["String"].get<std::string>());
        else if (p.is_object() && p.contains("Regex") && p["Regex"].is_string())
            d->regex = std::make_unique<Regex>(p["Regex"].get<std::string>(), source + ": Replace decoder");
        else
            throw Error(source + ": Replace decoder needs a pattern {\"String\": ...} or {\"Regex\": ...}");
        return d;
    }
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Strip") {
        auto d = std::make_unique<StripDecoder>();
        const std::u32string c = unicode::utf8_to_u32(j.value("content", std::string(" ")));
        if (c.size() != 1) throw Error(source + ": Strip decoder content must be one character");
        d->content = c[0];
        d->start = j.value("start", 0u);
        d->stop = j.value("stop", 0u);
        return d;
    }
    throw Error(source + ": decoder type '" + type +
                "' is not supported (supported: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence)");
}

}  // namespace qs::tok
