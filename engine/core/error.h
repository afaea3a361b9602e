// Engine error types. Every failure a user can cause (bad file, bad option) is a
// qs::Error whose message names the file/tensor/option and what was expected.
#pragma once
#include <stdexcept>
#include <string>

namespace qs {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Thrown when a long operation observes its cancel flag.
struct Cancelled : Error {
    Cancelled() : Error("cancelled") {}
};

}  // namespace qs
