// GGUF reader: metadata and tensor infos against gguf-py's reader, dequantization of every
// supported ggml type bit-exact against gguf-py (tools/goldens/make_gguf_goldens.py), and
// validation errors on hand-built and truncated buffers.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/gguf_test_util.h"
#include "engine/test_util.h"
#include "io/gguf.h"
#include "io/gguf_dequant.h"
#include "io/safetensors.h"

using namespace qs;
using qs::test::GgufBytes;
using json = nlohmann::json;

namespace {

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Bitwise equality of two float32 tensors (distinguishes -0 from 0).
bool bit_equal(const at::Tensor& a, const at::Tensor& b) {
    if (a.sizes() != b.sizes() || a.scalar_type() != at::kFloat || b.scalar_type() != at::kFloat) return false;
    const at::Tensor x = a.contiguous(), y = b.contiguous();
    return std::memcmp(x.data_ptr(), y.data_ptr(), static_cast<size_t>(x.numel()) * 4) == 0;
}

GgufHeader parse(const std::vector<uint8_t>& b) { return parse_gguf_header(b.data(), b.size(), "test.gguf"); }

}  // namespace

TEST(GgufReader, DequantizesEveryTypeBitExactlyAsGgufPy) {
    GgufFile f(test_data("gguf/dequant_types.gguf"));
    SafetensorsFile golden(test_data("goldens/gguf/dequant_types.safetensors"));
    size_t checked = 0;
    std::set<std::string> types;
    for (const auto& g : golden.header().tensors) {
        SCOPED_TRACE(g.name);
        const GgufTensorInfo* t = f.tensor(g.name);
        ASSERT_NE(t, nullptr);
        const at::Tensor want = golden.load(g.name);
        const at::Tensor got = f.load(g.name, at::kFloat);
        EXPECT_EQ(got.sizes(), want.sizes());
        EXPECT_TRUE(bit_equal(got, want)) << "max |diff| " << (got - want).abs().max().item<double>();
        types.insert(t->type_name());
        ++checked;
    }
    EXPECT_EQ(checked, f.header().tensors.size());
    const std::set<std::string> all = {"F32",  "F16",  "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
                                       "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"};
    EXPECT_EQ(types, all);
}

TEST(GgufReader, LoadConvertsToTheRequestedDtype) {
    GgufFile f(test_data("gguf/dequant_types.gguf"));
    const at::Tensor fp32 = f.load("Q4_K.random", at::kFloat);
    const at::Tensor bf16 = f.load("Q4_K.random", at::kBFloat16);
    EXPECT_EQ(bf16.scalar_type(), at::kBFloat16);
    EXPECT_TRUE(at::equal(bf16, fp32.to(at::kBFloat16)));
    const at::Tensor f16 = f.load("F16.quantized", at::kHalf);  // stored F16: returned as stored
    EXPECT_EQ(f16.scalar_type(), at::kHalf);
    EXPECT_TRUE(bit_equal(f16.to(at::kFloat), f.load("F16.quantized", at::kFloat)));
    EXPECT_EQ(f.load("Q8_0.3d").sizes(), (at::IntArrayRef{2, 3, 64}));
    QS_EXPECT_ERROR_CONTAINS(f.load("nope"), "no tensor named 'nope'");
}

