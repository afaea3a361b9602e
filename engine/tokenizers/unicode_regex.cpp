#include "tokenizers/unicode_regex.h"

#include <memory>

#include "core/error.h"
#include "tokenizers/unicode.h"

namespace qs::tok {

namespace {
constexpr std::size_t npos = static_cast<std::size_t>(-1);
constexpr int kInf = -1;

// Simple case folding, enough for (?i:'s|'t|...) style patterns: ASCII plus the two
// non-ASCII characters that fold onto ASCII letters (U+017F long s, U+212A Kelvin).
char32_t fold(char32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c == 0x17F) return 's';
    if (c == 0x212A) return 'k';
    return c;
}
}  // namespace

bool UnicodeRegex::CharClass::in_ranges(char32_t c) const {
    for (const auto& r : ranges)
        if (c >= r.first && c <= r.second) return true;
    return false;
}

bool UnicodeRegex::CharClass::raw_match(char32_t c) const {
    if (in_ranges(c)) return true;
    if (icase) {
        const char32_t f = fold(c);
        if (f != c && in_ranges(f)) return true;
        if (f >= 'a' && f <= 'z' && in_ranges(f - 32)) return true;
        if (f == 's' && in_ranges(0x17F)) return true;
        if (f == 'k' && in_ranges(0x212A)) return true;
    }
    if (dot && c != '\n') return true;
    if (cat_mask || !neg_cat_masks.empty() || word || nonword || digit || nondigit) {
        const uint32_t bit = unicode::category_bit(c);
        if (cat_mask & bit) return true;
        for (uint32_t m : neg_cat_masks)
            if (!(m & bit)) return true;
        using G = unicode::GeneralCategory;
        const bool isdigit = bit & unicode::cat_bit(G::Nd);
        const bool isword = (bit & (unicode::kMaskL | unicode::kMaskM | unicode::cat_bit(G::Nd) |
                                    unicode::cat_bit(G::Pc))) != 0;
        if ((digit && isdigit) || (nondigit && !isdigit) || (word && isword) || (nonword && !isword)) return true;
    }
    if (space || nonspace) {
        const bool ws = unicode::is_white_space(c);
        if ((space && ws) || (nonspace && !ws)) return true;
    }
    return false;
}

void UnicodeRegex::CharClass::finish() {
    ascii[0] = ascii[1] = 0;
    for (char32_t c = 0; c < 128; ++c)
        if (raw_match(c) != negate) ascii[c >> 6] |= uint64_t{1} << (c & 63);
}

namespace {

struct Node {
    enum Kind { Empty, Char, Class, Concat, Alt, Repeat, Look, Assert } kind = Empty;
    char32_t c = 0;
    bool icase = false;
    int cls = -1;
    std::vector<std::unique_ptr<Node>> kids;
    int min = 0, max = 0;
    bool greedy = true;
    bool neg = false;     // Look
    int assert_op = 0;    // Assert: Inst::Op
};

class Parser {
public:
    Parser(const std::u32string& p, const std::string& utf8, std::vector<UnicodeRegex::CharClass>& classes)
        : p_(p), utf8_(utf8), classes_(classes) {}

    std::unique_ptr<Node> parse() {
        auto n = parse_alt(false);
        if (i_ != p_.size()) fail("unbalanced ')'");
        return n;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw Error("unsupported regular expression '" + utf8_ + "': " + what + " (at character " +
                    std::to_string(i_) + ")");
    }
    bool more() const { return i_ < p_.size(); }
    char32_t peek() const { return p_[i_]; }

    std::unique_ptr<Node> parse_alt(bool icase) {
        auto first = parse_concat(icase);
        if (!more() || peek() != '|') return first;
        auto alt = std::make_unique<Node>();
        alt->kind = Node::Alt;
        alt->kids.push_back(std::move(first));
        while (more() && peek() == '|') {
            ++i_;
            alt->kids.push_back(parse_concat(icase_));
        }
        return alt;
    }

    std::unique_ptr<Node> parse_concat(bool icase) {
        icase_ = icase;
        auto cat = std::make_unique<Node>();
        cat->kind = Node::Concat;
        while (more() && peek() != '|' && peek() != ')') {
            auto atom = parse_atom();
            if (!atom) continue;  // e.g. an inline (?i)
            atom = parse_quant(std::move(atom));
            cat->kids.push_back(std::move(atom));
        }
        return cat;
    }

