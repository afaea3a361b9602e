// --help and --version texts. The per-command and method option lists are generated from the
// CLI11 declarations (commands.h); only the overview and the closing notes are written here.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "core/device.h"
#include "method_options.h"
#include "model_options.h"
#include "options.h"

namespace qs::cli {

void print_version() {
    std::printf("quantscope-cli %s\n%s%s\n", QS_VERSION, torch_runtime_text().c_str(), blas_warning().c_str());
}

namespace {

// Each line of `text` with `pad` in front.
std::string indented(const std::string& text, const std::string& pad) {
    std::istringstream in(text);
    std::string out, line;
    while (std::getline(in, line)) out += pad + line + "\n";
    return out;
}

// The help lines of the options of `app` in `groups` (or in no shared group, with `groups`
// empty), without --help.
std::string option_lines(const CLI::App& app, const std::vector<std::string>& groups) {
    CLI::Formatter format;
    format.column_width(kHelpColumn);
    std::string out;
    for (const CLI::Option* opt : app.get_options()) {
        const std::string& g = opt->get_group();
        const bool shared = g == kLoadGroup || g == kMethodGroup;
        const bool wanted = groups.empty() ? !shared : std::find(groups.begin(), groups.end(), g) != groups.end();
        if (opt != app.get_help_ptr() && wanted) out += format.make_option(opt, false);
    }
    return out;
}

}  // namespace

void print_help(const CLI::App& cli) {
    std::ostringstream out;
    out << "quantscope-cli " << QS_VERSION << " - look inside LLM quantization from the command line\n"
        << "\n"
        << "Usage: quantscope-cli COMMAND [options]    (quantscope-cli COMMAND --help: that command only)\n"
        << "\n"
        << "Every --model DIR also takes a llama.cpp GGUF file (or a folder holding one .gguf): its weights\n"
        << "are dequantized as ggml does (F32, F16, BF16, Q4_0..Q8_0, Q2_K..Q6_K) and its tokenizer is read\n"
        << "from its metadata.\n"
        << "\n"
        << "Commands:\n";
    // Each command with its own options; the option groups several commands share once, after.
    std::vector<std::pair<std::string, const CLI::App*>> shared = {{kLoadGroup, nullptr}, {kMethodGroup, nullptr}};
    for (const CLI::App* sub : cli.get_subcommands([](const CLI::App*) { return true; })) {
        out << "\n" << sub->get_name() << ": " << indented(sub->get_description(), "  ").substr(2);
        out << indented(option_lines(*sub, {}), "  ");
        std::string also;
        for (auto& [group, with] : shared) {
            if (option_lines(*sub, {group}).empty()) continue;
            with = sub;
            std::string name = group.substr(0, group.find(" ("));  // "Method options"
            name[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[0])));
            also = also.empty() ? name : also.substr(0, also.find(" options")) + " and " + name;
        }
        if (!also.empty()) out << "    and the " << also << " below\n";
    }
    for (const auto& [group, with] : shared)
        if (with) out << "\n" << group << ":\n" << option_lines(*with, {group});
    out << "\n"
        << "Options:\n"
        << "  --help     this text\n"
        << "  --version  version, libtorch version, devices, and whether CUDA/MPS are compiled in and usable here\n"
        << "\n"
        << "Errors go to stderr with exit code 2 (bad input: the message names the file or option and the\n"
        << "problem) or 3 (internal error); a run cancelled by a signal exits with 128 + its number (Ctrl-C\n"
        << "130, SIGTERM 143, SIGHUP 129). Only regular files are read (not pipes or devices); dataset\n"
        << "texts are read up to 32 MiB (lines up to 16 MiB, 4 GiB of .zst data).\n";
    std::cout << out.str();
}

}  // namespace qs::cli
