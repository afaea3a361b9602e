// compressed-tensors pack-quantized export and reader (issue #16, item 2), against goldens made
// by the compressed-tensors package itself (tools/goldens/check_compressed_tensors.py):
//   * the int32 words of hand-made code tensors equal the package's pack_to_int32;
//   * for each case, the session's fake-quant logits equal the logits of QuantScope's export
//     loaded in transformers + compressed-tensors (CPU, decompressed) within 1e-3;
//   * the export holds the package's quantization_config and layout, QuantScope reopens it to
//     the session's weights bit for bit (RTN, AWQ, SmoothQuant, rotation, GPTQ), refuses what the
//     format cannot hold, and names file, tensor and problem for a malformed checkpoint.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cstdlib>
#include <fstream>

#include "engine/test_export_util.h"
#include "export/export.h"
#include "export/export_internal.h"
#include "io/checkpoint.h"
#include "models/compressed_tensors_weight.h"
#include "models/packed_linears.h"

using namespace qs;
using namespace qs::test;
using json = nlohmann::json;

namespace {

ExportOptions ct_opts(const std::string& out) {
    ExportOptions o;
    o.format = ExportFormat::CompressedTensors;
    o.out_dir = out;
    return o;
}

const json& fixture() {
    static const json j = read_json_file(test_data("goldens/compressed_tensors.json"));
    return j;
}

at::Tensor int_tensor(const json& rows) {
    std::vector<int64_t> flat;
    for (const auto& r : rows)
        for (const auto& v : r) flat.push_back(v.get<int64_t>());
    return at::tensor(flat, at::kLong).view({int64_t(rows.size()), int64_t(rows[0].size())});
}

std::string model_dir(const std::string& name) { return name == "stories260K" ? stories260k() : tinystories(); }

// The configuration the script exported with (MethodConfig::to_json of the CLI's options).
MethodConfig case_config(const json& c) { return MethodConfig::from_json(c.at("quantscope_configuration")); }

at::Tensor forward_ids(const CausalLM& m, const json& ids) {
    c10::InferenceMode guard;
    std::vector<int64_t> v = ids.get<std::vector<int64_t>>();
    return m.forward(at::tensor(v, at::kLong).view({1, int64_t(v.size())})).to(at::kFloat);
}

// The reopened model's Linears equal the session's fake-quant weights bit for bit, its logits too.
void expect_reopens_to(const CausalLM& session_model, const std::string& dir, const std::string& what) {
    auto back = load(dir);
    ASSERT_NE(back->blocks[0].q.packed, nullptr) << what;
    EXPECT_EQ(back->blocks[0].q.packed->format(), "compressed-tensors") << what;
    EXPECT_FALSE(back->blocks[0].q.weight.defined()) << what;
    auto& m = const_cast<CausalLM&>(session_model);
    for (size_t i = 0; i < back->blocks.size(); ++i)
        for (auto [a, b] : std::vector<std::pair<Linear*, Linear*>>{{&back->blocks[i].q, &m.blocks[i].q},
                                                                    {&back->blocks[i].v, &m.blocks[i].v},
                                                                    {&back->blocks[i].down, &m.blocks[i].down}})
            EXPECT_TRUE(at::equal(a->dense_weight(), b->weight)) << what << ": " << a->name;
    EXPECT_TRUE(at::equal(logits(*back), logits(session_model))) << what;
}

}  // namespace

TEST(CompressedTensorsPacking, WordsEqualThePackagesPackToInt32) {
    ASSERT_GE(fixture().at("pack").size(), 4u);
    for (const json& p : fixture().at("pack")) {
        const int bits = p.at("bits").get<int>(), dim = p.at("dim").get<int>();
        at::Tensor codes = int_tensor(p.at("codes_unsigned"));
        at::Tensor want = int_tensor(p.at("packed")).to(at::kInt);
        at::Tensor got = ct_pack_int32(codes, bits, dim);
        EXPECT_EQ(got.scalar_type(), at::kInt);
        EXPECT_TRUE(at::equal(got, want)) << "bits " << bits << " dim " << dim << "\n" << got << "\n" << want;
        at::Tensor back = ct_unpack_int32(want, bits, codes.size(dim), dim);
        EXPECT_TRUE(at::equal(back, codes.to(at::kInt))) << "bits " << bits << " dim " << dim;
        // the package's signed codes are these minus 2^(bits-1)
        EXPECT_TRUE(at::equal(codes - (int64_t(1) << (bits - 1)), int_tensor(p.at("codes_signed"))));
    }
    QS_EXPECT_ERROR_CONTAINS(ct_pack_int32(at::full({2, 8}, 16, at::kLong), 4), "codes must lie in 0..15");
    QS_EXPECT_ERROR_CONTAINS(ct_pack_int32(at::zeros({2, 8}, at::kLong), 3), "4 and 8 bits, not 3");
}

