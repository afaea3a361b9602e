// load_tokenizer(): picks the implementation from the files in a model folder.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/file_checks.h"
#include "io/gguf_model.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/tokenizer_impls.h"

namespace qs {

namespace {

std::unique_ptr<Tokenizer> pick(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path d(dir);
    if (fs::is_regular_file(d / "tokenizer.json", ec)) return tok::make_hf_json_tokenizer(dir);
    if (fs::is_regular_file(d / "vocab.json", ec) && fs::is_regular_file(d / "merges.txt", ec))
        return tok::make_gpt2_files_tokenizer(dir);
    if (fs::is_regular_file(d / "tokenizer.model", ec)) return tok::make_sentencepiece_tokenizer(dir);
    if (fs::is_regular_file(d / "vocab.json", ec))
        throw Error("tokenizer folder " + dir + " has vocab.json but no merges.txt");
    throw Error("no tokenizer in " + dir +
                ": expected tokenizer.json, vocab.json + merges.txt, or tokenizer.model (SentencePiece)");
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    // A GGUF file (or a folder holding one): the tokenizer inside it (tokenizer.ggml.*).
    if (const std::string gguf = find_gguf(dir); !gguf.empty()) return tok::make_gguf_tokenizer(gguf);
    if (!fs::is_directory(dir, ec)) {
        if (ec && ec != std::errc::no_such_file_or_directory) check_readable_folder(dir, "a tokenizer folder");
        throw Error("tokenizer folder " + dir + " does not exist or is not a folder");
    }
    check_readable_folder(dir, "a tokenizer folder");
    try {
        return pick(dir);
    } catch (const nlohmann::json::exception& e) {
        // a value of an unexpected JSON type that no explicit check caught
        throw Error("tokenizer in " + dir + ": a file has a value of an unexpected type (" + std::string(e.what()) +
                    ")");
    }
}

}  // namespace qs
