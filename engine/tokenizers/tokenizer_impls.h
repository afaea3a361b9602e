// The tokenizer implementations behind load_tokenizer() (load_tokenizer.cpp picks one).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tokenizers/tokenizer.h"

namespace qs::tok {

// <dir>/tokenizer.json (Hugging Face `tokenizers`, BPE model), plus tokenizer_config.json /
// special_tokens_map.json as transformers' PreTrainedTokenizerFast reads them.
std::unique_ptr<Tokenizer> make_hf_json_tokenizer(const std::string& dir);
// <dir>/vocab.json + <dir>/merges.txt as transformers' slow GPT2Tokenizer (GPT-2, OPT).
std::unique_ptr<Tokenizer> make_gpt2_files_tokenizer(const std::string& dir);
// <dir>/tokenizer.model through libquantscope_spm, as transformers' slow LlamaTokenizer.
std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(const std::string& dir);

// Where libquantscope_spm is looked for, in order (QUANTSCOPE_SPM_LIB first when set).
std::vector<std::string> sentencepiece_shim_candidates();

}  // namespace qs::tok
