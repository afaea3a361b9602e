// libFuzzer target for qs::parse_safetensors_header (engine/io/safetensors.cpp).
//
// Any input must either parse into a header that satisfies the documented guarantees, or
// be rejected with qs::Error. Any other exception, a sanitizer report or a broken
// guarantee is a bug (abort() makes libFuzzer save the input as a crash artifact).
// Built and run by tools/fuzz/run_fuzz.sh.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"

namespace {

[[noreturn]] void bug(const char* what) {
    std::fprintf(stderr, "fuzz_safetensors_header: broken guarantee: %s\n", what);
    std::abort();
}

// What a successful parse promises its callers (SafetensorsFile::load trusts these).
void check_header(const qs::SafetensorsHeader& h, size_t size) {
    if (h.data_start < 8 || h.data_start > size) bug("data_start outside the buffer");
    const uint64_t data_size = size - h.data_start;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto& t : h.tensors) {
        if (t.end < t.begin) bug("end < begin");
        if (t.end > data_size) bug("tensor range outside the data section");
        uint64_t numel = 1;
        for (int64_t d : t.shape) {
            if (d < 0) bug("negative dimension");
            numel *= static_cast<uint64_t>(d);
        }
        if (numel * qs::safetensors_dtype_size(t.dtype) != t.end - t.begin) bug("shape x dtype != byte range");
        ranges.emplace_back(t.begin, t.end);
    }
    std::sort(ranges.begin(), ranges.end());
    uint64_t pos = 0;
    for (const auto& [b, e] : ranges) {
        if (b != pos) bug("overlap or hole accepted");
        pos = e;
    }
    if (pos != data_size) bug("trailing bytes accepted");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        qs::SafetensorsHeader h = qs::parse_safetensors_header(data, size, "fuzz-input");
        check_header(h, size);
    } catch (const qs::Error&) {
        // Expected: malformed input reported with a message.
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_safetensors_header: unexpected exception (not qs::Error): %s\n", e.what());
        std::abort();
    }
    return 0;
}
