// The quantscope-cli commands. Each add_* declares its subcommand and options on the CLI11 app
// and returns what runs once the command line is parsed: the process exit code; errors are
// thrown as qs::Error and reported by main().
#pragma once
#include <CLI/CLI.hpp>

#include <functional>

namespace qs::cli {

using Run = std::function<int()>;

Run add_info(CLI::App& cli);
Run add_check(CLI::App& cli);
Run add_generate(CLI::App& cli);
Run add_ppl(CLI::App& cli);
Run add_sweep(CLI::App& cli);
Run add_quantize(CLI::App& cli);
Run add_recipe(CLI::App& cli);
Run add_sensitivity(CLI::App& cli);

// The full reference (every command with its options), generated from the declarations.
void print_help(const CLI::App& cli);
void print_version();

}  // namespace qs::cli
