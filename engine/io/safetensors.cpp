#include "io/safetensors.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/error.h"
#include "io/safe_output.h"

namespace qs {

using json = nlohmann::json;

std::string shape_str(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

size_t safetensors_dtype_size(const std::string& d) {
    if (d == "F64" || d == "I64" || d == "U64") return 8;
    if (d == "F32" || d == "I32" || d == "U32") return 4;
    if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
    if (d == "I8" || d == "U8" || d == "BOOL") return 1;
    throw Error("unknown safetensors dtype '" + d + "'");
}

c10::ScalarType safetensors_to_scalar(const std::string& d) {
    if (d == "F64") return at::kDouble;
    if (d == "F32") return at::kFloat;
    if (d == "F16") return at::kHalf;
    if (d == "BF16") return at::kBFloat16;
    if (d == "I64") return at::kLong;
    if (d == "I32") return at::kInt;
    if (d == "I16") return at::kShort;
    if (d == "I8") return at::kChar;
    if (d == "U8") return at::kByte;
    if (d == "BOOL") return at::kBool;
    throw Error("safetensors dtype '" + d + "' is not supported by QuantScope");
}

std::string scalar_to_safetensors(c10::ScalarType t) {
    switch (t) {
        case at::kDouble:
            return "F64";
        case at::kFloat:
            return "F32";
        case at::kHalf:
            return "F16";
        case at::kBFloat16:
            return "BF16";
        case at::kLong:
            return "I64";
        case at::kInt:
            return "I32";
        case at::kShort:
            return "I16";
        case at::kChar:
            return "I8";
        case at::kByte:
            return "U8";
        case at::kBool:
            return "BOOL";
        default:
            throw Error(std::string("cannot store dtype ") + c10::toString(t) + " in safetensors");
    }
}

static constexpr uint64_t kMaxHeader = 100ull * 1024 * 1024;

SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size, const std::string& label) {
    if (size < 8)
        throw Error(label + ": file is " + std::to_string(size) +
                    " bytes, too short for a safetensors header (truncated?)");
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | data[i];
    if (hlen > size - 8)
        throw Error(label + ": header length " + std::to_string(hlen) + " goes beyond the end of the file (" +
                    std::to_string(size) + " bytes; truncated or not a safetensors file)");
    if (hlen > kMaxHeader) throw Error(label + ": header length " + std::to_string(hlen) + " exceeds the 100 MB limit");
    if (hlen < 2) throw Error(label + ": header of " + std::to_string(hlen) + " bytes is not a JSON object");
    json h;
    try {
        h = json::parse(data + 8, data + 8 + hlen);
    } catch (const json::exception& e) {
        throw Error(label + ": header is not valid JSON (" + e.what() + ")");
    }
    if (!h.is_object()) throw Error(label + ": header is not a JSON object");

    SafetensorsHeader out;
    out.data_start = 8 + hlen;
    const uint64_t data_size = size - out.data_start;
    for (auto it = h.begin(); it != h.end(); ++it) {
        const std::string& name = it.key();
        if (name == "__metadata__") {
            if (!it->is_object()) throw Error(label + ": __metadata__ is not an object");
            for (auto m = it->begin(); m != it->end(); ++m) {
                if (!m->is_string()) throw Error(label + ": __metadata__ value '" + m.key() + "' is not a string");
                out.metadata[m.key()] = m->get<std::string>();
            }
            continue;
        }
        const std::string where = label + ": tensor '" + name + "'";
        if (!it->is_object()) throw Error(where + ": entry is not an object");
        const json& e = *it;
        if (!e.contains("dtype") || !e["dtype"].is_string()) throw Error(where + ": missing string 'dtype'");
        if (!e.contains("shape") || !e["shape"].is_array()) throw Error(where + ": missing array 'shape'");
        if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
            throw Error(where + ": missing 'data_offsets' [begin, end]");
        TensorInfo ti;
        ti.name = name;
        ti.dtype = e["dtype"].get<std::string>();
        size_t esize;
        try {
            esize = safetensors_dtype_size(ti.dtype);
        } catch (const Error&) {
            throw Error(where + ": unknown dtype '" + ti.dtype + "'");
        }
        uint64_t numel = 1;
        for (const auto& d : e["shape"]) {
            if (!d.is_number_unsigned()) throw Error(where + ": shape entries must be non-negative integers");
            uint64_t v = d.get<uint64_t>();
            if (v > (uint64_t)std::numeric_limits<int64_t>::max() || (v != 0 && numel > UINT64_MAX / v))
                throw Error(where + ": shape is too large");
            numel *= v;
            ti.shape.push_back(static_cast<int64_t>(v));
        }
        for (const auto& d : e["data_offsets"])
            if (!d.is_number_unsigned()) throw Error(where + ": data_offsets must be non-negative integers");
        ti.begin = e["data_offsets"][0].get<uint64_t>();
        ti.end = e["data_offsets"][1].get<uint64_t>();
        if (ti.end < ti.begin)
            throw Error(where + ": data_offsets [" + std::to_string(ti.begin) + ", " + std::to_string(ti.end) +
                        "] end before begin");
        if (numel > UINT64_MAX / esize) throw Error(where + ": shape is too large");
        uint64_t expect = numel * esize;
        if (ti.end - ti.begin != expect)
            throw Error(where + ": shape " + shape_str(ti.shape) + " x " + ti.dtype + " needs " +
                        std::to_string(expect) + " bytes but data_offsets span " + std::to_string(ti.end - ti.begin));
        if (ti.end > data_size)
            throw Error(where + ": data_offsets end " + std::to_string(ti.end) + " lies outside the data section (" +
                        std::to_string(data_size) + " bytes; file truncated?)");
        out.tensors.push_back(std::move(ti));
    }
    // Overlaps and holes: sort by range.
    std::vector<const TensorInfo*> sorted;
    for (const auto& t : out.tensors) sorted.push_back(&t);
    std::sort(sorted.begin(), sorted.end(),
              [](auto* a, auto* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
    uint64_t pos = 0;
    for (const auto* t : sorted) {
        if (t->begin < pos)
            throw Error(label + ": tensor '" + t->name + "' bytes [" + std::to_string(t->begin) + ", " +
                        std::to_string(t->end) + ") overlap the previous tensor (which ends at " + std::to_string(pos) +
                        ")");
        if (t->begin > pos)
            throw Error(label + ": unindexed gap of " + std::to_string(t->begin - pos) + " bytes before tensor '" +
                        t->name + "'");
        pos = t->end;
    }
    if (pos != data_size)
        throw Error(label + ": " + std::to_string(data_size - pos) +
                    " trailing bytes after the last tensor are not described by the header");
    return out;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
    header_ = parse_safetensors_header(file_.data(), file_.size(), path);
    for (size_t i = 0; i < header_.tensors.size(); ++i) index_[header_.tensors[i].name] = i;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

at::Tensor SafetensorsFile::load(const std::string& name, std::optional<c10::ScalarType> as) const {
    const TensorInfo* ti = find(name);
    if (!ti) throw Error(path() + ": no tensor named '" + name + "'");
    auto st = safetensors_to_scalar(ti->dtype);
    const uint64_t off = header_.data_start + ti->begin;
    const uint8_t* ptr = file_.data() + off;
    const size_t nbytes = ti->end - ti->begin;
    at::Tensor out = at::empty(ti->shape, at::TensorOptions().dtype(st));
    // Copy in slices, releasing each mapped slice at once, so a large tensor is never held
    // twice (mapped + copied). The map is read-only: dropping a page that the next slice
    // shares only means it is faulted in again from the page cache.
    constexpr size_t kSlice = size_t(32) << 20;
    auto* dst = static_cast<uint8_t*>(out.data_ptr());
    for (size_t done = 0; done < nbytes; done += kSlice) {
        const size_t n = std::min(kSlice, nbytes - done);
        std::memcpy(dst + done, ptr + done, n);
        file_.drop(off + done, n);
    }
    file_.check_intact();  // a truncated file reads as zeros (io/map_guard.h): say so now
    if (as && *as != st) out = out.to(*as);
    return out;
}

at::Tensor SafetensorsFile::view(const std::string& name) const {
    const TensorInfo* ti = find(name);
    if (!ti) throw Error(path() + ": no tensor named '" + name + "'");
    auto st = safetensors_to_scalar(ti->dtype);
    const uint64_t off = header_.data_start + ti->begin;
    const uint8_t* ptr = file_.data() + off;
    const size_t esize = safetensors_dtype_size(ti->dtype);
    if (reinterpret_cast<uintptr_t>(ptr) % esize != 0) return {};
    std::shared_ptr<const SafetensorsFile> keep = shared_from_this();
    // The map is PROT_READ: an in-place write would fault, so every engine operation assigns
    // new tensors (see CausalLM::State).
    return at::from_blob(
        const_cast<uint8_t*>(ptr), ti->shape, [keep](void*) {}, at::TensorOptions().dtype(st).device(at::kCPU));
}

void SafetensorsFile::release(const at::Tensor& t) const {
    if (!t.defined() || !t.device().is_cpu()) return;
    const auto* p = static_cast<const uint8_t*>(t.data_ptr());
    if (!contains(p)) return;
    const size_t n = std::min<size_t>(t.numel() * t.element_size(), file_.data() + file_.size() - p);
    file_.drop(static_cast<size_t>(p - file_.data()), n);
}

uint64_t tensor_bytes(c10::ScalarType dtype, const std::vector<int64_t>& shape) {
    uint64_t n = c10::elementSize(dtype);
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    return n;
}

std::string safetensors_prefix(const std::vector<SafetensorsEntry>& entries,
                               const std::map<std::string, std::string>& metadata) {
    json h = json::object();
    if (!metadata.empty()) h["__metadata__"] = metadata;
    uint64_t off = 0;
    for (const auto& e : entries) {
        h[e.name] = {
            {"dtype", scalar_to_safetensors(e.dtype)}, {"shape", e.shape}, {"data_offsets", {off, off + e.bytes()}}};
        off += e.bytes();
    }
    std::string header = h.dump();
    while (header.size() % 8 != 0) header.push_back(' ');
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(static_cast<uint64_t>(header.size()) >> (8 * i));
    return out + header;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
    std::vector<at::Tensor> cpu;
    std::vector<SafetensorsEntry> entries;
    for (const auto& [name, t] : tensors) {
        at::Tensor c = t.to(at::kCPU).contiguous();
        entries.push_back({name, c.scalar_type(), c.sizes().vec()});
        cpu.push_back(std::move(c));
    }
    const std::string prefix = safetensors_prefix(entries, metadata);
    AtomicFile f(path);  // "<path>.tmp-<pid>", renamed when complete (io/safe_output.h)
    f.write(prefix.data(), prefix.size());
    for (const auto& c : cpu) f.write(c.data_ptr(), c.numel() * c.element_size());
    f.commit();
}

std::vector<std::vector<size_t>> plan_shards(const std::vector<uint64_t>& bytes, uint64_t max_shard_bytes) {
    std::vector<std::vector<size_t>> shards(1);
    uint64_t cur = 0;
    for (size_t i = 0; i < bytes.size(); ++i) {
        if (!shards.back().empty() && cur + bytes[i] > max_shard_bytes) {
            shards.emplace_back();
            cur = 0;
        }
        shards.back().push_back(i);
        cur += bytes[i];
    }
    return shards;
}

std::string shard_file_name(size_t index, size_t count) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", index + 1, count);
    return buf;
}

}  // namespace qs
