#include "io/gguf.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <filesystem>
#include <cstring>
#include <limits>

#include <unistd.h>

#include "core/error.h"
#include "io/file_checks.h"
#include "io/gguf_dequant.h"

namespace qs {

namespace {

// Block sizes and bytes per block as ggml's type_traits (ggml.c) define them.
const GgmlTypeInfo* type_table(uint32_t t) {
    static const struct {
        uint32_t type;
        GgmlTypeInfo info;
    } table[] = {
        {0, {"F32", 1, 4, true}},          {1, {"F16", 1, 2, true}},          {2, {"Q4_0", 32, 18, true}},
        {3, {"Q4_1", 32, 20, true}},       {6, {"Q5_0", 32, 22, true}},       {7, {"Q5_1", 32, 24, true}},
        {8, {"Q8_0", 32, 34, true}},       {9, {"Q8_1", 32, 36, false}},      {10, {"Q2_K", 256, 84, true}},
        {11, {"Q3_K", 256, 110, true}},    {12, {"Q4_K", 256, 144, true}},    {13, {"Q5_K", 256, 176, true}},
        {14, {"Q6_K", 256, 210, true}},    {15, {"Q8_K", 256, 292, false}},   {16, {"IQ2_XXS", 256, 66, false}},
        {17, {"IQ2_XS", 256, 74, false}},  {18, {"IQ3_XXS", 256, 98, false}}, {19, {"IQ1_S", 256, 50, false}},
        {20, {"IQ4_NL", 32, 18, false}},   {21, {"IQ3_S", 256, 110, false}},  {22, {"IQ2_S", 256, 82, false}},
        {23, {"IQ4_XS", 256, 136, false}}, {24, {"I8", 1, 1, false}},         {25, {"I16", 1, 2, false}},
        {26, {"I32", 1, 4, false}},        {27, {"I64", 1, 8, false}},        {28, {"F64", 1, 8, true}},
        {29, {"IQ1_M", 256, 56, false}},   {30, {"BF16", 1, 2, true}},        {34, {"TQ1_0", 256, 54, false}},
        {35, {"TQ2_0", 256, 66, false}},   {39, {"MXFP4", 32, 17, false}},
    };
    for (const auto& e : table)
        if (e.type == t) return &e.info;
    return nullptr;
}

uint64_t scalar_size(GgufValueType t) {
    switch (t) {
        case GgufValueType::U8:
        case GgufValueType::I8:
        case GgufValueType::BOOL:
            return 1;
        case GgufValueType::U16:
        case GgufValueType::I16:
            return 2;
        case GgufValueType::U32:
        case GgufValueType::I32:
        case GgufValueType::F32:
            return 4;
        case GgufValueType::U64:
        case GgufValueType::I64:
        case GgufValueType::F64:
            return 8;
        default:
            return 0;
    }
}

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::F64); }

class Reader {
  public:
    Reader(const uint8_t* data, size_t size, const std::string& label) : p_(data), size_(size), label_(label) {}
    uint32_t version = 3;
    size_t pos = 0;

    uint64_t array_elements = 0;  // in all metadata arrays so far (kMaxGgufArrayElements)

    [[noreturn]] void fail(const std::string& what) const { throw Error(label_ + ": " + what); }
    size_t remaining() const { return size_ - pos; }
    void need(uint64_t n, const std::string& what) const {
        if (n > remaining())
            fail("file ends inside " + what + " (needs " + std::to_string(n) + " bytes at offset " +
                 std::to_string(pos) + ", " + std::to_string(remaining()) + " left; truncated or not a GGUF file)");
        if (n > kMaxGgufHeaderBytes - std::min<uint64_t>(pos, kMaxGgufHeaderBytes))
            fail("the GGUF header (metadata and tensor infos) goes on beyond " + byte_size_text(kMaxGgufHeaderBytes) +
                 " at " + what + "; QuantScope reads headers up to that size (not a GGUF file, or a damaged one)");
    }
    template <class T>
    T get(const std::string& what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, p_ + pos, sizeof(T));
        pos += sizeof(T);
        return v;
    }
    // Counts and lengths: u64 since version 2, u32 in version 1.
    uint64_t count(const std::string& what) { return version == 1 ? get<uint32_t>(what) : get<uint64_t>(what); }
    uint64_t count_size() const { return version == 1 ? 4 : 8; }
    std::string str(const std::string& what) {
        const uint64_t n = count(what);
        if (n <= remaining() && n > kMaxGgufHeaderBytes - std::min<uint64_t>(pos, kMaxGgufHeaderBytes))
            fail(what + " is a string of " + byte_size_text(n) + "; the GGUF header (metadata and tensor infos) may " +
                 "take at most " + byte_size_text(kMaxGgufHeaderBytes));
        need(n, what);
        std::string s(reinterpret_cast<const char*>(p_ + pos), static_cast<size_t>(n));
        pos += static_cast<size_t>(n);
        return s;
    }

  private:
    const uint8_t* p_;
    size_t size_;
    const std::string& label_;
};

