// Calibration sets: the seeded shuffle, the llm-awq .jsonl protocol, consecutive blocks of a
// .txt, descriptions, errors and cancellation. Uses a byte tokenizer defined here (id = byte
// value, BOS = 256), so the expected blocks can be written down by hand.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <unistd.h>
#include <zstd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/calibration.h"
#include "data/shuffle.h"
#include "data/text_source.h"
#include "engine/test_util.h"
#include "models/generate.h"

namespace fs = std::filesystem;
using namespace qs;

namespace {

class ByteTokenizer : public Tokenizer {
  public:
    static constexpr int64_t kBos = 256;
    std::atomic<bool>* cancel_on_second_call = nullptr;
    mutable int calls = 0;

    std::vector<int64_t> encode(const std::string& text, bool add_bos) const override {
        if (++calls == 2 && cancel_on_second_call) *cancel_on_second_call = true;
        std::vector<int64_t> ids;
        if (add_bos) ids.push_back(kBos);
        for (unsigned char c : text) ids.push_back(c);
        return ids;
    }
    std::string decode(const std::vector<int64_t>& ids, bool /*skip_special*/) const override {
        std::string s;
        for (int64_t id : ids)
            if (id < 256) s += static_cast<char>(id);
        return s;
    }
    int64_t bos_id() const override { return kBos; }
    int64_t eos_id() const override { return 257; }
    int64_t vocab_size() const override { return 258; }
    std::string kind() const override { return "test bytes"; }
};

constexpr int64_t B = ByteTokenizer::kBos;

// Token ids of a string of single-byte characters, optionally with the BOS first.
std::vector<int64_t> bytes(const std::string& s, bool bos = false) {
    ByteTokenizer t;
    return t.encode(s, bos);
}

std::vector<std::vector<int64_t>> rows(const at::Tensor& blocks) {
    EXPECT_EQ(blocks.scalar_type(), at::kLong);
    EXPECT_EQ(blocks.dim(), 2);
    at::Tensor c = blocks.contiguous();
    std::vector<std::vector<int64_t>> out;
    for (int64_t i = 0; i < c.size(0); ++i) {
        const int64_t* p = c[i].data_ptr<int64_t>();
        out.emplace_back(p, p + c.size(1));
    }
    return out;
}

std::vector<int64_t> cat(std::initializer_list<std::vector<int64_t>> parts) {
    std::vector<int64_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

}  // namespace

// ---------------------------------------------------------------- seeded shuffle

// Expected values computed with an independent Python transcription of the published
// algorithms (splitmix64 seeding of the 4 state words, xoshiro256** next(), then shuffle.h):
//   M = 2**64 - 1
//   def rng(seed):  # state
//       x, s = seed, []
//       for _ in range(4):
//           x = (x + 0x9E3779B97F4A7C15) & M; z = x
//           z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
//           z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
//           s.append(z ^ (z >> 31))
//       return s
//   def nxt(s):
//       rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & M
//       r = (rotl((s[1] * 5) & M, 7) * 9) & M; t = (s[1] << 17) & M
//       s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45)
//       return r
//   def below(s, b):
//       t = (2**64 - b) % b
//       while True:
//           r = nxt(s)
//           if r >= t: return r % b
//   def perm(n, seed):
//       p, s = list(range(n)), rng(seed)
//       for i in range(n - 1, 0, -1):
//           j = below(s, i + 1); p[i], p[j] = p[j], p[i]
//       return p
//   [hex(nxt(s)) for s in [rng(42)] for _ in range(3)]
//     -> 0x15780b2e0c2ec716, 0x6104d9866d113a7e, 0xae17533239e499a1
//   perm(10, 42) -> [7, 3, 8, 9, 5, 6, 4, 1, 0, 2]
//   perm(10, 0)  -> [4, 2, 1, 7, 5, 6, 3, 9, 8, 0]
//   perm(10, 7)  -> [8, 3, 9, 0, 7, 2, 1, 6, 5, 4]
TEST(DataShuffle, FixedPermutationsForFixedSeeds) {
    Rng r(42);
    EXPECT_EQ(r.next(), 0x15780b2e0c2ec716ull);
    EXPECT_EQ(r.next(), 0x6104d9866d113a7eull);
    EXPECT_EQ(r.next(), 0xae17533239e499a1ull);

    EXPECT_EQ(seeded_permutation(10, 42), (std::vector<int64_t>{7, 3, 8, 9, 5, 6, 4, 1, 0, 2}));
    EXPECT_EQ(seeded_permutation(10, 0), (std::vector<int64_t>{4, 2, 1, 7, 5, 6, 3, 9, 8, 0}));
    EXPECT_EQ(seeded_permutation(10, 7), (std::vector<int64_t>{8, 3, 9, 0, 7, 2, 1, 6, 5, 4}));
    EXPECT_EQ(seeded_permutation(0, 42), std::vector<int64_t>{});
    EXPECT_EQ(seeded_permutation(1, 42), std::vector<int64_t>{0});
}

TEST(DataShuffle, IsAPermutationAndUniformBelowStaysInRange) {
    auto p = seeded_permutation(1000, 123);
    std::vector<int64_t> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < 1000; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
    EXPECT_NE(p, sorted);
    EXPECT_EQ(seeded_permutation(1000, 123), p);  // deterministic
    Rng rng(5);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(uniform_below(rng, 1), 0u);
    for (int i = 0; i < 1000; ++i) EXPECT_LT(uniform_below(rng, 3), 3u);
}

// ---------------------------------------------------------------- llm-awq protocol (.jsonl)

// calib.jsonl: 10 records (a blank line 6 is not a record), after str.strip():
//   0 "aaa"  1 "b"*9  2 "cc" (from "  cc\n")  3 "d"*5  4 "e"*7  5 "f"*12  6 "g"  7 "hhhh"
//   8 "i"*6  9 "jjj" (from "\u00a0jjj\t")
// Encoded with BOS they are 1 token longer; with block_size 8, records 1 (10 tokens) and
// 5 (13) are too long.
TEST(DataCalibration, AwqProtocolSeed42) {
    // seed 42 order: 7 3 8 9 | 5 6 4 1 0 2. nsamples 4 takes 7 3 8 9:
    //   [B hhhh][B ddddd][B iiiiii][B jjj] = 5 + 6 + 7 + 4 = 22 tokens -> 2 blocks of 8, 6 dropped.
    ByteTokenizer tok;
    auto set = make_calibration_set(test_data("datasets/calib.jsonl"), tok, 4, 8, 42, {});
    EXPECT_EQ(rows(set.blocks), (std::vector<std::vector<int64_t>>{
                                    cat({{B}, bytes("hhhh"), {B}, bytes("dd")}),
                                    cat({bytes("ddd"), {B}, bytes("iiii")}),
                                }));
    EXPECT_EQ(set.description,
              "calib.jsonl: llm-awq protocol: 10 records shuffled (seed 42; QuantScope's order, not HF datasets'), "
              "4 samples of <= 8 tokens with BOS "
              "(0 longer skipped), concatenated into 2 blocks x 8 tokens");
    EXPECT_EQ(set.source, test_data("datasets/calib.jsonl"));
}

TEST(DataCalibration, AwqProtocolSkipsLongSamplesAndUsesWhatThereIs) {
    // nsamples 100: all of 7 3 8 9 6 4 0 2 (5 and 1 skipped):
    //   Bhhhh Bddddd Biiiiii Bjjj Bg Beeeeeee Baaa Bcc = 39 tokens -> 4 blocks of 8, 7 dropped.
    ByteTokenizer tok;
    auto set = make_calibration_set(test_data("datasets/calib.jsonl"), tok, 100, 8, 42, {});
    EXPECT_EQ(rows(set.blocks), (std::vector<std::vector<int64_t>>{
                                    cat({{B}, bytes("hhhh"), {B}, bytes("dd")}),
                                    cat({bytes("ddd"), {B}, bytes("iiii")}),
                                    cat({bytes("ii"), {B}, bytes("jjj"), {B}, bytes("g")}),
                                    cat({{B}, bytes("eeeeeee")}),
                                }));
    EXPECT_EQ(set.description,
              "calib.jsonl: llm-awq protocol: 10 records shuffled (seed 42; QuantScope's order, not HF datasets'), "
              "8 samples of <= 8 tokens with BOS "
              "(2 longer skipped), concatenated into 4 blocks x 8 tokens; asked for 100 samples, only 8 fit");
}

TEST(DataCalibration, AwqProtocolOtherSeedAndZst) {
    // seed 0 order: 4 2 1 7 ... nsamples 3 takes 4, 2, (1 skipped), 7:
    //   [B eeeeeee][B cc][B hhhh] = 8 + 3 + 5 = 16 tokens -> 2 blocks.
    ByteTokenizer tok;
    auto set = make_calibration_set(test_data("datasets/calib.jsonl"), tok, 3, 8, 0, {});
    EXPECT_EQ(rows(set.blocks), (std::vector<std::vector<int64_t>>{
                                    cat({{B}, bytes("eeeeeee")}),
                                    cat({{B}, bytes("cc"), {B}, bytes("hhhh")}),
                                }));
    EXPECT_EQ(set.description,
              "calib.jsonl: llm-awq protocol: 10 records shuffled (seed 0; QuantScope's order, not HF datasets'), "
              "3 samples of <= 8 tokens with BOS "
              "(1 longer skipped), concatenated into 2 blocks x 8 tokens");
    // A .jsonl.zst: small.jsonl.zst's 3 records in seed-42 order perm(3, 42) = [1, 2, 0]:
    //   [B "Second \u00e9 line\nwith newline"] (28) [B "padded"] (7) [B "Hello world"] (12) = 47 -> 1 block of 32.
    auto z = make_calibration_set(test_data("datasets/small.jsonl.zst"), tok, 3, 32, 42, {});
    EXPECT_EQ(rows(z.blocks), (std::vector<std::vector<int64_t>>{
                                  cat({{B}, bytes("Second \xc3\xa9 line\nwith newline"), {B}, bytes("pad")}),
                              }));
    EXPECT_EQ(z.description,
              "small.jsonl.zst: llm-awq protocol: 3 records shuffled (seed 42; QuantScope's order, not HF datasets'), "
              "3 samples of <= 32 tokens with BOS "
              "(0 longer skipped), concatenated into 1 block x 32 tokens");
}

TEST(DataCalibration, AwqWindowedRereadsGiveTheSameSet) {
    // 3,000 records, 1 in 10 short enough: the sampler must go through several windows of
    // shuffled positions when it re-reads the file (memory bound 0) and give exactly what
    // sampling from memory gives.
    auto dir = temp_dir("calib_windows");
    const fs::path p = dir / "many.jsonl.zst";
    {
        std::string plain;
        for (int i = 0; i < 3000; ++i) {
            if (i % 10 == 0)
                plain += "{\"text\": \"s" + std::to_string(i) + "\"}\n";
            else
                plain += "{\"text\": \"" + std::string(40, static_cast<char>('a' + i % 26)) + "\"}\n";
        }
        std::string z(ZSTD_compressBound(plain.size()), '\0');
        const size_t zn = ZSTD_compress(z.data(), z.size(), plain.data(), plain.size(), 3);
        ASSERT_FALSE(ZSTD_isError(zn));
        std::ofstream(p, std::ios::binary).write(z.data(), static_cast<std::streamsize>(zn));
    }
    ByteTokenizer tok;
    auto in_memory = make_calibration_set(p.string(), tok, 200, 16, 42, {});
    auto windowed = qs::detail::awq_calibration_set(p.string(), tok, 200, 16, 42, {}, 0);
    EXPECT_TRUE(at::equal(in_memory.blocks, windowed.blocks));
    EXPECT_EQ(in_memory.description, windowed.description);
    EXPECT_NE(in_memory.description.find("3,000 records shuffled (seed 42; QuantScope's order, not HF datasets'), "
                                         "200 samples of <= 16 tokens with BOS"),
              std::string::npos)
        << in_memory.description;
    // The protocol written out: walk seeded_permutation(3000, 42), take the records whose
    // BOS + text fits in 16 tokens (only the 300 "s<i>" ones) until there are 200, concatenate.
    std::vector<int64_t> expect;
    int64_t taken = 0;
    for (int64_t r : seeded_permutation(3000, 42)) {
        if (r % 10 != 0) continue;
        const auto ids = bytes("s" + std::to_string(r), true);
        expect.insert(expect.end(), ids.begin(), ids.end());
        if (++taken == 200) break;
    }
    const int64_t nblocks = static_cast<int64_t>(expect.size()) / 16;
    ASSERT_EQ(in_memory.blocks.sizes(), (std::vector<int64_t>{nblocks, 16}));
    at::Tensor flat = in_memory.blocks.reshape({-1});
    EXPECT_TRUE(std::equal(flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + nblocks * 16, expect.begin()));
    fs::remove_all(dir);
}

// ---------------------------------------------------------------- consecutive blocks (.txt)

TEST(DataCalibration, TxtConsecutiveBlocksNoBos) {
    // calib.txt = "abcdefghijklmnopqrstuvwxyz\n" (27 bytes = 27 tokens, no BOS).
    ByteTokenizer tok;
    auto set = make_calibration_set(test_data("datasets/calib.txt"), tok, 3, 4, 42, {});
    EXPECT_EQ(rows(set.blocks), (std::vector<std::vector<int64_t>>{bytes("abcd"), bytes("efgh"), bytes("ijkl")}));
    EXPECT_EQ(set.description, "calib.txt: 3 blocks x 4 tokens, consecutive, no BOS");
    auto other_seed = make_calibration_set(test_data("datasets/calib.txt"), tok, 3, 4, 7, {});
    EXPECT_TRUE(at::equal(other_seed.blocks, set.blocks));

    auto all = make_calibration_set(test_data("datasets/calib.txt"), tok, 100, 4, 42, {});
    EXPECT_EQ(all.blocks.sizes(), (std::vector<int64_t>{6, 4}));
    EXPECT_EQ(rows(all.blocks).back(), bytes("uvwx"));
    EXPECT_EQ(all.description,
              "calib.txt: 6 blocks x 4 tokens, consecutive, no BOS (asked for 100; the text has only 27 tokens)");
}

TEST(DataCalibration, BundledDefault) {
    // The brief's example description, verbatim; the blocks are the first 128 * 512 bytes of
    // tinyshakespeare.txt (which begins "First Citizen:\n").
    ByteTokenizer tok;
    const std::string path = calibration_default_path();
    ASSERT_TRUE(fs::exists(path)) << path;
    auto set = make_calibration_set(path, tok, 128, 512, 42, {});
    EXPECT_EQ(set.description,
              "tinyshakespeare.txt.zst (bundled substitute, not Pile): 128 blocks x 512 tokens, "
              "consecutive, no BOS");
    EXPECT_EQ(set.blocks.sizes(), (std::vector<int64_t>{128, 512}));
    const std::string text = read_text_file(path);
    EXPECT_EQ(text.size(), 1115394u);  // PROVENANCE.md
    const std::vector<int64_t> first = bytes(text.substr(0, 128 * 512));
    at::Tensor flat = set.blocks.reshape({-1});
    EXPECT_TRUE(std::equal(first.begin(), first.end(), flat.data_ptr<int64_t>()));
    EXPECT_EQ(rows(set.blocks)[0][0], 'F');
    // A copy outside the resources is not labelled as the bundled set.
    auto copy =
        make_calibration_set(source_path("resources/data/calibration/tinyshakespeare.txt.zst"), tok, 2, 8, 42, {});
    EXPECT_EQ(copy.description, "tinyshakespeare.txt.zst: 2 blocks x 8 tokens, consecutive, no BOS");
}

// ---------------------------------------------------------------- errors and cancellation

TEST(DataCalibration, Errors) {
    ByteTokenizer tok;
    const std::string txt = test_data("datasets/calib.txt");
    QS_EXPECT_ERROR_CONTAINS(make_calibration_set(txt, tok, 0, 8, 42, {}),
                             "calibration: the number of samples must be at least 1, got 0");
    QS_EXPECT_ERROR_CONTAINS(make_calibration_set(txt, tok, 4, 0, 42, {}),
                             "calibration: the block size must be at least 1 token, got 0");
    QS_EXPECT_ERROR_CONTAINS(make_calibration_set(txt, tok, 4, 30, 42, {}),
                             "calib.txt: too little text for calibration: 27 tokens, fewer than one block of 30");
    QS_EXPECT_ERROR_CONTAINS(make_calibration_set(test_data("datasets/calib.jsonl"), tok, 1, 8, 42, {}),
                             "calib.jsonl: too little text for calibration: 1 sample of <= 8 tokens gave 5 tokens, "
                             "fewer than one block of 8");
    QS_EXPECT_ERROR_CONTAINS(make_calibration_set(test_data("datasets/malformed.jsonl"), tok, 4, 8, 42, {}),
                             "malformed.jsonl: line 3: malformed JSON");
    QS_EXPECT_ERROR_CONTAINS(make_calibration_set(test_data("datasets/bad_utf8.jsonl.zst"), tok, 4, 8, 42, {}),
                             "bad_utf8.jsonl.zst: line 2: invalid UTF-8 at byte offset 29");
    QS_EXPECT_ERROR_CONTAINS(make_calibration_set(test_data("datasets/corrupt.jsonl.zst"), tok, 4, 8, 42, {}),
                             "corrupt.jsonl.zst: corrupt zstd data");
    QS_EXPECT_ERROR_CONTAINS(make_calibration_set(test_data("datasets/truncated.jsonl.zst"), tok, 4, 8, 42, {}),
                             "truncated.jsonl.zst: truncated zstd stream");
    QS_EXPECT_ERROR_CONTAINS(make_calibration_set(test_data("datasets/README.md"), tok, 4, 8, 42, {}),
                             "README.md: unsupported dataset file");
    auto dir = temp_dir("calib_errors");
    { std::ofstream((dir / "blank.jsonl").string()) << "\n  \n"; }
    QS_EXPECT_ERROR_CONTAINS(make_calibration_set((dir / "blank.jsonl").string(), tok, 4, 8, 42, {}),
                             "blank.jsonl: no records (every line is blank)");
    fs::remove_all(dir);
}

TEST(DataCalibration, Cancellation) {
    ByteTokenizer tok;
    std::atomic<bool> cancel{true};
    Progress pre;
    pre.cancel = &cancel;
    EXPECT_THROW(make_calibration_set(test_data("datasets/calib.jsonl"), tok, 4, 8, 42, pre), Cancelled);
    EXPECT_THROW(make_calibration_set(test_data("datasets/calib.txt"), tok, 4, 8, 42, pre), Cancelled);

    // Cancelled while samples are being tokenized (the tokenizer sets the flag on its 2nd call).
    cancel = false;
    ByteTokenizer cancelling;
    cancelling.cancel_on_second_call = &cancel;
    Progress p;
    p.cancel = &cancel;
    EXPECT_THROW(make_calibration_set(test_data("datasets/calib.jsonl"), cancelling, 4, 8, 42, p), Cancelled);
    EXPECT_EQ(cancelling.calls, 2);

    // Cancelled from the progress callback while the .txt is read.
    cancel = false;
    Progress q;
    q.cancel = &cancel;
    q.report = [&](double, const std::string&) { cancel = true; };
    EXPECT_THROW(make_calibration_set(calibration_default_path(), tok, 4, 8, 42, q), Cancelled);
}

TEST(DataCalibration, ProgressRunsFromZeroToOne) {
    ByteTokenizer tok;
    for (const char* name : {"datasets/calib.jsonl", "datasets/calib.txt"}) {
        std::vector<double> fractions;
        Progress p;
        p.report = [&](double f, const std::string&) { fractions.push_back(f); };
        make_calibration_set(test_data(name), tok, 3, 4, 42, p);
        ASSERT_FALSE(fractions.empty()) << name;
        EXPECT_TRUE(std::is_sorted(fractions.begin(), fractions.end())) << name;
        EXPECT_GE(fractions.front(), 0.0);
        EXPECT_DOUBLE_EQ(fractions.back(), 1.0);
    }
}
