#include "data/calibration.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/resources.h"
#include "data/shuffle.h"
#include "data/text_source.h"
#include "data/utf8.h"

namespace qs {

namespace fs = std::filesystem;

// Files whose texts total at most this are sampled from memory; larger ones (the Pile
// validation set is ~1.3 GB of text) are re-read for each window of shuffled positions.
constexpr size_t kKeepInMemoryBytes = size_t{64} << 20;

std::string calibration_default_path() { return resource_path("data/calibration/tinyshakespeare.txt.zst"); }

// "tinyshakespeare.txt.zst (bundled substitute, not Pile)" for the bundled file, else the
// file name.
static std::string source_label(const std::string& path) {
    std::string label = fs::path(path).filename().string();
    try {
        std::error_code ec;
        if (fs::equivalent(path, calibration_default_path(), ec) && !ec) label += " (bundled substitute, not Pile)";
    } catch (const Error&) {
        // no resources folder: the file cannot be the bundled one
    }
    return label;
}

static at::Tensor to_blocks(const std::vector<int64_t>& ids, int64_t n_blocks, int64_t block_size) {
    at::Tensor t = at::empty({n_blocks, block_size}, at::TensorOptions().dtype(at::kLong));
    std::memcpy(t.data_ptr<int64_t>(), ids.data(), static_cast<size_t>(n_blocks * block_size) * sizeof(int64_t));
    return t;
}

static CalibrationSet consecutive_blocks(const std::string& path, const Tokenizer& tok, int64_t nsamples,
                                         int64_t block_size, const Progress& progress) {
    const std::string text = read_text_file(path, progress.sub(0.0, 0.3));
    progress.check();
    progress(0.3, "tokenizing " + fs::path(path).filename().string());
    const std::vector<int64_t> ids = tok.encode(text, /*add_bos=*/false);
    progress.check();
    const auto ntokens = static_cast<int64_t>(ids.size());
    const int64_t available = ntokens / block_size;
    if (available == 0) {
        throw Error(path + ": too little text for calibration: " + with_commas(ntokens) +
                    " tokens, fewer than one block of " + with_commas(block_size));
    }
    const int64_t n = std::min(nsamples, available);
    CalibrationSet set;
    set.source = path;
    set.blocks = to_blocks(ids, n, block_size);
    set.description = source_label(path) + ": " + count_of(n, "block") + " x " + with_commas(block_size) +
                      " tokens, consecutive, no BOS";
    if (n < nsamples)
        set.description +=
            " (asked for " + with_commas(nsamples) + "; the text has only " + with_commas(ntokens) + " tokens)";
    progress(1.0, "calibration set ready");
    return set;
}

static CalibrationSet awq_jsonl(const std::string& path, const Tokenizer& tok, int64_t nsamples, int64_t block_size,
                                uint64_t seed, const Progress& progress, size_t keep_all_bytes) {
    // Pass 1: validate every line and count the records; keep the texts if they are small,
    // else re-read the file for windows of shuffled positions [lo, hi) until enough samples.
    std::vector<std::string> all;
    size_t all_bytes = 0;
    bool kept_all = true;
    const int64_t n = for_each_jsonl_text(
        path,
        [&](std::string&& t, int64_t) {
            if (!kept_all) return;
            all_bytes += t.size();
            if (all_bytes > keep_all_bytes) {
                kept_all = false;
                std::vector<std::string>().swap(all);
                return;
            }
            all.push_back(std::move(t));
        },
        progress.sub(0.0, 0.3));
    if (n == 0) throw Error(path + ": no records (every line is blank)");

    const std::vector<int64_t> perm = seeded_permutation(n, seed);
    std::vector<int64_t> rank(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) rank[static_cast<size_t>(perm[static_cast<size_t>(k)])] = k;

    Progress quiet;  // re-reads of a large file: cancellable, not reported
    quiet.cancel = progress.cancel;

    std::vector<int64_t> ids;
    int64_t used = 0, too_long = 0, empty = 0;
    int64_t lo = 0, window = std::max<int64_t>(4 * nsamples, 256);
    std::vector<std::string> texts;  // texts of the records at shuffled positions [lo, hi)
    while (used < nsamples && lo < n) {
        const int64_t hi = kept_all ? n : std::min(n, lo + window);
        if (!kept_all) {
            progress(0.3 + 0.7 * static_cast<double>(used) / static_cast<double>(nsamples),
                     "reading samples from " + path);
            texts.assign(static_cast<size_t>(hi - lo), std::string());
            int64_t record = 0;
            for_each_jsonl_text(
                path,
                [&](std::string&& t, int64_t) {
                    texts[static_cast<size_t>(rank[static_cast<size_t>(record)] - lo)] = std::move(t);
                },
                quiet,
                [&](int64_t r) {
                    if (r >= n)
                        throw Error(path + ": the file changed while it was read (more than " + count_of(n, "record") +
                                    ")");
                    record = r;
                    const int64_t k = rank[static_cast<size_t>(r)];
                    return k >= lo && k < hi;
                });
        }
        for (int64_t k = lo; k < hi && used < nsamples; ++k) {
            progress.check();
            const std::string& raw =
                kept_all ? all[static_cast<size_t>(perm[static_cast<size_t>(k)])] : texts[static_cast<size_t>(k - lo)];
            const std::vector<int64_t> enc = tok.encode(std::string(python_strip(raw)), /*add_bos=*/true);
            if (static_cast<int64_t>(enc.size()) > block_size) {
                ++too_long;
                continue;
            }
            if (enc.empty()) {
                ++empty;
                continue;
            }
            ids.insert(ids.end(), enc.begin(), enc.end());
            ++used;
            progress(0.3 + 0.7 * static_cast<double>(used) / static_cast<double>(nsamples), "tokenizing samples");
        }
        lo = hi;
        window = std::min<int64_t>(window * 2, int64_t{1} << 15);  // bounds the texts held at once
    }

    const auto ntokens = static_cast<int64_t>(ids.size());
    const int64_t n_blocks = ntokens / block_size;
    if (n_blocks == 0) {
        throw Error(path + ": too little text for calibration: " + count_of(used, "sample") +
                    " of <= " + with_commas(block_size) + " tokens gave " + with_commas(ntokens) +
                    " tokens, fewer than one block of " + with_commas(block_size));
    }
    CalibrationSet set;
    set.source = path;
    set.blocks = to_blocks(ids, n_blocks, block_size);
    set.description = source_label(path) + ": llm-awq protocol: " + count_of(n, "record") + " shuffled (seed " +
                      std::to_string(seed) + "; QuantScope's order, not HF datasets'), " + count_of(used, "sample") +
                      " of <= " + with_commas(block_size) + " tokens with BOS (" + with_commas(too_long) +
                      " longer skipped), concatenated into " + count_of(n_blocks, "block") + " x " +
                      with_commas(block_size) + " tokens";
    if (empty > 0) set.description += " (" + with_commas(empty) + " empty skipped)";
    if (used < nsamples)
        set.description += "; asked for " + with_commas(nsamples) + " samples, only " + with_commas(used) + " fit";
    progress(1.0, "calibration set ready");
    return set;
}

static void check_sizes(int64_t nsamples, int64_t block_size) {
    if (nsamples < 1)
        throw Error("calibration: the number of samples must be at least 1, got " + std::to_string(nsamples));
    if (block_size < 1)
        throw Error("calibration: the block size must be at least 1 token, got " + std::to_string(block_size));
}

CalibrationSet make_calibration_set(const std::string& path, const Tokenizer& tok, int64_t nsamples, int64_t block_size,
                                    uint64_t seed, const Progress& progress) {
    check_sizes(nsamples, block_size);
    progress.check();
    if (dataset_format(path) == DatasetFormat::JsonLines)
        return awq_jsonl(path, tok, nsamples, block_size, seed, progress, kKeepInMemoryBytes);
    return consecutive_blocks(path, tok, nsamples, block_size, progress);
}

namespace detail {
CalibrationSet awq_calibration_set(const std::string& path, const Tokenizer& tok, int64_t nsamples, int64_t block_size,
                                   uint64_t seed, const Progress& progress, size_t keep_in_memory_bytes) {
    check_sizes(nsamples, block_size);
    return awq_jsonl(path, tok, nsamples, block_size, seed, progress, keep_in_memory_bytes);
}
}  // namespace detail

}  // namespace qs
