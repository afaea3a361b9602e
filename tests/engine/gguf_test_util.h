// Builds GGUF byte buffers by hand for the reader's validation tests.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace qs::test {

class GgufBytes {
  public:
    std::vector<uint8_t> b;
    uint32_t version = 3;

    GgufBytes& raw(const void* p, size_t n) {
        const auto* c = static_cast<const uint8_t*>(p);
        b.insert(b.end(), c, c + n);
        return *this;
    }
    template <class T>
    GgufBytes& put(T v) {
        return raw(&v, sizeof v);
    }
    GgufBytes& count(uint64_t n) { return version == 1 ? put<uint32_t>(static_cast<uint32_t>(n)) : put<uint64_t>(n); }
    GgufBytes& str(const std::string& s) {
        count(s.size());
        return raw(s.data(), s.size());
    }

    GgufBytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t ver = 3) {
        version = ver;
        raw("GGUF", 4);
        put<uint32_t>(ver);
        count(n_tensors);
        return count(n_kv);
    }
    GgufBytes& kv_u32(const std::string& key, uint32_t v) {
        str(key);
        put<uint32_t>(4);
        return put<uint32_t>(v);
    }
    GgufBytes& kv_str(const std::string& key, const std::string& v) {
        str(key);
        put<uint32_t>(8);
        return str(v);
    }
    GgufBytes& kv_bool(const std::string& key, uint8_t v) {
        str(key);
        put<uint32_t>(7);
        return put<uint8_t>(v);
    }
    GgufBytes& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
        str(name);
        put<uint32_t>(static_cast<uint32_t>(ne.size()));
        for (uint64_t d : ne) version == 1 ? put<uint32_t>(static_cast<uint32_t>(d)) : put<uint64_t>(d);
        put<uint32_t>(type);
        return put<uint64_t>(offset);
    }
    GgufBytes& align(size_t a = 32) {
        while (b.size() % a) b.push_back(0);
        return *this;
    }
    GgufBytes& zeros(size_t n) {
        b.insert(b.end(), n, 0);
        return *this;
    }
};

}  // namespace qs::test
