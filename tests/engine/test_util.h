// Shared helpers for engine tests.
#pragma once
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"

#define QS_EXPECT_ERROR_CONTAINS(stmt, substr)                                         \
    do {                                                                               \
        try {                                                                          \
            stmt;                                                                      \
            ADD_FAILURE() << "expected qs::Error containing '" << (substr) << "'";     \
        } catch (const qs::Error& e) {                                                 \
            EXPECT_NE(std::string(e.what()).find(substr), std::string::npos)           \
                << "error was: " << e.what() << "\nexpected to contain: " << (substr); \
        }                                                                              \
    } while (0)

// The test data and source folders: compiled in, or $QS_TEST_DATA_DIR / $QS_SOURCE_DIR at run
// time (tools/gpu_check.sh runs a prebuilt test binary against another copy of the repository).
inline std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v && *v ? v : fallback;
}
inline std::string test_data(const std::string& rel) {
    return env_or("QS_TEST_DATA_DIR", QS_TEST_DATA_DIR) + "/" + rel;
}
inline std::string source_path(const std::string& rel) { return env_or("QS_SOURCE_DIR", QS_SOURCE_DIR) + "/" + rel; }

// An empty folder under the system temp dir, unique per test process: qs_test_<name>_<pid>.
inline std::filesystem::path temp_dir(const std::string& name) {
    namespace fs = std::filesystem;
    fs::path p = fs::temp_directory_path() / ("qs_test_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
}

inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
    std::ofstream f(p, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// stdout of `quantscope-cli ARGS` (stderr dropped); exit status in *status.
inline std::string run_cli_capture(const std::string& args, int* status = nullptr) {
    const std::string cmd = std::string(QS_CLI_PATH) + " " + args + " 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while (p && (n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int rc = p ? ::pclose(p) : -1;
    if (status) *status = rc;
    return out;
}
