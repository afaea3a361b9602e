// Shared by the libFuzzer targets: anything but a qs::Error escaping the code under test is a
// bug; abort() makes libFuzzer keep the input as a crash artifact.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "core/error.h"

namespace qs::fuzz {

[[noreturn]] inline void bug(const char* target, const std::string& what) {
    std::fprintf(stderr, "%s: %s\n", target, what.c_str());
    std::abort();
}

// Runs fn; qs::Error is an accepted outcome (a reported problem), everything else aborts.
template <typename Fn>
void expect_only_qs_errors(const char* target, Fn&& fn) {
    try {
        fn();
    } catch (const qs::Error&) {
    } catch (const std::exception& e) {
        bug(target, std::string("unexpected exception (not qs::Error): ") + e.what());
    }
}

}  // namespace qs::fuzz
