#include "tokenizers/added_vocabulary.h"

#include "tokenizers/normalizers.h"
#include "tokenizers/unicode.h"

namespace qs::tok {

// ---- TokenTrie ---------------------------------------------------------------------------

void TokenTrie::add(const std::u32string& s, int index) {
    if (s.empty()) return;
    int n = 0;
    for (char32_t c : s) {
        auto it = nodes_[static_cast<std::size_t>(n)].next.find(c);
        if (it == nodes_[static_cast<std::size_t>(n)].next.end()) {
            nodes_.push_back(Node{});
            const int k = static_cast<int>(nodes_.size() - 1);
            nodes_[static_cast<std::size_t>(n)].next.emplace(c, k);
            n = k;
        } else {
            n = it->second;
        }
    }
    if (nodes_[static_cast<std::size_t>(n)].index < 0) nodes_[static_cast<std::size_t>(n)].index = index;
    first_.insert(s[0]);
}

bool TokenTrie::find(const std::u32string& text, std::size_t from, std::size_t& start, std::size_t& end,
                     int& index) const {
    if (empty()) return false;
    for (std::size_t i = from; i < text.size(); ++i) {
        if (!first_.count(text[i])) continue;
        int n = 0, best = -1;
        std::size_t best_end = 0;
        for (std::size_t j = i; j < text.size(); ++j) {
            const auto& nx = nodes_[static_cast<std::size_t>(n)].next;
            const auto it = nx.find(text[j]);
            if (it == nx.end()) break;
            n = it->second;
            if (nodes_[static_cast<std::size_t>(n)].index >= 0) {
                best = nodes_[static_cast<std::size_t>(n)].index;
                best_end = j + 1;
            }
        }
        if (best >= 0) {
            start = i;
            end = best_end;
            index = best;
            return true;
        }
    }
    return false;
}

// ---- AddedVocabulary ---------------------------------------------------------------------

void AddedVocabulary::add(const AddedToken& t) {
    if (by_content_.count(t.content)) return;
    by_content_[t.content] = tokens_.size();
    by_id_.emplace(t.id, tokens_.size());
    tokens_.push_back(t);
}

void AddedVocabulary::build(const Normalizer* normalizer) {
    raw_trie_ = TokenTrie();
    norm_trie_ = TokenTrie();
    raw_map_.clear();
    norm_map_.clear();
    // tokenizers puts special tokens first, then the other added tokens; for equal patterns
    // the first one wins.
    for (int pass = 0; pass < 2; ++pass) {
        for (std::size_t i = 0; i < tokens_.size(); ++i) {
            const AddedToken& t = tokens_[i];
            if (t.special != (pass == 0)) continue;
            std::u32string p = unicode::utf8_to_u32(t.content);
            if (t.normalized) {
                if (normalizer) normalizer->normalize(p);
                norm_trie_.add(p, static_cast<int>(norm_map_.size()));
                norm_map_.push_back(static_cast<int>(i));
            } else {
                raw_trie_.add(p, static_cast<int>(raw_map_.size()));
                raw_map_.push_back(static_cast<int>(i));
            }
        }
    }
}

const AddedToken* AddedVocabulary::find_id(int64_t id) const {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::find_content(const std::string& c) const {
    const auto it = by_content_.find(c);
    return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

// tokenizers' AddedVocabulary::find_matches + split_with_indices.
void AddedVocabulary::split(const std::u32string& s, bool at_origin, const TokenTrie& trie, const std::vector<int>& map,
                            std::vector<TextSegment>& out) const {
    std::size_t start_offset = 0, pos = 0, ms = 0, me = 0;
    int idx = -1;
    while (pos < s.size() && trie.find(s, pos, ms, me, idx)) {
        pos = me;
        const AddedToken& t = tokens_[static_cast<std::size_t>(map[static_cast<std::size_t>(idx)])];
        std::size_t start = ms, stop = me;
        if (t.single_word) {
            const bool start_space = start == 0 || !unicode::is_word_char(s[start - 1]);
            const bool stop_space = stop == s.size() || !unicode::is_word_char(s[stop]);
            if (!start_space || !stop_space) continue;
        }
        if (t.lstrip) {
            std::size_t ns = start;
            while (ns > 0 && unicode::is_white_space(s[ns - 1])) --ns;
            start = std::max(ns, start_offset);
        }
        if (t.rstrip) {
            while (stop < s.size() && unicode::is_white_space(s[stop])) ++stop;
        }
        if (start_offset < start)
            out.push_back({s.substr(start_offset, start - start_offset), at_origin && start_offset == 0, -1});
        out.push_back({std::u32string(), false, t.id});
        start_offset = stop;
    }
    if (start_offset < s.size()) out.push_back({s.substr(start_offset), at_origin && start_offset == 0, -1});
}

std::vector<TextSegment> AddedVocabulary::extract_and_normalize(const std::u32string& text,
                                                                const Normalizer* normalizer) const {
    std::vector<TextSegment> first;
    split(text, true, raw_trie_, raw_map_, first);
    std::vector<TextSegment> out;
    out.reserve(first.size());
    for (auto& seg : first) {
        if (seg.id >= 0) {
            out.push_back(std::move(seg));
            continue;
        }
        if (normalizer) normalizer->normalize(seg.text);
        if (seg.text.empty()) continue;
        split(seg.text, seg.at_origin, norm_trie_, norm_map_, out);
    }
    return out;
}

// ---- SlowTokenSplitter -------------------------------------------------------------------

void SlowTokenSplitter::add(const AddedToken& t) {
    if (by_content_.count(t.content) || t.content.empty()) return;
    by_content_[t.content] = tokens_.size();
    trie_.add(unicode::utf8_to_u32(t.content), static_cast<int>(tokens_.size()));
    tokens_.push_back(t);
}

namespace {
std::u32string py_lstrip(const std::u32string& s) {
    std::size_t b = 0;
    while (b < s.size() && unicode::is_python_space(s[b])) ++b;
    return s.substr(b);
}
std::u32string py_rstrip(const std::u32string& s) {
    std::size_t e = s.size();
    while (e > 0 && unicode::is_python_space(s[e - 1])) --e;
    return s.substr(0, e);
}
}  // namespace

std::vector<SlowTokenSplitter::Piece> SlowTokenSplitter::split(const std::string& text) const {
    std::vector<Piece> out;
    if (tokens_.empty()) {
        if (!text.empty()) out.push_back({text, -1});
        return out;
    }
    const std::u32string u = unicode::utf8_to_u32(text);
    struct P {
        std::u32string text;
        int tok;
    };
    std::vector<P> parts;
    std::size_t pos = 0, ms = 0, me = 0;
    int idx = -1;
    while (pos < u.size() && trie_.find(u, pos, ms, me, idx)) {
        if (ms > pos) parts.push_back({u.substr(pos, ms - pos), -1});
        parts.push_back({u.substr(ms, me - ms), idx});
        pos = me;
    }
    if (pos < u.size()) parts.push_back({u.substr(pos), -1});
    // PreTrainedTokenizer.tokenize: strip around added tokens as their flags ask.
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (parts[i].tok < 0) continue;
        const AddedToken& t = tokens_[static_cast<std::size_t>(parts[i].tok)];
        const bool has_left = i > 0 && !parts[i - 1].text.empty();
        const bool has_right = i + 1 < parts.size() && !parts[i + 1].text.empty();
        if (t.rstrip && has_right) parts[i + 1].text = py_lstrip(parts[i + 1].text);
        if (t.lstrip && has_left) parts[i - 1].text = py_rstrip(parts[i - 1].text);
        if (t.single_word && has_left && parts[i - 1].text.back() != U' ') {
            parts[i - 1].text += parts[i].text;
            parts[i].text.clear();
        } else if (t.single_word && has_right && parts[i + 1].text.front() != U' ') {
            parts[i + 1].text = parts[i].text + parts[i + 1].text;
            parts[i].text.clear();
        }
    }
    for (auto& p : parts) {
        if (p.text.empty()) continue;
        std::string s = unicode::u32_to_utf8(p.text);
        const auto it = by_content_.find(s);
        if (it != by_content_.end())
            out.push_back({s, tokens_[it->second].id});
        else
            out.push_back({std::move(s), -1});
    }
    return out;
}

}  // namespace qs::tok
