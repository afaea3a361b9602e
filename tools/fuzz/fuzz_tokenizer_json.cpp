// libFuzzer target for tokenizer.json (and tokenizer_config.json): qs::load_tokenizer on a
// folder holding the input, then encode / decode of fixed texts. The input is tokenizer.json;
// anything after a line "#tokenizer_config.json#" becomes tokenizer_config.json. Every input
// either gives a working tokenizer or a qs::Error. Built and run by run_fuzz.sh.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "tokenizers/tokenizer.h"

namespace {

std::string folder() {
    static std::string dir = [] {
        const char* base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        std::string t = std::string(base) + "/qs_fuzz_tok_XXXXXX";
        if (!::mkdtemp(t.data())) qs::fuzz::bug("fuzz_tokenizer_json", "cannot create a temporary folder");
        return t;
    }();
    return dir;
}

void write(const std::string& path, const char* p, size_t n) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(p, static_cast<std::streamsize>(n));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string in(reinterpret_cast<const char*>(data), size);
    const std::string marker = "\n#tokenizer_config.json#\n";
    const size_t cut = in.find(marker);
    const std::string dir = folder();
    write(dir + "/tokenizer.json", in.data(), cut == std::string::npos ? in.size() : cut);
    if (cut == std::string::npos) {
        ::unlink((dir + "/tokenizer_config.json").c_str());
    } else {
        const size_t b = cut + marker.size();
        write(dir + "/tokenizer_config.json", in.data() + b, in.size() - b);
    }
    qs::fuzz::expect_only_qs_errors("fuzz_tokenizer_json", [&] {
        auto tok = qs::load_tokenizer(dir);
        static const std::vector<std::string> texts = {
            "Hello, world! It's 2024.",
            "  leading  and\ttabs\n\nnew lines  ",
            "caf\xC3\xA9 na\xC3\xAFve \xE6\x97\xA5\xE6\x9C\xAC",
            "<s> </s> <unk> <|endoftext|>",
            std::string("\xF0\x9F\x98\x80 emoji and \x00 nul", sizeof("\xF0\x9F\x98\x80 emoji and \x00 nul") - 1),
            ""};
        for (const auto& t : texts) {
            const std::vector<int64_t> ids = tok->encode(t, true);
            (void)tok->decode(ids, true);
            (void)tok->decode(ids, false);
        }
        (void)tok->decode({-1, 0, 1, 2, 1 << 30, INT64_MAX}, false);
        (void)tok->bos_id();
        (void)tok->vocab_size();
    });
    return 0;
}
