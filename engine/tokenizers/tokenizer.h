// Tokenizer interface and the factory that picks the right implementation from the files
// in a model folder (tokenizer.json, vocab.json + merges.txt, or tokenizer.model).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace qs {

class Tokenizer {
  public:
    virtual ~Tokenizer() = default;
    // Encodes UTF-8 text. add_bos: prepend the BOS token the model's post-processor adds
    // (OPT: </s>=2, LLaMA: <s>=1), exactly as HF does with add_special_tokens=True.
    virtual std::vector<int64_t> encode(const std::string& text, bool add_bos) const = 0;
    virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special = true) const = 0;
    virtual int64_t bos_id() const = 0;  // -1 if none
    virtual int64_t eos_id() const = 0;  // -1 if none
    virtual int64_t vocab_size() const = 0;
    virtual std::string kind() const = 0;  // e.g. "tokenizer.json (BPE, byte-level)"
};

// Picks the tokenizer from a folder: tokenizer.json, else vocab.json + merges.txt, else
// tokenizer.model (SentencePiece); or, for a GGUF file (or a folder holding one instead of
// config.json), the tokenizer in its metadata. Throws qs::Error naming the folder/file when
// none is found or a file is malformed.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir);

// The Hugging Face files of the tokenizer in a GGUF file's metadata, as (file name, content):
// tokenizer.json (gpt2 vocabularies) or tokenizer.model (llama SentencePiece), and
// tokenizer_config.json. Exporting a GGUF model writes them next to config.json.
std::vector<std::pair<std::string, std::string>> gguf_tokenizer_files(const std::string& gguf_path);

}  // namespace qs
