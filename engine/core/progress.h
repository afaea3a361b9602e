// Progress reporting and cooperative cancellation for long engine operations.
#pragma once
#include <atomic>
#include <functional>
#include <string>

#include "core/error.h"

namespace qs {

// fraction in [0,1]; message is a short human-readable step description.
using ProgressFn = std::function<void(double fraction, const std::string& message)>;

struct Progress {
    ProgressFn report;                          // may be empty
    const std::atomic<bool>* cancel = nullptr;  // may be null

    bool cancelled() const { return cancel && cancel->load(std::memory_order_relaxed); }
    void check() const {
        if (cancelled()) throw Cancelled();
    }
    void operator()(double fraction, const std::string& message) const {
        if (report) report(fraction, message);
    }
    // A sub-range [lo, hi] of this progress, for nested operations.
    Progress sub(double lo, double hi) const {
        Progress p;
        p.cancel = cancel;
        if (report) {
            auto parent = report;
            p.report = [parent, lo, hi](double f, const std::string& m) { parent(lo + (hi - lo) * f, m); };
        }
        return p;
    }
};

}  // namespace qs
