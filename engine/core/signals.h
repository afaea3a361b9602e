// Signals and interrupted work (torch-free, Qt-free).
//
// - ignore_file_size_signal(): a write past the file-size limit (ulimit -f) raises SIGXFSZ,
//   which kills the process and leaves its temporary output behind; ignored, the write fails
//   with EFBIG and is reported like a full disk (io/safe_output.h write_error_text), and the
//   temporary is removed. prepare_process() calls it.
// - CancelOnSignals: SIGINT, SIGTERM and SIGHUP request cancellation (the flag a Progress
//   reads), so a long write stops at its next check and removes its temporaries; a second
//   signal ends the process at once (default action).
#pragma once
#include <atomic>

namespace qs {

void ignore_file_size_signal();

class CancelOnSignals {
  public:
    CancelOnSignals();   // installs the handlers (clears the flag)
    ~CancelOnSignals();  // restores the previous handlers
    CancelOnSignals(const CancelOnSignals&) = delete;
    CancelOnSignals& operator=(const CancelOnSignals&) = delete;

    const std::atomic<bool>* flag() const;
    // The signal that requested cancellation, 0 if none (also after destruction, for the exit code).
    static int received();
};

}  // namespace qs
