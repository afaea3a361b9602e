// Engine error types. Every failure a user can cause (bad file, bad option) is a
// qs::Error whose message names the file/tensor/option and what was expected.
#pragma once
#include <stdexcept>
#include <string>

namespace qs {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Thrown when a long operation observes its cancel flag. Deliberately not an Error: a
// `catch (const Error&)` that turns a bad input into a message or a fallback must never swallow
// a cancel (code that cleans up on any failure catches `...` and rethrows).
struct Cancelled : std::exception {
    const char* what() const noexcept override { return "cancelled"; }
};

}  // namespace qs
