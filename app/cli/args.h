// Minimal command-line parsing: `quantscope-cli COMMAND [--opt value] [--flag]`.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

namespace qs::cli {

// Option values: "--NAME expects an integer, got 'x'" for text, a value out of range of int64 or
// (int32) of int; "--NAME expects a finite number, got 'nan'" for NaN and infinities.
int64_t parse_int_option(const std::string& name, const std::string& value);
int parse_int32_option(const std::string& name, const std::string& value);
double parse_number_option(const std::string& name, const std::string& value);

class Args {
public:
    // flags: options that take no value. Throws qs::Error on malformed input.
    Args(int argc, char** argv, int first, const std::set<std::string>& flags);
    bool has(const std::string& name) const;
    std::string get(const std::string& name, const std::string& def = "") const;
    std::vector<std::string> get_all(const std::string& name) const;  // repeated options
    int64_t get_int(const std::string& name, int64_t def) const;
    double get_double(const std::string& name, double def) const;
    std::string require(const std::string& name) const;
    // Throws if any option is not in `known` (names without "--").
    void check_known(const std::set<std::string>& known, const std::string& command) const;

private:
    std::multimap<std::string, std::string> opts_;
};

}  // namespace qs::cli
