// Normalizers of Hugging Face tokenizer.json ("normalizer"): Sequence, Prepend, Replace,
// NFC, NFD, Strip. Work on code points; offsets are not tracked (ids only).
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace qs::tok {

class Normalizer {
  public:
    virtual ~Normalizer() = default;
    virtual void normalize(std::u32string& s) const = 0;
};

// nullptr for JSON null. Throws qs::Error naming `source` for unsupported types.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& source);

// Replaces every non-overlapping occurrence of `from` (left to right) by `to`.
void replace_all(std::u32string& s, const std::u32string& from, const std::u32string& to);

}  // namespace qs::tok