void read_scalar(Reader& r, GgufValueType t, GgufValue& v, const std::string& what) {
    switch (t) {
        case GgufValueType::U8:
            v.u = r.get<uint8_t>(what);
            break;
        case GgufValueType::I8:
            v.i = r.get<int8_t>(what);
            break;
        case GgufValueType::U16:
            v.u = r.get<uint16_t>(what);
            break;
        case GgufValueType::I16:
            v.i = r.get<int16_t>(what);
            break;
        case GgufValueType::U32:
            v.u = r.get<uint32_t>(what);
            break;
        case GgufValueType::I32:
            v.i = r.get<int32_t>(what);
            break;
        case GgufValueType::U64:
            v.u = r.get<uint64_t>(what);
            break;
        case GgufValueType::I64:
            v.i = r.get<int64_t>(what);
            break;
        case GgufValueType::F32:
            v.f = r.get<float>(what);
            break;
        case GgufValueType::F64:
            v.f = r.get<double>(what);
            break;
        case GgufValueType::BOOL: {
            const uint8_t b = r.get<uint8_t>(what);
            if (b > 1) r.fail(what + " is a BOOL with byte value " + std::to_string(b) + " (expected 0 or 1)");
            v.b = b != 0;
            break;
        }
        case GgufValueType::STRING:
            v.s = r.str(what);
            break;
        default:
            r.fail(what + " has type ARRAY where a scalar was expected");
    }
    if (t == GgufValueType::U8 || t == GgufValueType::U16 || t == GgufValueType::U32 || t == GgufValueType::U64)
        v.i = static_cast<int64_t>(v.u);
    else if (t == GgufValueType::I8 || t == GgufValueType::I16 || t == GgufValueType::I32 || t == GgufValueType::I64)
        v.u = static_cast<uint64_t>(v.i);
}

