// GGUF files (llama.cpp / ggml), read-only and memory-mapped: the header (metadata key/values
// and tensor infos) is parsed and validated once; tensor data is dequantized on demand.
//
// Format versions 1, 2 and 3 (little-endian). Layout: "GGUF", u32 version, tensor count and
// metadata count (u64; u32 in v1), the key/values, the tensor infos (name, dims, ggml type,
// offset), padding to general.alignment (default 32), then the data section.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/mapped_file.h"

namespace qs {

// Caps on what a GGUF header may make QuantScope allocate (a large file, even a sparse one,
// can claim hundreds of millions of entries and still pass the bytes-left checks). Real files
// are far below them: a few dozen metadata keys, at most a few thousand tensors, tokenizer
// arrays of up to ~260k tokens (x3: tokens, scores, types) plus merges, headers of a few MB.
constexpr uint64_t kMaxGgufHeaderBytes = uint64_t(256) << 20;  // metadata + tensor infos
constexpr uint64_t kMaxGgufMetadataEntries = 65536;
constexpr uint64_t kMaxGgufTensors = uint64_t(1) << 20;
constexpr uint64_t kMaxGgufArrayElements = uint64_t(1) << 23;  // all metadata arrays together

// ggml tensor types (ggml.h enum ggml_type); only the numbers QuantScope knows by name.
enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
};

struct GgmlTypeInfo {
    const char* name;    // "Q4_K"
    int64_t block_size;  // elements per block
    int64_t type_size;   // bytes per block
    bool dequantizable;  // QuantScope can turn it into floats
};
// nullptr for a type number ggml does not define (or that QuantScope cannot size).
const GgmlTypeInfo* ggml_type_info(uint32_t type);
// "Q4_K", or "type 42" for an unknown number.
std::string ggml_type_name(uint32_t type);

enum class GgufValueType : uint32_t {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
};
std::string gguf_value_type_name(GgufValueType t);  // "UINT32", "ARRAY[STRING]" is built by callers

// One metadata value. Scalars fill one of i / u / f / b / s according to `type`; arrays set
// `type` = ARRAY, `elem` and one of ints / floats / bools / strs (nested arrays are rejected).
struct GgufValue {
    GgufValueType type = GgufValueType::U8;
    GgufValueType elem = GgufValueType::U8;  // arrays only
    int64_t i = 0;                           // signed integers
    uint64_t u = 0;                          // unsigned integers
    double f = 0;                            // F32 / F64
    bool b = false;
    std::string s;
    std::vector<int64_t> ints;  // integer arrays (U64 values above INT64_MAX are rejected)
    std::vector<double> floats;
    std::vector<std::string> strs;  // string arrays; BOOL arrays land in ints (0/1)

    bool is_integer() const;
    bool is_array() const { return type == GgufValueType::ARRAY; }
    uint64_t array_size() const { return ints.size() + floats.size() + strs.size(); }
    std::string type_name() const;                      // "UINT32", "ARRAY[STRING]"
    std::string to_string(size_t max_items = 8) const;  // for `info` and error messages
};

struct GgufTensorInfo {
    std::string name;
    std::vector<int64_t> ne;  // ggml order: ne[0] is the contiguous (innermost) dimension
    uint32_t type = 0;        // GgmlType number
    uint64_t offset = 0;      // relative to the data section
    uint64_t nbytes = 0;
    int64_t numel() const;
    std::vector<int64_t> shape() const;  // row-major (torch) order: ne reversed
    std::string type_name() const { return ggml_type_name(type); }
};

struct GgufHeader {
    uint32_t version = 0;
    std::vector<std::pair<std::string, GgufValue>> metadata;  // in file order
    std::map<std::string, size_t> metadata_index;             // key -> index in metadata
    std::vector<GgufTensorInfo> tensors;                      // in file order
    std::map<std::string, size_t> tensor_index;               // name -> index in tensors
    uint64_t alignment = 32;
    uint64_t data_start = 0;  // absolute offset of the data section
};

// Parses and validates a whole GGUF buffer. `label` names the file in errors. Checks: magic,
// version (1-3, little-endian), counts and string/array lengths inside the buffer and within
// the caps above (nothing is allocated for a claimed count before it is checked), value
// types, no nested arrays, unique keys and tensor names, general.alignment (a power of two),
// dims (1-4, non-negative, no overflow, ne[0] a multiple of the type's block size), known
// types, offsets aligned, every tensor inside the data section and no two overlapping.
GgufHeader parse_gguf_header(const uint8_t* data, size_t size, const std::string& label);

class GgufFile {
  public:
    explicit GgufFile(const std::string& path);  // throws qs::Error naming the file
    const std::string& path() const { return file_.path(); }
    const GgufHeader& header() const { return header_; }
    uint64_t file_size() const { return file_.size(); }
    // Throws qs::Error when the file was truncated or rewritten while mapped (MappedFile::check_intact).
    void check_intact() const { file_.check_intact(); }

    const GgufValue* find(const std::string& key) const;  // nullptr if absent
    // Typed getters; errors name the file, the key, and the type found.
    std::optional<std::string> get_string(const std::string& key) const;
    std::optional<int64_t> get_int(const std::string& key) const;   // any integer type
    std::optional<double> get_float(const std::string& key) const;  // F32/F64 or an integer
    std::optional<bool> get_bool(const std::string& key) const;
    const GgufValue* get_array(const std::string& key, GgufValueType elem) const;  // nullptr if absent
    std::string require_string(const std::string& key) const;
    int64_t require_int(const std::string& key) const;

    const GgufTensorInfo* tensor(const std::string& name) const;  // nullptr if absent
    const uint8_t* tensor_data(const GgufTensorInfo& t) const { return file_.data() + header_.data_start + t.offset; }
    // The tensor in torch (row-major) shape, dequantized as ggml does, converted to `dtype`.
    // Throws qs::Error naming the file and tensor for types QuantScope cannot dequantize.
    at::Tensor load(const std::string& name, c10::ScalarType dtype = c10::ScalarType::Float) const;

  private:
    MappedFile file_;
    GgufHeader header_;
};

// True when `path` is a regular file starting with the GGUF magic (never blocks: a named pipe
// is not opened for reading).
bool is_gguf_file(const std::string& path);

// The GGUF file a --model argument names: the path itself when it is a GGUF file, or the one
// .gguf file in a folder without config.json. "" when the path is not GGUF (a Hugging Face
// folder, or nothing). Throws qs::Error for a folder holding several .gguf files.
std::string find_gguf(const std::string& path);

}  // namespace qs
