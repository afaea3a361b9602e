#include "export/workspace.h"

#include <filesystem>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/file_checks.h"
#include "io/safe_output.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace qs {

std::string ModelFingerprint::describe() const {
    if (empty()) return "unknown model";
    return model_type + ", " + std::to_string(num_layers) + " layers, hidden " + std::to_string(hidden_size) +
           ", FFN " + std::to_string(intermediate_size) + ", vocab " + std::to_string(vocab_size);
}

bool ModelFingerprint::operator==(const ModelFingerprint& o) const {
    return model_type == o.model_type && hidden_size == o.hidden_size && num_layers == o.num_layers &&
           vocab_size == o.vocab_size && intermediate_size == o.intermediate_size;
}

ModelFingerprint read_model_fingerprint(const std::string& dir) {
    const std::string path = (fs::path(dir) / "config.json").string();
    json c = read_json_file(path);
    if (!c.is_object()) throw Error(path + ": expected a JSON object");
    auto num = [&](const char* a, const char* b) -> int64_t {
        for (const char* k : {a, b})
            if (k && c.contains(k) && c[k].is_number_integer()) return c[k].get<int64_t>();
        return 0;
    };
    ModelFingerprint f;
    f.model_type = c.value("model_type", std::string());
    if (f.model_type.empty()) throw Error(path + ": no 'model_type'");
    f.hidden_size = num("hidden_size", nullptr);
    f.num_layers = num("num_hidden_layers", nullptr);
    f.vocab_size = num("vocab_size", nullptr);
    f.intermediate_size = num("intermediate_size", "ffn_dim");
    return f;
}

namespace {

// Typed reading with errors that name the file and the key path.
struct Reader {
    const std::string& label;
    std::string where(const std::string& key) const { return label + ": '" + key + "'"; }
    const json& obj(const json& j, const std::string& key) const {
        if (!j.is_object()) throw Error(where(key) + " must be an object");
        return j;
    }
    std::string str(const json& j, const char* k, const std::string& path, const std::string& def) const {
        if (!j.contains(k) || j[k].is_null()) return def;
        if (!j[k].is_string()) throw Error(where(path + k) + " must be a string, found " + j[k].dump());
        return j[k].get<std::string>();
    }
    double num(const json& j, const char* k, const std::string& path, double def) const {
        if (!j.contains(k) || j[k].is_null()) return def;
        if (!j[k].is_number()) throw Error(where(path + k) + " must be a number, found " + j[k].dump());
        return j[k].get<double>();
    }
    int64_t integer(const json& j, const char* k, const std::string& path, int64_t def) const {
        if (!j.contains(k) || j[k].is_null()) return def;
        if (!j[k].is_number_integer()) throw Error(where(path + k) + " must be an integer, found " + j[k].dump());
        return j[k].get<int64_t>();
    }
    bool boolean(const json& j, const char* k, const std::string& path, bool def) const {
        if (!j.contains(k) || j[k].is_null()) return def;
        if (!j[k].is_boolean()) throw Error(where(path + k) + " must be true or false, found " + j[k].dump());
        return j[k].get<bool>();
    }
    json object(const json& j, const char* k, const std::string& path) const {
        if (!j.contains(k) || j[k].is_null()) return json::object();
        if (!j[k].is_object()) throw Error(where(path + k) + " must be an object");
        return j[k];
    }
    const json& array(const json& j, const char* k, const std::string& path) const {
        static const json empty = json::array();
        if (!j.contains(k) || j[k].is_null()) return empty;
        if (!j[k].is_array()) throw Error(where(path + k) + " must be an array");
        return j[k];
    }
    MethodConfig config(const json& j, const std::string& path) const {
        if (!j.is_object()) throw Error(where(path) + " must be an object");
        try {
            return MethodConfig::from_json(j);
        } catch (const Error& e) {
            throw Error(where(path) + ": " + e.what());
        }
    }
};

// fs::exists without exceptions: a symlink loop, an unreadable parent or an over-long path
// (what a hostile workspace may hold) counts as "not there".
bool exists_quietly(const fs::path& p) {
    std::error_code ec;
    return fs::exists(p, ec) && !ec;
}

std::string relative_to_file(const std::string& target, const std::string& file) {
    if (file.empty() || target.empty()) return "";
    std::error_code ec;
    fs::path base = fs::absolute(fs::path(file), ec).parent_path();
    if (ec) return "";
    fs::path rel = fs::absolute(target, ec).lexically_normal().lexically_relative(base.lexically_normal());
    return ec ? "" : rel.string();
}

}  // namespace