GgufValue read_value(Reader& r, uint32_t type, const std::string& key) {
    const std::string what = "metadata '" + key + "'";
    if (!valid_value_type(type)) r.fail(what + " has unknown value type " + std::to_string(type));
    GgufValue v;
    v.type = static_cast<GgufValueType>(type);
    if (v.type != GgufValueType::ARRAY) {
        read_scalar(r, v.type, v, what);
        return v;
    }
    const uint32_t et = r.get<uint32_t>(what + " (array element type)");
    if (!valid_value_type(et)) r.fail(what + " is an array of unknown value type " + std::to_string(et));
    v.elem = static_cast<GgufValueType>(et);
    if (v.elem == GgufValueType::ARRAY) r.fail(what + " is an array of arrays, which GGUF readers do not support");
    const uint64_t n = r.count(what + " (array length)");
    const uint64_t min_elem = v.elem == GgufValueType::STRING ? r.count_size() : scalar_size(v.elem);
    if (n > r.remaining() / min_elem)
        r.fail(what + " claims " + std::to_string(n) + " elements, more than the " + std::to_string(r.remaining()) +
               " bytes left in the file hold");
    if (n > kMaxGgufArrayElements - r.array_elements)
        r.fail(what + " claims " + std::to_string(n) + " elements; QuantScope reads at most " +
               std::to_string(kMaxGgufArrayElements) + " array elements in all");
    r.array_elements += n;
    const std::string item = what + " (array element)";
    if (v.elem == GgufValueType::STRING) {
        v.strs.reserve(static_cast<size_t>(n));
        for (uint64_t k = 0; k < n; ++k) v.strs.push_back(r.str(item));
    } else if (v.elem == GgufValueType::F32 || v.elem == GgufValueType::F64) {
        v.floats.reserve(static_cast<size_t>(n));
        GgufValue e;
        for (uint64_t k = 0; k < n; ++k) {
            read_scalar(r, v.elem, e, item);
            v.floats.push_back(e.f);
        }
    } else {
        v.ints.reserve(static_cast<size_t>(n));
        GgufValue e;
        for (uint64_t k = 0; k < n; ++k) {
            read_scalar(r, v.elem, e, item);
            if (v.elem == GgufValueType::U64 && e.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                r.fail(what + " holds " + std::to_string(e.u) + ", beyond the supported integer range");
            v.ints.push_back(v.elem == GgufValueType::BOOL ? int64_t(e.b) : e.i);
        }
    }
    return v;
}

std::string dims_str(const std::vector<int64_t>& ne) {
    std::string s = "[";
    for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

}  // namespace

const GgmlTypeInfo* ggml_type_info(uint32_t type) { return type_table(type); }

std::string ggml_type_name(uint32_t type) {
    const GgmlTypeInfo* t = type_table(type);
    return t ? t->name : "type " + std::to_string(type);
}

std::string gguf_value_type_name(GgufValueType t) {
    static const char* names[] = {"UINT8", "INT8",   "UINT16", "INT16",  "UINT32", "INT32",  "FLOAT32",
                                  "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64",  "FLOAT64"};
    const auto i = static_cast<uint32_t>(t);
    return i < sizeof(names) / sizeof(names[0]) ? names[i] : "type " + std::to_string(i);
}

bool GgufValue::is_integer() const {
    switch (type) {
        case GgufValueType::U8:
        case GgufValueType::I8:
        case GgufValueType::U16:
        case GgufValueType::I16:
        case GgufValueType::U32:
        case GgufValueType::I32:
        case GgufValueType::U64:
        case GgufValueType::I64:
            return true;
        default:
            return false;
    }
}

std::string GgufValue::type_name() const {
    if (type == GgufValueType::ARRAY) return "ARRAY[" + gguf_value_type_name(elem) + "]";
    return gguf_value_type_name(type);
}

std::string GgufValue::to_string(size_t max_items) const {
    auto scalar = [](const GgufValue& v) -> std::string {
        switch (v.type) {
            case GgufValueType::STRING:
                return v.s;
            case GgufValueType::BOOL:
                return v.b ? "true" : "false";
            case GgufValueType::F32:
            case GgufValueType::F64: {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%.9g", v.f);
                return buf;
            }
            case GgufValueType::U64:
                return std::to_string(v.u);
            default:
                return std::to_string(v.i);
        }
    };
    if (type != GgufValueType::ARRAY) return scalar(*this);
    std::string out = "[";
    const size_t n = static_cast<size_t>(array_size());
    for (size_t k = 0; k < n && k < max_items; ++k) {
        if (k) out += ", ";
        if (!strs.empty())
            out += "'" + strs[k] + "'";
        else if (!floats.empty()) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.9g", floats[k]);
            out += buf;
        } else {
            out += std::to_string(ints[k]);
        }
    }
    if (n > max_items) out += ", ... (" + std::to_string(n) + " items)";
    return out + "]";
}

int64_t GgufTensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    return n;
}

std::vector<int64_t> GgufTensorInfo::shape() const { return std::vector<int64_t>(ne.rbegin(), ne.rend()); }