    std::unique_ptr<Node> parse_quant(std::unique_ptr<Node> atom) {
        while (more()) {
            int mn, mx;
            const char32_t q = peek();
            if (q == '*') { mn = 0; mx = kInf; ++i_; }
            else if (q == '+') { mn = 1; mx = kInf; ++i_; }
            else if (q == '?') { mn = 0; mx = 1; ++i_; }
            else if (q == '{') {
                std::size_t j = i_ + 1;
                auto num = [&](int& v) {
                    std::size_t s = j;
                    v = 0;
                    while (j < p_.size() && p_[j] >= '0' && p_[j] <= '9') v = v * 10 + static_cast<int>(p_[j++] - '0');
                    return j > s;
                };
                int a = 0, b = 0;
                const bool has_a = num(a);
                if (j < p_.size() && p_[j] == '}' && has_a) { mn = mx = a; }
                else if (j < p_.size() && p_[j] == ',') {
                    ++j;
                    const bool has_b = num(b);
                    if (j >= p_.size() || p_[j] != '}' || !has_a) return atom;  // literal '{' (Onig)
                    mn = a;
                    mx = has_b ? b : kInf;
                } else {
                    return atom;  // literal '{'
                }
                i_ = j + 1;
                if (mx != kInf && mx < mn) fail("bad {n,m}");
            } else {
                return atom;
            }
            bool greedy = true;
            if (more() && peek() == '?') { greedy = false; ++i_; }
            else if (more() && peek() == '+') fail("possessive quantifiers");
            auto r = std::make_unique<Node>();
            r->kind = Node::Repeat;
            r->min = mn;
            r->max = mx;
            r->greedy = greedy;
            r->kids.push_back(std::move(atom));
            atom = std::move(r);
        }
        return atom;
    }

