// safetensors reading (validated, memory-mapped) and writing (one file; the streaming, sharded
// export writer in export/tensor_writer.cpp builds its headers with safetensors_prefix()).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/mapped_file.h"

namespace qs {

struct TensorInfo {
    std::string name;
    std::string dtype;  // "F32", "BF16", ...
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;  // byte range relative to the data section
};

struct SafetensorsHeader {
    std::vector<TensorInfo> tensors;  // in header order
    std::map<std::string, std::string> metadata;
    uint64_t data_start = 0;  // 8 + header length
};

// Parses and validates a complete safetensors buffer's header. `label` names the file in
// errors. Checks: header length vs buffer size, JSON, dtype names, shape x element size =
// byte range, ranges inside the data section, no overlaps and no holes.
SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size, const std::string& label);

// Element size in bytes of a safetensors dtype name; throws on unknown names.
size_t safetensors_dtype_size(const std::string& dtype);
c10::ScalarType safetensors_to_scalar(const std::string& dtype);
std::string scalar_to_safetensors(c10::ScalarType t);

class SafetensorsFile : public std::enable_shared_from_this<SafetensorsFile> {
  public:
    explicit SafetensorsFile(const std::string& path);
    const std::string& path() const { return file_.path(); }
    const SafetensorsHeader& header() const { return header_; }
    const TensorInfo* find(const std::string& name) const;
    // Copies the tensor out of the map (optionally converting dtype) and releases the
    // mapped pages, so loading a whole checkpoint costs about one copy of it in RAM.
    at::Tensor load(const std::string& name, std::optional<c10::ScalarType> as = std::nullopt) const;
    // A zero-copy CPU tensor over the mapped bytes (read-only memory: never write into it), which
    // keeps this file mapped while it lives. Undefined when the data is not aligned to its element
    // size. The object must be owned by a std::shared_ptr.
    at::Tensor view(const std::string& name) const;
    // Releases the mapped pages of a tensor returned by view() (or all pages): they leave the
    // process's RSS and are read again from the page cache when touched. Always safe: the map is
    // read-only, so no page can hold data the file does not.
    void release(const at::Tensor& view) const;
    void release_all() const { file_.drop(0, file_.size()); }
    bool contains(const void* p) const { return p >= file_.data() && p < file_.data() + file_.size(); }
    uint64_t file_size() const { return file_.size(); }
    void check_intact() const { file_.check_intact(); }

  private:
    MappedFile file_;
    SafetensorsHeader header_;
    std::map<std::string, size_t> index_;
};

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Writes one file, atomically (io/safe_output.h: "<path>.tmp-<pid>" renamed when complete).
// Tensors are written as stored (dtype kept); they are moved to CPU and made contiguous.
// Throws qs::Error naming the file on any I/O failure (e.g. disk full, file too large).
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Bytes of a tensor of this dtype and shape (element size x number of elements).
uint64_t tensor_bytes(c10::ScalarType dtype, const std::vector<int64_t>& shape);

// One tensor of a safetensors file to write: its header entry (data_offsets follow from the order).
struct SafetensorsEntry {
    std::string name;
    c10::ScalarType dtype;
    std::vector<int64_t> shape;
    uint64_t bytes() const { return tensor_bytes(dtype, shape); }
};
// Everything before the data section of a file holding these tensors in this order: the
// 8-byte little-endian header length, then the JSON header padded with spaces to a multiple
// of 8 bytes (so the data starts aligned). The one place QuantScope spells the format.
std::string safetensors_prefix(const std::vector<SafetensorsEntry>& entries,
                               const std::map<std::string, std::string>& metadata = {});

// How tensors of these byte sizes are split into shards of at most max_shard_bytes, in
// order (a larger tensor gets a shard of its own): the tensor indices of each shard.
std::vector<std::vector<size_t>> plan_shards(const std::vector<uint64_t>& bytes, uint64_t max_shard_bytes);
// Hugging Face's shard name: "model-00001-of-00003.safetensors" for (0, 3).
std::string shard_file_name(size_t index, size_t count);

std::string shape_str(const std::vector<int64_t>& shape);

}  // namespace qs