GgufHeader parse_gguf_header(const uint8_t* data, size_t size, const std::string& label) {
    Reader r(data, size, label);
    if (size == 0) r.fail("is empty (0 bytes), not a GGUF file");
    if (size < 4 || std::memcmp(data, "GGUF", 4) != 0)
        r.fail("not a GGUF file (it does not start with the bytes 'GGUF')");
    r.pos = 4;
    GgufHeader h;
    h.version = r.get<uint32_t>("the version number");
    if (h.version >= (1u << 16) && (h.version & 0xFFFF) == 0)
        r.fail("is a big-endian GGUF file (version bytes " + std::to_string(h.version) +
               "); only little-endian files are supported");
    if (h.version < 1 || h.version > 3)
        r.fail("GGUF version " + std::to_string(h.version) + " is not supported (versions 1, 2 and 3 are)");
    r.version = h.version;
    const uint64_t n_tensors = r.count("the tensor count");
    const uint64_t n_kv = r.count("the metadata count");
    // Every key/value needs at least a length, a type and a byte; every tensor info a name
    // length, n_dims, one dim, a type and an offset.
    if (n_kv > r.remaining() / (r.count_size() + 5))
        r.fail("claims " + std::to_string(n_kv) + " metadata entries, more than the file can hold");
    if (n_tensors > r.remaining() / (2 * r.count_size() + 16))
        r.fail("claims " + std::to_string(n_tensors) + " tensors, more than the file can hold");
    if (n_kv > kMaxGgufMetadataEntries)
        r.fail("claims " + std::to_string(n_kv) + " metadata entries; QuantScope reads at most " +
               std::to_string(kMaxGgufMetadataEntries));
    if (n_tensors > kMaxGgufTensors)
        r.fail("claims " + std::to_string(n_tensors) + " tensors; QuantScope reads at most " +
               std::to_string(kMaxGgufTensors));

    h.metadata.reserve(static_cast<size_t>(n_kv));
    for (uint64_t k = 0; k < n_kv; ++k) {
        std::string key = r.str("the key of metadata entry " + std::to_string(k));
        if (key.empty()) r.fail("metadata entry " + std::to_string(k) + " has an empty key");
        if (h.metadata_index.count(key)) r.fail("metadata key '" + key + "' appears twice");
        const uint32_t type = r.get<uint32_t>("the type of metadata '" + key + "'");
        GgufValue v = read_value(r, type, key);
        h.metadata_index[key] = h.metadata.size();
        h.metadata.emplace_back(std::move(key), std::move(v));
    }
    if (auto it = h.metadata_index.find("general.alignment"); it != h.metadata_index.end()) {
        const GgufValue& a = h.metadata[it->second].second;
        if (!a.is_integer()) r.fail("general.alignment has type " + a.type_name() + ", expected an integer");
        if (a.i <= 0 || (a.u & (a.u - 1)) != 0 || a.u > (1u << 30))
            r.fail("general.alignment is " + a.to_string() + ", expected a power of two");
        h.alignment = a.u;
    }

    h.tensors.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t k = 0; k < n_tensors; ++k) {
        GgufTensorInfo t;
        t.name = r.str("the name of tensor " + std::to_string(k));
        const std::string what = "tensor '" + t.name + "'";
        if (h.tensor_index.count(t.name)) r.fail(what + " appears twice");
        const uint32_t n_dims = r.get<uint32_t>(what + " (number of dimensions)");
        if (n_dims < 1 || n_dims > 4) r.fail(what + " has " + std::to_string(n_dims) + " dimensions (expected 1 to 4)");
        uint64_t numel = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const uint64_t v =
                h.version == 1 ? r.get<uint32_t>(what + " (dimensions)") : r.get<uint64_t>(what + " (dimensions)");
            if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) || (v != 0 && numel > UINT64_MAX / v) ||
                numel * v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                r.fail(what + " has too many elements (dimension " + std::to_string(v) + ")");
            numel *= v;
            t.ne.push_back(static_cast<int64_t>(v));
        }
        t.type = r.get<uint32_t>(what + " (type)");
        t.offset = r.get<uint64_t>(what + " (offset)");
        const GgmlTypeInfo* ti = type_table(t.type);
        if (!ti) r.fail(what + " has unknown ggml type " + std::to_string(t.type));
        if (t.ne[0] % ti->block_size != 0)
            r.fail(what + " has shape " + dims_str(t.ne) +
                   " (ggml order), but its first dimension is not a multiple of " + std::to_string(ti->block_size) +
                   ", the block size of " + ti->name);
        const uint64_t blocks = numel / static_cast<uint64_t>(ti->block_size);
        if (blocks > UINT64_MAX / static_cast<uint64_t>(ti->type_size)) r.fail(what + " is too large");
        t.nbytes = blocks * static_cast<uint64_t>(ti->type_size);
        h.tensor_index[t.name] = h.tensors.size();
        h.tensors.push_back(std::move(t));
    }

    const uint64_t header_end = r.pos;
    h.data_start = (header_end + h.alignment - 1) / h.alignment * h.alignment;
    if (h.data_start > size) {
        if (!h.tensors.empty())
            r.fail("file ends at byte " + std::to_string(size) + ", before its data section (byte " +
                   std::to_string(h.data_start) + "; truncated?)");
        h.data_start = size;
    }
    const uint64_t data_size = size - h.data_start;
    std::vector<std::pair<uint64_t, size_t>> order;
    order.reserve(h.tensors.size());
    for (size_t k = 0; k < h.tensors.size(); ++k) {
        const GgufTensorInfo& t = h.tensors[k];
        const std::string what = "tensor '" + t.name + "' (" + t.type_name() + ", " + dims_str(t.ne) + ")";
        if (t.offset % h.alignment != 0)
            r.fail(what + " starts at data offset " + std::to_string(t.offset) + ", not a multiple of the alignment " +
                   std::to_string(h.alignment));
        if (t.offset > data_size || t.nbytes > data_size - t.offset)
            r.fail(what + " needs bytes " + std::to_string(t.offset) + " to " + std::to_string(t.offset + t.nbytes) +
                   " of the data section, which has " + std::to_string(data_size) + " bytes (truncated file?)");
        order.emplace_back(t.offset, k);
    }
    std::sort(order.begin(), order.end());
    for (size_t k = 1; k < order.size(); ++k) {
        const GgufTensorInfo& prev = h.tensors[order[k - 1].second];
        const GgufTensorInfo& cur = h.tensors[order[k].second];
        if (prev.offset + prev.nbytes > cur.offset)
            r.fail("tensor '" + cur.name + "' (data offset " + std::to_string(cur.offset) + ") overlaps tensor '" +
                   prev.name + "' (bytes " + std::to_string(prev.offset) + " to " +
                   std::to_string(prev.offset + prev.nbytes) + ")");
    }
    return h;
}