// The acceptance check: QuantScope's fake-quant model == the export decompressed by the package.
TEST(CompressedTensorsGoldens, FakeQuantLogitsMatchTheExportLoadedByTheCompressedTensorsPackage) {
    SafetensorsFile g(test_data("goldens/compressed_tensors.safetensors"));
    std::set<std::string> seen;
    for (const json& c : fixture().at("cases")) {
        const std::string key = c.at("logits_tensor");
        seen.insert(c.at("case").get<std::string>());
        // what the script verified with the package (recorded, see the fixture)
        const json& chk = c.at("checks");
        EXPECT_TRUE(chk.at("quantization_config_equals_package").get<bool>()) << key;
        EXPECT_TRUE(chk.at("tensor_names_dtypes_shapes_equal_package").get<bool>()) << key;
        EXPECT_EQ(chk.at("max_abs_weight_diff_vs_quantscope_fake").get<double>(), 0.0) << key;

        auto model = load(model_dir(c.at("model")));
        QuantSession s(model, tokenizer(model_dir(c.at("model"))));  // AWQ / GPTQ cases calibrate
        s.apply(case_config(c));
        const at::Tensor got = forward_ids(*model, c.at("ids"));
        const at::Tensor want = g.load(key).unsqueeze(0);
        ASSERT_EQ(got.sizes(), want.sizes()) << key;
        TempDir tmp;
        ExportReport r = export_checkpoint(s, ct_opts(tmp / "ct"));
        if (c.contains("export_dir")) {
            // GPTQ: its codes follow the floating-point summation order of the Hessian and its
            // Cholesky factor (the BLAS, its threads, the CPU's kernels), so this machine's GPTQ may
            // round a few weights differently from the fixture's machine. The package's logits
            // belong to the export it loaded, which the fixture keeps: QuantScope reads THAT
            // checkpoint (the format check), and its own export of this machine's GPTQ reopens to
            // the session's model bit for bit.
            auto kept = load(test_data(c.at("export_dir").get<std::string>()));
            ASSERT_NE(kept->blocks[0].q.packed, nullptr) << key;
            const double dk = max_diff(forward_ids(*kept, c.at("ids")), want);
            EXPECT_LE(dk, 1e-3) << key;
            std::cout << "[compressed-tensors golden] " << key << ": the fixture's export read by QuantScope, max "
                      << "|logit - package logit| " << dk << " (this machine's GPTQ: " << max_diff(got, want)
                      << ", informational)\n";
            auto back = load(tmp / "ct");
            EXPECT_TRUE(at::equal(forward_ids(*back, c.at("ids")), got)) << key << ": this machine's export reopened";
        } else {
            const double d = max_diff(got, want);
            EXPECT_LE(d, 1e-3) << key;
            std::cout << "[compressed-tensors golden] " << key << ": max |logit - package logit| " << d << "\n";
        }
        // and the export written now carries the package's quantization_config (version included)
        EXPECT_EQ(r.quantized_linears, c.at("quantized_linears").get<int64_t>()) << key;
        EXPECT_EQ(Checkpoint(tmp / "ct").config().at("quantization_config"), c.at("quantization_config")) << key;
    }
    for (const char* need : {"w4_g64_sym", "w4_g32_asym", "w8_channel_sym", "awq_w4_g64_asym", "gptq_w4_g32_sym",
                             "mixed_w4_g32_down_w8_g64_q_w8_channel_skip_up"})
        EXPECT_TRUE(seen.count(need)) << need;
}