    std::unique_ptr<Node> make_char(char32_t c) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Char;
        n->c = c;
        n->icase = icase_;
        return n;
    }
    std::unique_ptr<Node> make_class(UnicodeRegex::CharClass cc) {
        cc.icase = icase_;
        cc.finish();
        classes_.push_back(std::move(cc));
        auto n = std::make_unique<Node>();
        n->kind = Node::Class;
        n->cls = static_cast<int>(classes_.size() - 1);
        return n;
    }
    std::unique_ptr<Node> make_assert(int op) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Assert;
        n->assert_op = op;
        return n;
    }

    std::unique_ptr<Node> parse_atom() {
        const char32_t c = p_[i_++];
        switch (c) {
            case '(': return parse_group();
            case '[': return parse_class();
            case '.': { UnicodeRegex::CharClass cc; cc.dot = true; return make_class(std::move(cc)); }
            case '^': return make_assert(UnicodeRegex::Inst::Bol);
            case '$': return make_assert(UnicodeRegex::Inst::Eol);
            case '\\': return parse_escape_atom();
            case '*': case '+': case '?': fail("quantifier without operand");
            default: return make_char(c);
        }
    }

    std::unique_ptr<Node> parse_group() {
        bool saved_icase = icase_;
        if (more() && peek() == '?') {
            ++i_;
            if (!more()) fail("bad group");
            const char32_t k = p_[i_];
            if (k == ':') { ++i_; }
            else if (k == '=' || k == '!') {
                ++i_;
                auto body = parse_alt(icase_);
                if (!more() || peek() != ')') fail("missing ')'");
                ++i_;
                icase_ = saved_icase;
                auto n = std::make_unique<Node>();
                n->kind = Node::Look;
                n->neg = (k == '!');
                n->kids.push_back(std::move(body));
                return n;
            } else if (k == '<' && i_ + 1 < p_.size() && (p_[i_ + 1] == '=' || p_[i_ + 1] == '!')) {
                fail("lookbehind");
            } else {
                // flags: (?i) (?-i) (?i:...) (?-i:...)
                bool on = true, icase = icase_;
                while (more() && peek() != ':' && peek() != ')') {
                    const char32_t f = p_[i_++];
                    if (f == '-') on = false;
                    else if (f == 'i') icase = on;
                    else fail("group flag");
                }
                if (!more()) fail("missing ')'");
                if (peek() == ')') {  // inline flag: applies to the rest of the enclosing group
                    ++i_;
                    icase_ = icase;
                    return nullptr;
                }
                ++i_;  // ':'
                auto body = parse_alt(icase);
                if (!more() || peek() != ')') fail("missing ')'");
                ++i_;
                icase_ = saved_icase;
                return body;
            }
        }
        auto body = parse_alt(icase_);
        if (!more() || peek() != ')') fail("missing ')'");
        ++i_;
        icase_ = saved_icase;
        return body;
    }

    uint32_t parse_hex(std::size_t min_digits, std::size_t max_digits, bool braced) {
        uint32_t v = 0;
        std::size_t n = 0;
        auto hexval = [](char32_t h) -> int {
            if (h >= '0' && h <= '9') return static_cast<int>(h - '0');
            if (h >= 'a' && h <= 'f') return static_cast<int>(h - 'a' + 10);
            if (h >= 'A' && h <= 'F') return static_cast<int>(h - 'A' + 10);
            return -1;
        };
        while (more() && n < max_digits && hexval(peek()) >= 0) { v = v * 16 + static_cast<uint32_t>(hexval(p_[i_++])); ++n; }
        if (n < min_digits) fail("bad hex escape");
        if (braced) { if (!more() || peek() != '}') fail("bad \\x{...}"); ++i_; }
        return v;
    }

    // Parses after a backslash. Returns true and fills cc for class escapes, else sets lit.
    bool parse_escape(UnicodeRegex::CharClass& cc, char32_t& lit) {
        if (!more()) fail("trailing backslash");
        const char32_t e = p_[i_++];
        switch (e) {
            case 'n': lit = '\n'; return false;
            case 'r': lit = '\r'; return false;
            case 't': lit = '\t'; return false;
            case 'f': lit = '\f'; return false;
            case 'v': lit = '\v'; return false;
            case 'a': lit = 7; return false;
            case 'e': lit = 0x1B; return false;
            case '0': lit = 0; return false;
            case 'x':
                if (more() && peek() == '{') { ++i_; lit = parse_hex(1, 8, true); }
                else lit = parse_hex(1, 2, false);
                return false;
            case 'u': lit = parse_hex(4, 4, false); return false;
            case 's': cc.space = true; return true;
            case 'S': cc.nonspace = true; return true;
            case 'd': cc.digit = true; return true;
            case 'D': cc.nondigit = true; return true;
            case 'w': cc.word = true; return true;
            case 'W': cc.nonword = true; return true;
            case 'h': cc.ranges.push_back({'0', '9'}); cc.ranges.push_back({'a', 'f'}); cc.ranges.push_back({'A', 'F'}); return true;
            case 'p': case 'P': {
                bool negp = (e == 'P');
                std::string name;
                if (more() && peek() == '{') {
                    ++i_;
                    if (more() && peek() == '^') { negp = !negp; ++i_; }
                    while (more() && peek() != '}') name.push_back(static_cast<char>(p_[i_++]));
                    if (!more()) fail("bad \\p{...}");
                    ++i_;
                } else if (more()) {
                    name.push_back(static_cast<char>(p_[i_++]));
                }
                const uint32_t m = unicode::category_mask_from_name(name);
                if (!m) fail("unknown property \\p{" + name + "}");
                if (negp) cc.neg_cat_masks.push_back(m);
                else cc.cat_mask |= m;
                return true;
            }
            default:
                if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '1' && e <= '9'))
                    fail(std::string("escape \\") + static_cast<char>(e));
                lit = e;
                return false;
        }
    }

    std::unique_ptr<Node> parse_escape_atom() {
        if (more()) {
            const char32_t e = peek();
            if (e == 'A') { ++i_; return make_assert(UnicodeRegex::Inst::BeginText); }
            if (e == 'z') { ++i_; return make_assert(UnicodeRegex::Inst::EndText); }
            if (e == 'Z') { ++i_; return make_assert(UnicodeRegex::Inst::EndTextNl); }
        }
        UnicodeRegex::CharClass cc;
        char32_t lit = 0;
        if (parse_escape(cc, lit)) return make_class(std::move(cc));
        return make_char(lit);
    }

    std::unique_ptr<Node> parse_class() {
        UnicodeRegex::CharClass cc;
        if (more() && peek() == '^') { cc.negate = true; ++i_; }
        bool first = true;
        while (true) {
            if (!more()) fail("missing ']'");
            char32_t c = p_[i_];
            if (c == ']' && !first) { ++i_; break; }
            first = false;
            if (c == '[') fail("nested class");
            if (c == '&' && i_ + 1 < p_.size() && p_[i_ + 1] == '&') fail("class intersection");
            ++i_;
            char32_t lo;
            if (c == '\\') {
                char32_t lit = 0;
                if (parse_escape(cc, lit)) continue;
                lo = lit;
            } else {
                lo = c;
            }
            if (i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
                ++i_;
                char32_t hi = p_[i_++];
                if (hi == '\\') {
                    UnicodeRegex::CharClass tmp;
                    char32_t lit = 0;
                    if (parse_escape(tmp, lit)) fail("bad range");
                    hi = lit;
                }
                if (hi < lo) fail("bad range");
                cc.ranges.push_back({lo, hi});
            } else {
                cc.ranges.push_back({lo, lo});
            }
        }
        return make_class(std::move(cc));
    }

    const std::u32string& p_;
    const std::string& utf8_;
    std::vector<UnicodeRegex::CharClass>& classes_;
    std::size_t i_ = 0;
    bool icase_ = false;
};