json workspace_to_json(const Workspace& ws, const std::string& file) {
    json results = json::array();
    for (const auto& r : ws.results) {
        json row = {{"label", r.label},     {"configuration", r.config.to_json()},
                    {"dataset", r.dataset}, {"protocol", r.protocol},
                    {"device", r.device},   {"dtype", r.dtype},
                    {"seqlen", r.seqlen},   {"nsamples", r.nsamples},
                    {"seconds", r.seconds}, {"extra", r.extra}};
        row["ppl"] = r.ppl >= 0 ? json(r.ppl) : json(nullptr);
        row["size_mib_seed_formula"] = r.size_mib_seed >= 0 ? json(r.size_mib_seed) : json(nullptr);
        row["size_mib_packed"] = r.size_mib_packed >= 0 ? json(r.size_mib_packed) : json(nullptr);
        results.push_back(row);
    }
    json views = json::array();
    for (const auto& v : ws.views) views.push_back({{"kind", v.kind}, {"linear", v.linear}, {"settings", v.settings}});
    json model = {
        {"path", ws.model_path}, {"tokenizer", ws.tokenizer_path}, {"device", ws.device}, {"dtype", ws.dtype}};
    const std::string rel = relative_to_file(ws.model_path, file);
    if (!rel.empty()) model["path_relative"] = rel;
    if (!ws.model.empty())
        model["fingerprint"] = {{"model_type", ws.model.model_type},
                                {"hidden_size", ws.model.hidden_size},
                                {"num_layers", ws.model.num_layers},
                                {"vocab_size", ws.model.vocab_size},
                                {"intermediate_size", ws.model.intermediate_size}};
    return {{"quantscope_workspace", Workspace::kFormatVersion},
            {"model", model},
            {"configuration", ws.config.to_json()},
            {"applied", ws.applied},
            {"evaluation",
             {{"dataset", ws.eval.dataset},
              {"seqlen", ws.eval.seqlen},
              {"nsamples", ws.eval.nsamples},
              {"batch", ws.eval.batch}}},
            {"results", results},
            {"views", views},
            {"selected_view", ws.selected_view},
            {"selected_linear", ws.selected_linear},
            {"ui", ws.ui}};
}