TEST(CompressedTensorsExport, LayoutCodesAndRoundTripOnTinyStories) {
    for (const bool sym : {false, true}) {
        TempDir tmp;
        auto model = load(tinystories());
        QuantSession s(model, nullptr);
        s.apply(rtn(4, 32, sym));
        const at::Tensor before = logits(*model);
        const auto src_before = snapshot(tinystories());
        ExportReport r = export_checkpoint(s, ct_opts(tmp / "ct"));
        EXPECT_EQ(r.format, "compressed-tensors");
        EXPECT_EQ(r.quantized_linears, 14);
        Checkpoint ck(tmp / "ct");
        const json& qc = ck.config().at("quantization_config");
        EXPECT_EQ(qc.at("quant_method"), "compressed-tensors");
        EXPECT_EQ(qc.at("format"), "pack-quantized");
        EXPECT_EQ(qc.at("ignore"), json::array({"lm_head"}));
        EXPECT_EQ(qc.at("quantization_status"), "compressed");
        const json& w = qc.at("config_groups").at("group_0").at("weights");
        EXPECT_EQ(w.at("num_bits"), 4);
        EXPECT_EQ(w.at("strategy"), "group");
        EXPECT_EQ(w.at("group_size"), 32);
        EXPECT_EQ(w.at("symmetric"), sym);
        const std::string q = "model.layers.1.mlp.down_proj";  // [128, 384]
        EXPECT_EQ(ck.info(q + ".weight_packed").dtype, "I32");
        EXPECT_EQ(ck.info(q + ".weight_packed").shape, (std::vector<int64_t>{128, 48}));
        EXPECT_EQ(ck.info(q + ".weight_scale").dtype, "F32");
        EXPECT_EQ(ck.info(q + ".weight_scale").shape, (std::vector<int64_t>{128, 12}));
        EXPECT_EQ(ck.info(q + ".weight_shape").dtype, "I64");
        EXPECT_TRUE(at::equal(ck.load(q + ".weight_shape"), at::tensor(std::vector<int64_t>{128, 384}, at::kLong)));
        EXPECT_EQ(ck.has(q + ".weight_zero_point"), !sym);
        if (!sym) {
            EXPECT_EQ(ck.info(q + ".weight_zero_point").dtype, "I32");
            EXPECT_EQ(ck.info(q + ".weight_zero_point").shape, (std::vector<int64_t>{16, 12}));
        }
        EXPECT_FALSE(ck.has(q + ".weight"));
        EXPECT_FALSE(ck.has("lm_head.weight"));  // tied, and in `ignore`
        {                                        // the words hold quantize(prequant weight) of the session
            c10::InferenceMode guard;
            auto pre = s.prequant_model();
            QuantizedTensor qt = quantize(exp::linear_by_name(*pre, q)->weight, s.applied_config()->weight);
            const at::Tensor codes = ct_unpack_int32(ck.load(q + ".weight_packed"), 4, 384);
            EXPECT_TRUE(at::equal(codes, sym ? qt.codes + 8 : qt.codes));
            EXPECT_TRUE(at::equal(ck.load(q + ".weight_scale"), qt.scales));
            if (!sym) {
                EXPECT_TRUE(
                    at::equal(ct_unpack_int32(ck.load(q + ".weight_zero_point"), 4, 128, 0), qt.zeros.to(at::kInt)));
            }
        }
        expect_reopens_to(*model, tmp / "ct", sym ? "w4 g32 sym" : "w4 g32 asym");
        EXPECT_EQ(ppl(*load(tmp / "ct")), ppl(*model));
        EXPECT_TRUE(at::equal(logits(*model), before));  // the session is untouched
        EXPECT_EQ(snapshot(tinystories()), src_before);  // and so is the source
    }
}

