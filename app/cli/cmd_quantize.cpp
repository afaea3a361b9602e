// quantscope-cli quantize: apply the method options and export the result as a checkpoint
// (fake | awq-gemm | int8 | transformed); without --out, print the ApplyReport as JSON.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include "commands.h"
#include "core/error.h"
#include "export/export.h"
#include "core/signals.h"
#include "io/safe_output.h"
#include "io/safetensors.h"
#include "method_options.h"
#include "model_options.h"
#include "quant/quant_session.h"
#include "tokenizers/tokenizer.h"

namespace qs::cli {

using json = nlohmann::json;

namespace {

std::set<std::string> quantize_options() {
    std::set<std::string> s = {"model", "tokenizer", "device", "dtype", "mode", "format", "out", "force", "out-dtype",
                               "awq-reference", "dump-logits", "logits-tokens", "json"};
    for (const auto& n : method_option_names()) s.insert(n);
    return s;
}

// Deterministic token ids covering the vocabulary: (1 + 37 i) mod V, i < n.
at::Tensor logits_ids(const CausalLM& m, int64_t n) {
    n = std::min<int64_t>(n, m.config.max_position_embeddings);
    std::vector<int64_t> ids(n);
    for (int64_t i = 0; i < n; ++i) ids[i] = (1 + 37 * i) % m.config.vocab_size;
    return at::tensor(ids, at::kLong).view({1, n});
}

void dump_logits(const std::string& path, const CausalLM& like, const CausalLM::State& state, int64_t n) {
    c10::InferenceMode guard;
    for (const auto& note : remove_stale_temporaries(path)) std::fprintf(stderr, "note: %s\n", note.c_str());
    CausalLM m;
    m.config = like.config;
    m.source_dir = like.source_dir;
    m.tensor_prefix = like.tensor_prefix;
    m.restore_state(state);
    at::Tensor ids = logits_ids(m, n);
    at::Tensor logits = m.forward(ids.to(m.device())).to(at::kFloat).cpu();
    write_safetensors(path, {{"input_ids", ids}, {"logits", logits}},
                      {{"format", "pt"}, {"note", "QuantScope logits of the exported state, fp32"}});
}

}  // namespace

int cmd_quantize(const Args& a) {
    a.check_known(quantize_options(), "quantize");
    MethodConfig cfg = method_config(a);
    const bool exporting = a.has("out");
    if (!exporting && (a.has("format") || a.has("force") || a.has("out-dtype") || a.has("awq-reference")))
        throw Error("--format, --force, --out-dtype and --awq-reference need --out DIR");
    ExportOptions o;
    if (exporting) {
        o.format = parse_export_format(a.get("format", "fake"));
        o.out_dir = a.require("out");
        o.force = a.has("force");
        o.dtype = a.get("out-dtype", "");
        o.awq_reference = a.has("awq-reference");
    }
    const int64_t n_logits = a.get_int("logits-tokens", 64);
    if (n_logits < 1) throw Error("--logits-tokens must be >= 1");
    // Never into or over the source model (nor its tokenizer folder), before any work.
    if (a.has("dump-logits")) check_output_file(a.get("dump-logits"), {model_dir(a), a.get("tokenizer", "")});

    std::shared_ptr<CausalLM> model(load_model(a));
    std::shared_ptr<Tokenizer> tok;
    const std::string tok_dir = a.get("tokenizer", model->source_dir);
    if (cfg.needs_calibration()) {
        tok = std::shared_ptr<Tokenizer>(load_tokenizer(tok_dir));
    } else {
        try {
            tok = std::shared_ptr<Tokenizer>(load_tokenizer(tok_dir));
        } catch (const Error&) {
            // no tokenizer needed without calibration
        }
    }
    QuantSession session(model, tok);

    // Ctrl-C, SIGTERM and SIGHUP cancel at the next check: the partial output is removed.
    CancelOnSignals signals;
    Progress qp = stderr_progress("quantize");
    qp.cancel = signals.flag();
    std::optional<ApplyReport> rep;
    {
        if (!cfg.methods.empty()) rep = session.apply(cfg, qp);
        if (!exporting) {
            qp.check();
            if (a.has("dump-logits")) dump_logits(a.get("dump-logits"), *model, model->save_state(), n_logits);
            ApplyReport r = rep ? *rep : ApplyReport{};
            if (!rep) r.config = cfg;
            std::cout << r.to_json().dump(2) << std::endl;
            return 0;
        }
        if (o.format == ExportFormat::Fake && !o.awq_reference && cfg.methods.empty())
            std::fprintf(stderr, "note: no --method given; exporting the original weights\n");
        Progress ep = stderr_progress("export");
        ep.cancel = signals.flag();
        ExportReport er = export_checkpoint(session, o, ep);
        for (const auto& n : er.notes)
            if (n.rfind("removed ", 0) == 0 || n.rfind("restored ", 0) == 0) std::fprintf(stderr, "note: %s\n", n.c_str());
        if (a.has("dump-logits")) {
            CausalLM::State st = model->save_state();
            std::unique_ptr<CausalLM> pre;
            if (o.format == ExportFormat::Transformed && session.applied_config()) {
                pre = session.prequant_model();
                st = pre->save_state();
            }
            if (o.awq_reference || o.format == ExportFormat::AwqGemm) st = awq_reference_state(session);
            dump_logits(a.get("dump-logits"), *model, st, n_logits);
        }
        if (a.has("json")) {
            json j = {{"export", er.to_json()}};
            if (rep) j["quantization"] = rep->to_json();
            std::cout << j.dump(2) << std::endl;
            return 0;
        }
        std::printf("exported       %s\n", er.out_dir.c_str());
        std::printf("format         %s\n", er.format.c_str());
        std::printf("configuration  %s\n", er.configuration.c_str());
        std::printf("dtype          %s\n", er.dtype.c_str());
        std::printf("quantized      %lld Linears\n", static_cast<long long>(er.quantized_linears));
        std::printf("written        %.2f MiB in %zu files (%.2f s)\n", er.bytes_written / (1024.0 * 1024.0),
                    er.files.size(), er.seconds);
        for (const auto& n : er.notes) std::printf("note           %s\n", n.c_str());
        return 0;
    }
}

}  // namespace qs::cli
