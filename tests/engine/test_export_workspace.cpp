// Workspaces (.qscope): JSON round trip of every field, atomic save and load, validation
// errors that name the file and the key, and the "model folder moved" detection/relocation.
#include "engine/test_export_util.h"
#include "export/workspace.h"

using namespace qs;
using namespace qs::test;
using json = nlohmann::json;

namespace {

Workspace sample(const std::string& model) {
    Workspace ws;
    ws.model_path = model;
    ws.device = "cpu";
    ws.dtype = "bf16";
    ws.config.methods = {"awq", "rtn"};
    ws.config.weight.bits = 3;
    ws.config.weight.group_size = 64;
    ws.config.awq_clip = true;
    ws.config.calib_path = "/data/pile/val.jsonl.zst";
    ws.config.calib_samples = 64;
    ws.applied = true;
    ws.eval.dataset = "wikitext2";
    ws.eval.seqlen = 256;
    ws.eval.nsamples = 40;
    WorkspaceResult r;
    r.label = "AWQ w3 g64";
    r.config = ws.config;
    r.ppl = 12.345678901234;
    r.size_mib_seed = 0.5;
    r.size_mib_packed = 0.61;
    r.dataset = "wikitext-2 test";
    r.protocol = "seqlen 256, 40 windows";
    r.device = "cpu";
    r.dtype = "fp32";
    r.seqlen = 256;
    r.nsamples = 40;
    r.seconds = 3.25;
    r.extra = {{"note", "demo"}, {"sqnr_db", 21.5}};
    ws.results.push_back(r);
    WorkspaceResult unmeasured;
    unmeasured.label = "original";
    ws.results.push_back(unmeasured);
    ws.views.push_back({"heatmap", "model.layers.0.self_attn.q_proj", {{"pool", "max"}, {"zoom", 2}}});
    ws.views.push_back({"ppl-sweep", "", json::object()});
    ws.selected_view = 1;
    ws.selected_linear = "model.layers.0.self_attn.q_proj";
    ws.ui = {{"splitter", {300, 700}}};
    return ws;
}

void expect_equal(const Workspace& a, const Workspace& b) {
    EXPECT_EQ(a.model_path, b.model_path);
    EXPECT_EQ(a.device, b.device);
    EXPECT_EQ(a.dtype, b.dtype);
    EXPECT_EQ(a.config.to_json(), b.config.to_json());
    EXPECT_EQ(a.applied, b.applied);
    EXPECT_EQ(a.eval.dataset, b.eval.dataset);
    EXPECT_EQ(a.eval.seqlen, b.eval.seqlen);
    EXPECT_EQ(a.eval.nsamples, b.eval.nsamples);
    ASSERT_EQ(a.results.size(), b.results.size());
    for (size_t i = 0; i < a.results.size(); ++i) {
        EXPECT_EQ(a.results[i].label, b.results[i].label);
        EXPECT_EQ(a.results[i].config.to_json(), b.results[i].config.to_json());
        EXPECT_EQ(a.results[i].ppl, b.results[i].ppl);  // exact: JSON keeps doubles round-trip
        EXPECT_EQ(a.results[i].size_mib_packed, b.results[i].size_mib_packed);
        EXPECT_EQ(a.results[i].extra, b.results[i].extra);
        EXPECT_EQ(a.results[i].protocol, b.results[i].protocol);
    }
    ASSERT_EQ(a.views.size(), b.views.size());
    for (size_t i = 0; i < a.views.size(); ++i) {
        EXPECT_EQ(a.views[i].kind, b.views[i].kind);
        EXPECT_EQ(a.views[i].linear, b.views[i].linear);
        EXPECT_EQ(a.views[i].settings, b.views[i].settings);
    }
    EXPECT_EQ(a.selected_view, b.selected_view);
    EXPECT_EQ(a.selected_linear, b.selected_linear);
    EXPECT_EQ(a.ui, b.ui);
}

}  // namespace

TEST(Workspace, JsonRoundTrip) {
    Workspace ws = sample(tinystories());
    Workspace back = workspace_from_json(workspace_to_json(ws), "mem.qscope");
    expect_equal(ws, back);
    EXPECT_EQ(back.results[1].ppl, -1);  // unmeasured stays unmeasured (null in JSON)
    EXPECT_TRUE(workspace_to_json(ws)["results"][1]["ppl"].is_null());
}

TEST(Workspace, SaveAndOpenAFile) {
    TempDir tmp;
    Workspace ws = sample(tinystories());
    const std::string path = tmp / "demo.qscope";
    save_workspace(ws, path);
    EXPECT_EQ(entries(tmp.path.string()), (std::vector<std::string>{"demo.qscope"}));  // no temp file left
    Workspace back = load_workspace(path);
    expect_equal(ws, back);
    EXPECT_EQ(back.model.model_type, "llama");  // fingerprint filled at save
    EXPECT_EQ(back.model.hidden_size, 128);
    EXPECT_EQ(back.model.num_layers, 2);
    EXPECT_EQ(check_model_location(back).status, ModelLocationStatus::Ok);
    // overwrite keeps a valid file
    ws.results.clear();
    save_workspace(ws, path);
    EXPECT_TRUE(load_workspace(path).results.empty());
}

