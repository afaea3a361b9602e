#include "args.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace qs::cli {

Args::Args(int argc, char** argv, int first, const std::set<std::string>& flags) {
    for (int i = first; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0) throw Error("unexpected argument '" + a + "' (options start with --)");
        std::string name = a.substr(2), value;
        auto eq = name.find('=');
        if (eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        } else if (flags.count(name)) {
            value = "1";
        } else {
            if (i + 1 >= argc) throw Error("option --" + name + " needs a value");
            value = argv[++i];
        }
        opts_.emplace(name, value);
    }
}

int64_t parse_int_option(const std::string& name, const std::string& v) {
    char* end = nullptr;
    errno = 0;
    long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end) throw Error("option --" + name + " expects an integer, got '" + v + "'");
    if (errno == ERANGE) throw Error("option --" + name + " is out of range, got '" + v + "'");
    return x;
}

int parse_int32_option(const std::string& name, const std::string& v) {
    const int64_t x = parse_int_option(name, v);
    if (x < INT_MIN || x > INT_MAX) throw Error("option --" + name + " is out of range, got '" + v + "'");
    return static_cast<int>(x);
}

double parse_number_option(const std::string& name, const std::string& v) {
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end) throw Error("option --" + name + " expects a number, got '" + v + "'");
    if (!std::isfinite(x)) throw Error("option --" + name + " expects a finite number, got '" + v + "'");
    return x;
}

bool Args::has(const std::string& name) const { return opts_.count(name) != 0; }

std::string Args::get(const std::string& name, const std::string& def) const {
    auto range = opts_.equal_range(name);
    if (range.first == range.second) return def;
    auto last = range.second;
    --last;
    return last->second;
}

std::vector<std::string> Args::get_all(const std::string& name) const {
    std::vector<std::string> out;
    auto range = opts_.equal_range(name);
    for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
    return out;
}

int64_t Args::get_int(const std::string& name, int64_t def) const {
    return has(name) ? parse_int_option(name, get(name)) : def;
}

double Args::get_double(const std::string& name, double def) const {
    return has(name) ? parse_number_option(name, get(name)) : def;
}

std::string Args::require(const std::string& name) const {
    if (!has(name)) throw Error("missing required option --" + name);
    return get(name);
}

void Args::check_known(const std::set<std::string>& known, const std::string& command) const {
    for (const auto& kv : opts_)
        if (!known.count(kv.first))
            throw Error("unknown option --" + kv.first + " for '" + command + "' (see quantscope-cli --help)");
}

}  // namespace qs::cli