bool nullable(const Node& n) {
    switch (n.kind) {
        case Node::Empty: case Node::Look: case Node::Assert: return true;
        case Node::Char: case Node::Class: return false;
        case Node::Concat:
            for (const auto& k : n.kids) if (!nullable(*k)) return false;
            return true;
        case Node::Alt:
            for (const auto& k : n.kids) if (nullable(*k)) return true;
            return false;
        case Node::Repeat: return n.min == 0 || nullable(*n.kids[0]);
    }
    return true;
}

class Compiler {
public:
    Compiler(std::vector<UnicodeRegex::Inst>& prog, const std::string& pattern) : prog_(prog), pattern_(pattern) {}
    using I = UnicodeRegex::Inst;

    int emit(I in) { prog_.push_back(in); return static_cast<int>(prog_.size() - 1); }
    int pc() const { return static_cast<int>(prog_.size()); }

    void gen(const Node& n) {
        switch (n.kind) {
            case Node::Empty: return;
            case Node::Char: { I in{}; in.op = I::Char; in.c = n.icase ? fold(n.c) : n.c; in.icase = n.icase; emit(in); return; }
            case Node::Class: { I in{}; in.op = I::Class; in.x = n.cls; emit(in); return; }
            case Node::Assert: { I in{}; in.op = static_cast<I::Op>(n.assert_op); emit(in); return; }
            case Node::Concat: for (const auto& k : n.kids) gen(*k); return;
            case Node::Alt: {
                std::vector<int> jumps;
                for (std::size_t k = 0; k < n.kids.size(); ++k) {
                    if (k + 1 < n.kids.size()) {
                        I sp{}; sp.op = I::Split;
                        const int s = emit(sp);
                        prog_[s].x = pc();
                        gen(*n.kids[k]);
                        I j{}; j.op = I::Jmp;
                        jumps.push_back(emit(j));
                        prog_[s].y = pc();
                    } else {
                        gen(*n.kids[k]);
                    }
                }
                for (int j : jumps) prog_[j].x = pc();
                return;
            }
            case Node::Look: {
                I in{}; in.op = I::Look; in.neg = n.neg;
                const int l = emit(in);
                gen(*n.kids[0]);
                I m{}; m.op = I::Match;
                emit(m);
                prog_[l].x = pc();
                return;
            }
            case Node::Repeat: {
                const Node& body = *n.kids[0];
                for (int k = 0; k < n.min; ++k) gen(body);
                if (n.max == kInf) {
                    if (nullable(body)) throw Error("unsupported regular expression '" + pattern_ + "': unbounded repetition of an expression that can match empty");
                    I sp{}; sp.op = I::Split;
                    const int s = emit(sp);
                    const int body_pc = pc();
                    gen(body);
                    I j{}; j.op = I::Jmp; j.x = s;
                    emit(j);
                    if (n.greedy) { prog_[s].x = body_pc; prog_[s].y = pc(); }
                    else { prog_[s].x = pc(); prog_[s].y = body_pc; }
                } else {
                    std::vector<int> splits;
                    for (int k = n.min; k < n.max; ++k) {
                        I sp{}; sp.op = I::Split;
                        const int s = emit(sp);
                        splits.push_back(s);
                        prog_[s].x = pc();  // body (fixed below for lazy)
                        gen(body);
                    }
                    const int out = pc();
                    for (int s : splits) {
                        const int body_pc = s + 1;
                        if (n.greedy) { prog_[s].x = body_pc; prog_[s].y = out; }
                        else { prog_[s].x = out; prog_[s].y = body_pc; }
                    }
                }
                return;
            }
        }
    }

private:
    std::vector<UnicodeRegex::Inst>& prog_;
    const std::string& pattern_;
};

}  // namespace