GgufFile::GgufFile(const std::string& path) : file_(path) {
    header_ = parse_gguf_header(file_.data(), file_.size(), path);
}

const GgufValue* GgufFile::find(const std::string& key) const {
    auto it = header_.metadata_index.find(key);
    return it == header_.metadata_index.end() ? nullptr : &header_.metadata[it->second].second;
}

namespace {
[[noreturn]] void wrong_type(const std::string& path, const std::string& key, const GgufValue& v, const char* want) {
    throw Error(path + ": metadata '" + key + "' has type " + v.type_name() + ", expected " + want);
}
}  // namespace

std::optional<std::string> GgufFile::get_string(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != GgufValueType::STRING) wrong_type(path(), key, *v, "a string");
    return v->s;
}

std::optional<int64_t> GgufFile::get_int(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_integer()) wrong_type(path(), key, *v, "an integer");
    if (v->type == GgufValueType::U64 && v->u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw Error(path() + ": metadata '" + key + "' is " + std::to_string(v->u) + ", out of range");
    return v->i;
}

std::optional<double> GgufFile::get_float(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (v->type == GgufValueType::F32 || v->type == GgufValueType::F64) return v->f;
    if (v->is_integer()) return static_cast<double>(v->i);
    wrong_type(path(), key, *v, "a number");
}

std::optional<bool> GgufFile::get_bool(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != GgufValueType::BOOL) wrong_type(path(), key, *v, "a BOOL");
    return v->b;
}

const GgufValue* GgufFile::get_array(const std::string& key, GgufValueType elem) const {
    const GgufValue* v = find(key);
    if (!v) return nullptr;
    const bool int_like = elem != GgufValueType::STRING && elem != GgufValueType::F32 && elem != GgufValueType::F64;
    GgufValue want;
    want.type = GgufValueType::ARRAY;
    want.elem = elem;
    if (v->type != GgufValueType::ARRAY) wrong_type(path(), key, *v, ("an " + want.type_name()).c_str());
    // Integer arrays of any width are accepted where integers are wanted (files differ: INT32 / UINT32).
    const bool ok = v->elem == elem ||
                    (int_like && v->elem != GgufValueType::STRING && v->elem != GgufValueType::F32 &&
                     v->elem != GgufValueType::F64) ||
                    (elem == GgufValueType::F32 && v->elem == GgufValueType::F64);
    if (!ok) wrong_type(path(), key, *v, ("an " + want.type_name()).c_str());
    return v;
}

std::string GgufFile::require_string(const std::string& key) const {
    auto v = get_string(key);
    if (!v) throw Error(path() + ": metadata '" + key + "' is missing");
    return *v;
}

