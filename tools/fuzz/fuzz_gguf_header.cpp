// libFuzzer target for qs::parse_gguf_header (engine/io/gguf.cpp) and the ggml dequantizers
// (engine/io/gguf_dequant.cpp).
//
// Any input must either parse into a header that satisfies the documented guarantees, or be
// rejected with qs::Error. Any other exception, a sanitizer report or a broken guarantee is a
// bug (abort() makes libFuzzer save the input as a crash artifact). Tensors of a parsed header
// are then dequantized from the input's bytes (small ones), so the block decoders run on
// arbitrary data under AddressSanitizer. Built and run by tools/fuzz/run_fuzz.sh gguf_header.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <set>
#include <vector>

#include "core/error.h"
#include "io/gguf.h"
#include "io/gguf_dequant.h"

namespace {

[[noreturn]] void bug(const char* what) {
    std::fprintf(stderr, "fuzz_gguf_header: broken guarantee: %s\n", what);
    std::abort();
}

// What a successful parse promises its callers (GgufFile::load trusts these).
void check_header(const qs::GgufHeader& h, const uint8_t* data, size_t size) {
    if (h.version < 1 || h.version > 3) bug("version outside 1..3");
    if (h.alignment == 0 || (h.alignment & (h.alignment - 1)) != 0) bug("alignment not a power of two");
    if (h.data_start > size) bug("data_start outside the buffer");
    if (h.metadata.size() != h.metadata_index.size()) bug("duplicate metadata keys");
    if (h.tensors.size() != h.tensor_index.size()) bug("duplicate tensor names");
    // The caps that bound what a header makes the reader allocate (issue #15).
    if (h.metadata.size() > qs::kMaxGgufMetadataEntries) bug("more metadata entries than kMaxGgufMetadataEntries");
    if (h.tensors.size() > qs::kMaxGgufTensors) bug("more tensors than kMaxGgufTensors");
    uint64_t elements = 0;
    for (const auto& kv : h.metadata) elements += kv.second.array_size();
    if (elements > qs::kMaxGgufArrayElements) bug("more array elements than kMaxGgufArrayElements");
    const uint64_t data_size = size - h.data_start;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto& t : h.tensors) {
        const qs::GgmlTypeInfo* ti = qs::ggml_type_info(t.type);
        if (!ti) bug("unknown type accepted");
        if (t.ne.empty() || t.ne.size() > 4) bug("dims outside 1..4");
        uint64_t numel = 1;
        for (int64_t d : t.ne) {
            if (d < 0) bug("negative dimension");
            numel *= static_cast<uint64_t>(d);
        }
        if (t.ne[0] % ti->block_size != 0) bug("first dimension not a multiple of the block size");
        if (numel / static_cast<uint64_t>(ti->block_size) * static_cast<uint64_t>(ti->type_size) != t.nbytes)
            bug("nbytes != blocks x block bytes");
        if (t.offset % h.alignment != 0) bug("misaligned tensor accepted");
        if (t.offset > data_size || t.nbytes > data_size - t.offset) bug("tensor outside the data section");
        ranges.emplace_back(t.offset, t.offset + t.nbytes);
        // Dequantize small tensors from the input bytes: no read may leave [offset, offset + nbytes).
        if (ti->dequantizable && numel > 0 && numel <= (1u << 16)) {
            std::vector<float> out(static_cast<size_t>(t.ne[0]));
            const uint64_t row_bytes = static_cast<uint64_t>(t.ne[0]) / ti->block_size * ti->type_size;
            for (uint64_t r = 0; r < numel / static_cast<uint64_t>(t.ne[0]); ++r)
                qs::dequantize_row(t.type, data + h.data_start + t.offset + r * row_bytes, out.data(), t.ne[0]);
        }
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first < ranges[i - 1].second) bug("overlapping tensors accepted");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const qs::GgufHeader h = qs::parse_gguf_header(data, size, "fuzz-input");
        check_header(h, data, size);
    } catch (const qs::Error&) {
        // Expected: malformed input reported with a message.
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_gguf_header: unexpected exception (not qs::Error): %s\n", e.what());
        std::abort();
    }
    return 0;
}
