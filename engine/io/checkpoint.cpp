#include "io/checkpoint.h"

#include <filesystem>

#include "core/error.h"
#include "io/file_checks.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace qs {

json read_json_file(const std::string& path) {
    return read_json_file_capped(path, kMaxConfigJsonBytes, "a config file");  // io/file_checks.h
}

Checkpoint::Checkpoint(const std::string& dir) : dir_(dir) {
    check_readable_folder(dir, "a Hugging Face model folder");  // also symlink loops, permissions
    const fs::path d(dir);
    if (!path_exists(d / "config.json")) {
        bool empty = fs::directory_iterator(d) == fs::directory_iterator();
        throw Error((d / "config.json").string() + ": missing" + (empty ? " (the folder is empty)" : "") +
                    "; expected a Hugging Face model folder with config.json and model.safetensors");
    }
    config_ = read_json_file((d / "config.json").string());
    if (!config_.is_object()) throw Error((d / "config.json").string() + ": expected a JSON object");
    if (path_exists(d / "generation_config.json"))
        generation_config_ = read_json_file((d / "generation_config.json").string());

    const fs::path index = d / "model.safetensors.index.json";
    const fs::path single = d / "model.safetensors";
    if (path_exists(index)) {
        json idx = read_json_file(index.string());
        if (!idx.contains("weight_map") || !idx["weight_map"].is_object())
            throw Error(index.string() + ": missing object 'weight_map'");
        std::map<std::string, size_t> file_idx;
        for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
            if (!it->is_string()) throw Error(index.string() + ": weight_map['" + it.key() + "'] is not a file name");
            std::string fname = it->get<std::string>();
            if (fname.find('/') != std::string::npos || fname == "..")
                throw Error(index.string() + ": weight_map['" + it.key() + "'] names '" + fname +
                            "', which is not a file in this folder");
            if (!file_idx.count(fname)) {
                fs::path p = d / fname;
                if (!path_exists(p))
                    throw Error(index.string() + ": shard '" + fname + "' (holding '" + it.key() + "') is missing");
                file_idx[fname] = files_.size();
                files_.push_back(std::make_shared<SafetensorsFile>(p.string()));
            }
            size_t fi = file_idx[fname];
            if (!files_[fi]->find(it.key()))
                throw Error(files_[fi]->path() + ": tensor '" + it.key() + "' is listed in " +
                            index.filename().string() + " but not stored in this shard");
            where_[it.key()] = fi;
        }
        for (size_t fi = 0; fi < files_.size(); ++fi)
            for (const auto& t : files_[fi]->header().tensors)
                if (!where_.count(t.name))
                    throw Error(files_[fi]->path() + ": tensor '" + t.name + "' is not listed in " +
                                index.filename().string());
    } else if (path_exists(single)) {
        files_.push_back(std::make_shared<SafetensorsFile>(single.string()));
        for (const auto& t : files_[0]->header().tensors) where_[t.name] = 0;
    } else if (path_exists(d / "pytorch_model.bin") || path_exists(d / "pytorch_model.bin.index.json")) {
        throw Error(dir +
                    ": only pytorch_model.bin found. QuantScope reads safetensors only (a .bin is a Python "
                    "pickle, which can run code when loaded). Convert it once with: python3 -c \"from "
                    "transformers import AutoModelForCausalLM as M; M.from_pretrained('" +
                    dir + "').save_pretrained('" + dir + "-safetensors', safe_serialization=True)\"");
    } else {
        throw Error(dir + ": no weights found (expected model.safetensors or model.safetensors.index.json)");
    }
}

void Checkpoint::check_intact() const {
    for (const auto& f : files_) f->check_intact();
}

std::string Checkpoint::config_path() const { return (fs::path(dir_) / "config.json").string(); }

const TensorInfo& Checkpoint::info(const std::string& name) const {
    auto it = where_.find(name);
    if (it == where_.end()) throw Error(dir_ + ": no tensor named '" + name + "'");
    return *files_[it->second]->find(name);
}

std::string Checkpoint::file_of(const std::string& name) const {
    auto it = where_.find(name);
    if (it == where_.end()) throw Error(dir_ + ": no tensor named '" + name + "'");
    return files_[it->second]->path();
}

std::vector<std::string> Checkpoint::tensor_names() const {
    std::vector<std::string> out;
    for (const auto& kv : where_) out.push_back(kv.first);
    return out;
}

at::Tensor Checkpoint::load(const std::string& name, std::optional<c10::ScalarType> as) const {
    auto it = where_.find(name);
    if (it == where_.end()) throw Error(dir_ + ": no tensor named '" + name + "'");
    return files_[it->second]->load(name, as);
}

at::Tensor Checkpoint::view(const std::string& name) const {
    auto it = where_.find(name);
    if (it == where_.end()) throw Error(dir_ + ": no tensor named '" + name + "'");
    return files_[it->second]->view(name);
}

void Checkpoint::release(const at::Tensor& t) const {
    if (!t.defined() || !t.device().is_cpu()) return;
    for (const auto& f : files_)
        if (f->contains(t.data_ptr())) return f->release(t);
}

void Checkpoint::release_all() const {
    for (const auto& f : files_) f->release_all();
}

uint64_t Checkpoint::bytes_on_disk() const {
    uint64_t n = 0;
    for (const auto& f : files_) n += f->file_size();
    return n;
}

std::vector<std::string> Checkpoint::weight_files() const {
    std::vector<std::string> out;
    for (const auto& f : files_) out.push_back(f->path());
    return out;
}

std::string Checkpoint::storage_dtype() const {
    std::map<std::string, uint64_t> bytes;
    for (const auto& f : files_)
        for (const auto& t : f->header().tensors)
            if (t.dtype == "F32" || t.dtype == "F16" || t.dtype == "BF16" || t.dtype == "F64")
                bytes[t.dtype] += t.end - t.begin;
    std::string best = "F32";
    uint64_t most = 0;
    for (const auto& [k, v] : bytes)
        if (v > most) most = v, best = k;
    return best;
}

}  // namespace qs