int64_t GgufFile::require_int(const std::string& key) const {
    auto v = get_int(key);
    if (!v) throw Error(path() + ": metadata '" + key + "' is missing");
    return *v;
}

const GgufTensorInfo* GgufFile::tensor(const std::string& name) const {
    auto it = header_.tensor_index.find(name);
    return it == header_.tensor_index.end() ? nullptr : &header_.tensors[it->second];
}

at::Tensor GgufFile::load(const std::string& name, c10::ScalarType dtype) const {
    const GgufTensorInfo* t = tensor(name);
    if (!t) throw Error(path() + ": no tensor named '" + name + "'");
    const uint8_t* src = tensor_data(*t);
    const std::vector<int64_t> shape = t->shape();
    auto raw = [&](c10::ScalarType st) {
        at::Tensor out = at::empty(shape, at::TensorOptions().dtype(st));
        if (t->nbytes) std::memcpy(out.data_ptr(), src, static_cast<size_t>(t->nbytes));
        return out;
    };
    at::Tensor out;
    switch (static_cast<GgmlType>(t->type)) {
        case GgmlType::F32:
            out = raw(at::kFloat);
            break;
        case GgmlType::F16:
            out = raw(at::kHalf);
            break;
        case GgmlType::BF16:
            out = raw(at::kBFloat16);
            break;
        case GgmlType::F64:
            out = raw(at::kDouble);
            break;
        case GgmlType::I8:
            out = raw(at::kChar);
            break;
        case GgmlType::I16:
            out = raw(at::kShort);
            break;
        case GgmlType::I32:
            out = raw(at::kInt);
            break;
        case GgmlType::I64:
            out = raw(at::kLong);
            break;
        default: {
            if (!ggml_type_dequantizable(t->type))
                throw Error(path() + ": tensor '" + name + "' has ggml type " + t->type_name() +
                            ", which QuantScope cannot dequantize yet (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, "
                            "Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)");
            out = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
            const int64_t row = t->ne[0];
            const int64_t rows = row == 0 ? 0 : t->numel() / row;
            const int64_t row_bytes = row / ggml_type_info(t->type)->block_size * ggml_type_info(t->type)->type_size;
            float* dst = out.data_ptr<float>();
            at::parallel_for(0, rows, 16, [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) dequantize_row(t->type, src + i * row_bytes, dst + i * row, row);
            });
        }
    }
    // A file truncated while mapped reads as zeros (io/map_guard.h): never return those.
    file_.check_intact();
    file_.drop(static_cast<size_t>(header_.data_start + t->offset), static_cast<size_t>(t->nbytes));
    return out.scalar_type() == dtype ? out : out.to(dtype);
}

bool is_gguf_file(const std::string& path) {
    int fd = -1;
    try {
        fd = open_regular_file(path);  // a named pipe would block in std::ifstream
    } catch (const Error&) {
        return false;
    }
    char magic[4] = {};
    const bool ok = ::read(fd, magic, 4) == 4 && std::memcmp(magic, "GGUF", 4) == 0;
    ::close(fd);
    return ok;
}

std::string find_gguf(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    // A file named *.gguf is taken as one whatever it holds or is (GgufFile then says what is
    // wrong: not GGUF, truncated, a named pipe...); another regular file if it starts with "GGUF".
    const fs::file_status st = fs::status(path, ec);
    const bool named_gguf = fs::path(path).extension() == ".gguf";
    if (fs::is_regular_file(st)) return named_gguf || is_gguf_file(path) ? path : std::string();
    if (!fs::is_directory(st)) return named_gguf && fs::exists(st) ? path : std::string();
    if (fs::exists(fs::path(path) / "config.json", ec)) return "";
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(path, ec))
        if (!e.is_directory(ec) && e.path().extension() == ".gguf") found.push_back(e.path().string());
    std::sort(found.begin(), found.end());
    if (found.size() > 1) {
        std::string names;
        for (const auto& p : found) names += (names.empty() ? "" : ", ") + fs::path(p).filename().string();
        throw Error(path + ": holds several GGUF files (" + names + "); pass one of them with --model FILE.gguf");
    }
    return found.empty() ? std::string() : found[0];
}

}  // namespace qs
