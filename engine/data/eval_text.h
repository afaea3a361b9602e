// The text a perplexity run evaluates: the bundled WikiText-2 test split or a user's file.
#pragma once
#include <string>

#include "core/progress.h"

namespace qs {

struct EvalText {
    std::string text;
    std::string description;  // e.g. "wiki.test.raw.zst: WikiText raw, 4,358 rows ("" for 1,467 blank
                              // lines) joined with "\n\n" (HF datasets / llm-awq protocol)"
    std::string source;       // the file read
};

// Loads a perplexity dataset by file type (".zst" looked through):
//   .raw   -> WikiText protocol: "\n\n".join(wikitext_rows(path))  (see wikitext.h)
//   .txt   -> the whole file as is
//   .jsonl -> "\n\n".join of the "text" fields, in file order
// Throws qs::Error naming the file (and line) for unsupported types, I/O, zstd, JSON and
// UTF-8 errors, and for an empty text.
EvalText load_eval_text(const std::string& path, const Progress& progress = {});

// load_eval_text(wikitext2_default_path()).
EvalText default_eval_text(const Progress& progress = {});

}  // namespace qs
