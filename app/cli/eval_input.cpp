#include "eval_input.h"

#include <ATen/ATen.h>

#include <chrono>

namespace qs::cli {

EvalInput load_eval_input(const ModelOptions& model, const std::string& tokenizer, const std::string& dataset) {
    EvalInput p;
    p.model = std::shared_ptr<CausalLM>(model.load());
    p.tok = std::shared_ptr<Tokenizer>(load_tokenizer(tokenizer.empty() ? p.model->source_dir : tokenizer));
    p.text = dataset == "wikitext2" ? default_eval_text() : load_eval_text(dataset);
    const auto t0 = std::chrono::steady_clock::now();
    p.ids = at::tensor(p.tok->encode(p.text.text, true), at::kLong);
    p.tokenize_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return p;
}

}  // namespace qs::cli
