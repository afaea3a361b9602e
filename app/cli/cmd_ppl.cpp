// quantscope-cli ppl / sweep: wikitext-2 (or any local text) perplexity by the llm-awq
// protocol, optionally after quantization methods; sweep runs a grid over method options.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "core/device.h"
#include "core/error.h"
#include "eval/perplexity.h"
#include "eval_input.h"
#include "method_options.h"
#include "model_options.h"
#include "options.h"
#include "quant/quant_session.h"
#include "tokenizers/tokenizer.h"

namespace qs::cli {

using json = nlohmann::json;

namespace {

// The options of ppl (and sweep, which adds --grid and --format).
struct PplArgs {
    ModelOptions model;
    std::string dataset = "wikitext2";
    std::string tokenizer;  // empty: the model folder
    PplOptions ppl;
    std::string nsamples = "all";
    bool json = false;
    MethodConfig method;
    CLI::Option* seqlen_opt = nullptr;
    // sweep
    std::vector<std::string> grids;
    std::string format = "table";
};

void add_ppl_options(CLI::App& app, PplArgs& a, bool sweep) {
    add_model_options(app, a.model);
    app.add_option("--dataset", a.dataset, "wikitext2 or a local text: .txt, .raw, .jsonl, .jsonl.zst")
        ->type_name("wikitext2|PATH")
        ->capture_default_str();
    app.add_option("--tokenizer", a.tokenizer, "tokenizer folder (default: the model folder)")->type_name("DIR");
    a.seqlen_opt = add_number(app, "seqlen", a.ppl.seqlen, "window length (0 = min(2048, max_position_embeddings))");
    app.add_option("--nsamples", a.nsamples, "windows to evaluate, from the start of the text")
        ->type_name("N|all")
        ->capture_default_str();
    add_number(app, "batch", a.ppl.batch, "windows per forward, 1..4096");
    app.add_flag("--kl", a.ppl.kl,
                 "also the KL divergence against the unquantized model (llama.cpp --kl-divergence):\n"
                 "mean, median, 99.9th percentile and max of the per-token KL(original || quantized)\n"
                 "and top-1 agreement, over the perplexity's scored tokens; the original logits are\n"
                 "computed window by window (about twice the time)");
    if (sweep) {
        app.add_option("--grid", a.grids,
                       "a method option and its values, once or twice, e.g.\n"
                       "--grid sq-alpha=0,0.5,0.85 --grid w-bits=3,4")
            ->type_name("NAME=V1,V2,...")
            ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
            ->expected(1)
            ->allow_extra_args(false);
        app.add_option("--format", a.format, "table | csv | json")->type_name("F")->capture_default_str();
    } else {
        app.add_flag("--json", a.json,
                     "one JSON object (ppl, nsamples, seqlen, tokens, seconds, tokens_per_second,\n"
                     "dtype, device, protocol, mode, dataset, window_nll, kl, configuration, ...)");
    }
    add_method_options(app, a.method);
}

PplOptions ppl_opts(const PplArgs& a) {
    PplOptions o = a.ppl;
    o.nsamples = a.nsamples == "all" ? -1 : parse_int_option("nsamples", a.nsamples);
    if (a.nsamples != "all" && o.nsamples < 1) throw Error("--nsamples must be a positive integer or 'all'");
    if (a.seqlen_opt->count() && o.seqlen == 0) throw Error("--seqlen must be at least 2, found 0");
    check_ppl_options(o);  // the engine's range rules, before anything is loaded
    return o;
}

// KL divergence against the original model; null when not asked or for the original weights.
json kl_json(const PplResult& r) { return r.kl ? kl_stats_json(*r.kl) : json(nullptr); }

json result_json(const PplResult& r, const EvalInput& p, const PplOptions& o, const ApplyReport* rep,
                 const std::string& mode) {
    json j = {{"ppl", r.ppl},
              {"nsamples", r.nsamples},
              {"available_windows", r.available_windows},
              {"seqlen", r.seqlen},
              {"tokens", r.tokens},
              {"evaluated_tokens", r.evaluated_tokens},
              {"seconds", r.seconds},
              {"tokenize_seconds", p.tokenize_seconds},
              {"tokens_per_second", r.evaluated_tokens / r.seconds},
              {"batch", o.batch},
              {"dtype", dtype_name(p.model->dtype())},
              {"device", device_name(p.model->device())},
              {"model", p.model->source_dir},
              {"tokenizer", p.tok->kind()},
              {"dataset", p.text.description},
              {"protocol", r.protocol},
              {"mode", mode},
              {"window_nll", r.window_nll},
              {"kl", kl_json(r)}};
    if (rep) {
        j["configuration"] = rep->config.to_json();
        j["quantization"] = rep->to_json();
    } else {
        j["configuration"] = MethodConfig().to_json();
    }
    return j;
}

int run_ppl(const PplArgs& a) {
    const MethodConfig& cfg = a.method;
    cfg.validate();
    PplOptions o = ppl_opts(a);
    EvalInput p = load_eval_input(a.model, a.tokenizer, a.dataset);
    QuantSession session(p.model, p.tok);
    EvalReport ev = session.evaluate(cfg, p.ids, o, stderr_progress("ppl"));
    const PplResult& r = ev.ppl;
    const ApplyReport* rep = ev.apply ? &*ev.apply : nullptr;
    if (a.json) {
        std::cout << result_json(r, p, o, rep, ev.mode).dump() << std::endl;
        return 0;
    }
    std::printf("perplexity     %.4f\n", r.ppl);
    std::printf("configuration  %s\n", cfg.describe().c_str());
    if (rep && !rep->calibration.empty()) std::printf("calibration    %s\n", rep->calibration.c_str());
    if (rep)
        std::printf("size           %.2f MiB (seed formula), %.2f MiB packed\n", rep->seed_size_mib,
                    rep->packed_size_mib);
    if (r.kl)
        std::printf(
            "KL divergence  mean %.6f, median %.6f, 99.9%% %.6f, max %.6f nats; top-1 agreement %.2f%% (%lld tokens)\n",
            r.kl->mean, r.kl->median, r.kl->p99_9, r.kl->max, 100 * r.kl->top1, (long long)r.kl->tokens);
    else if (o.kl)
        std::printf("KL divergence  0 (the original weights are the reference)\n");
    std::printf("dataset        %s\n", p.text.description.c_str());
    std::printf("protocol       %s\n", r.protocol.c_str());
    std::printf("mode           %s\n", ev.mode.c_str());
    std::printf("model          %s (%s on %s)\n", p.model->source_dir.c_str(), dtype_name(p.model->dtype()).c_str(),
                device_name(p.model->device()).c_str());
    std::printf("speed          %.0f tokens/s (%.2f s for %lld tokens; tokenization %.2f s)\n",
                r.evaluated_tokens / r.seconds, r.seconds, (long long)r.evaluated_tokens, p.tokenize_seconds);
    return 0;
}

int run_sweep(const PplArgs& a) {
    const std::string& format = a.format;
    if (format != "table" && format != "csv" && format != "json") throw Error("--format must be table, csv or json");
    const auto& grids = a.grids;
    if (grids.empty() || grids.size() > 2)
        throw Error("sweep needs one or two --grid NAME=V1,V2,... (e.g. --grid sq-alpha=0,0.5,0.85)");
    std::vector<std::pair<std::string, std::vector<std::string>>> axes;
    for (const auto& g : grids) {
        auto eq = g.find('=');
        if (eq == std::string::npos) throw Error("--grid expects NAME=V1,V2,..., got '" + g + "'");
        std::pair<std::string, std::vector<std::string>> ax{g.substr(0, eq), {}};
        if (!is_method_option(ax.first)) throw Error("--grid: '" + ax.first + "' is not a method option");
        std::stringstream ss(g.substr(eq + 1));
        std::string v;
        while (std::getline(ss, v, ',')) ax.second.push_back(v);
        if (ax.second.empty()) throw Error("--grid " + ax.first + " has no values");
        axes.push_back(ax);
    }
    const MethodConfig& base = a.method;
    base.validate();
    std::vector<MethodConfig> configs;
    std::vector<std::vector<std::string>> labels;
    const auto& ax0 = axes[0];
    for (const auto& v0 : ax0.second) {
        const size_t n1 = axes.size() > 1 ? axes[1].second.size() : 1;
        for (size_t j = 0; j < n1; ++j) {
            MethodConfig c = base;
            apply_override(c, ax0.first, v0);
            std::vector<std::string> l{v0};
            if (axes.size() > 1) {
                apply_override(c, axes[1].first, axes[1].second[j]);
                l.push_back(axes[1].second[j]);
            }
            configs.push_back(c);
            labels.push_back(l);
        }
    }
    PplOptions o = ppl_opts(a);
    EvalInput p = load_eval_input(a.model, a.tokenizer, a.dataset);
    for (const auto& c : configs) c.validate_for_model(p.model->config.max_position_embeddings);
    QuantSession session(p.model, p.tok);
    json rows = json::array();
    for (size_t i = 0; i < configs.size(); ++i) {
        std::fprintf(stderr, "sweep %zu/%zu: %s\n", i + 1, configs.size(), configs[i].describe().c_str());
        EvalReport ev = session.evaluate(configs[i], p.ids, o, stderr_progress("ppl"));
        const PplResult& r = ev.ppl;
        const ApplyReport rep = ev.apply ? *ev.apply : ApplyReport{};
        json row = {{ax0.first, labels[i][0]},
                    {"ppl", r.ppl},
                    {"size_mib_seed_formula", rep.seed_size_mib},
                    {"size_mib_packed", rep.packed_size_mib},
                    {"configuration", configs[i].describe()},
                    {"seconds", rep.seconds + r.seconds},
                    {"mode", ev.mode},
                    {"kl", kl_json(r)}};
        if (axes.size() > 1) row[axes[1].first] = labels[i][1];
        rows.push_back(row);
    }
    session.reset();
    const std::string protocol = "wikitext-2 ppl, seqlen " +
                                 std::to_string(o.seqlen > 0 ? o.seqlen : p.model->config.default_seqlen()) +
                                 ", nsamples " + (o.nsamples < 0 ? std::string("all") : std::to_string(o.nsamples));
    if (format == "json") {
        std::cout << json({{"rows", rows},
                           {"protocol", protocol},
                           {"dataset", p.text.description},
                           {"model", p.model->source_dir}})
                         .dump()
                  << std::endl;
    } else if (format == "csv") {
        std::cout << ax0.first << (axes.size() > 1 ? "," + axes[1].first : "")
                  << ",ppl,size_mib_seed_formula,configuration\n";
        for (const auto& r : rows) {
            std::cout << r[ax0.first].get<std::string>();
            if (axes.size() > 1) std::cout << "," << r[axes[1].first].get<std::string>();
            std::cout << "," << r["ppl"].get<double>() << "," << r["size_mib_seed_formula"].get<double>() << ",\""
                      << r["configuration"].get<std::string>() << "\"\n";
        }
    } else {
        std::printf("# %s; %s\n", protocol.c_str(), p.text.description.c_str());
        std::printf("%-14s%s%12s %10s  %s\n", ax0.first.c_str(),
                    axes.size() > 1
                        ? (std::string(14 - std::min<size_t>(13, axes[1].first.size()), ' ') + axes[1].first).c_str()
                        : "",
                    "ppl", "MiB", "configuration");
        for (const auto& r : rows) {
            std::printf("%-14s", r[ax0.first].get<std::string>().c_str());
            if (axes.size() > 1) std::printf("%14s", r[axes[1].first].get<std::string>().c_str());
            std::printf("%12.4f %10.3f  %s\n", r["ppl"].get<double>(), r["size_mib_seed_formula"].get<double>(),
                        r["configuration"].get<std::string>().c_str());
        }
    }
    return 0;
}

}  // namespace

Run add_ppl(CLI::App& cli) {
    auto* app = cli.add_subcommand("ppl",
                                   "Perplexity by the llm-awq/GPTQ protocol (single BOS, non-overlapping windows),\n"
                                   "after the method options (quantize before evaluating).");
    auto a = std::make_shared<PplArgs>();
    add_ppl_options(*app, *a, /*sweep=*/false);
    return [a] { return run_ppl(*a); };
}

Run add_sweep(CLI::App& cli) {
    auto* app =
        cli.add_subcommand("sweep", "Perplexity over a grid of one or two method options (plus the ppl options).");
    auto a = std::make_shared<PplArgs>();
    add_ppl_options(*app, *a, /*sweep=*/true);
    return [a] { return run_sweep(*a); };
}

}  // namespace qs::cli
