#include "method_options.h"

#include "core/error.h"

namespace qs::cli {

const std::set<std::string>& method_option_names() {
    static const std::set<std::string> s = {"method", "w-bits", "group-size", "symmetric", "fp16-scales", "w-quant", "awq-salient",
                                            "awq-factor", "awq-clip", "duo-scaling", "awq-direct-loss", "sq-alpha", "a-bits", "act-quant",
                                            "quantize-bmm", "rotation", "seed", "calib", "calib-samples",
                                            "calib-seqlen", "calib-seed", "include-lm-head",
                                            "act-order", "static-groups", "true-sequential", "gptq-damp", "gptq-block"};
    return s;
}

const std::set<std::string>& method_flag_names() {
    static const std::set<std::string> s = {"symmetric", "fp16-scales", "awq-clip", "duo-scaling", "awq-direct-loss", "quantize-bmm", "include-lm-head",
                                            "act-order", "static-groups"};
    return s;
}

// Sets one option; the range rules are MethodConfig::validate()'s (shared with the GUI and
// workspaces), checked after every override.
void apply_override(MethodConfig& c, const std::string& n, const std::string& v) {
    if (n == "w-bits") {
        c.weight.bits = parse_int32_option(n, v);
    } else if (n == "group-size") {
        int64_t g = parse_int_option(n, v);
        if (g == -1) {
            c.weight.granularity = Granularity::PerChannel;
        } else if (g > 0) {
            c.weight.granularity = Granularity::PerGroup;
            c.weight.group_size = g;
        } else {
            throw Error("--group-size must be positive or -1 (per channel), got " + v);
        }
    } else if (n == "w-quant") {
        c.weight.granularity = parse_granularity(v);
    } else if (n == "symmetric") {
        c.weight.symmetric = v != "0";
    } else if (n == "fp16-scales") {
        c.weight.fp16_scales = v != "0";
    } else if (n == "awq-salient") {
        c.awq_salient = parse_number_option(n, v);
    } else if (n == "awq-factor") {
        c.awq_factor = parse_number_option(n, v);
    } else if (n == "awq-clip") {
        c.awq_clip = v != "0";
    } else if (n == "duo-scaling") {
        c.duo_scaling = v != "0";
    } else if (n == "awq-direct-loss") {
        c.awq_direct_loss = v != "0";
    } else if (n == "sq-alpha") {
        c.sq_alpha = parse_number_option(n, v);
    } else if (n == "a-bits") {
        c.act.bits = parse_int32_option(n, v);
    } else if (n == "act-quant") {
        if (v != "per-token" && v != "per-tensor") throw Error("--act-quant must be per-token or per-tensor");
        c.act.per_token = v == "per-token";
    } else if (n == "quantize-bmm") {
        c.act.quantize_bmm = v != "0";
    } else if (n == "rotation") {
        c.rotation = parse_rotation_kind(v);
    } else if (n == "seed") {
        c.seed = static_cast<uint64_t>(parse_int_option(n, v));
    } else if (n == "calib") {
        c.calib_path = v;
    } else if (n == "calib-samples") {
        c.calib_samples = parse_int_option(n, v);
    } else if (n == "calib-seqlen") {
        c.calib_seqlen = parse_int_option(n, v);
    } else if (n == "calib-seed") {
        c.calib_seed = static_cast<uint64_t>(parse_int_option(n, v));
    } else if (n == "act-order") {
        c.gptq_act_order = v != "0";
    } else if (n == "static-groups") {
        c.gptq_static_groups = v != "0";
    } else if (n == "true-sequential") {
        if (v != "0" && v != "1") throw Error("--true-sequential expects 0 or 1, got '" + v + "'");
        c.gptq_true_sequential = v == "1";
    } else if (n == "gptq-damp") {
        c.gptq_damp = parse_number_option(n, v);
    } else if (n == "gptq-block") {
        c.gptq_block_size = parse_int_option(n, v);
    } else if (n == "include-lm-head") {
        c.include_lm_head = v != "0";
    } else if (n == "method") {
        c.methods = parse_methods({v});
    } else {
        throw Error("unknown method option --" + n);
    }
    c.validate();
}

MethodConfig method_config(const Args& a) {
    MethodConfig c;
    c.methods = parse_methods(a.get_all("method"));
    if (c.has("smoothquant")) {  // SmoothQuant's W8A8 defaults
        c.weight.bits = 8;
        c.weight.granularity = Granularity::PerChannel;
        c.weight.symmetric = true;
        c.act.bits = 8;
        c.act.per_token = true;
    }
    for (const auto& n : method_option_names())
        if (n != "method" && a.has(n)) apply_override(c, n, a.get(n));
    if (!c.methods.empty() && c.weight.granularity == Granularity::PerGroup && a.has("w-quant") &&
        a.get("w-quant") == "per-group" && !a.has("group-size"))
        c.weight.group_size = 128;
    c.validate();
    return c;
}

}  // namespace qs::cli
