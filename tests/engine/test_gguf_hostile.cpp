// Hostile GGUF files (issue #15): the GGUF reader, model and tokenizer get the treatment the
// safetensors / config.json / tokenizer.json readers got. A named pipe never blocks; absurd
// counts, lengths and sizes inside a large (sparse) file are refused before anything is
// allocated for them (they were std::bad_alloc / std::length_error); the parsed header's
// memory is capped; a file truncated while it is mapped is reported, never read as zeros; the
// tokenizer rebuilt from tokenizer.ggml.* refuses what would be a crash or a huge allocation.
// Broken GGUF *models* (one problem per file) are in the broken corpus (tests/data/broken/gguf_*,
// tools/make_broken_corpus.py), loaded by test_broken_corpus.cpp and tests/cli/broken_corpus.sh.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>

#include "engine/gguf_test_util.h"
#include "engine/test_export_util.h"
#include "engine/test_util.h"
#include "io/gguf.h"
#include "io/gguf_model.h"
#include "models/causal_lm.h"
#include "tokenizers/tokenizer.h"

namespace fs = std::filesystem;
using namespace qs;
using namespace qs::test;

#define EXPECT_THAT_ERROR(actual, expected)                                                                  \
    do {                                                                                                     \
        const std::string a_ = (actual), e_ = (expected);                                                    \
        EXPECT_NE(a_.find(e_), std::string::npos) << "error:          " << a_ << "\nexpected in it: " << e_; \
    } while (0)

namespace {

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// The bytes as the start of a file of `size` bytes whose rest is a hole (nothing on disk).
std::string sparse_gguf(const TempDir& tmp, const std::string& name, const std::vector<uint8_t>& head, uint64_t size) {
    const std::string p = tmp / name;
    write_bytes(p, head);
    fs::resize_file(p, size);
    return p;
}

// The error of `f()`, which must be a qs::Error (not bad_alloc, length_error...) and must come
// within 30 s (a named pipe used to block forever).
template <class F>
std::string error_of(F f) {
    auto fut = std::async(std::launch::async, [&]() -> std::string {
        try {
            f();
        } catch (const Error& e) {
            return e.what();
        } catch (const std::exception& e) {
            return std::string("NOT A qs::Error: ") + e.what();
        }
        return "NO ERROR";
    });
    if (fut.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        ADD_FAILURE() << "blocked for 30 s";
        std::_Exit(1);  // the blocked thread cannot be joined
    }
    return fut.get();
}

constexpr uint64_t k8GiB = uint64_t(8) << 30;

}  // namespace

TEST(GgufHostile, NamedPipeIsRefusedInsteadOfBlocking) {
    TempDir tmp;
    const std::string pipe = tmp / "model.gguf";
    ASSERT_EQ(::mkfifo(pipe.c_str(), 0644), 0);
    EXPECT_FALSE(is_gguf_file(pipe));  // used to open it with std::ifstream: blocked until a writer came
    EXPECT_THAT_ERROR(error_of([&] { GgufFile f(pipe); }), pipe + ": is a named pipe (FIFO), expected a regular file");
    EXPECT_THAT_ERROR(error_of([&] { load_causal_lm(pipe); }), pipe + ": is a named pipe (FIFO)");
    EXPECT_THAT_ERROR(error_of([&] { load_tokenizer(pipe); }), pipe + ": is a named pipe (FIFO)");
}

