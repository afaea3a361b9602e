#include "tokenizers/bpe_model.h"

#include <cstdio>
#include <queue>

#include "core/error.h"
#include "tokenizers/unicode.h"

namespace qs::tok {

namespace {
constexpr std::size_t kCacheMaxEntries = 1 << 19;
constexpr std::size_t kCacheMaxWordBytes = 256;
constexpr std::size_t kLongWordBytes = 8192;  // cut words longer than this ...
constexpr std::size_t kChunkBytes = 2048;     // ... into chunks of about this size

inline uint64_t pair_key(int64_t a, int64_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

inline std::size_t utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 1;
}
}  // namespace

BpeModel::BpeModel(std::unordered_map<std::string, int64_t> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges, BpeConfig config,
                   const std::string& source)
    : vocab_(std::move(vocab)), config_(std::move(config)), source_(source) {
    int64_t max_id = -1;
    for (const auto& kv : vocab_) {
        if (kv.second < 0 || kv.second > kMaxTokenId)
            throw Error(source_ + ": token id " + std::to_string(kv.second) + " out of range");
        max_id = std::max(max_id, kv.second);
    }
    if (max_id >= static_cast<int64_t>(vocab_.size()) + kMaxTokenIdHoles) {
        std::string token;
        for (const auto& kv : vocab_)
            if (kv.second == max_id) token = kv.first;
        throw Error(source_ + ": token '" + token + "' has id " + std::to_string(max_id) + ", far beyond the " +
                    std::to_string(vocab_.size()) + " entries of the vocabulary (ids must be 0..N-1, with few holes)");
    }
    id_to_token_.resize(static_cast<std::size_t>(max_id + 1));
    has_id_.assign(static_cast<std::size_t>(max_id + 1), false);
    for (const auto& kv : vocab_) {
        id_to_token_[static_cast<std::size_t>(kv.second)] = kv.first;
        has_id_[static_cast<std::size_t>(kv.second)] = true;
    }
    merges_.reserve(merges.size() * 2);
    const std::string& prefix = config_.continuing_subword_prefix;
    for (std::size_t r = 0; r < merges.size(); ++r) {
        const auto& m = merges[r];
        const auto a = vocab_.find(m.first);
        const auto b = vocab_.find(m.second);
        if (a == vocab_.end() || b == vocab_.end())
            throw Error(source_ + ": merge " + std::to_string(r) + " ('" + m.first + "' '" + m.second +
                        "') uses a token that is not in the vocabulary");
        std::string right = m.second;
        if (!prefix.empty() && right.compare(0, prefix.size(), prefix) == 0) right = right.substr(prefix.size());
        const auto c = vocab_.find(m.first + right);
        if (c == vocab_.end())
            throw Error(source_ + ": merge " + std::to_string(r) + " ('" + m.first + "' '" + m.second +
                        "') makes a token that is not in the vocabulary");
        merges_[pair_key(a->second, b->second)] = {static_cast<int32_t>(r), static_cast<int32_t>(c->second)};
    }
    can_cut_ = config_.continuing_subword_prefix.empty() && config_.end_of_word_suffix.empty();
    if (can_cut_) {
        for (const auto& m : merges) {
            const std::u32string a = unicode::utf8_to_u32(m.first), b = unicode::utf8_to_u32(m.second);
            if (a.empty() || b.empty()) continue;
            join_pairs_.insert((static_cast<uint64_t>(a.back()) << 32) | b.front());
        }
        for (const auto& kv : vocab_) {
            const std::u32string t = unicode::utf8_to_u32(kv.first);
            if (t.size() == 1) single_chars_.insert(t[0]);
        }
    }
    if (!config_.unk_token.empty()) {
        const auto u = vocab_.find(config_.unk_token);
        if (u != vocab_.end()) unk_id_ = u->second;
    }
    byte_ids_.assign(256, -1);
    if (config_.byte_fallback) {
        char buf[8];
        for (int b = 0; b < 256; ++b) {
            std::snprintf(buf, sizeof buf, "<0x%02X>", b);
            const auto it = vocab_.find(buf);
            if (it != vocab_.end()) byte_ids_[static_cast<std::size_t>(b)] = static_cast<int32_t>(it->second);
        }
    }
}

int64_t BpeModel::token_to_id(const std::string& token) const {
    const auto it = vocab_.find(token);
    return it == vocab_.end() ? -1 : it->second;
}

const std::string* BpeModel::id_to_token(int64_t id) const {
    if (id < 0 || id >= static_cast<int64_t>(id_to_token_.size()) || !has_id_[static_cast<std::size_t>(id)])
        return nullptr;
    return &id_to_token_[static_cast<std::size_t>(id)];
}

void BpeModel::tokenize(std::string_view word, std::vector<int64_t>& out) const {
    if (word.empty()) return;
    if (config_.ignore_merges) {
        const auto it = vocab_.find(std::string(word));
        if (it != vocab_.end()) {
            out.push_back(it->second);
            return;
        }
    }
    const bool cacheable = word.size() <= kCacheMaxWordBytes;
    std::string key;
    if (cacheable) {
        key.assign(word);
        std::lock_guard<std::mutex> lock(cache_mu_);
        const auto it = cache_.find(key);
        if (it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    const std::size_t first = out.size();
    if (can_cut_ && word.size() > kLongWordBytes)
        merge_long_word(word, out);
    else
        merge_word(word, out);
    if (cacheable) {
        std::vector<int32_t> ids(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
        std::lock_guard<std::mutex> lock(cache_mu_);
        if (cache_.size() < kCacheMaxEntries) cache_.emplace(std::move(key), std::move(ids));
    }
}

bool BpeModel::can_cut_between(char32_t left, char32_t right) const {
    return single_chars_.count(left) && single_chars_.count(right) &&
           !join_pairs_.count((static_cast<uint64_t>(left) << 32) | right);
}

void BpeModel::merge_long_word(std::string_view w, std::vector<int64_t>& out) const {
    auto char_start = [&](std::size_t i) { return (static_cast<unsigned char>(w[i]) & 0xC0) != 0x80; };
    std::size_t begin = 0;
    while (begin < w.size()) {
        std::size_t cut = w.size();
        if (w.size() - begin > kLongWordBytes) {
            // First cut point at or after begin + kChunkBytes.
            std::size_t i = begin + kChunkBytes;
            while (i < w.size() && !char_start(i)) ++i;
            while (i < w.size()) {
                std::size_t p = i - 1;
                while (p > begin && !char_start(p)) --p;
                std::size_t n = i + 1;
                while (n < w.size() && !char_start(n)) ++n;
                const std::u32string l = unicode::utf8_to_u32(w.substr(p, i - p));
                const std::u32string r = unicode::utf8_to_u32(w.substr(i, n - i));
                if (l.size() == 1 && r.size() == 1 && can_cut_between(l[0], r[0])) {
                    cut = i;
                    break;
                }
                i = n;
            }
        }
        merge_word(w.substr(begin, cut - begin), out);
        begin = cut;
    }
}

// Mirrors tokenizers' BPE::merge_word + Word::merge_all (same order of merges and the same
// handling of unknown characters, including where a pending <unk> lands).
void BpeModel::merge_word(std::string_view w, std::vector<int64_t>& out) const {
    struct Sym {
        int32_t id;
        int32_t prev;
        int32_t next;
        int32_t len;
    };
    std::vector<Sym> syms;
    syms.reserve(w.size());
    auto add = [&](int64_t id, std::size_t len) {
        const int32_t n = static_cast<int32_t>(syms.size());
        syms.push_back({static_cast<int32_t>(id), n - 1, -1, static_cast<int32_t>(len)});
        if (n > 0) syms[static_cast<std::size_t>(n - 1)].next = n;
    };
    bool have_unk = false;
    std::size_t unk_len = 0;
    std::string s;
    for (std::size_t i = 0; i < w.size();) {
        std::size_t clen = utf8_len(static_cast<unsigned char>(w[i]));
        if (i + clen > w.size()) clen = w.size() - i;
        const bool is_first = i == 0, is_last = i + clen == w.size();
        s.assign(w.substr(i, clen));
        if (!is_first && !config_.continuing_subword_prefix.empty()) s = config_.continuing_subword_prefix + s;
        if (is_last && !config_.end_of_word_suffix.empty()) s += config_.end_of_word_suffix;
        const auto it = vocab_.find(s);
        if (it != vocab_.end()) {
            if (have_unk) {
                add(unk_id_, unk_len);
                have_unk = false;
            }
            add(it->second, clen);
        } else {
            bool done = false;
            if (config_.byte_fallback) {
                bool all = true;
                for (unsigned char b : s)
                    if (byte_ids_[b] < 0) {
                        all = false;
                        break;
                    }
                if (all) {
                    for (unsigned char b : s) add(byte_ids_[b], 1);
                    done = true;
                }
            }
            if (!done && !config_.unk_token.empty()) {
                if (unk_id_ < 0)
                    throw Error(source_ + ": the unk token '" + config_.unk_token + "' is not in the vocabulary");
                if (have_unk && config_.fuse_unk) {
                    unk_len += clen;
                } else {
                    if (have_unk) add(unk_id_, unk_len);
                    have_unk = true;
                    unk_len = clen;
                }
            }
        }
        i += clen;
    }
    if (have_unk) add(unk_id_, unk_len);

    struct Merge {
        int32_t pos;
        int32_t rank;
        int32_t new_id;
    };
    struct Cmp {
        bool operator()(const Merge& a, const Merge& b) const {
            return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;  // min rank, then min pos first
        }
    };
    std::priority_queue<Merge, std::vector<Merge>, Cmp> queue;
    if (syms.size() > 1 && !merges_.empty()) {
        std::vector<Merge> init;
        init.reserve(syms.size());
        for (std::size_t k = 0; k + 1 < syms.size(); ++k) {
            const auto it = merges_.find(pair_key(syms[k].id, syms[k + 1].id));
            if (it != merges_.end()) init.push_back({static_cast<int32_t>(k), it->second.first, it->second.second});
        }
        queue = std::priority_queue<Merge, std::vector<Merge>, Cmp>(Cmp(), std::move(init));
    }
    while (!queue.empty()) {
        const Merge top = queue.top();
        queue.pop();
        Sym& cur = syms[static_cast<std::size_t>(top.pos)];
        if (cur.len == 0 || cur.next == -1) continue;
        const int32_t next_pos = cur.next;
        const Sym right = syms[static_cast<std::size_t>(next_pos)];
        const auto chk = merges_.find(pair_key(cur.id, right.id));
        if (chk == merges_.end() || chk->second.second != top.new_id) continue;  // expired entry
        cur.id = top.new_id;
        cur.len += right.len;
        cur.next = right.next;
        syms[static_cast<std::size_t>(next_pos)].len = 0;
        if (right.next > -1 && static_cast<std::size_t>(right.next) < syms.size())
            syms[static_cast<std::size_t>(right.next)].prev = top.pos;
        if (cur.prev >= 0) {
            const Sym& prev = syms[static_cast<std::size_t>(cur.prev)];
            const auto it = merges_.find(pair_key(prev.id, cur.id));
            if (it != merges_.end()) queue.push({cur.prev, it->second.first, it->second.second});
        }
        if (cur.next >= 0 && static_cast<std::size_t>(cur.next) < syms.size()) {
            const Sym& nx = syms[static_cast<std::size_t>(cur.next)];
            const auto it = merges_.find(pair_key(cur.id, nx.id));
            if (it != merges_.end()) queue.push({top.pos, it->second.first, it->second.second});
        }
    }
    for (const Sym& x : syms)
        if (x.len != 0) out.push_back(x.id);
}

}  // namespace qs::tok
