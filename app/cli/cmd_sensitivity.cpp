// quantscope-cli sensitivity: per-layer sensitivity map (quant/sensitivity.h): the perplexity and
// KL divergence when only one decoder Linear (or block) is quantized, with an imatrix statistic.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>

#include "commands.h"
#include "core/device.h"
#include "core/error.h"
#include "eval_input.h"
#include "io/safe_output.h"
#include "method_options.h"
#include "model_options.h"
#include "options.h"
#include "quant/quant_session.h"
#include "quant/sensitivity.h"

namespace qs::cli {

using json = nlohmann::json;

namespace {

struct SensArgs {
    ModelOptions model;
    std::string dataset = "wikitext2";
    std::string tokenizer;
    SensitivityOptions opts;
    std::string scope = "both";
    std::string format = "table";
    std::string sort = "kl";
    std::string out;
    bool channels = false;
    bool no_total = false;
    int64_t keep_top = -1;
    std::string keep_as = "w8";
    std::string keep_by = "kl";
    std::string overrides_out;
    MethodConfig method;
};

// stdout, or FILE written atomically (temporary + rename) and never into the model folder.
void write_output(const std::string& path, const std::string& text, const std::string& model_dir) {
    if (path.empty()) {
        std::cout << text << std::flush;
        return;
    }
    for (const auto& note : write_file_atomic(path, text, {model_dir})) std::fprintf(stderr, "%s\n", note.c_str());
}

std::string table(const SensitivityResult& r, const std::string& sort) {
    std::vector<const SensitivityEntry*> rows;
    for (const auto& e : r.entries) rows.push_back(&e);
    auto key = [&](const SensitivityEntry* e) { return sort == "ppl" ? e->delta_ppl : e->kl.mean; };
    if (sort != "order")
        std::stable_sort(rows.begin(), rows.end(), [&](auto* a, auto* b) {
            if (a->kind != b->kind) return a->kind == "linear";
            return key(a) > key(b);
        });
    std::string s;
    char buf[512];
    std::snprintf(buf, sizeof buf, "# %s\n# base ppl %.4f", r.configuration.c_str(), r.base_ppl);
    s += buf;
    if (r.total_ppl) {
        std::snprintf(buf, sizeof buf, ", whole configuration %.4f (KL mean %.5f)", *r.total_ppl, r.total_kl->mean);
        s += buf;
    }
    std::snprintf(buf, sizeof buf, "; %lld windows x %lld tokens of %s; %.1f s\n", (long long)r.nsamples,
                  (long long)r.seqlen, r.dataset.c_str(), r.seconds);
    s += buf;
    std::snprintf(buf, sizeof buf, "%-6s %-44s %10s %10s %10s %8s %9s %11s\n", "kind", "name", "ppl", "dppl", "KL mean",
                  "top1", "w rel err", "imatrix max/mean");
    s += buf;
    for (const auto* e : rows) {
        std::snprintf(buf, sizeof buf, "%-6s %-44s %10.4f %+10.4f %10.6f %8.4f %9.5f", e->kind.c_str(), e->name.c_str(),
                      e->ppl, e->delta_ppl, e->kl.mean, e->kl.top1, e->weight_rel_error);
        s += buf;
        if (e->kind == "linear") {
            std::snprintf(buf, sizeof buf, " %11.1f", e->imatrix.max_ratio);
            s += buf;
        }
        s += "\n";
    }
    return s;
}

int run_sensitivity(const SensArgs& a) {
    if (a.format != "table" && a.format != "csv" && a.format != "json")
        throw Error("--format must be table, csv or json, found '" + a.format + "'");
    if (a.sort != "kl" && a.sort != "ppl" && a.sort != "order")
        throw Error("--sort must be kl, ppl or order, found '" + a.sort + "'");
    SensitivityOptions o = a.opts;
    if (a.scope == "linears")
        o.blocks = false;
    else if (a.scope == "blocks")
        o.linears = false;
    else if (a.scope != "both")
        throw Error("--scope must be linears, blocks or both, found '" + a.scope + "'");
    o.total = !a.no_total;
    if ((a.keep_top >= 0) != !a.overrides_out.empty())
        throw Error(
            "--keep-top N and --overrides-out FILE go together (the N most sensitive Linears' overrides "
            "are written to FILE)");
    const LinearOverride keep = parse_linear_override(a.keep_as);
    if (a.keep_by != "kl" && a.keep_by != "ppl") throw Error("--keep-by must be kl or ppl, found '" + a.keep_by + "'");
    const MethodConfig& cfg = a.method;
    cfg.validate();
    if (!cfg.quantizes_weights())
        throw Error("sensitivity needs a weight quantizer: --method rtn, awq, gptq or smoothquant (found: " +
                    cfg.describe() + ")");
    EvalInput p = load_eval_input(a.model, a.tokenizer, a.dataset);
    cfg.validate_for_model(p.model->config.max_position_embeddings);
    QuantSession session(p.model, p.tok);
    SensitivityResult r =
        compute_sensitivity(session, cfg, p.ids, p.text.description, o, stderr_progress("sensitivity"));
    if (a.format == "json") {
        json j = r.to_json(a.channels);
        j["model"] = p.model->source_dir;
        j["dtype"] = dtype_name(p.model->dtype());
        j["device"] = device_name(p.model->device());
        write_output(a.out, j.dump() + "\n", p.model->source_dir);
    } else if (a.format == "csv") {
        write_output(a.out, r.to_csv(), p.model->source_dir);
    } else {
        write_output(a.out, table(r, a.sort), p.model->source_dir);
    }
    if (a.keep_top >= 0) {
        // The configuration's own overrides, then the kept Linears (theirs win): the file is the
        // whole mixed-precision set that --overrides FILE reads back.
        std::map<std::string, LinearOverride> all = cfg.overrides;
        const auto kept = most_sensitive_linears(r.entries, a.keep_top, a.keep_by);
        json names = json::array();
        for (const auto& n : kept) {
            all[n] = keep;
            names.push_back(n);
        }
        json ov = json::object();
        for (const auto& [name, o] : all) ov[name] = o.to_json();
        json j = {{"overrides", ov},
                  {"selected_by",
                   {{"metric", a.keep_by == "kl" ? "mean KL" : "delta ppl"},
                    {"top", a.keep_top},
                    {"spec", linear_override_text(keep)},
                    {"linears", names},
                    {"configuration", r.configuration},
                    {"protocol", r.protocol}}}};
        write_output(a.overrides_out, j.dump(2) + "\n", p.model->source_dir);
        std::fprintf(stderr, "sensitivity: %zu Linear(s) kept at %s (most sensitive by %s) -> %s\n", kept.size(),
                     linear_override_text(keep).c_str(), a.keep_by.c_str(), a.overrides_out.c_str());
    }
    return 0;
}

}  // namespace

Run add_sensitivity(CLI::App& cli) {
    auto* app = cli.add_subcommand(
        "sensitivity",
        "Per-layer sensitivity map: for each decoder Linear (and block), the perplexity and KL divergence\n"
        "against the unquantized model when only that one is quantized with the method options, on a short\n"
        "evaluation set (the first --nsamples windows of --seqlen tokens), and the imatrix statistic\n"
        "(sum of x^2 per input channel, llama.cpp).");
    auto a = std::make_shared<SensArgs>();
    add_model_options(*app, a->model);
    app->add_option("--dataset", a->dataset, "wikitext2 or a local text: .txt, .raw, .jsonl, .jsonl.zst")
        ->type_name("wikitext2|PATH")
        ->capture_default_str();
    app->add_option("--tokenizer", a->tokenizer, "tokenizer folder (default: the model folder)")->type_name("DIR");
    add_number(*app, "seqlen", a->opts.seqlen, "window length (clamped to max_position_embeddings)");
    add_number(*app, "nsamples", a->opts.nsamples, "windows, from the start of the text");
    app->add_option("--scope", a->scope, "linears | blocks | both")->type_name("S")->capture_default_str();
    app->add_option("--format", a->format, "table | csv | json")->type_name("F")->capture_default_str();
    app->add_option("--sort", a->sort, "table order: kl | ppl (largest first) | order (model order)")
        ->type_name("KEY")
        ->capture_default_str();
    app->add_option("--out", a->out, "write the output to FILE instead of stdout")->type_name("FILE");
    app->add_flag("--imatrix-channels", a->channels,
                  "JSON: also every Linear's sum of x^2 per input channel (imatrix_sum_sq)");
    app->add_flag("--no-total", a->no_total, "skip the whole configuration's perplexity on the same windows");
    app->add_option("--keep-top", a->keep_top,
                    "mixed precision from the map: write the N most sensitive Linears (--keep-by) with the\n"
                    "override --keep-as to --overrides-out FILE, which --overrides FILE reads")
        ->type_name("N")
        ->check(integer_rule("keep-top", 0, 1000000));
    app->add_option("--keep-as", a->keep_as, "override for the kept Linears: wB | wB:gN | wB:channel | skip")
        ->type_name("SPEC")
        ->capture_default_str();
    app->add_option("--keep-by", a->keep_by, "rank for --keep-top: kl (mean KL) | ppl (delta ppl)")
        ->type_name("KEY")
        ->capture_default_str();
    app->add_option("--overrides-out", a->overrides_out,
                    "with --keep-top: the overrides JSON ({\"overrides\": {...}}, the configuration's own\n"
                    "overrides included), written atomically, never into the model folder")
        ->type_name("FILE");
    add_method_options(*app, a->method);
    return [a] { return run_sensitivity(*a); };
}

}  // namespace qs::cli
