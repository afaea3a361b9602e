// Decoders of Hugging Face tokenizer.json ("decoder"): ByteLevel, Metaspace, Replace,
// ByteFallback, Fuse, Strip, Sequence. decode_chain works on the list of token strings as
// `tokenizers` does; the final text is their concatenation.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qs::tok {

class Decoder {
  public:
    virtual ~Decoder() = default;
    virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j, const std::string& source);

}  // namespace qs::tok