TEST(CompressedTensorsExport, EveryMethodRoundTrips) {
    auto model = load(tinystories());
    QuantSession s(model, tokenizer(tinystories()));
    std::vector<std::pair<std::string, MethodConfig>> cfgs;
    {
        MethodConfig c = with_calib(rtn(4, 64));
        c.methods = {"awq"};
        cfgs.push_back({"awq w4 g64", c});
        MethodConfig sq = with_calib(rtn(8, -1, true));
        sq.methods = {"smoothquant"};
        cfgs.push_back({"smoothquant w8 channel (a16)", sq});
        MethodConfig rot = rtn(4, 32, true);
        rot.methods = {"rotate", "rtn"};
        rot.rotation = RotationKind::Hadamard;
        cfgs.push_back({"rotate + rtn w4 g32 sym", rot});
        MethodConfig gq = with_calib(rtn(4, 32));
        gq.methods = {"gptq"};
        cfgs.push_back({"gptq w4 g32", gq});
        MethodConfig gs = with_calib(rtn(4, 32, true));
        gs.methods = {"gptq"};
        gs.gptq_act_order = true;
        gs.gptq_static_groups = true;  // groups stay contiguous runs of columns: no g_idx needed
        cfgs.push_back({"gptq w4 g32 sym act-order + static groups", gs});
        MethodConfig g8 = with_calib(rtn(8, -1, true));
        g8.methods = {"gptq"};
        cfgs.push_back({"gptq w8 channel sym", g8});
        MethodConfig head = rtn(8, 64, false);
        head.include_lm_head = true;
        cfgs.push_back({"rtn w8 g64 asym with lm_head", head});
    }
    for (const auto& [what, c] : cfgs) {
        TempDir tmp;
        s.apply(c);
        ASSERT_EQ(s.applied_config()->act.bits, 0) << what;
        ExportReport r = export_checkpoint(s, ct_opts(tmp / "ct"));
        EXPECT_EQ(r.quantized_linears, c.include_lm_head ? 15 : 14) << what;
        const json qc = Checkpoint(tmp / "ct").config().at("quantization_config");
        EXPECT_EQ(qc.at("ignore"), c.include_lm_head ? json::array() : json::array({"lm_head"})) << what;
        expect_reopens_to(*model, tmp / "ct", what);
        if (c.include_lm_head) {
            auto back = load(tmp / "ct");
            ASSERT_NE(back->lm_head.packed, nullptr);
            EXPECT_TRUE(at::equal(back->lm_head.dense_weight(), model->lm_head.weight));
        }
    }
}

TEST(CompressedTensorsExport, RefusesWhatTheFormatCannotHold) {
    TempDir tmp;
    auto model = load(tinystories());
    QuantSession s(model, tokenizer(tinystories()));
    auto refused = [&](const MethodConfig& c, const std::string& msg) {
        s.apply(c);
        QS_EXPECT_ERROR_CONTAINS(export_checkpoint(s, ct_opts(tmp / "ct")), msg);
        EXPECT_FALSE(fs::exists(tmp / "ct"));
        EXPECT_TRUE(entries(tmp.path.string()).empty());  // no temporary folder left either
    };
    refused(rtn(3, 32), "W4A16 or W8A16 (pack-quantized int4 / int8); the configuration quantizes to 3 bits");
    MethodConfig pt = rtn(4, 32);
    pt.weight.granularity = Granularity::PerTensor;
    refused(pt, "the configuration is per-tensor");
    MethodConfig a8 = rtn(8, -1, true);
    a8.act.bits = 8;
    refused(a8, "activation fake quantization (a8) cannot be stored");
    MethodConfig ao = with_calib(rtn(4, 32));
    ao.methods = {"gptq"};
    ao.gptq_act_order = true;
    refused(ao, "drop --act-order, or add --static-groups");
    MethodConfig keep = with_calib(rtn(4, 32));
    keep.methods = {"awq-keep"};
    refused(keep, "cannot hold awq-keep / awq-scale weights");
    s.reset();
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(s, ct_opts(tmp / "ct")), "needs quantized weights");
    // stories260K: FFN of 172 inputs has no whole groups of 64; the message names the Linear
    auto small = load(stories260k());
    QuantSession s2(small, nullptr);
    s2.apply(rtn(4, 64));
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(s2, ct_opts(tmp / "ct")),
                             "'model.layers.0.mlp.down_proj' has 172 input features, not a multiple of the group "
                             "size 64");
    // channel-wise it exports (rows of 21.5 words, zero points packed along 172 outputs) and reopens
    s2.apply(rtn(4, -1));
    export_checkpoint(s2, ct_opts(tmp / "ct260"));
    expect_reopens_to(*small, tmp / "ct260", "stories260K w4 channel asym");
}

