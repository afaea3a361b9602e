// quantscope-cli: the command-line face of the QuantScope engine.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <string>

#include "commands.h"
#include "core/process_setup.h"
#include "core/error.h"
#include "core/signals.h"
#include "method_options.h"

using namespace qs::cli;

static std::set<std::string> with_method_flags(std::set<std::string> s) {
    for (const auto& f : method_flag_names()) s.insert(f);
    return s;
}

QS_EARLY_ENVIRONMENT();  // OpenMP wait policy before libgomp loads (no re-exec)

int main(int argc, char** argv) {
    qs::prepare_process(argv);  // threads, heap (and the wait policy, were it still unset)
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
        print_help();
        return argc < 2 ? 1 : 0;
    }
    if (!std::strcmp(argv[1], "--version")) {
        print_version();
        return 0;
    }
    static const std::map<std::string, std::pair<std::set<std::string>, std::function<int(const Args&)>>> commands = {
        {"info", {{"json"}, cmd_info}},
        {"check", {{"json"}, cmd_check}},
        {"generate", {{"sample", "json"}, cmd_generate}},
        {"ppl", {with_method_flags({"json", "kl"}), cmd_ppl}},
        {"sweep", {with_method_flags({"json", "kl"}), cmd_sweep}},
        {"quantize", {with_method_flags({"json", "force", "awq-reference"}), cmd_quantize}},
    };
    const std::string cmd = argv[1];
    auto it = commands.find(cmd);
    try {
        if (it == commands.end()) throw qs::Error("unknown command '" + cmd + "' (see quantscope-cli --help)");
        Args args(argc, argv, 2, it->second.first);
        return it->second.second(args);
    } catch (const qs::Cancelled&) {
        // 128 + the signal, as if it had ended the process (SIGINT 130, SIGTERM 143, SIGHUP 129)
        const int sig = qs::CancelOnSignals::received();
        std::fprintf(stderr, "quantscope-cli: cancelled%s; no partial output left\n",
                     sig == SIGTERM ? " (SIGTERM)" : sig == SIGHUP ? " (SIGHUP)" : "");
        return 128 + (sig ? sig : SIGINT);
    } catch (const qs::Error& e) {
        std::fprintf(stderr, "quantscope-cli %s: error: %s\n", cmd.c_str(), e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "quantscope-cli %s: internal error: %s\n", cmd.c_str(), e.what());
        return 3;
    }
}
