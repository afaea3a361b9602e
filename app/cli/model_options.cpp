#include "model_options.h"

#include <unistd.h>

#include <cstdio>
#include <memory>

#include "core/device.h"
#include "core/resources.h"

namespace qs::cli {

std::string model_dir(const Args& a) { return a.has("model") ? a.get("model") : default_model_dir(); }

LoadOptions load_options(const Args& a) {
    LoadOptions o;
    o.device = parse_device(a.get("device", "cpu"));
    o.dtype = parse_dtype(a.get("dtype", "fp32"));
    check_device_dtype(o.device, o.dtype);
    o.mode = parse_hold_mode(a.get("mode", "auto"));
    return o;
}

std::unique_ptr<CausalLM> load_model(const Args& a) {
    auto m = load_causal_lm(model_dir(a), load_options(a));
    for (const auto& w : m->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    return m;
}

Progress stderr_progress(const std::string& what) {
    Progress p;
    const bool tty = isatty(2);
    auto last = std::make_shared<int>(-1);
    p.report = [what, tty, last](double f, const std::string& msg) {
        int pct = static_cast<int>(f * 100 + 0.5);
        if (tty) {
            std::fprintf(stderr, "\r%s: %3d%% %s\033[K", what.c_str(), pct, msg.c_str());
            if (pct >= 100) std::fprintf(stderr, "\n");
        } else if (pct / 10 != *last / 10 || pct == 100) {
            if (pct == *last) return;
            std::fprintf(stderr, "%s: %d%% %s\n", what.c_str(), pct, msg.c_str());
        }
        *last = pct;
    };
    return p;
}

}  // namespace qs::cli