UnicodeRegex::UnicodeRegex(std::string_view utf8_pattern) : pattern_(utf8_pattern) {
    const std::u32string p = unicode::utf8_to_u32(utf8_pattern);
    Parser parser(p, pattern_, classes_);
    auto root = parser.parse();
    Compiler comp(prog_, pattern_);
    comp.gen(*root);
    Inst m{};
    m.op = Inst::Match;
    prog_.push_back(m);
    anchored_start_ = !prog_.empty() && prog_[0].op == Inst::BeginText;
}

std::size_t UnicodeRegex::run(int pc0, std::u32string_view s, std::size_t sp0) const {
    struct Thread { int pc; std::size_t sp; };
    std::vector<Thread> stack;
    stack.reserve(32);
    stack.push_back({pc0, sp0});
    const std::size_t n = s.size();
    while (!stack.empty()) {
        int pc = stack.back().pc;
        std::size_t sp = stack.back().sp;
        stack.pop_back();
        for (;;) {
            const Inst& in = prog_[static_cast<std::size_t>(pc)];
            bool ok = true;
            switch (in.op) {
                case Inst::Char:
                    ok = sp < n && (in.icase ? fold(s[sp]) == in.c : s[sp] == in.c);
                    if (ok) { ++sp; ++pc; }
                    break;
                case Inst::Class:
                    ok = sp < n && classes_[static_cast<std::size_t>(in.x)].match(s[sp]);
                    if (ok) { ++sp; ++pc; }
                    break;
                case Inst::Split:
                    stack.push_back({in.y, sp});
                    pc = in.x;
                    break;
                case Inst::Jmp: pc = in.x; break;
                case Inst::Match: return sp;
                case Inst::Look: {
                    const bool found = run(pc + 1, s, sp) != npos;
                    ok = found != in.neg;
                    if (ok) pc = in.x;
                    break;
                }
                case Inst::Bol: ok = sp == 0 || s[sp - 1] == '\n'; if (ok) ++pc; break;
                case Inst::Eol: ok = sp == n || s[sp] == '\n'; if (ok) ++pc; break;
                case Inst::BeginText: ok = sp == 0; if (ok) ++pc; break;
                case Inst::EndText: ok = sp == n; if (ok) ++pc; break;
                case Inst::EndTextNl: ok = sp == n || (sp + 1 == n && s[sp] == '\n'); if (ok) ++pc; break;
            }
            if (!ok) break;
        }
    }
    return npos;
}

bool UnicodeRegex::search(std::u32string_view s, std::size_t from, std::size_t& start, std::size_t& end) const {
    for (std::size_t i = from; i <= s.size(); ++i) {
        const std::size_t e = run(0, s, i);
        if (e != npos) { start = i; end = e; return true; }
        if (anchored_start_) break;
    }
    return false;
}

std::vector<std::pair<std::size_t, std::size_t>> UnicodeRegex::find_all(std::u32string_view s) const {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    std::size_t pos = 0, st = 0, en = 0;
    while (pos <= s.size() && search(s, pos, st, en)) {
        if (en == st) { pos = st + 1; continue; }
        out.push_back({st, en});
        pos = en;
    }
    return out;
}

}  // namespace qs::tok
