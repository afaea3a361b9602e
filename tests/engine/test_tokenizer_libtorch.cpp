// The protobuf clash (docs/notes.md §3): in one process with libtorch (this binary links
// quantscope_engine -> libtorch), load the Llama-2 SentencePiece tokenizer and use it.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <fstream>
#include <string>

#include "engine/test_util.h"
#include "tokenizers/tokenizer.h"

namespace {
std::string loaded_libraries_matching(const std::string& what) {
    std::ifstream maps("/proc/self/maps");
    std::string line, found;
    while (std::getline(maps, line)) {
        const auto p = line.find('/');
        if (p == std::string::npos) continue;
        const std::string lib = line.substr(p);
        if (lib.find(what) != std::string::npos && found.find(lib) == std::string::npos) found += lib + " ";
    }
    return found;
}
}  // namespace

TEST(TokenizerLibtorch, SentencePieceInProcessWithLibtorch) {
    // Use libtorch first, so its libraries (and the system protobuf it links) are live.
    at::Tensor a = at::ones({4, 4});
    EXPECT_FLOAT_EQ((a.matmul(a)).sum().item<float>(), 64.0f);
    std::printf("[ info     ] protobuf in process before: %s\n", loaded_libraries_matching("protobuf").c_str());

    const auto tok = qs::load_tokenizer(test_data("tokenizers/llama2-sentencepiece"));
    // HF LlamaTokenizer: "Hello world" -> <s> ▁Hello ▁world.
    EXPECT_EQ(tok->encode("Hello world", true), (std::vector<int64_t>{1, 15043, 3186}));
    EXPECT_EQ(tok->decode({1, 15043, 3186}, true), "Hello world");
    const std::string libs = loaded_libraries_matching("sentencepiece") + loaded_libraries_matching("quantscope_spm");
    std::printf("[ info     ] after loading tokenizer.model: %s\n", libs.c_str());
    EXPECT_NE(libs.find("libquantscope_spm.so"), std::string::npos);

    // libtorch still works afterwards.
    at::Tensor b = at::arange(10, at::kFloat);
    EXPECT_FLOAT_EQ(b.sum().item<float>(), 45.0f);
}