Workspace workspace_from_json(const json& j, const std::string& label, const std::string& file) {
    Reader r{label};
    if (!j.is_object()) throw Error(label + ": a workspace must be a JSON object");
    if (!j.contains("quantscope_workspace"))
        throw Error(label + ": not a QuantScope workspace (no 'quantscope_workspace' version key)");
    const int64_t version = r.integer(j, "quantscope_workspace", "", 0);
    if (version < 1) throw Error(label + ": 'quantscope_workspace' must be a positive version number");
    if (version > Workspace::kFormatVersion)
        throw Error(label + ": workspace format version " + std::to_string(version) +
                    " is newer than this QuantScope understands (" + std::to_string(Workspace::kFormatVersion) + ")");
    Workspace ws;
    if (!j.contains("model") || !j["model"].is_object()) throw Error(r.where("model") + " must be an object");
    const json& m = j["model"];
    ws.model_path = r.str(m, "path", "model.", "");
    if (ws.model_path.empty()) throw Error(r.where("model.path") + " is missing or empty");
    const std::string rel = r.str(m, "path_relative", "model.", "");
    // A workspace moved together with its model: the stored absolute path is gone, the
    // relative one resolves next to the file.
    if (!rel.empty() && !file.empty() && !exists_quietly(ws.model_path)) {
        std::error_code ec;
        fs::path cand = (fs::absolute(fs::path(file), ec).parent_path() / rel).lexically_normal();
        if (!ec && exists_quietly(cand / "config.json")) ws.model_path = cand.string();
    }
    ws.tokenizer_path = r.str(m, "tokenizer", "model.", "");
    ws.device = r.str(m, "device", "model.", "cpu");
    ws.dtype = r.str(m, "dtype", "model.", "fp32");
    if (ws.device.empty()) throw Error(r.where("model.device") + " is empty");
    if (ws.dtype != "fp32" && ws.dtype != "bf16" && ws.dtype != "fp16" && ws.dtype != "float32" &&
        ws.dtype != "bfloat16" && ws.dtype != "float16")
        throw Error(r.where("model.dtype") + " must be fp32, bf16 or fp16, found \"" + ws.dtype + "\"");
    if (m.contains("fingerprint") && !m["fingerprint"].is_null()) {
        const json& f = m["fingerprint"];
        if (!f.is_object()) throw Error(r.where("model.fingerprint") + " must be an object");
        ws.model.model_type = r.str(f, "model_type", "model.fingerprint.", "");
        ws.model.hidden_size = r.integer(f, "hidden_size", "model.fingerprint.", 0);
        ws.model.num_layers = r.integer(f, "num_layers", "model.fingerprint.", 0);
        ws.model.vocab_size = r.integer(f, "vocab_size", "model.fingerprint.", 0);
        ws.model.intermediate_size = r.integer(f, "intermediate_size", "model.fingerprint.", 0);
    }
    if (j.contains("configuration") && !j["configuration"].is_null())
        ws.config = r.config(j["configuration"], "configuration");
    ws.applied = r.boolean(j, "applied", "", false);
    const json ev = r.object(j, "evaluation", "");
    ws.eval.dataset = r.str(ev, "dataset", "evaluation.", "wikitext2");
    ws.eval.seqlen = r.integer(ev, "seqlen", "evaluation.", 0);
    ws.eval.nsamples = r.integer(ev, "nsamples", "evaluation.", 10);
    ws.eval.batch = r.integer(ev, "batch", "evaluation.", 1);
    if (ws.eval.seqlen < 0) throw Error(r.where("evaluation.seqlen") + " must be >= 0");
    if (ws.eval.nsamples == 0 || ws.eval.nsamples < -1)
        throw Error(r.where("evaluation.nsamples") + " must be a positive integer or -1 (all windows)");
    if (ws.eval.batch < 1) throw Error(r.where("evaluation.batch") + " must be >= 1");
    const json& rows = r.array(j, "results", "");
    for (size_t i = 0; i < rows.size(); ++i) {
        const std::string p = "results[" + std::to_string(i) + "].";
        const json& row = rows[i];
        if (!row.is_object()) throw Error(r.where("results[" + std::to_string(i) + "]") + " must be an object");
        WorkspaceResult res;
        res.label = r.str(row, "label", p, "");
        if (row.contains("configuration") && !row["configuration"].is_null())
            res.config = r.config(row["configuration"], p + "configuration");
        res.ppl = r.num(row, "ppl", p, -1);
        res.size_mib_seed = r.num(row, "size_mib_seed_formula", p, -1);
        res.size_mib_packed = r.num(row, "size_mib_packed", p, -1);
        res.dataset = r.str(row, "dataset", p, "");
        res.protocol = r.str(row, "protocol", p, "");
        res.device = r.str(row, "device", p, "");
        res.dtype = r.str(row, "dtype", p, "");
        res.seqlen = r.integer(row, "seqlen", p, 0);
        res.nsamples = r.integer(row, "nsamples", p, 0);
        res.seconds = r.num(row, "seconds", p, 0);
        res.extra = r.object(row, "extra", p);
        ws.results.push_back(std::move(res));
    }
    const json& views = r.array(j, "views", "");
    for (size_t i = 0; i < views.size(); ++i) {
        const std::string p = "views[" + std::to_string(i) + "].";
        if (!views[i].is_object()) throw Error(r.where("views[" + std::to_string(i) + "]") + " must be an object");
        WorkspaceView v;
        v.kind = r.str(views[i], "kind", p, "");
        if (v.kind.empty()) throw Error(r.where(p + "kind") + " is missing or empty");
        v.linear = r.str(views[i], "linear", p, "");
        v.settings = r.object(views[i], "settings", p);
        ws.views.push_back(std::move(v));
    }
    ws.selected_view = r.integer(j, "selected_view", "", -1);
    if (ws.selected_view < -1 || ws.selected_view >= static_cast<int64_t>(ws.views.size()))
        throw Error(r.where("selected_view") + " is " + std::to_string(ws.selected_view) + ", but there are " +
                    std::to_string(ws.views.size()) + " views");
    ws.selected_linear = r.str(j, "selected_linear", "", "");
    ws.ui = r.object(j, "ui", "");
    return ws;
}