TEST(GgufHostile, AbsurdCountsInALargeFileAreRefusedBeforeAllocating) {
    // An 8 GiB file (a hole after the header) can "hold" hundreds of millions of entries by the
    // bytes-left test alone; reserving room for them was std::bad_alloc.
    TempDir tmp;
    {
        GgufBytes g;
        g.header(0, 500000000);
        const std::string p = sparse_gguf(tmp, "kv.gguf", g.b, k8GiB);
        EXPECT_THAT_ERROR(error_of([&] { GgufFile f(p); }),
                          p + ": claims 500000000 metadata entries; QuantScope reads at most 65536");
    }
    {
        GgufBytes g;
        g.header(200000000, 0);
        const std::string p = sparse_gguf(tmp, "tensors.gguf", g.b, k8GiB);
        EXPECT_THAT_ERROR(error_of([&] { GgufFile f(p); }),
                          p + ": claims 200000000 tensors; QuantScope reads at most 1048576");
    }
    {
        GgufBytes g;
        g.header(0, 1).str("tokenizer.ggml.tokens").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(uint64_t(1) << 29);
        const std::string p = sparse_gguf(tmp, "strings.gguf", g.b, k8GiB);
        EXPECT_THAT_ERROR(error_of([&] { GgufFile f(p); }),
                          p + ": metadata 'tokenizer.ggml.tokens' claims 536870912 elements; QuantScope reads at most "
                              "8388608 array elements in all");
    }
    {
        GgufBytes g;
        g.header(0, 1).str("tokenizer.ggml.scores").put<uint32_t>(9).put<uint32_t>(6).put<uint64_t>(uint64_t(1) << 30);
        const std::string p = sparse_gguf(tmp, "floats.gguf", g.b, k8GiB);
        EXPECT_THAT_ERROR(error_of([&] { GgufFile f(p); }),
                          p + ": metadata 'tokenizer.ggml.scores' claims 1073741824 elements");
    }
    {
        // One metadata string of 3 GiB (the hole): it was copied into a std::string.
        GgufBytes g;
        g.header(0, 1).str("general.name").put<uint32_t>(8).put<uint64_t>(uint64_t(3) << 30);
        const std::string p = sparse_gguf(tmp, "string.gguf", g.b, k8GiB);
        EXPECT_THAT_ERROR(error_of([&] { GgufFile f(p); }),
                          p + ": metadata 'general.name' is a string of 3 GiB; the GGUF header (metadata and tensor "
                              "infos) may take at most 256 MiB");
    }
    {
        // A tensor name of 1 GiB.
        GgufBytes g;
        g.header(1, 0).put<uint64_t>(uint64_t(1) << 30);
        const std::string p = sparse_gguf(tmp, "name.gguf", g.b, k8GiB);
        EXPECT_THAT_ERROR(error_of([&] { GgufFile f(p); }), p + ": the name of tensor 0 is a string of 1 GiB");
    }
}

TEST(GgufHostile, ArrayElementsAreCappedInAll) {
    // Nine arrays of one million UINT8 each: 9 MB of file, 8 bytes per element in memory.
    GgufBytes g;
    g.header(0, 9);
    for (int k = 0; k < 9; ++k) {
        g.str("a" + std::to_string(k)).put<uint32_t>(9).put<uint32_t>(0).put<uint64_t>(1000000);
        g.zeros(1000000);
    }
    QS_EXPECT_ERROR_CONTAINS(parse_gguf_header(g.b.data(), g.b.size(), "many.gguf"),
                             "many.gguf: metadata 'a8' claims 1000000 elements; QuantScope reads at most 8388608 "
                             "array elements in all");
}

TEST(GgufHostile, EveryCutOfAValidModelFailsWithItsOwnError) {
    // Every prefix of the broken corpus' valid GGUF model, loaded as a model: a qs::Error naming
    // the file (never another exception, never a crash).
    const std::string src = test_data("broken/gguf_valid_extra_tensor/model.gguf");
    std::ifstream in(src, std::ios::binary);
    const std::vector<uint8_t> all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GT(all.size(), 1000u);
    TempDir tmp;
    const std::string p = tmp / "model.gguf";
    size_t step = 1;
    for (size_t n = 0; n < all.size(); n += step) {
        write_bytes(p, std::vector<uint8_t>(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n)));
        const std::string e = error_of([&] { load_causal_lm(p); });
        EXPECT_EQ(e.rfind(p + ": ", 0), 0u) << "cut at " << n << " of " << all.size() << ": " << e;
        if (n > 600) step = 37;  // past the header, sample the data section
    }
}

TEST(GgufHostile, FileTruncatedWhileMappedIsReportedNotReadAsZeros) {
    TempDir tmp;
    const std::string p = tmp / "model.gguf";
    fs::copy_file(test_data("broken/gguf_valid_extra_tensor/model.gguf"), p);
    GgufModel m(p);
    const uint64_t data_start = m.file().header().data_start;
    ASSERT_EQ(::truncate(p.c_str(), static_cast<off_t>(data_start)), 0);  // another program cuts the file
    // The mapped pages beyond the new end raise SIGBUS; the guard turns them into zeros and the
    // read must say so instead of returning a zero tensor.
    QS_EXPECT_ERROR_CONTAINS(m.load("model.layers.0.mlp.up_proj.weight", c10::ScalarType::Float),
                             p + ": the file changed while it was read");
}

