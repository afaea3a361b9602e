// Shared helpers for engine tests.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

#define QS_EXPECT_ERROR_CONTAINS(stmt, substr)                                                   \
    do {                                                                                         \
        try {                                                                                    \
            stmt;                                                                                \
            ADD_FAILURE() << "expected qs::Error containing '" << (substr) << "'";               \
        } catch (const qs::Error& e) {                                                           \
            EXPECT_NE(std::string(e.what()).find(substr), std::string::npos)                     \
                << "error was: " << e.what() << "\nexpected to contain: " << (substr);           \
        }                                                                                        \
    } while (0)

inline std::string test_data(const std::string& rel) { return std::string(QS_TEST_DATA_DIR) + "/" + rel; }
inline std::string source_path(const std::string& rel) { return std::string(QS_SOURCE_DIR) + "/" + rel; }
