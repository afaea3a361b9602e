#include "options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace qs::cli {

int64_t parse_int_option(const std::string& name, const std::string& v, int64_t lo, int64_t hi) {
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end) throw Error("option --" + name + " expects an integer, got '" + v + "'");
    if (errno == ERANGE || x < lo || x > hi) throw Error("option --" + name + " is out of range, got '" + v + "'");
    return x;
}

double parse_number_option(const std::string& name, const std::string& v) {
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end) throw Error("option --" + name + " expects a number, got '" + v + "'");
    if (!std::isfinite(x)) throw Error("option --" + name + " expects a finite number, got '" + v + "'");
    return x;
}

// CLI11 runs a check on the text before converting it; a check that throws qs::Error ends the
// parse with that error (main() prints it, exit code 2).
CLI::Validator integer_rule(const std::string& name, int64_t lo, int64_t hi) {
    return CLI::Validator(
        [name, lo, hi](std::string& v) {
            parse_int_option(name, v, lo, hi);
            return std::string();
        },
        "");
}

CLI::Validator finite_number_rule(const std::string& name) {
    return CLI::Validator(
        [name](std::string& v) {
            parse_number_option(name, v);
            return std::string();
        },
        "");
}

CLI::Validator zero_or_one_rule(const std::string& name) {
    return CLI::Validator(
        [name](std::string& v) {
            if (v != "0" && v != "1") throw Error("--" + name + " expects 0 or 1, got '" + v + "'");
            return std::string();
        },
        "");
}

void set_conventions(CLI::App& app) {
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.get_formatter()->column_width(kHelpColumn);
}

std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& e) {
    if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
        // The first argument nothing took: an unknown option, a stray word or an unknown command.
        const CLI::App* at = &app;
        for (const CLI::App* sub : app.get_subcommands()) at = sub;
        const std::vector<std::string> left = at->remaining();
        const std::string first = left.empty() ? std::string() : left.front();
        if (at == &app) return "unknown command '" + first + "' (see quantscope-cli --help)";
        if (first.rfind("-", 0) == 0)
            return "unknown option " + first.substr(0, first.find('=')) + " for '" + at->get_name() +
                   "' (see quantscope-cli " + at->get_name() + " --help)";
        return "unexpected argument '" + first + "' (options start with --)";
    }
    if (dynamic_cast<const CLI::ArgumentMismatch*>(&e)) {
        const std::string what = e.what();  // "--w-bits: 1 required INT missing"
        return "option " + what.substr(0, what.find(':')) + " needs a value";
    }
    return e.what();  // CLI11's own words, naming the option and the value
}

}  // namespace qs::cli
