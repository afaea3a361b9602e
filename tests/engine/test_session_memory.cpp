// Memory budget of applying a method in memory (#12 item 2): the original weights are views of the
// mapped checkpoint, and every method that replaces a Linear must drop the mapped pages of what it
// replaced as it goes, so the process never holds the originals and the new weights of the whole
// model at once (that was 1.73x the checkpoint for SmoothQuant W8A8 on a Llama-2-7B shape).
//
// Each case loads a random 24-layer LLaMA-shaped fp32 model (~96 MB, written at test time), touches
// every weight with a forward pass (as the calibration or a perplexity does), resets the process's
// peak RSS (/proc/self/clear_refs) and applies the method: the peak may exceed the RSS before the
// apply by at most a quarter of the checkpoint (plus, for GPTQ and SmoothQuant, what they keep by
// design: see the budget below). Large tensors are forced onto mmap so a freed tensor
// leaves the RSS at once (the measurement does not depend on what the heap kept).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <malloc.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "models/causal_lm.h"
#include "models/model_config.h"
#include "models/original_weights.h"
#include "quant/quant_session.h"
#include "test_util.h"
#include "tokenizers/tokenizer.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

int64_t status_kib(const char* key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const std::string k = std::string(key) + ":";
    while (std::getline(f, line))
        if (line.rfind(k, 0) == 0) return std::stoll(line.substr(k.size()));
    return -1;
}

bool reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    f << "5";
    f.flush();
    return static_cast<bool>(f);
}

// A LLaMA of TinyStories-656K's family (its tokenizer, vocab 2048, tied embeddings), made wider and
// deeper so that one decoder block is ~4 % of the checkpoint.
std::string make_model(const std::string& dir) {
    c10::InferenceMode guard;
    fs::create_directories(dir);
    const std::string src = source_path("resources/models/TinyStories-656K");
    nlohmann::json cfg;
    std::ifstream(src + "/config.json") >> cfg;
    cfg["hidden_size"] = 256;
    cfg["intermediate_size"] = 1024;
    cfg["num_hidden_layers"] = 24;
    cfg["num_attention_heads"] = 8;
    cfg["num_key_value_heads"] = 4;
    cfg["torch_dtype"] = "float32";
    std::ofstream(fs::path(dir) / "config.json") << cfg.dump(2);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"})
        fs::copy_file(fs::path(src) / f, fs::path(dir) / f, fs::copy_options::overwrite_existing);
    ModelConfig mc = parse_model_config(cfg, dir + "/config.json");
    at::Generator gen = at::detail::createCPUGenerator(7);
    NamedTensors ts;
    for (const auto& [name, shape] : expected_tensors(mc, "model.")) {
        if (name == "lm_head.weight") continue;  // tied
        at::Tensor t = at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
        t = name.find("norm") != std::string::npos ? 1.0 + 0.1 * t : 0.05 * t;
        ts.push_back({name, t});
    }
    write_safetensors((fs::path(dir) / "model.safetensors").string(), ts, {{"format", "pt"}});
    return dir;
}

struct Case {
    std::string name;
    MethodConfig cfg;
};

Case method_case(const std::string& which) {
    MethodConfig c;
    c.weight.bits = 4;
    c.weight.group_size = 128;
    c.calib_samples = 2;
    c.calib_seqlen = 64;
    if (which == "rtn") c.methods = {"rtn"};
    if (which == "awq") c.methods = {"awq"};
    if (which == "gptq") c.methods = {"gptq"};
    if (which == "rotate_rtn") {
        c.methods = {"rotate", "rtn"};
        c.rotation = RotationKind::Hadamard;
    }
    if (which == "smoothquant_w8a8") {
        c.methods = {"smoothquant", "rtn"};
        c.weight.bits = 8;
        c.weight.granularity = Granularity::PerChannel;
        c.weight.symmetric = true;
        c.act.bits = 8;
    }
    return {which, c};
}