TEST(Workspace, ValidationErrorsNameFileAndKey) {
    json good = workspace_to_json(sample(tinystories()));
    auto bad = [&](const std::function<void(json&)>& edit, const std::string& msg) {
        json j = good;
        edit(j);
        QS_EXPECT_ERROR_CONTAINS(workspace_from_json(j, "demo.qscope"), msg);
    };
    bad([](json& j) { j.erase("quantscope_workspace"); }, "demo.qscope: not a QuantScope workspace");
    bad([](json& j) { j["quantscope_workspace"] = 99; }, "format version 99 is newer");
    bad([](json& j) { j["model"].erase("path"); }, "'model.path' is missing or empty");
    bad([](json& j) { j["model"]["dtype"] = "int4"; }, "'model.dtype' must be fp32, bf16 or fp16");
    bad([](json& j) { j["results"][0]["ppl"] = "low"; }, "'results[0].ppl' must be a number");
    bad([](json& j) { j["results"] = 3; }, "'results' must be an array");
    bad([](json& j) { j["views"][0].erase("kind"); }, "'views[0].kind' is missing or empty");
    bad([](json& j) { j["selected_view"] = 5; }, "'selected_view' is 5, but there are 2 views");
    bad([](json& j) { j["configuration"]["methods"] = {"squeezellm"}; },
        "'configuration': unknown method 'squeezellm'");
    bad([](json& j) { j["evaluation"]["nsamples"] = 0; }, "'evaluation.nsamples' must be a positive integer or -1");
    TempDir tmp;
    std::ofstream(tmp / "broken.qscope") << "{ not json";
    QS_EXPECT_ERROR_CONTAINS(load_workspace(tmp / "broken.qscope"), "broken.qscope: invalid JSON");
    QS_EXPECT_ERROR_CONTAINS(load_workspace(tmp / "absent.qscope"), "absent.qscope: does not exist");
}

TEST(Workspace, MovedModelFolderIsDetectedAndRelocated) {
    TempDir tmp;
    fs::create_directories(tmp / "models");
    fs::copy(tinystories(), tmp / "models/tiny", fs::copy_options::recursive);
    fs::create_directories(tmp / "ws");
    Workspace ws = sample(tmp / "models/tiny");
    save_workspace(ws, tmp / "ws/demo.qscope");
    fs::rename(tmp / "models/tiny", tmp / "models/tiny-moved");
    Workspace back = load_workspace(tmp / "ws/demo.qscope");  // opening works; the model is missing
    ModelLocation loc = check_model_location(back);
    EXPECT_EQ(loc.status, ModelLocationStatus::Missing);
    EXPECT_NE(loc.message.find("was not found"), std::string::npos);
    EXPECT_NE(loc.message.find("llama, 2 layers, hidden 128"), std::string::npos);
    // another model is refused
    QS_EXPECT_ERROR_CONTAINS(relocate_model(back, stories260k()), "but the workspace was made with llama, 2 layers");
    QS_EXPECT_ERROR_CONTAINS(relocate_model(back, tmp / "nowhere"), "nowhere/config.json: does not exist");
    relocate_model(back, tmp / "models/tiny-moved");
    EXPECT_EQ(check_model_location(back).status, ModelLocationStatus::Ok);
    EXPECT_EQ(back.model_path, tmp / "models/tiny-moved");
    // a folder whose model changed
    Workspace other = sample(stories260k());
    other.model = read_model_fingerprint(tinystories());
    EXPECT_EQ(check_model_location(other).status, ModelLocationStatus::Different);
    fs::create_directories(tmp / "empty");
    other.model_path = tmp / "empty";
    EXPECT_EQ(check_model_location(other).status, ModelLocationStatus::NotAModel);
}

TEST(Workspace, WorkspaceMovedTogetherWithItsModelStillOpens) {
    TempDir tmp;
    fs::create_directories(tmp / "demo");
    fs::copy(tinystories(), tmp / "demo/model", fs::copy_options::recursive);
    save_workspace(sample(tmp / "demo/model"), tmp / "demo/demo.qscope");
    fs::rename(tmp / "demo", tmp / "demo2");
    Workspace back = load_workspace(tmp / "demo2/demo.qscope");
    EXPECT_EQ(back.model_path, tmp / "demo2/model");
    EXPECT_EQ(check_model_location(back).status, ModelLocationStatus::Ok);
}
