// The tokenizer implementations behind load_tokenizer() (load_tokenizer.cpp picks one).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizers/hf_config.h"
#include "tokenizers/tokenizer.h"

namespace qs::tok {

// <dir>/tokenizer.json (Hugging Face `tokenizers`, BPE model), plus tokenizer_config.json /
// special_tokens_map.json as transformers' PreTrainedTokenizerFast reads them.
std::unique_ptr<Tokenizer> make_hf_json_tokenizer(const std::string& dir);
// <dir>/vocab.json + <dir>/merges.txt as transformers' slow GPT2Tokenizer (GPT-2, OPT).
std::unique_ptr<Tokenizer> make_gpt2_files_tokenizer(const std::string& dir);
// <dir>/tokenizer.model through libquantscope_spm, as transformers' slow LlamaTokenizer.
std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(const std::string& dir);

// The same two from data in memory (GGUF metadata turned into a tokenizer.json document or a
// serialized SentencePiece ModelProto): `cfg` plays tokenizer_config.json, `source` names the
// origin in errors, `kind` is what kind() reports; `decoder` (a tokenizer.json "decoder")
// replaces the slow LlamaTokenizer's decode by LlamaTokenizerFast's when not null.
std::unique_ptr<Tokenizer> make_hf_json_tokenizer(const nlohmann::json& tokenizer_json, const HfTokenizerConfig& cfg,
                                                  const std::string& source, const std::string& kind);
std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(const std::string& serialized_model_proto,
                                                        const HfTokenizerConfig& cfg, const std::string& source,
                                                        const std::string& kind, const nlohmann::json& decoder);

// The tokenizer stored in a GGUF file's tokenizer.ggml.* metadata (tokenizers/gguf_tokenizer.cpp).
std::unique_ptr<Tokenizer> make_gguf_tokenizer(const std::string& gguf_path);

// Where libquantscope_spm is looked for, in order (QUANTSCOPE_SPM_LIB first when set).
std::vector<std::string> sentencepiece_shim_candidates();

}  // namespace qs::tok