class SessionMemory : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(SessionMemory, ApplyingStaysWithinAQuarterOfTheCheckpoint) {
#ifdef QS_SANITIZED
    GTEST_SKIP() << "peak RSS is not the engine's under AddressSanitizer (shadow memory, quarantined frees)";
#endif
    c10::InferenceMode guard;
    mallopt(M_MMAP_THRESHOLD, 64 << 10);  // every tensor above 64 KiB is its own mapping
    mallopt(M_TRIM_THRESHOLD, 128 << 10);
    const fs::path tmp = temp_dir("session_memory");
    struct Cleanup {
        fs::path p;
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(p, ec);
        }
    } cleanup{tmp};
    const std::string dir = make_model((tmp / "model").string());
    const double ckpt = static_cast<double>(fs::file_size(dir + "/model.safetensors"));
    LoadOptions o;
    o.mode = HoldMode::InMemory;
    o.dtype = at::kFloat;
    auto m = std::shared_ptr<CausalLM>(load_causal_lm(dir, o));
    ASSERT_TRUE(m->originals && m->originals->zero_copy());
    QuantSession s(m, std::shared_ptr<const Tokenizer>(load_tokenizer(dir)));
    const Case c = method_case(GetParam());
    s.calibration_blocks(c.cfg, nullptr);                    // the calibration set is not part of the budget
    m->forward(at::arange(1, 65, at::kLong).view({1, 64}));  // every original page resident
    const int64_t before = status_kib("VmRSS");
    if (!reset_peak_rss()) GTEST_SKIP() << "/proc/self/clear_refs is not writable here";
    ASSERT_LE(status_kib("VmHWM"), before + 4096) << "the peak did not reset";
    s.apply(c.cfg);
    const int64_t peak = status_kib("VmHWM");
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    const double over = (static_cast<double>(peak - before) * 1024.0) / ckpt;
    RecordProperty("peak_over_rss_before_in_checkpoints", std::to_string(over));
    // On top of the quarter: what the method keeps by design, in proportion to this narrow model.
    // GPTQ keeps its result, the uint8 codes of every decoder Linear (for replays and exports), one
    // byte a weight. SmoothQuant holds the calibration statistics of every Linear while it smooths
    // (mean and max |x| and 64 sample tokens a Linear: (64 + 2) x in x 4 bytes; 16 % of this
    // checkpoint, whose Linears have 256 outputs, 1.7 % of Llama-2-7B's).
    double budget = 0.25, codes = 0, stats = 0;
    for (const auto& b : m->blocks)
        for (const Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down}) {
            codes += static_cast<double>(l->weight.numel());
            stats += (64.0 + 2.0) * static_cast<double>(l->weight.size(1)) * 4.0;
        }
    // GPTQ also holds, for the Linear it is quantizing, H = 2 X^T X, its inverse's Cholesky factor
    // and a working copy: 3 x in^2 floats (down_proj: 12 MB here, 1.4 GB for Llama-2-7B's 11008).
    const double in_max = static_cast<double>(m->config.intermediate_size);
    if (c.name == "gptq") budget += (codes + 3.0 * in_max * in_max * 4.0) / ckpt;
    if (c.name == "smoothquant_w8a8") budget += stats / ckpt;
    EXPECT_LE(over, budget) << c.name << ": the apply raised the RSS from " << before / 1024 << " MiB to "
                            << peak / 1024 << " MiB, " << over << " x the " << ckpt / 1048576.0 << " MiB checkpoint";
    // the numbers are those of the method: the model still evaluates
    at::Tensor logits = m->forward(at::arange(1, 33, at::kLong).view({1, 32}));
    EXPECT_TRUE(at::isfinite(logits).all().item<bool>());
}

INSTANTIATE_TEST_SUITE_P(Methods, SessionMemory,
                         ::testing::Values("rtn", "smoothquant_w8a8", "awq", "rotate_rtn", "gptq"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });
