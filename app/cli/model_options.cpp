#include "model_options.h"

#include <unistd.h>

#include <cstdio>
#include <memory>

#include "core/device.h"
#include "core/resources.h"
#include "io/checkpoint.h"
#include "io/gguf.h"
#include "io/gguf_model.h"

namespace qs::cli {

std::string ModelOptions::dir() const { return model.empty() ? default_model_dir() : model; }

LoadOptions ModelOptions::load_options() const {
    LoadOptions o;
    o.device = parse_device(device);
    o.dtype = parse_dtype(dtype);
    check_device_dtype(o.device, o.dtype);
    o.mode = parse_hold_mode(mode);
    return o;
}

std::unique_ptr<CausalLM> ModelOptions::load() const {
    auto m = load_causal_lm(dir(), load_options());
    for (const auto& w : m->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    return m;
}

ModelConfig ModelOptions::config() const {
    const std::string d = dir();
    if (const std::string path = find_gguf(d); !path.empty())
        return parse_model_config(GgufModel(path).hf_config(), path);
    Checkpoint ck(d);
    return parse_model_config(ck.config(), ck.config_path());
}

const char* const kLoadGroup = "Loading options (check, generate, ppl, sweep, quantize)";

void add_model_options(CLI::App& app, ModelOptions& o, bool loading) {
    app.add_option("--model", o.model,
                   "Hugging Face folder or llama.cpp GGUF file (or a folder holding one .gguf)\n"
                   "(default: the bundled TinyStories-656K)")
        ->type_name("DIR");
    if (!loading) return;
    app.add_option("--device", o.device, "cpu | cuda | mps")->type_name("D")->capture_default_str()->group(kLoadGroup);
    app.add_option("--dtype", o.dtype, "fp32 | bf16 | fp16 (fp16 on cpu needs libtorch 2.x)")
        ->type_name("T")
        ->capture_default_str()
        ->group(kLoadGroup);
    app.add_option("--mode", o.mode,
                   "auto | memory | block-sequential: how the decoder blocks are held.\n"
                   "block-sequential loads one block at a time from the mapped checkpoint for\n"
                   "each pass over all windows (models larger than memory); auto picks it when\n"
                   "the weights in the compute dtype exceed 80% of the memory available on the device")
        ->type_name("M")
        ->capture_default_str()
        ->group(kLoadGroup);
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
