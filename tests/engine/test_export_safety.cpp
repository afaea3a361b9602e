// Export safety: atomic output (nothing partial after an injected write failure or a cancel),
// the source model is never written, an existing folder is replaced only with force (and only
// a model folder), free space is checked first, and configurations a format cannot hold are
// refused with a message that says why.
#include <ATen/ATen.h>

#include "engine/test_export_util.h"
#include "export/atomic_dir.h"
#include "export/export.h"

using namespace qs;
using namespace qs::test;

namespace {

// A copy of TinyStories in a temp folder, so that tests can place outputs around it.
struct Fixture {
    TempDir tmp;
    std::string src;
    std::shared_ptr<CausalLM> model;
    std::unique_ptr<QuantSession> session;
    Fixture() {
        src = tmp / "src";
        fs::copy(tinystories(), src, fs::copy_options::recursive);
        model = load(src);
        session = std::make_unique<QuantSession>(model, tokenizer(src));
        session->apply(rtn(4, 64));
    }
    ExportOptions opts(ExportFormat f, const std::string& out) const {
        ExportOptions o;
        o.format = f;
        o.out_dir = out;
        return o;
    }
};

}  // namespace

TEST(ExportSafety, RefusesTheSourceFolderAndFoldersAroundIt) {
    Fixture fx;
    const auto before = snapshot(fx.src);
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(*fx.session, fx.opts(ExportFormat::Fake, fx.src)),
                             "is the source model folder");
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(*fx.session, fx.opts(ExportFormat::Fake, fx.src + "/")),
                             "is the source model folder");
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(*fx.session, fx.opts(ExportFormat::Fake, fx.src + "/sub/../")),
                             "is the source model folder");
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(*fx.session, fx.opts(ExportFormat::Fake, fx.src + "/out")),
                             "lies inside the source model folder");
    ExportOptions o = fx.opts(ExportFormat::Fake, fx.tmp.path.string());
    o.force = true;
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(*fx.session, o), "lies inside this output folder");
    // even with force, the source itself is refused
    o.out_dir = fx.src;
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(*fx.session, o), "is the source model folder");
    // through a symlink to the source
    fs::create_directory_symlink(fx.src, fx.tmp / "link");
    o.out_dir = fx.tmp / "link";
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(*fx.session, o), "is the source model folder");
    EXPECT_EQ(snapshot(fx.src), before);
}

TEST(ExportSafety, ExistingOutputNeedsForceAndMustBeAModelFolder) {
    Fixture fx;
    const std::string out = fx.tmp / "out";
    export_checkpoint(*fx.session, fx.opts(ExportFormat::Fake, out));
    fx.session->apply(rtn(8, -1, true));
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(*fx.session, fx.opts(ExportFormat::Int8, out)), "already exists");
    // force replaces the previous export
    ExportOptions o = fx.opts(ExportFormat::Int8, out);
    o.force = true;
    export_checkpoint(*fx.session, o);
    EXPECT_EQ(Checkpoint(out).config()["quantization_config"]["quant_method"], "quantscope_w8a16");
    EXPECT_EQ(entries(fx.tmp.path.string()), (std::vector<std::string>{"out", "src"}));  // no .tmp / .old left
    // force never replaces a folder that is not a model folder
    fs::create_directories(fx.tmp / "notes");
    std::ofstream(fx.tmp / "notes/todo.txt") << "keep me";
    o.out_dir = fx.tmp / "notes";
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(*fx.session, o), "holds no config.json");
    EXPECT_TRUE(fs::exists(fx.tmp / "notes/todo.txt"));
}

TEST(ExportSafety, InjectedWriteFailureLeavesNothing) {
    Fixture fx;
    const auto before = snapshot(fx.src);
    for (ExportFormat f : {ExportFormat::Fake, ExportFormat::AwqGemm, ExportFormat::Transformed}) {
        // the full size, to fail inside the last file too
        ExportReport full = export_checkpoint(*fx.session, fx.opts(f, fx.tmp / "full"));
        fs::remove_all(fx.tmp / "full");
        const int64_t total = static_cast<int64_t>(full.bytes_written);
        for (int64_t limit : {int64_t(0), int64_t(100), int64_t(300000), total - 10, total - 1}) {
            ExportOptions o = fx.opts(f, fx.tmp / "out");
            o.test_fail_after_bytes = limit;
            QS_EXPECT_ERROR_CONTAINS(export_checkpoint(*fx.session, o), "injected failure");
            EXPECT_EQ(entries(fx.tmp.path.string()), (std::vector<std::string>{"src"}))
                << export_format_name(f) << " limit " << limit;
        }
    }
    // a failure while replacing an existing export keeps the old one intact
    export_checkpoint(*fx.session, fx.opts(ExportFormat::Fake, fx.tmp / "out"));
    const auto old = snapshot(fx.tmp / "out");
    ExportOptions o = fx.opts(ExportFormat::AwqGemm, fx.tmp / "out");
    o.force = true;
    o.test_fail_after_bytes = 200000;
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(*fx.session, o), "injected failure");
    EXPECT_EQ(snapshot(fx.tmp / "out"), old);
    EXPECT_EQ(entries(fx.tmp.path.string()), (std::vector<std::string>{"out", "src"}));
    EXPECT_EQ(snapshot(fx.src), before);
}

TEST(ExportSafety, CancelLeavesNothing) {
    Fixture fx;
    std::atomic<bool> cancel{false};
    Progress p;
    p.cancel = &cancel;
    int calls = 0;
    p.report = [&](double, const std::string& msg) {
        if (msg.rfind("writing", 0) == 0 && ++calls == 5) cancel = true;
    };
    EXPECT_THROW(export_checkpoint(*fx.session, fx.opts(ExportFormat::AwqGemm, fx.tmp / "out"), p), Cancelled);
    EXPECT_GE(calls, 5);
    EXPECT_EQ(entries(fx.tmp.path.string()), (std::vector<std::string>{"src"}));
    // progress reaches 1 on a complete export, monotonically
    double last = -1;
    bool monotone = true;
    Progress q;
    q.report = [&](double f, const std::string&) {
        if (f + 1e-12 < last) monotone = false;
        last = f;
    };
    export_checkpoint(*fx.session, fx.opts(ExportFormat::AwqGemm, fx.tmp / "out"), q);
    EXPECT_TRUE(monotone);
    EXPECT_DOUBLE_EQ(last, 1.0);
}

TEST(ExportSafety, ChecksFreeSpaceBeforeWriting) {
    Fixture fx;
    ExportOptions o = fx.opts(ExportFormat::Fake, fx.tmp / "out");
    o.test_free_bytes = 1 << 20;
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(*fx.session, o), "not enough free space");
    EXPECT_EQ(entries(fx.tmp.path.string()), (std::vector<std::string>{"src"}));
    EXPECT_GT(free_bytes_at(fx.tmp / "does/not/exist/yet"), 0u);
}

TEST(ExportSafety, ShardsLikeTransformers) {
    Fixture fx;
    ExportOptions o = fx.opts(ExportFormat::Fake, fx.tmp / "out");
    o.max_shard_bytes = 600000;
    ExportReport r = export_checkpoint(*fx.session, o);
    EXPECT_TRUE(fs::exists(fx.tmp / "out/model.safetensors.index.json"));
    EXPECT_TRUE(fs::exists(fx.tmp / "out/model-00001-of-00005.safetensors") ||
                fs::exists(fx.tmp / "out/model-00001-of-00004.safetensors"));
    auto back = load(fx.tmp / "out");
    EXPECT_EQ(ppl(*back), ppl(*fx.model));
}

TEST(ExportSafety, RefusesWhatAFormatCannotHold) {
    Fixture fx;
    QuantSession& s = *fx.session;
    auto refuse = [&](const MethodConfig& c, ExportFormat f, const std::string& msg) {
        s.apply(c);
        QS_EXPECT_ERROR_CONTAINS(export_checkpoint(s, fx.opts(f, fx.tmp / "out")), msg);
        EXPECT_FALSE(fs::exists(fx.tmp / "out"));
    };
    refuse(rtn(3, 64), ExportFormat::AwqGemm, "AWQ GEMM stores 4-bit weights");
    refuse(rtn(4, 64, true), ExportFormat::AwqGemm, "drop --symmetric");
    refuse(rtn(4, 16), ExportFormat::AwqGemm, "group sizes 32, 64 and 128");
    refuse(rtn(4, -1), ExportFormat::AwqGemm, "needs per-group weights");
    MethodConfig head = rtn(4, 64);
    head.include_lm_head = true;
    refuse(head, ExportFormat::AwqGemm, "keep lm_head unquantized");
    refuse(rtn(4, 64), ExportFormat::Int8, "8-bit symmetric per-channel");
    MethodConfig act = rtn(8, -1, true);
    act.act.bits = 8;
    refuse(act, ExportFormat::Int8, "activation fake quantization (a8) cannot be stored");
    refuse(act, ExportFormat::Fake, "--a-bits 0");
    MethodConfig keep = with_calib(rtn(4, 64));
    keep.methods = {"awq-keep"};
    refuse(keep, ExportFormat::AwqGemm, "cannot hold awq-keep / awq-scale weights");
    s.reset();
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(s, fx.opts(ExportFormat::AwqGemm, fx.tmp / "out")),
                             "needs quantized weights");
    s.apply(MethodConfig());
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(s, fx.opts(ExportFormat::Int8, fx.tmp / "out")),
                             "needs quantized weights");
    QS_EXPECT_ERROR_CONTAINS(parse_export_format("gguf"), "unknown export format 'gguf'");
    // a quantized checkpoint cannot be re-exported or re-quantized
    s.apply(rtn(4, 64));
    export_checkpoint(s, fx.opts(ExportFormat::AwqGemm, fx.tmp / "awq"));
    auto awq = load(fx.tmp / "awq");
    QuantSession s2(awq, nullptr);
    QS_EXPECT_ERROR_CONTAINS(s2.apply(rtn(4, 64)), "quantization methods need a full-precision model");
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(s2, fx.opts(ExportFormat::Fake, fx.tmp / "again")),
                             "is a quantized checkpoint");
}

TEST(ExportSafety, LoaderRejectsBrokenPackedFiles) {
    Fixture fx;
    export_checkpoint(*fx.session, fx.opts(ExportFormat::AwqGemm, fx.tmp / "awq"));
    const std::string cfg = fx.tmp / "awq/config.json";
    nlohmann::json c = read_json_file(cfg);
    c["quantization_config"]["version"] = "gemv";
    std::ofstream(cfg) << c.dump();
    QS_EXPECT_ERROR_CONTAINS(load(fx.tmp / "awq"), "AWQ version 'gemv' is not supported");
    c["quantization_config"]["version"] = "gemm";
    c["quantization_config"]["group_size"] = 32;  // files were written with 64
    std::ofstream(cfg) << c.dump();
    QS_EXPECT_ERROR_CONTAINS(load(fx.tmp / "awq"), ".qzeros' has shape [2, 16], expected [4, 16]");
    c["quantization_config"] = {{"quant_method", "gptq"}};
    std::ofstream(cfg) << c.dump();
    QS_EXPECT_ERROR_CONTAINS(load(fx.tmp / "awq"), "quant_method 'gptq' is not supported");
}
