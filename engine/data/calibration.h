// Calibration sets for AWQ / SmoothQuant / GPTQ-style methods (docs/notes.md §6).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/progress.h"
#include "tokenizers/tokenizer.h"

namespace qs {

struct CalibrationSet {
    at::Tensor blocks;        // int64 [n_blocks, block_size], CPU
    std::string description;  // which set and how it was sampled, for the UI and CLI, e.g.
                              // "tinyshakespeare.txt.zst (bundled substitute, not Pile): 128 blocks x
                              // 512 tokens, consecutive, no BOS"
    std::string source;       // the file read
};

// The bundled default: resource "data/calibration/tinyshakespeare.txt.zst" (a substitute
// for the Pile validation set, which is not available offline). Throws qs::Error if the
// resources cannot be found.
std::string calibration_default_path();

// Builds a calibration set from a local file (".zst" is streamed, never unpacked to disk):
//
// .jsonl / .jsonl.zst: the llm-awq protocol (awq/utils/calib_data.py get_calib_dataset):
//   records (non-blank lines, "text" field) are shuffled with seeded_permutation(n, seed)
//   (shuffle.h; deterministic everywhere, but not the order HF datasets' shuffle gives,
//   and the description says so);
//   in shuffled order each text is str.strip()-ed and encoded with BOS (as HF
//   tokenizer.encode does by default); encodings longer than block_size tokens (llm-awq:
//   512 = its block size) or empty are skipped; the first `nsamples` kept encodings are
//   concatenated and cut into floor(total / block_size) blocks (the tail is dropped), so the
//   number of blocks is not nsamples. Every line of the file is validated.
// .txt / .raw (optionally .zst): the whole text is encoded once without BOS and cut into
//   consecutive blocks of block_size; the first `nsamples` blocks are kept (seed unused).
//
// Fewer samples/blocks than asked are used when the file has no more (the description says
// so); none at all is an error. Throws qs::Error naming the file (and line) for unsupported
// types, I/O, zstd, JSON and UTF-8 errors, and for nsamples or block_size < 1; qs::Cancelled
// when progress.cancel is set.
CalibrationSet make_calibration_set(const std::string& path, const Tokenizer& tok, int64_t nsamples, int64_t block_size,
                                    uint64_t seed, const Progress& progress = {});

namespace detail {
// The .jsonl protocol with a chosen memory bound (make_calibration_set uses 64 MiB): files
// whose texts exceed it are re-read per window of shuffled positions. For tests.
CalibrationSet awq_calibration_set(const std::string& path, const Tokenizer& tok, int64_t nsamples, int64_t block_size,
                                   uint64_t seed, const Progress& progress, size_t keep_in_memory_bytes);
}  // namespace detail

}  // namespace qs