TEST(GgufHostile, TokenizerMetadataProblemsAreNamed) {
    TempDir tmp;
    auto tokenizer_file = [&](const std::string& name, const std::function<void(GgufBytes&)>& kvs, uint64_t n_kv) {
        GgufBytes g;
        g.header(0, n_kv);
        kvs(g);
        const std::string p = tmp / name;
        write_bytes(p, g.b);
        return p;
    };
    auto tokens = [](GgufBytes& g, const std::vector<std::string>& t) {
        g.str("tokenizer.ggml.tokens").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(t.size());
        for (const auto& s : t) g.str(s);
    };
    {
        const std::string p = tokenizer_file(
            "ints.gguf",
            [&](GgufBytes& g) {
                g.kv_str("tokenizer.ggml.model", "gpt2");
                g.str("tokenizer.ggml.tokens")
                    .put<uint32_t>(9)
                    .put<uint32_t>(5)
                    .put<uint64_t>(2)
                    .put<int32_t>(1)
                    .put<int32_t>(2);
            },
            2);
        EXPECT_THAT_ERROR(error_of([&] { load_tokenizer(p); }),
                          p + ": metadata 'tokenizer.ggml.tokens' has type ARRAY[INT32], expected an ARRAY[STRING]");
    }
    {
        const std::string p = tokenizer_file(
            "bos.gguf",
            [&](GgufBytes& g) {
                g.kv_str("tokenizer.ggml.model", "gpt2").kv_str("tokenizer.ggml.pre", "gpt-2");
                tokens(g, {"a", "b"});
                g.str("tokenizer.ggml.merges").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(0);
                g.kv_u32("tokenizer.ggml.bos_token_id", 7);
            },
            5);
        EXPECT_THAT_ERROR(error_of([&] { load_tokenizer(p); }),
                          p + ": metadata 'tokenizer.ggml.bos_token_id' is 7, outside the vocabulary of 2 tokens");
    }
    {
        const std::string p = tokenizer_file(
            "merge.gguf",
            [&](GgufBytes& g) {
                g.kv_str("tokenizer.ggml.model", "gpt2").kv_str("tokenizer.ggml.pre", "gpt-2");
                tokens(g, {"a", "b", "ab"});
                g.str("tokenizer.ggml.merges").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(1).str("ab");
            },
            4);
        const std::string e = error_of([&] { load_tokenizer(p)->encode("ab", true); });
        EXPECT_EQ(e.rfind(p + ": ", 0), 0u) << e;
        EXPECT_NE(e.find("merge"), std::string::npos) << e;
    }
    for (const char* what : {"empty", "duplicate"}) {
        // SentencePiece refuses an empty piece; a piece defined twice may load (transformers
        // keeps the last id) but must never be another kind of error.
        const std::string p = tokenizer_file(
            std::string(what) + ".gguf",
            [&](GgufBytes& g) {
                g.kv_str("tokenizer.ggml.model", "llama");
                tokens(g, {"<unk>", "<s>", "</s>", std::string(what) == "empty" ? "" : "<s>", "a"});
                g.str("tokenizer.ggml.scores").put<uint32_t>(9).put<uint32_t>(6).put<uint64_t>(5);
                for (int k = 0; k < 5; ++k) g.put<float>(-float(k));
            },
            3);
        const std::string e = error_of([&] { load_tokenizer(p)->encode("a", true); });
        if (std::string(what) == "empty" || e != "NO ERROR") {
            EXPECT_EQ(e.rfind(p + ": ", 0), 0u) << what << ": " << e;
        }
    }
    {
        // More tokens than any vocabulary QuantScope knows of (4 Mi): refused before the
        // vocabulary (a JSON object, a SentencePiece model) is built from them.
        const std::string p = tokenizer_file(
            "huge.gguf",
            [&](GgufBytes& g) {
                g.kv_str("tokenizer.ggml.model", "gpt2");
                g.str("tokenizer.ggml.tokens").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(5000000);
                for (int k = 0; k < 5000000; ++k) g.put<uint64_t>(0);  // empty strings
            },
            2);
        EXPECT_THAT_ERROR(error_of([&] { load_tokenizer(p); }),
                          p + ": tokenizer.ggml.tokens holds 5000000 tokens, more than the 4194304 QuantScope accepts");
    }
}
