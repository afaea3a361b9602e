// safetensors writer/reader round trips, the shard plan, and header validation on hand-built
// buffers (sharded exports read back through Checkpoint: test_export_safety.cpp ShardsLikeTransformers).
#include <ATen/ATen.h>

#include <cstring>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/test_util.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;
using namespace qs;

namespace {

std::vector<uint8_t> buffer_with_header(const std::string& header, size_t data_bytes) {
    std::vector<uint8_t> b(8 + header.size() + data_bytes, 0);
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(n >> (8 * i));
    std::memcpy(b.data() + 8, header.data(), header.size());
    return b;
}

}  // namespace

TEST(Safetensors, RoundTripAllDtypes) {
    auto dir = temp_dir("rt");
    NamedTensors ts = {
        {"f32", at::randn({3, 5})},
        {"bf16", at::randn({4}).to(at::kBFloat16)},
        {"f16", at::randn({2, 2}).to(at::kHalf)},
        {"i32", at::arange(6, at::kInt).view({2, 3})},
        {"i8", at::arange(-3, 3, at::kChar)},
        {"u8", at::arange(0, 7, at::kByte)},
        {"empty", at::zeros({0, 4})},
    };
    write_safetensors((dir / "m.safetensors").string(), ts, {{"format", "pt"}});
    SafetensorsFile f((dir / "m.safetensors").string());
    EXPECT_EQ(f.header().metadata.at("format"), "pt");
    for (const auto& [name, t] : ts) {
        at::Tensor r = f.load(name);
        EXPECT_EQ(r.scalar_type(), t.scalar_type()) << name;
        EXPECT_TRUE(at::equal(r, t)) << name;
    }
    // dtype conversion on load
    EXPECT_EQ(f.load("bf16", at::kFloat).scalar_type(), at::kFloat);
    EXPECT_TRUE(at::equal(f.load("bf16", at::kFloat), ts[1].second.to(at::kFloat)));
    // header is 8-byte aligned so the data section starts aligned
    EXPECT_EQ(f.header().data_start % 8, 0u);
    fs::remove_all(dir);
}

TEST(Safetensors, ShardPlanKeepsOrderAndGivesBigTensorsTheirOwnShard) {
    using Plan = std::vector<std::vector<size_t>>;
    EXPECT_EQ(plan_shards({5, 5, 20, 3, 4}, 10), (Plan{{0, 1}, {2}, {3, 4}}));
    EXPECT_EQ(plan_shards({20, 1}, 10), (Plan{{0}, {1}}));
    EXPECT_EQ(plan_shards({}, 10), (Plan{{}}));
    EXPECT_EQ(shard_file_name(0, 3), "model-00001-of-00003.safetensors");
    EXPECT_EQ(shard_file_name(11, 12), "model-00012-of-00012.safetensors");
}

TEST(Safetensors, HeaderValidation) {
    const std::string L = "x.safetensors";
    {
        uint8_t tiny[4] = {1, 2, 3, 4};
        QS_EXPECT_ERROR_CONTAINS(parse_safetensors_header(tiny, 4, L), "too short");
    }
    {
        auto b = buffer_with_header("{}", 0);
        b[0] = 200;  // header length beyond the file
        QS_EXPECT_ERROR_CONTAINS(parse_safetensors_header(b.data(), b.size(), L), "goes beyond the end of the file");
    }
    {
        auto b = buffer_with_header("{not json", 0);
        QS_EXPECT_ERROR_CONTAINS(parse_safetensors_header(b.data(), b.size(), L), "not valid JSON");
    }
    {
        auto b = buffer_with_header(R"({"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", 8);
        QS_EXPECT_ERROR_CONTAINS(parse_safetensors_header(b.data(), b.size(), L), "unknown dtype 'F33'");
    }
    {
        auto b = buffer_with_header(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
        QS_EXPECT_ERROR_CONTAINS(parse_safetensors_header(b.data(), b.size(), L),
                                 "shape [3] x F32 needs 12 bytes but data_offsets span 8");
    }
    {
        auto b = buffer_with_header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
        QS_EXPECT_ERROR_CONTAINS(parse_safetensors_header(b.data(), b.size(), L), "outside the data section");
    }
    {
        auto b = buffer_with_header(
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            12);
        QS_EXPECT_ERROR_CONTAINS(parse_safetensors_header(b.data(), b.size(), L), "overlap");
    }
    {
        auto b = buffer_with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12);
        QS_EXPECT_ERROR_CONTAINS(parse_safetensors_header(b.data(), b.size(), L), "gap of 4 bytes");
    }
    {
        auto b = buffer_with_header(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8);
        QS_EXPECT_ERROR_CONTAINS(parse_safetensors_header(b.data(), b.size(), L), "non-negative");
    }
}