TEST(CompressedTensorsReader, MalformedCheckpointsAreRefusedNamingFileTensorAndProblem) {
    TempDir tmp;
    auto model = load(tinystories());
    QuantSession s(model, nullptr);
    s.apply(rtn(4, 32));
    export_checkpoint(s, ct_opts(tmp / "ct"));
    const std::string cfg_path = tmp / "ct/config.json";
    const json good = read_json_file(cfg_path);
    auto with_config = [&](const std::function<void(json&)>& edit, const std::string& msg) {
        json c = good;
        edit(c);
        std::ofstream(cfg_path) << c.dump();
        QS_EXPECT_ERROR_CONTAINS(load(tmp / "ct"), msg);
        std::ofstream(cfg_path) << good.dump();
    };
    auto w = [](json& c) -> json& { return c["quantization_config"]["config_groups"]["group_0"]["weights"]; };
    with_config([&](json& c) { w(c)["num_bits"] = 3; },
                "config.json: quantization_config.config_groups.group_0.weights: "
                "num_bits 3 is not supported (4 or 8)");
    with_config([&](json& c) { w(c)["actorder"] = "group"; }, "a weight_g_idx permutation) is not supported");
    with_config([&](json& c) { w(c)["strategy"] = "tensor"; }, "strategy 'tensor' is not supported (group or channel)");
    with_config([&](json& c) { c["quantization_config"]["format"] = "int-quantized"; },
                "compressed-tensors format 'int-quantized' is not supported");
    with_config(
        [&](json& c) {
            c["quantization_config"]["config_groups"]["group_0"]["input_activations"] = {{"num_bits", 8}};
        },
        "activation quantization is not supported");
    with_config([&](json& c) { w(c)["group_size"] = 64; },
                "model.safetensors: tensor 'model.layers.0.self_attn.q_proj.weight_scale' has shape [128, 4], "
                "expected [128, 2]");
    // tampered tensors are named with their file and the problem
    const std::string st = tmp / "ct/model.safetensors";
    const std::string good_st = tmp / "good.safetensors";
    fs::copy_file(st, good_st);
    auto with_tensor = [&](const std::string& name, const at::Tensor& replacement, const std::string& msg) {
        {
            c10::InferenceMode guard;
            Checkpoint ck(tmp / "ct");
            NamedTensors t;
            for (const auto& n : ck.tensor_names()) {
                if (n != name)
                    t.push_back({n, ck.load(n).clone()});
                else if (replacement.defined())
                    t.push_back({n, replacement});
            }
            write_safetensors(st, t, {{"format", "pt"}});
        }
        QS_EXPECT_ERROR_CONTAINS(load(tmp / "ct"), msg);
        fs::copy_file(good_st, st, fs::copy_options::overwrite_existing);
    };
    with_tensor("model.layers.0.self_attn.k_proj.weight_zero_point", at::Tensor(),
                "tensor 'model.layers.0.self_attn.k_proj.weight_zero_point' (int32 [ceil(out*4/32), in/group], "
                "asymmetric zero points packed along dim 0) is missing");
    with_tensor("model.layers.1.mlp.up_proj.weight_shape", at::tensor(std::vector<int64_t>{384, 127}, at::kLong),
                "model.safetensors: tensor 'model.layers.1.mlp.up_proj.weight_shape' holds [384, 127], expected "
                "[384, 128]");
    with_tensor("model.layers.1.mlp.up_proj.weight_packed", at::zeros({384, 16}, at::kFloat),
                "model.safetensors: tensor 'model.layers.1.mlp.up_proj.weight_packed' has dtype F32, expected I32");
    with_tensor("model.layers.0.mlp.gate_proj.weight_packed", at::zeros({384, 15}, at::kInt),
                "tensor 'model.layers.0.mlp.gate_proj.weight_packed' has shape [384, 15], expected [384, 16] (int32 "
                "[out, ceil(in*4/32)])");
    EXPECT_TRUE(at::equal(logits(*load(tmp / "ct")), logits(*model)));  // restored: loads again
}
