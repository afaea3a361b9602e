// quantscope-cli ppl: wikitext-2 (or any local text) perplexity by the llm-awq protocol.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "core/device.h"
#include "core/error.h"
#include "data/eval_text.h"
#include "eval/perplexity.h"
#include "model_options.h"
#include "tokenizers/tokenizer.h"

namespace qs::cli {

using json = nlohmann::json;

int cmd_ppl(const Args& a) {
    a.check_known({"model", "dataset", "tokenizer", "seqlen", "nsamples", "batch", "device", "dtype", "json"}, "ppl");
    auto model = load_model(a);
    auto tok = load_tokenizer(a.get("tokenizer", model->source_dir));
    const std::string ds = a.get("dataset", "wikitext2");
    EvalText text = ds == "wikitext2" ? default_eval_text() : load_eval_text(ds);

    auto t0 = std::chrono::steady_clock::now();
    std::vector<int64_t> ids = tok->encode(text.text, true);
    double tok_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    PplOptions o;
    o.seqlen = a.get_int("seqlen", 0);
    std::string ns = a.get("nsamples", "all");
    o.nsamples = ns == "all" ? -1 : a.get_int("nsamples", -1);
    if (ns != "all" && o.nsamples < 1) throw Error("--nsamples must be a positive integer or 'all'");
    o.batch = a.get_int("batch", 1);
    if (o.batch < 1) throw Error("--batch must be >= 1");

    Progress p = stderr_progress("perplexity");
    PplResult r = evaluate_perplexity(*model, at::tensor(ids, at::kLong), o, p);
    const double tps = r.evaluated_tokens / r.seconds;
    if (a.has("json")) {
        json j = {{"ppl", r.ppl},
                  {"nsamples", r.nsamples},
                  {"available_windows", r.available_windows},
                  {"seqlen", r.seqlen},
                  {"tokens", r.tokens},
                  {"evaluated_tokens", r.evaluated_tokens},
                  {"seconds", r.seconds},
                  {"tokenize_seconds", tok_secs},
                  {"tokens_per_second", tps},
                  {"batch", o.batch},
                  {"dtype", dtype_name(model->dtype())},
                  {"device", device_name(model->device())},
                  {"model", model->source_dir},
                  {"tokenizer", tok->kind()},
                  {"dataset", text.description},
                  {"protocol", r.protocol},
                  {"window_nll", r.window_nll}};
        std::cout << j.dump() << std::endl;
    } else {
        std::printf("perplexity     %.4f\n", r.ppl);
        std::printf("dataset        %s\n", text.description.c_str());
        std::printf("protocol       %s\n", r.protocol.c_str());
        std::printf("model          %s (%s on %s)\n", model->source_dir.c_str(), dtype_name(model->dtype()).c_str(),
                    device_name(model->device()).c_str());
        std::printf("speed          %.0f tokens/s (%.2f s for %lld tokens; tokenization %.2f s)\n", tps, r.seconds,
                    (long long)r.evaluated_tokens, tok_secs);
    }
    return 0;
}

}  // namespace qs::cli