std::vector<std::string> save_workspace(const Workspace& ws_in, const std::string& path) {
    Workspace ws = ws_in;
    if (ws.model.empty() && !ws.model_path.empty() && exists_quietly(fs::path(ws.model_path) / "config.json")) {
        try {
            ws.model = read_model_fingerprint(ws.model_path);
        } catch (const Error&) {
            // an unreadable config: save without a fingerprint
        }
    }
    const std::string text = workspace_to_json(ws, path).dump(2) + "\n";
    // Atomic, never into the model folder or its tokenizer folder (io/safe_output.h).
    return write_file_atomic(path, text, {ws.model_path, ws.tokenizer_path});
}

Workspace load_workspace(const std::string& path) {
    // A regular file of at most 64 MiB (a folder, a FIFO or a huge sparse file is refused
    // before anything is read), JSON nested at most 128 levels.
    const json j = read_json_file_capped(path, kMaxWorkspaceBytes, "a workspace");
    return workspace_from_json(j, path, path);
}

ModelLocation check_model_location(const Workspace& ws) {
    ModelLocation loc;
    if (!exists_quietly(ws.model_path)) {
        loc.status = ModelLocationStatus::Missing;
        loc.message = "The model folder " + ws.model_path + " of this workspace was not found (moved or deleted)." +
                      (ws.model.empty() ? std::string() : " It held " + ws.model.describe() + ".") +
                      " Choose its new location.";
        return loc;
    }
    ModelFingerprint now;
    try {
        now = read_model_fingerprint(ws.model_path);
    } catch (const Error& e) {
        loc.status = ModelLocationStatus::NotAModel;
        loc.message = "The folder " + ws.model_path + " is not a readable model folder: " + e.what();
        return loc;
    }
    if (!ws.model.empty() && now != ws.model) {
        loc.status = ModelLocationStatus::Different;
        loc.message = "The folder " + ws.model_path + " now holds " + now.describe() +
                      ", but the workspace was made with " + ws.model.describe() + ".";
    }
    return loc;
}

void relocate_model(Workspace& ws, const std::string& new_dir) {
    ModelFingerprint now = read_model_fingerprint(new_dir);  // throws when it is not a model folder
    if (!ws.model.empty() && now != ws.model)
        throw Error(new_dir + " holds " + now.describe() + ", but the workspace was made with " + ws.model.describe() +
                    "; choose the folder of the same model");
    ws.model_path = fs::absolute(new_dir).lexically_normal().string();
    while (ws.model_path.size() > 1 && ws.model_path.back() == '/') ws.model_path.pop_back();
    if (ws.model.empty()) ws.model = now;
}

}  // namespace qs
