// The model, its tokenizer and the evaluation text tokenized once: what ppl, sweep and
// sensitivity start from (--model/--device/--dtype/--mode, --tokenizer, --dataset).
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>

#include "data/eval_text.h"
#include "model_options.h"
#include "tokenizers/tokenizer.h"

namespace qs::cli {

struct EvalInput {
    std::shared_ptr<CausalLM> model;
    std::shared_ptr<Tokenizer> tok;
    EvalText text;
    at::Tensor ids;  // 1-D int64, BOS first
    double tokenize_seconds = 0;
};

// dataset: "wikitext2" (the bundled test split) or a local text file; tokenizer: a folder, or ""
// for the model's own.
EvalInput load_eval_input(const ModelOptions& model, const std::string& tokenizer, const std::string& dataset);

}  // namespace qs::cli
