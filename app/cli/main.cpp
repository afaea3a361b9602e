// quantscope-cli: the command-line face of the QuantScope engine.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <map>
#include <string>

#include "commands.h"
#include "core/error.h"
#include "core/process_setup.h"
#include "core/signals.h"
#include "options.h"

using namespace qs::cli;

int main(int argc, char** argv) {
    qs::prepare_process();  // threads, heap
    CLI::App cli("look inside LLM quantization from the command line", "quantscope-cli");
    set_conventions(cli);
    cli.require_subcommand(1);
    const std::map<std::string, Run> commands = {
        {"info", add_info(cli)},         {"check", add_check(cli)},
        {"generate", add_generate(cli)}, {"ppl", add_ppl(cli)},
        {"sweep", add_sweep(cli)},       {"quantize", add_quantize(cli)},
        {"recipe", add_recipe(cli)},     {"sensitivity", add_sensitivity(cli)},
    };
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
        print_help(cli);
        return argc < 2 ? 1 : 0;
    }
    if (!std::strcmp(argv[1], "--version")) {
        print_version();
        return 0;
    }
    const std::string cmd = argv[1];
    try {
        auto it = commands.find(cmd);
        if (it == commands.end()) throw qs::Error("unknown command '" + cmd + "' (see quantscope-cli --help)");
        try {
            cli.parse(argc, argv);
        } catch (const CLI::CallForHelp&) {
            std::cout << cli.get_subcommand(cmd)->help();
            return 0;
        } catch (const CLI::ParseError& e) {
            throw qs::Error(describe_parse_error(cli, e));
        }
        return it->second();
    } catch (const qs::Cancelled&) {
        // 128 + the signal, as if it had ended the process (SIGINT 130, SIGTERM 143, SIGHUP 129)
        const int sig = qs::CancelOnSignals::received();
        std::fprintf(stderr, "quantscope-cli: cancelled%s; no partial output left\n",
                     sig == SIGTERM  ? " (SIGTERM)"
                     : sig == SIGHUP ? " (SIGHUP)"
                                     : "");
        return 128 + (sig ? sig : SIGINT);
    } catch (const qs::Error& e) {
        std::fprintf(stderr, "quantscope-cli %s: error: %s\n", cmd.c_str(), e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "quantscope-cli %s: internal error: %s\n", cmd.c_str(), e.what());
        return 3;
    }
}
