#include "method_options.h"

#include <fstream>
#include <map>

#include "core/error.h"
#include "options.h"
#include "quant/w8a8_preset.h"

namespace qs::cli {

const char* const kMethodGroup = "Method options (ppl, sweep, quantize, recipe)";

namespace {

std::string on_off(bool b) { return b ? "1" : "0"; }

std::map<std::string, LinearOverride> read_overrides_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot read the overrides file (--overrides)");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": not valid JSON (--overrides): " + e.what());
    }
    return overrides_from_json(j, path);
}

}  // namespace

// The declaration order is the order the values are applied in (CLI11 runs the options'
// callbacks in declaration order): --method (and its preset) first, --group-size before
// --w-quant. The range rules are MethodConfig::validate()'s (shared with the GUI and
// workspaces), checked once all options are applied.
void add_method_options(CLI::App& app, MethodConfig& c, bool presets) {
    const MethodConfig d = c;  // the defaults --help shows
    auto group = [&](CLI::Option* o) { return o->group(kMethodGroup); };
    group(app.add_option_function<std::vector<std::string>>(
                 "--method",
                 [&c, presets](const std::vector<std::string>& v) {
                     c.methods = parse_methods(v);
                     if (presets && c.has("smoothquant")) set_w8a8(c);
                 },
                 "rtn | gptq | awq-keep | awq-scale | awq | smoothquant | rotate, comma-separated\n"
                 "or repeated; they run in the order rotate -> smoothquant -> awq search ->\n"
                 "weight quant -> act quant.\n"
                 "gptq: GPTQ (IST-DASLab reference algorithm) instead of RTN: per Linear\n"
                 "H = 2 X^T X from the calibration inputs, block by block (quantized outputs feed\n"
                 "the next block), per group or per channel; its grid counts 0 in the min/max range")
              ->type_name("M[,M...]")
              ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
              ->expected(1)
              ->allow_extra_args(false));
    group(add_number(app, "w-bits", c.weight.bits, "weight bits, 2..8 (smoothquant: 8)"));
    group(add_number<int64_t>(
              app, "group-size",
              [&c](const int64_t& g) {
                  if (g == -1) {
                      c.weight.granularity = Granularity::PerChannel;
                  } else if (g > 0) {
                      c.weight.granularity = Granularity::PerGroup;
                      c.weight.group_size = g;
                  } else {
                      throw Error("--group-size must be positive or -1 (per channel), got " + std::to_string(g));
                  }
              },
              "group size along the input dimension; -1 = per output channel")
              ->default_str(std::to_string(d.weight.group_size)));
    group(app.add_option_function<std::string>(
                 "--w-quant", [&c](const std::string& v) { c.weight.granularity = parse_granularity(v); },
                 "per-group | per-channel | per-tensor (smoothquant: per-channel)")
              ->type_name("G")
              ->default_str(granularity_name(d.weight.granularity)));
    group(app.add_flag("--symmetric", c.weight.symmetric,
                       "symmetric (absmax) weights instead of min/max with a zero point"));
    group(app.add_flag("--fp16-scales", c.weight.fp16_scales,
                       "round scales to fp16 before computing codes (AutoAWQ's stored scales: an\n"
                       "awq-gemm export then reloads to exactly this fake-quant model)"));
    group(app.add_flag("--include-lm-head", c.include_lm_head,
                       "also quantize lm_head (the seed notebooks do; default: decoder Linears only)"));
    group(add_number(app, "awq-salient", c.awq_salient, "fraction of salient input channels by mean |x|"));
    group(
        add_number(app, "awq-factor", c.awq_factor, "awq-scale: multiply salient channels by this before quantizing"));
    group(app.add_flag("--awq-clip", c.awq_clip, "awq: also search the weight clipping range (llm-awq auto_clip)"));
    group(app.add_flag("--duo-scaling", c.duo_scaling, "awq: AutoAWQ duo scaling (scales = x^r / w^(1-r))"));
    group(app.add_flag("--awq-direct-loss", c.awq_direct_loss,
                       "awq: re-run each Linear-only group's Linear for every grid ratio, as llm-awq\n"
                       "does (default: the same MSE from X^T X, one pass)"));
    group(app.add_flag("--act-order", c.gptq_act_order,
                       "gptq: quantize columns by descending H_ii (reference --act-order)"));
    group(app.add_flag("--static-groups", c.gptq_static_groups,
                       "gptq: group grids from the original weights (reference --static-groups)"));
    group(app.add_option_function<std::string>(
                 "--true-sequential", [&c](const std::string& v) { c.gptq_true_sequential = v == "1"; },
                 "gptq: quantize k,v,q -> o -> up,gate -> down in turn, each seeing the earlier\n"
                 "ones quantized; 0 = all Linears of a block from one pass")
              ->check(zero_or_one_rule("true-sequential"))
              ->type_name("0|1")
              ->default_str(on_off(d.gptq_true_sequential)));
    group(add_number(app, "gptq-damp", c.gptq_damp, "gptq: dampening, fraction of mean(diag H) added to the diagonal"));
    group(add_number(app, "gptq-block", c.gptq_block_size, "gptq: columns per lazy batch update"));
    group(add_number(app, "sq-alpha", c.sq_alpha, "smoothquant migration strength, 0..1"));
    group(add_number(app, "a-bits", c.act.bits, "activation fake-quant bits (0 = off; smoothquant: 8)"));
    group(app.add_option_function<std::string>(
                 "--act-quant",
                 [&c](const std::string& v) {
                     if (v != "per-token" && v != "per-tensor")
                         throw Error("--act-quant must be per-token or per-tensor");
                     c.act.per_token = v == "per-token";
                 },
                 "per-token | per-tensor")
              ->type_name("Q")
              ->default_str(d.act.per_token ? "per-token" : "per-tensor"));
    group(app.add_flag("--quantize-bmm", c.act.quantize_bmm,
                       "also quantize the q/k/v outputs (the attention matmul inputs)"));
    group(app.add_option_function<std::string>(
                 "--rotation", [&c](const std::string& v) { c.rotation = parse_rotation_kind(v); },
                 "random | hadamard | hadamard-plain. hadamard is QuaRot's randomized\n"
                 "diag(s) H / sqrt(n); hadamard-plain is H / sqrt(n), no seed")
              ->type_name("R")
              ->default_str(rotation_kind_name(d.rotation)));
    group(add_number<int64_t>(
              app, "seed", [&c](const int64_t& s) { c.seed = static_cast<uint64_t>(s); },
              "rotation seed: random matrix / Hadamard signs")
              ->default_str(std::to_string(d.seed)));
    group(app.add_option_function<std::string>(
                 "--overrides",
                 [&c](const std::string& path) {
                     for (const auto& [name, o] : read_overrides_file(path)) c.overrides[name] = o;
                 },
                 "mixed precision: per-Linear overrides from a JSON file, {\"<Linear>\": {\"bits\": 8,\n"
                 "\"group_size\": 64, \"skip\": false}, ...} (or a configuration holding one under\n"
                 "\"overrides\"); --override entries are applied after it")
              ->type_name("FILE.json"));
    group(app.add_option_function<std::vector<std::string>>(
                 "--override",
                 [&c](const std::vector<std::string>& v) {
                     for (const auto& item : v) {
                         const auto eq = item.rfind('=');
                         if (eq == std::string::npos || eq == 0)
                             throw Error("--override expects NAME=SPEC (e.g. model.layers.0.mlp.down_proj=w8), got '" +
                                         item + "'");
                         c.overrides[item.substr(0, eq)] = parse_linear_override(item.substr(eq + 1));
                     }
                 },
                 "mixed precision: one Linear (Hugging Face name) with its own weight spec, repeatable.\n"
                 "SPEC: skip (not quantized: its transformed weight, float inputs) | wB | wB:gN |\n"
                 "wB:channel | gN | channel (bits / group size; the rest is the configuration's),\n"
                 "e.g. --override model.layers.0.mlp.down_proj=w8 --override lm_head=skip")
              ->type_name("NAME=SPEC")
              ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
              ->expected(1)
              ->allow_extra_args(false));
    group(app.add_option("--calib", c.calib_path,
                         "calibration text: .txt, .jsonl, .jsonl.zst (default: bundled tinyshakespeare)")
              ->type_name("PATH"));
    group(add_number(app, "calib-samples", c.calib_samples, "calibration blocks"));
    group(add_number(app, "calib-seqlen", c.calib_seqlen, "calibration block length"));
    group(add_number<int64_t>(
              app, "calib-seed", [&c](const int64_t& s) { c.calib_seed = static_cast<uint64_t>(s); },
              "shuffle seed for .jsonl sets")
              ->default_str(std::to_string(d.calib_seed)));
}

namespace {

// The method options on their own, for checking names and applying sweep values.
struct MethodApp {
    MethodConfig config;
    CLI::App app;
    MethodApp() {
        set_conventions(app);
        add_method_options(app, config, /*presets=*/false);
    }
};

}  // namespace

bool is_method_option(const std::string& name) {
    static const MethodApp m;
    return !name.empty() && name[0] != '-' && m.app.get_option_no_throw("--" + name) != nullptr;
}

void apply_override(MethodConfig& c, const std::string& name, const std::string& value) {
    if (!is_method_option(name)) throw Error("unknown method option --" + name);
    MethodApp m;
    m.config = c;
    std::vector<std::string> args = {"--" + name + "=" + value};  // CLI11 takes them last to first
    try {
        m.app.parse(args);
    } catch (const CLI::ParseError& e) {
        throw Error(describe_parse_error(m.app, e));
    }
    m.config.validate();
    c = m.config;
}

}  // namespace qs::cli
