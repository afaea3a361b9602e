// Declaring quantscope-cli options with CLI11: each option is declared once (name, type,
// default, help text), and the value rules every option shares live here. A value that is not
// of the option's type is refused while parsing with a qs::Error naming the option and the
// value (exit code 2): "option --w-bits expects an integer, got 'x'", "option --w-bits is out
// of range, got '4294967300'", "option --sq-alpha expects a finite number, got 'nan'". Range
// rules that depend on the meaning (w_bits 2..8, ...) are the engine's (MethodConfig::validate(),
// check_ppl_options(), check_generate_options()), shared with the GUI.
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>

namespace qs::cli {

// The checks behind the options (also for values given some other way, e.g. sweep grids).
int64_t parse_int_option(const std::string& name, const std::string& value, int64_t lo = INT64_MIN,
                         int64_t hi = INT64_MAX);
double parse_number_option(const std::string& name, const std::string& value);

// CLI11 checks that throw the messages above (name without "--").
CLI::Validator integer_rule(const std::string& name, int64_t lo, int64_t hi);
CLI::Validator finite_number_rule(const std::string& name);
CLI::Validator zero_or_one_rule(const std::string& name);  // "--NAME expects 0 or 1, got 'x'"

template <class T>
CLI::Validator number_rule(const std::string& name) {
    if constexpr (std::is_floating_point_v<T>)
        return finite_number_rule(name);
    else
        return integer_rule(name, std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
}

// --NAME VALUE stored in `target` (an integer or floating-point type); --help shows target's
// value as the default.
template <class T>
CLI::Option* add_number(CLI::App& app, const std::string& name, T& target, const std::string& help) {
    return app.add_option("--" + name, target, help)->check(number_rule<T>(name))->capture_default_str();
}

// --NAME VALUE of type T handed to `set` (for values that need converting).
template <class T>
CLI::Option* add_number(CLI::App& app, const std::string& name, std::function<void(const T&)> set,
                        const std::string& help) {
    return app.add_option_function<T>("--" + name, std::move(set), help)->check(number_rule<T>(name));
}

// quantscope-cli's option conventions on an App and its later subcommands: the last of a
// repeated option wins, help texts are wide enough for the option names.
void set_conventions(CLI::App& app);
constexpr int kHelpColumn = 32;  // where option descriptions start in --help

// A CLI11 parse error as quantscope-cli words it (unknown options and commands, missing values).
std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& e);

}  // namespace qs::cli
