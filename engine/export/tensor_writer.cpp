// Streaming safetensors writer for exports: header first (from the plan), then each tensor
// as it is produced, with byte accounting, cancellation, fsync and shard index.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "export/export_internal.h"
#include "io/safe_output.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace qs::exp {

uint64_t PlannedTensor::bytes() const { return tensor_bytes(dtype, shape); }

void WriteCounter::add(const std::string& path, uint64_t n) {
    if (fail_after >= 0 && written + n > static_cast<uint64_t>(fail_after))
        throw Error(path + ": write failed (injected failure after " + std::to_string(fail_after) +
                    " bytes; test hook)");
    written += n;
}

namespace {

struct File {
    FILE* f = nullptr;
    std::string path;
    File(const std::string& p) : path(p) {
        f = std::fopen(p.c_str(), "wb");
        if (!f) throw Error(p + ": cannot create (" + std::strerror(errno) + ")");
    }
    ~File() {
        if (f) std::fclose(f);
    }
    void write(const void* p, size_t n, WriteCounter& c) {
        c.add(path, n);
        if (n && std::fwrite(p, 1, n, f) != n) throw Error(path + ": write failed (" + write_error_text(errno) + ")");
    }
    void close() {
        if (std::fflush(f) != 0) throw Error(path + ": write failed (" + write_error_text(errno) + ")");
        if (::fsync(fileno(f)) != 0) throw Error(path + ": fsync failed (" + std::strerror(errno) + ")");
        FILE* raw = f;
        f = nullptr;
        if (std::fclose(raw) != 0) throw Error(path + ": close failed (" + std::strerror(errno) + ")");
    }
};

void write_one(const std::string& path, const Plan& plan, const std::vector<size_t>& idx,
               const std::map<std::string, std::string>& metadata, WriteCounter& counter, uint64_t total,
               uint64_t& done, const Progress& progress) {
    std::vector<SafetensorsEntry> entries;
    for (size_t i : idx) entries.push_back({plan[i].name, plan[i].dtype, plan[i].shape});
    const std::string prefix = safetensors_prefix(entries, metadata);
    File f(path);
    f.write(prefix.data(), prefix.size(), counter);
    constexpr size_t kChunk = size_t(16) << 20;
    for (size_t i : idx) {
        progress.check();
        const PlannedTensor& t = plan[i];
        at::Tensor x = t.make().to(at::kCPU).contiguous();
        if (x.scalar_type() != t.dtype || x.sizes().vec() != t.shape)
            throw Error("internal error: export tensor '" + t.name + "' is " +
                        std::string(c10::toString(x.scalar_type())) + " " + shape_str(x.sizes().vec()) + ", planned " +
                        c10::toString(t.dtype) + " " + shape_str(t.shape));
        const auto* p = static_cast<const uint8_t*>(x.data_ptr());
        const size_t n = t.bytes();
        for (size_t k = 0; k < n; k += kChunk) {
            progress.check();
            const size_t m = std::min(kChunk, n - k);
            f.write(p + k, m, counter);
            done += m;
            progress(total ? double(done) / total : 1.0, "writing " + t.name);
        }
        if (n == 0) progress(total ? double(done) / total : 1.0, "writing " + t.name);
    }
    f.close();
}

}  // namespace

std::vector<std::string> write_plan(const std::string& dir, const Plan& plan, uint64_t max_shard_bytes,
                                    const std::map<std::string, std::string>& metadata, WriteCounter& counter,
                                    const Progress& progress) {
    std::vector<uint64_t> bytes;
    uint64_t total = 0;
    for (const auto& t : plan) total += bytes.emplace_back(t.bytes());
    const std::vector<std::vector<size_t>> shards = plan_shards(bytes, max_shard_bytes);
    uint64_t done = 0;
    std::vector<std::string> names;
    if (shards.size() == 1) {
        write_one((fs::path(dir) / "model.safetensors").string(), plan, shards[0], metadata, counter, total, done,
                  progress);
        names.push_back("model.safetensors");
        return names;
    }
    json weight_map = json::object();
    for (size_t s = 0; s < shards.size(); ++s) {
        const std::string name = shard_file_name(s, shards.size());
        write_one((fs::path(dir) / name).string(), plan, shards[s], metadata, counter, total, done, progress);
        for (size_t i : shards[s]) weight_map[plan[i].name] = name;
        names.push_back(name);
    }
    json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    write_text_file((fs::path(dir) / "model.safetensors.index.json").string(), index.dump(2) + "\n", counter);
    names.push_back("model.safetensors.index.json");
    return names;
}

void write_text_file(const std::string& path, const std::string& text, WriteCounter& counter) {
    File f(path);
    f.write(text.data(), text.size(), counter);
    f.close();
}

void copy_file_counted(const std::string& from, const std::string& to, WriteCounter& counter) {
    std::ifstream in(from, std::ios::binary);
    if (!in) throw Error(from + ": cannot open for copying");
    File f(to);
    std::vector<char> buf(1 << 20);
    while (in) {
        in.read(buf.data(), buf.size());
        const std::streamsize n = in.gcount();
        if (n > 0) f.write(buf.data(), static_cast<size_t>(n), counter);
    }
    if (in.bad()) throw Error(from + ": read failed while copying");
    f.close();
}

}  // namespace qs::exp