TEST(GgufReader, MetadataAndTensorInfosMatchGgufPy) {
    const json want = json::parse(std::ifstream(test_data("goldens/gguf/kv_types.json")));
    GgufFile f(test_data("gguf/kv_types.gguf"));
    const GgufHeader& h = f.header();
    EXPECT_EQ(h.version, want["version"].get<uint32_t>());
    EXPECT_EQ(h.alignment, want["alignment"].get<uint64_t>());
    EXPECT_EQ(h.data_start, want["data_offset"].get<uint64_t>());
    ASSERT_EQ(h.metadata.size(), want["metadata"].size());
    for (size_t i = 0; i < h.metadata.size(); ++i) {
        const json& w = want["metadata"][i];
        const auto& [key, v] = h.metadata[i];
        SCOPED_TRACE(key);
        EXPECT_EQ(key, w["key"].get<std::string>());
        EXPECT_EQ(v.type_name(), w["type"].get<std::string>());
        const json& val = w["value"];
        if (v.is_array()) {
            ASSERT_EQ(v.array_size(), val.size());
            for (size_t k = 0; k < val.size(); ++k) {
                if (v.elem == GgufValueType::STRING)
                    EXPECT_EQ(v.strs[k], val[k].get<std::string>());
                else if (v.elem == GgufValueType::F32)
                    EXPECT_EQ(float(v.floats[k]), val[k].get<float>());
                else if (v.elem == GgufValueType::F64)
                    EXPECT_EQ(v.floats[k], val[k].get<double>());
                else if (v.elem == GgufValueType::BOOL)
                    EXPECT_EQ(v.ints[k] != 0, val[k].get<bool>());
                else
                    EXPECT_EQ(v.ints[k], val[k].get<int64_t>());
            }
        } else if (v.type == GgufValueType::STRING) {
            EXPECT_EQ(v.s, val.get<std::string>());
        } else if (v.type == GgufValueType::BOOL) {
            EXPECT_EQ(v.b, val.get<bool>());
        } else if (v.type == GgufValueType::F32 || v.type == GgufValueType::F64) {
            EXPECT_EQ(v.f, val.get<double>());
        } else if (v.type == GgufValueType::U64 || v.type == GgufValueType::U32) {
            EXPECT_EQ(v.u, val.get<uint64_t>());
        } else {
            EXPECT_EQ(v.i, val.get<int64_t>());
        }
    }
    ASSERT_EQ(h.tensors.size(), want["tensors"].size());
    for (size_t i = 0; i < h.tensors.size(); ++i) {
        const json& w = want["tensors"][i];
        EXPECT_EQ(h.tensors[i].name, w["name"].get<std::string>());
        EXPECT_EQ(h.tensors[i].type_name(), w["type"].get<std::string>());
        EXPECT_EQ(h.tensors[i].ne, w["ne"].get<std::vector<int64_t>>());
        EXPECT_EQ(h.tensors[i].offset, w["offset"].get<uint64_t>());
        EXPECT_EQ(h.tensors[i].nbytes, w["nbytes"].get<uint64_t>());
    }
    // Typed getters.
    EXPECT_EQ(f.get_int("test.u32").value(), 4000000000LL);
    EXPECT_EQ(f.get_int("test.i8").value(), -100);
    EXPECT_FLOAT_EQ(static_cast<float>(f.get_float("test.f32").value()), 0.1f);
    EXPECT_EQ(f.get_bool("test.bool_true").value(), true);
    EXPECT_EQ(f.get_string("general.architecture").value(), "llama");
    EXPECT_FALSE(f.get_string("absent").has_value());
    EXPECT_EQ(f.get_array("test.arr_str", GgufValueType::STRING)->strs.size(), 4u);
    EXPECT_EQ(f.get_array("test.arr_u8", GgufValueType::I32)->ints, (std::vector<int64_t>{0, 255}));
    QS_EXPECT_ERROR_CONTAINS(f.get_int("test.string"),
                             "kv_types.gguf: metadata 'test.string' has type STRING, expected an integer");
    QS_EXPECT_ERROR_CONTAINS(f.get_array("test.arr_i32", GgufValueType::STRING),
                             "has type ARRAY[INT32], expected an ARRAY[STRING]");
    QS_EXPECT_ERROR_CONTAINS(f.require_int("llama.block_count"), "metadata 'llama.block_count' is missing");
    EXPECT_EQ(f.load("a").sizes(), (at::IntArrayRef{2, 3}));
    EXPECT_EQ(f.load("b.weight").scalar_type(), at::kFloat);
}

TEST(GgufReader, Version2HasTheSameLayoutAsVersion3) {
    std::vector<uint8_t> b = read_bytes(test_data("gguf/kv_types.gguf"));
    ASSERT_EQ(b[4], 3);
    b[4] = 2;
    const GgufHeader h = parse(b);
    EXPECT_EQ(h.version, 2u);
    EXPECT_EQ(h.tensors.size(), 2u);
    EXPECT_EQ(h.alignment, 64u);
}

TEST(GgufReader, Version1UsesThirtyTwoBitCounts) {
    GgufBytes g;
    g.header(1, 2, 1).kv_str("general.architecture", "llama").kv_u32("llama.block_count", 7);
    g.tensor("w", {32, 2}, 0, 0).align().zeros(32 * 2 * 4);
    const GgufHeader h = parse(g.b);
    EXPECT_EQ(h.version, 1u);
    ASSERT_EQ(h.tensors.size(), 1u);
    EXPECT_EQ(h.tensors[0].shape(), (std::vector<int64_t>{2, 32}));
    EXPECT_EQ(h.metadata[1].second.u, 7u);
}

