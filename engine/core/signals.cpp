#include "core/signals.h"

#include <signal.h>

namespace qs {

namespace {
std::atomic<bool> g_cancel{false};
std::atomic<int> g_signal{0};
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
struct sigaction g_prev[3];

extern "C" void on_cancel_signal(int sig) {
    if (g_cancel.exchange(true)) {  // the second one: do what the signal normally does
        ::signal(sig, SIG_DFL);
        ::raise(sig);
        return;
    }
    g_signal.store(sig);
}
}  // namespace

void ignore_file_size_signal() { ::signal(SIGXFSZ, SIG_IGN); }

CancelOnSignals::CancelOnSignals() {
    g_cancel.store(false);
    g_signal.store(0);
    struct sigaction sa {};
    sa.sa_handler = on_cancel_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &sa, &g_prev[i]);
}

CancelOnSignals::~CancelOnSignals() {
    for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &g_prev[i], nullptr);
}

const std::atomic<bool>* CancelOnSignals::flag() const { return &g_cancel; }

int CancelOnSignals::received() { return g_signal.load(); }

}  // namespace qs
