// quantscope-cli quantize: apply the method options and export the result as a checkpoint
// (fake | awq-gemm | int8 | transformed | compressed-tensors); without --out, print the ApplyReport as JSON.
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
#include "options.h"
#include "quant/quant_session.h"
#include "tokenizers/tokenizer.h"

namespace qs::cli {

using json = nlohmann::json;

namespace {

struct QuantizeArgs {
    ModelOptions model;
    std::string tokenizer;  // empty: the model folder
    ExportOptions out;
    std::string format = "fake";
    std::string dump_logits;
    int64_t logits_tokens = 64;
    bool json = false;
    MethodConfig method;
    CLI::Option* out_opt = nullptr;
    std::vector<CLI::Option*> export_only;  // need --out
};

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

int run_quantize(const QuantizeArgs& a) {
    const MethodConfig& cfg = a.method;
    cfg.validate();
    const bool exporting = a.out_opt->count() > 0;
    if (!exporting)
        for (const CLI::Option* opt : a.export_only)
            if (opt->count()) throw Error("--format, --force, --out-dtype and --awq-reference need --out DIR");
    ExportOptions o = a.out;
    if (exporting) o.format = parse_export_format(a.format);
    const int64_t n_logits = a.logits_tokens;
    if (n_logits < 1) throw Error("--logits-tokens must be >= 1");
    const bool dumping = !a.dump_logits.empty();
    // Never into or over the source model (nor its tokenizer folder), before any work.
    if (dumping) check_output_file(a.dump_logits, {a.model.dir(), a.tokenizer});

    std::shared_ptr<CausalLM> model(a.model.load());
    std::shared_ptr<Tokenizer> tok;
    const std::string tok_dir = a.tokenizer.empty() ? model->source_dir : a.tokenizer;
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
            if (dumping) dump_logits(a.dump_logits, *model, model->save_state(), n_logits);
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
            if (n.rfind("removed ", 0) == 0 || n.rfind("restored ", 0) == 0)
                std::fprintf(stderr, "note: %s\n", n.c_str());
        if (dumping) {
            CausalLM::State st = model->save_state();
            std::unique_ptr<CausalLM> pre;
            if (o.format == ExportFormat::Transformed && session.applied_config()) {
                pre = session.prequant_model();
                st = pre->save_state();
            }
            if (o.awq_reference || o.format == ExportFormat::AwqGemm) st = awq_reference_state(session);
            dump_logits(a.dump_logits, *model, st, n_logits);
        }
        if (a.json) {
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

}  // namespace

Run add_quantize(CLI::App& cli) {
    auto* app =
        cli.add_subcommand("quantize",
                           "Apply the method options and export a checkpoint (atomic: written to OUT.tmp-PID,\n"
                           "fsync'ed, renamed; never into or over the source; free space checked; Ctrl-C, SIGTERM\n"
                           "or SIGHUP cancels and removes the partial output; temporaries a killed run left at\n"
                           "OUT are removed by the next export there). Without --out: print the quantization\n"
                           "report (JSON). The exported awq-gemm, int8 and compressed-tensors folders open in every\n"
                           "command (--model OUT).");
    auto a = std::make_shared<QuantizeArgs>();
    add_model_options(*app, a->model);
    app->add_option("--tokenizer", a->tokenizer, "tokenizer folder (default: the model folder)")->type_name("DIR");
    a->out_opt = app->add_option("--out", a->out.out_dir, "the new model folder")->type_name("DIR");
    a->export_only = {
        app->add_option("--format", a->format,
                        "fake | awq-gemm | int8 | transformed | compressed-tensors\n"
                        "fake: dequantized weights, plain Hugging Face checkpoint\n"
                        "awq-gemm: AutoAWQ GEMM int4 (needs rtn/awq --w-bits 4, asymmetric,\n"
                        "  --group-size 32|64|128; other tensors fp16; tokenizer copied)\n"
                        "int8: W8A16, int8 weights + float32 per-channel scales (needs\n"
                        "  --w-bits 8 --w-quant per-channel --symmetric)\n"
                        "transformed: rotated/smoothed/AWQ-scaled weights before quantization\n"
                        "compressed-tensors: pack-quantized W4A16/W8A16 as llm-compressor writes it\n"
                        "  (rtn/awq/smoothquant/rotate/gptq, --w-bits 4|8, group or per-channel,\n"
                        "  sym or asym; scales in the model dtype; lm_head kept in 'ignore')")
            ->type_name("F")
            ->capture_default_str(),
        app->add_option("--out-dtype", a->out.dtype,
                        "float32 | float16 | bfloat16 (default: the source checkpoint's dtype;\n"
                        "float32 for a GGUF source, whose tokenizer is written as HF files)")
            ->type_name("T"),
        app->add_flag("--force", a->out.force, "replace an existing model folder at --out (never the source)"),
        app->add_flag("--awq-reference", a->out.awq_reference,
                      "fake only: write the model exactly as the awq-gemm export represents it\n"
                      "(fp16 scales and fp16-rounded other tensors; float32 by default)"),
    };
    app->add_option("--dump-logits", a->dump_logits,
                    "write input_ids and fp32 logits of the exported state (safetensors; atomic,\n"
                    "never into the model or tokenizer folder)")
        ->type_name("FILE");
    add_number(*app, "logits-tokens", a->logits_tokens, "tokens for --dump-logits");
    app->add_flag("--json", a->json, "the export report as JSON");
    add_method_options(*app, a->method);
    return [a] { return run_quantize(*a); };
}

}  // namespace qs::cli