TEST(GgufReader, RejectsMalformedHeadersWithAMessage) {
    auto base = [] {
        GgufBytes g;
        g.header(1, 1).kv_str("general.architecture", "llama");
        return g;
    };
    {
        GgufBytes g;
        g.raw("GGML", 4).put<uint32_t>(3);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "test.gguf: not a GGUF file");
    }
    {
        GgufBytes g;
        g.header(0, 0, 4);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "GGUF version 4 is not supported");
    }
    {
        GgufBytes g;
        g.header(0, 0, 3u << 24);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "big-endian");
    }
    {
        GgufBytes g;
        g.header(0, uint64_t(1) << 60);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "claims 1152921504606846976 metadata entries");
    }
    {
        GgufBytes g;
        g.header(uint64_t(1) << 40, 0);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "claims 1099511627776 tensors");
    }
    {
        GgufBytes g;
        g.header(0, 2).kv_u32("a", 1).kv_u32("a", 2);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "metadata key 'a' appears twice");
    }
    {
        GgufBytes g;
        g.header(0, 1).str("k").put<uint32_t>(13).put<uint32_t>(0);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "metadata 'k' has unknown value type 13");
    }
    {
        GgufBytes g;
        g.header(0, 1).str("nested").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(1);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "metadata 'nested' is an array of arrays");
    }
    {
        GgufBytes g;
        g.header(0, 1).str("arr").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(1000);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "metadata 'arr' claims 1000 elements");
    }
    {
        GgufBytes g;
        g.header(0, 1).str("s").put<uint32_t>(8).put<uint64_t>(99).raw("abc", 3);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "file ends inside metadata 's'");
    }
    {
        GgufBytes g;
        g.header(0, 1).kv_bool("flag", 2);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "metadata 'flag' is a BOOL with byte value 2");
    }
    {
        GgufBytes g;
        g.header(0, 1).kv_u32("general.alignment", 48);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "general.alignment is 48, expected a power of two");
    }
    {
        GgufBytes g;
        g.header(0, 1).kv_str("general.alignment", "32");
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "general.alignment has type STRING, expected an integer");
    }
    {
        GgufBytes g = base();
        g.tensor("w", {32, 2, 1, 1, 1}, 0, 0);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "tensor 'w' has 5 dimensions (expected 1 to 4)");
    }
    {
        GgufBytes g = base();
        g.tensor("w", {32}, 77, 0).align().zeros(128);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "tensor 'w' has unknown ggml type 77");
    }
    {
        GgufBytes g = base();
        g.tensor("w", {100, 2}, 12, 0).align().zeros(1000);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b),
                                 "tensor 'w' has shape [100, 2] (ggml order), but its first dimension is "
                                 "not a multiple of 256, the block size of Q4_K");
    }
    {
        GgufBytes g = base();
        g.tensor("w", {uint64_t(1) << 40, uint64_t(1) << 40}, 0, 0);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "tensor 'w' has too many elements");
    }
    {
        GgufBytes g = base();
        g.tensor("w", {8}, 0, 16).align().zeros(64);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b),
                                 "tensor 'w' (F32, [8]) starts at data offset 16, not a multiple of the alignment 32");
    }
    {
        GgufBytes g = base();
        g.tensor("w", {64}, 0, 0).align().zeros(100);
        QS_EXPECT_ERROR_CONTAINS(
            parse(g.b), "tensor 'w' (F32, [64]) needs bytes 0 to 256 of the data section, which has 100 bytes");
    }
    {
        GgufBytes g;
        g.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).align().zeros(128);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "tensor 'b' (data offset 32) overlaps tensor 'a' (bytes 0 to 64)");
    }
    {
        GgufBytes g;
        g.header(2, 0).tensor("a", {8}, 0, 0).tensor("a", {8}, 0, 32).align().zeros(64);
        QS_EXPECT_ERROR_CONTAINS(parse(g.b), "tensor 'a' appears twice");
    }
    {
        GgufBytes g = base();
        g.tensor("w", {8}, 0, 0);  // no data (header end may or may not be aligned)
        EXPECT_THROW(parse(g.b), Error);
    }
}

TEST(GgufReader, EveryTruncationOfARealFileIsAnError) {
    const std::vector<uint8_t> b = read_bytes(test_data("gguf/kv_types.gguf"));
    const GgufHeader h = parse(b);
    const size_t header_end = h.data_start;
    uint64_t data_end = 0;  // the file may end with padding after the last tensor
    for (const auto& t : h.tensors) data_end = std::max(data_end, h.data_start + t.offset + t.nbytes);
    ASSERT_LT(data_end, b.size());
    for (size_t n = data_end; n <= b.size(); ++n)
        EXPECT_NO_THROW(parse(std::vector<uint8_t>(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n))));
    for (size_t n = 0; n < data_end; ++n) {
        std::vector<uint8_t> cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
        try {
            parse(cut);
            ADD_FAILURE() << "a file cut to " << n << " of " << b.size() << " bytes (data at " << header_end
                          << ") was accepted";
        } catch (const Error&) {}
    }
}

TEST(GgufReader, FileErrorsNameThePath) {
    QS_EXPECT_ERROR_CONTAINS(GgufFile("/nonexistent/model.gguf"), "/nonexistent/model.gguf: does not exist");
    EXPECT_TRUE(is_gguf_file(test_data("gguf/kv_types.gguf")));
    EXPECT_FALSE(is_gguf_file(test_data("models/stories260K/config.json")));
    EXPECT_FALSE(is_gguf_file("/nonexistent"));
}

TEST(GgufReader, TypeTable) {
    EXPECT_EQ(ggml_type_name(12), "Q4_K");
    EXPECT_EQ(ggml_type_name(200), "type 200");
    EXPECT_EQ(ggml_type_info(14)->type_size, 210);
    EXPECT_FALSE(ggml_type_dequantizable(16));  // IQ2_XXS
    QS_EXPECT_ERROR_CONTAINS(dequantize_row(16, nullptr, nullptr, 256), "cannot dequantize ggml type IQ2_XXS");
}
