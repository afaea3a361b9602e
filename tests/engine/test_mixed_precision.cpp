// Mixed precision (issue #16 item 5): per-Linear overrides of bits / group size / skip.
//   * the configuration: spec_for / skips, the CLI's short form, JSON (absent when empty),
//     range and name checks naming the Linear;
//   * sizes and average bits by hand (quant/size_estimate.h);
//   * every weight quantizer honours them: RTN (only the overridden Linear changes, and it equals
//     RTN with its own spec), awq-keep, AWQ (search, clip, replay), GPTQ (Linears quantized before
//     the overridden one are unchanged; a skipped one keeps its weight), SmoothQuant's W8;
//   * exports: compressed-tensors config groups reopened bit for bit, AWQ GEMM
//     modules_to_not_convert, refusals naming the Linear; workspaces and recipes carry them.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "engine/test_export_util.h"
#include "export/export.h"
#include "export/export_internal.h"
#include "export/workspace.h"
#include "models/model_summary.h"
#include "models/packed_linears.h"
#include "quant/awq.h"
#include "quant/linear_quant.h"
#include "quant/llmc_recipe.h"
#include "quant/size_estimate.h"

using namespace qs;
using namespace qs::test;
using json = nlohmann::json;

namespace {

const std::string kDown0 = "model.layers.0.mlp.down_proj";  // TinyStories-656K: [128, 384]
const std::string kUp1 = "model.layers.1.mlp.up_proj";      // [384, 128]
const std::string kDown1 = "model.layers.1.mlp.down_proj";

LinearOverride ov(int bits, int64_t group = 0, bool skip = false) {
    LinearOverride o;
    o.bits = bits;
    o.group_size = group;
    o.skip = skip;
    return o;
}

// Every decoder Linear of a model by name (weights as they are now).
std::map<std::string, at::Tensor> decoder_weights(CausalLM& m) {
    std::map<std::string, at::Tensor> out;
    for (Linear* l : m.decoder_linears()) out[l->name] = l->weight.clone();
    return out;
}

at::Tensor original_weight(QuantSession& s, const std::string& name) { return s.original_linear(name).weight; }

}  // namespace

// ---------------------------------------------------------------- configuration

TEST(MixedPrecisionConfig, SpecForAppliesTheOverride) {
    MethodConfig c = rtn(4, 128);
    c.weight.symmetric = true;
    c.overrides["a"] = ov(8);
    c.overrides["b"] = ov(0, 64);
    c.overrides["c"] = ov(3, -1);
    c.overrides["d"] = ov(0, 0, true);
    EXPECT_EQ(c.spec_for("a").describe(), "w8 g128 sym");
    EXPECT_EQ(c.spec_for("b").describe(), "w4 g64 sym");
    EXPECT_EQ(c.spec_for("c").describe(), "w3 per-channel sym");
    EXPECT_EQ(c.spec_for("other").describe(), "w4 g128 sym");
    EXPECT_TRUE(c.skips("d"));
    EXPECT_FALSE(c.skips("a"));
    EXPECT_FALSE(c.skips("other"));
    EXPECT_NE(c.describe().find("+ 4 overrides"), std::string::npos) << c.describe();
}

TEST(MixedPrecisionConfig, ShortFormParsesAndPrints) {
    EXPECT_EQ(parse_linear_override("skip"), ov(0, 0, true));
    EXPECT_EQ(parse_linear_override("w8"), ov(8));
    EXPECT_EQ(parse_linear_override("w8:g64"), ov(8, 64));
    EXPECT_EQ(parse_linear_override("w4:channel"), ov(4, -1));
    EXPECT_EQ(parse_linear_override("g32"), ov(0, 32));
    EXPECT_EQ(parse_linear_override("channel"), ov(0, -1));
    for (const char* t : {"w8", "w8:g64", "w4:channel", "skip", "g32", "channel"})
        EXPECT_EQ(linear_override_text(parse_linear_override(t)), t);
    QS_EXPECT_ERROR_CONTAINS(parse_linear_override("8"), "override spec '8'");
    QS_EXPECT_ERROR_CONTAINS(parse_linear_override("w8:x"), "unexpected 'x'");
    QS_EXPECT_ERROR_CONTAINS(parse_linear_override("wx"), "must be a positive integer");
    QS_EXPECT_ERROR_CONTAINS(parse_linear_override(""), "accepted: skip, wB");
}

TEST(MixedPrecisionConfig, JsonRoundTripsAndIsAbsentWhenEmpty) {
    MethodConfig plain = rtn(4, 128);
    EXPECT_FALSE(plain.to_json().contains("overrides"));  // every existing golden / workspace stays byte-identical
    MethodConfig c = plain;
    c.overrides[kDown0] = ov(8, 64);
    c.overrides["lm_head"] = ov(0, 0, true);
    const json j = c.to_json();
    EXPECT_EQ(j.at("overrides").at(kDown0), (json{{"bits", 8}, {"group_size", 64}, {"skip", false}}));
    EXPECT_EQ(j.at("overrides").at("lm_head"), (json{{"bits", 0}, {"group_size", 0}, {"skip", true}}));
    const MethodConfig back = MethodConfig::from_json(j);
    EXPECT_EQ(back.overrides, c.overrides);
    EXPECT_EQ(back.to_json(), j);
    // a configuration without the key (any file written before mixed precision) has none
    json old = plain.to_json();
    EXPECT_TRUE(MethodConfig::from_json(old).overrides.empty());
    // the file form of --overrides: the object itself or a configuration holding it
    EXPECT_EQ(overrides_from_json(j.at("overrides"), "f.json"), c.overrides);
    EXPECT_EQ(overrides_from_json(j, "f.json"), c.overrides);
    QS_EXPECT_ERROR_CONTAINS(overrides_from_json(json{{"x", {{"bits", "8"}}}}, "f.json"),
                             "f.json['x'].bits must be an integer");
    QS_EXPECT_ERROR_CONTAINS(overrides_from_json(json{{"x", {{"bitz", 8}}}}, "f.json"), "unknown key 'bitz'");
}

TEST(MixedPrecisionConfig, RangesAreCheckedNamingTheLinear) {
    MethodConfig c = rtn(4, 128);
    c.overrides[kDown0] = ov(9);
    QS_EXPECT_ERROR_CONTAINS(c.validate(), "overrides['" + kDown0 + "'].bits");
    c.overrides[kDown0] = ov(1);
    QS_EXPECT_ERROR_CONTAINS(c.validate(), "found 1");
    c.overrides[kDown0] = ov(8, -2);
    QS_EXPECT_ERROR_CONTAINS(c.validate(), "overrides['" + kDown0 + "'].group_size");
    c.overrides[kDown0] = ov(8, -1);
    EXPECT_NO_THROW(c.validate());
    json j = c.to_json();
    j["overrides"][kDown0]["bits"] = 12;
    QS_EXPECT_ERROR_CONTAINS(MethodConfig::from_json(j), "must be 0 (the configuration's) or an integer in 2..8");
}

TEST(MixedPrecisionConfig, UnknownNamesAreRefusedWithTheClosestNames) {
    MethodConfig c = rtn(4, 128);
    c.overrides["model.layers.0.mlp.down_prj"] = ov(8);
    const std::vector<std::string> names = {"model.layers.0.mlp.up_proj", kDown0, kDown1};
    QS_EXPECT_ERROR_CONTAINS(c.validate_overrides(names), "override 'model.layers.0.mlp.down_prj'");
    QS_EXPECT_ERROR_CONTAINS(c.validate_overrides(names), "closest: " + kDown0);
    c.overrides = {{"lm_head", ov(8)}};
    QS_EXPECT_ERROR_CONTAINS(c.validate_overrides(names), "add --include-lm-head");
    c.overrides = {{kDown1, ov(8)}};
    EXPECT_NO_THROW(c.validate_overrides(names));
}

// ---------------------------------------------------------------- sizes

TEST(MixedPrecisionSizes, AverageBitsAndSizesByHand) {
    // two decoder Linears and lm_head; 10,000 parameters in all
    std::vector<LinearSummary> ls = {
        {"a", 64, 4, false, 0, ""}, {"b", 128, 8, false, 0, ""}, {"lm_head", 32, 16, false, -1, ""}};
    MethodConfig c = rtn(4, 32);
    const SizeEstimate plain = estimate_size(ls, 10000, c);
    EXPECT_EQ(plain.quantized_weights, 256 + 1024);
    EXPECT_DOUBLE_EQ(plain.average_bits, 4.625);  // 4 + 20/32
    EXPECT_DOUBLE_EQ(plain.average_bits_without_scales, 4.0);
    EXPECT_DOUBLE_EQ(plain.seed_size_mib, 10000 * 4.625 / 8 / 1048576);
    // packed: a = 128 B codes + 8 groups x 2 B scales + 4 B zeros; b = 512 + 32 x 2 + 16
    EXPECT_DOUBLE_EQ(plain.packed_size_mib, (148 + 592 + (10000 - 1280) * 2) / 1048576.0);

    c.overrides["b"] = ov(8, 64);  // b: 8 + 20/64 = 8.3125 bits
    const SizeEstimate mixed = estimate_size(ls, 10000, c);
    EXPECT_EQ(mixed.overridden_linears, 1);
    EXPECT_DOUBLE_EQ(mixed.average_bits, (256 * 4.625 + 1024 * 8.3125) / 1280);            // 7.575
    EXPECT_DOUBLE_EQ(mixed.average_bits_without_scales, (256 * 4.0 + 1024 * 8.0) / 1280);  // 7.2
    EXPECT_DOUBLE_EQ(mixed.seed_size_mib, ((10000 - 1024) * 4.625 + 1024 * 8.3125) / 8 / 1048576);
    // b: 1024 B codes + 16 groups x 2 B scales + 16 B zeros
    EXPECT_DOUBLE_EQ(mixed.packed_size_mib, (148 + 1072 + (10000 - 1280) * 2) / 1048576.0);

    c.overrides["b"] = ov(0, 0, true);  // skipped: 16 bits, stored fp16
    const SizeEstimate skipped = estimate_size(ls, 10000, c);
    EXPECT_EQ(skipped.quantized_weights, 256);
    EXPECT_EQ(skipped.skipped_linears, 1);
    EXPECT_DOUBLE_EQ(skipped.average_bits, (256 * 4.625 + 1024 * 16.0) / 1280);
    EXPECT_DOUBLE_EQ(skipped.seed_size_mib, ((10000 - 1024) * 4.625 + 1024 * 16.0) / 8 / 1048576);
    EXPECT_DOUBLE_EQ(skipped.packed_size_mib, (148 + (10000 - 256) * 2) / 1048576.0);
}

// ---------------------------------------------------------------- quantizers

TEST(MixedPrecisionQuantizers, RtnChangesOnlyTheOverriddenLinear) {
    c10::InferenceMode guard;
    auto model = load(tinystories());
    QuantSession s(model, nullptr);
    const MethodConfig base = rtn(4, 32);
    const ApplyReport r0 = s.apply(base);
    const auto plain = decoder_weights(*model);
    MethodConfig c = base;
    c.overrides[kDown0] = ov(8, 64);
    c.overrides[kUp1] = ov(0, 0, true);
    const ApplyReport r1 = s.apply(c);
    const auto mixed = decoder_weights(*model);
    ASSERT_EQ(plain.size(), 14u);
    for (const auto& [name, w] : plain) {
        if (name == kDown0) {
            QuantSpec spec = base.weight;
            spec.bits = 8;
            spec.group_size = 64;
            EXPECT_TRUE(at::equal(mixed.at(name), pseudo_quantize(original_weight(s, name), spec))) << name;
            EXPECT_FALSE(at::equal(mixed.at(name), w)) << name;
        } else if (name == kUp1) {
            EXPECT_TRUE(at::equal(mixed.at(name), original_weight(s, name))) << "skipped: the original weight";
        } else {
            EXPECT_TRUE(at::equal(mixed.at(name), w)) << name << " must not change";
        }
    }
    // sizes: TinyStories-656K has 2 x 196,608 decoder Linear weights; down_proj 49,152, up_proj 49,152
    EXPECT_DOUBLE_EQ(r0.average_bits, 4.625);
    EXPECT_DOUBLE_EQ(r1.average_bits, (294912 * 4.625 + 49152 * 8.3125 + 49152 * 16.0) / 393216);
    EXPECT_DOUBLE_EQ(r1.average_bits_without_scales, (294912 * 4.0 + 49152 * 8.0 + 49152 * 16.0) / 393216);
    EXPECT_EQ(r1.quantized_weights, r0.quantized_weights - 49152);
    EXPECT_GT(r1.packed_size_mib, r0.packed_size_mib);
    EXPECT_EQ(r1.to_json().at("average_bits"), r1.average_bits);
    bool noted = false;
    for (const auto& st : r1.steps) noted |= st.find("mixed precision: 1 Linear(s)") != std::string::npos;
    EXPECT_TRUE(noted);
    // the RTN Linears the session lists for exporters leave the skipped one out
    const auto& rl = s.rtn_linears();
    EXPECT_EQ(std::count(rl.begin(), rl.end(), kUp1), 0);
    EXPECT_EQ(rl.size(), 13u);
}

TEST(MixedPrecisionQuantizers, UnknownLinearIsRefusedAtApply) {
    auto model = load(tinystories());
    QuantSession s(model, nullptr);
    MethodConfig c = rtn(4, 32);
    c.overrides["model.layers.2.mlp.down_proj"] = ov(8);
    QS_EXPECT_ERROR_CONTAINS(s.apply(c), "override 'model.layers.2.mlp.down_proj'");
    QS_EXPECT_ERROR_CONTAINS(s.apply(c), "closest: model.layers.");
    EXPECT_EQ(s.applied_config(), nullptr);
}

TEST(MixedPrecisionQuantizers, AwqKeepUsesTheLinearsSpec) {
    c10::InferenceMode guard;
    auto model = load(tinystories());
    QuantSession s(model, tokenizer(tinystories()));
    MethodConfig c = with_calib(rtn(3, 32));
    c.methods = {"awq-keep"};
    c.awq_salient = 0.05;
    s.apply(c);
    const auto plain = decoder_weights(*model);
    c.overrides[kDown0] = ov(8);
    s.apply(c);
    const auto mixed = decoder_weights(*model);
    const at::Tensor salient = s.experiment()->salient.at(kDown0);
    QuantSpec spec = c.weight;
    spec.bits = 8;
    EXPECT_TRUE(at::equal(mixed.at(kDown0), awq_keep_weight(original_weight(s, kDown0), salient, spec)));
    for (const auto& [name, w] : plain)
        if (name != kDown0) {
            EXPECT_TRUE(at::equal(mixed.at(name), w)) << name;
        }
}

TEST(MixedPrecisionQuantizers, AwqSearchAndClipUseTheLinearsSpecAndReplayInBlockSequentialMode) {
    c10::InferenceMode guard;
    MethodConfig c = with_calib(rtn(3, 32));
    c.methods = {"awq"};
    c.awq_clip = true;
    c.overrides[kDown0] = ov(8, 64);
    c.overrides["model.layers.1.self_attn.o_proj"] = ov(0, 0, true);
    auto mem = load(tinystories());
    QuantSession a(mem, tokenizer(tinystories()));
    const ApplyReport r = a.apply(c);
    ASSERT_TRUE(r.awq.has_value());
    bool down0 = false;
    for (const AwqClip& cl : r.awq->clips) {
        EXPECT_NE(cl.linear, "model.layers.1.self_attn.o_proj") << "a skipped Linear is not clipped";
        if (cl.linear == kDown0) {
            down0 = true;
            EXPECT_EQ(cl.spec.describe(), "w8 g64 asym");
            EXPECT_EQ(cl.max_val.size(1), 6);  // 384 inputs / 64
        } else {
            EXPECT_EQ(cl.spec.describe(), "w3 g32 asym");
        }
    }
    EXPECT_TRUE(down0);
    // the skipped Linear equals its transformed (AWQ-scaled) weight, the overridden one its own RTN
    auto pre = a.prequant_model();
    const Linear* po = exp::linear_by_name(*pre, "model.layers.1.self_attn.o_proj");
    EXPECT_TRUE(at::equal(mem->blocks[1].o.weight, po->weight));
    EXPECT_TRUE(at::equal(mem->blocks[0].down.weight,
                          pseudo_quantize(exp::linear_by_name(*pre, kDown0)->weight, c.spec_for(kDown0))));
    // block-sequential rebuilds every block from the recorded search (clips with their specs)
    LoadOptions lo;
    lo.mode = HoldMode::BlockSequential;
    auto seq = std::shared_ptr<CausalLM>(load_causal_lm(tinystories(), lo));
    QuantSession b(seq, tokenizer(tinystories()));
    b.apply(c);
    EXPECT_NEAR(ppl(*seq), ppl(*mem), 1e-5 * ppl(*mem));
}

TEST(MixedPrecisionQuantizers, GptqQuantizesEachLinearWithItsSpecAndSkippedOnesFeedTheNextBlock) {
    c10::InferenceMode guard;
    auto model = load(tinystories());
    QuantSession s(model, tokenizer(tinystories()));
    MethodConfig c = with_calib(rtn(4, 32));
    c.methods = {"gptq"};
    s.apply(c);
    const auto plain = decoder_weights(*model);
    MethodConfig m = c;
    m.overrides[kDown1] = ov(8, 64);  // the last Linear GPTQ quantizes (true-sequential)
    const ApplyReport r = s.apply(m);
    const auto mixed = decoder_weights(*model);
    for (const auto& [name, w] : plain)
        if (name != kDown1) {
            EXPECT_TRUE(at::equal(mixed.at(name), w)) << name << " is quantized before " << kDown1;
        }
    const GptqLinear* g = r.gptq->find(kDown1);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->scale.size(1), 6);  // 384 / 64
    EXPECT_GT(g->codes.max().item<int>(), 15);
    EXPECT_TRUE(at::equal(mixed.at(kDown1), g->dequantize(at::kFloat)));

    // skipping a Linear of block 0: it keeps its weight, and block 1 sees block 0's new outputs
    MethodConfig k = c;
    k.overrides[kDown0] = ov(0, 0, true);
    const ApplyReport rk = s.apply(k);
    EXPECT_EQ(rk.gptq->find(kDown0), nullptr);
    EXPECT_EQ(rk.gptq->linears.size(), 13u);
    EXPECT_TRUE(at::equal(model->blocks[0].down.weight, original_weight(s, kDown0)));
    const auto skipped = decoder_weights(*model);
    for (const auto& [name, w] : plain) {
        if (name == kDown0) continue;
        const bool block1 = name.find("layers.1.") != std::string::npos;
        if (!block1) {
            EXPECT_TRUE(at::equal(skipped.at(name), w)) << name;
        }
    }
    EXPECT_FALSE(at::equal(skipped.at(kDown1), plain.at(kDown1))) << "block 1's inputs changed";
}

TEST(MixedPrecisionQuantizers, SmoothQuantW8OverridesAndSkippedLinearsKeepFloatInputs) {
    c10::InferenceMode guard;
    auto model = load(tinystories());
    QuantSession s(model, tokenizer(tinystories()));
    MethodConfig c = with_calib(rtn(8, -1, true));
    c.methods = {"smoothquant"};
    c.act.bits = 8;
    c.overrides[kDown0] = ov(4, 64);
    c.overrides[kUp1] = ov(0, 0, true);
    s.apply(c);
    auto pre = s.prequant_model();
    EXPECT_TRUE(at::equal(model->blocks[0].down.weight,
                          pseudo_quantize(exp::linear_by_name(*pre, kDown0)->weight, c.spec_for(kDown0))));
    EXPECT_TRUE(at::equal(model->blocks[1].up.weight, exp::linear_by_name(*pre, kUp1)->weight));
    EXPECT_FALSE(model->blocks[1].up.input_fn) << "a skipped Linear keeps float inputs";
    EXPECT_TRUE(model->blocks[1].gate.input_fn);
    EXPECT_TRUE(std::isfinite(ppl(*model)));
}

// ---------------------------------------------------------------- exports

TEST(MixedPrecisionExport, CompressedTensorsWritesOneGroupPerSpecAndReopensBitForBit) {
    c10::InferenceMode guard;
    auto model = load(tinystories());
    QuantSession s(model, nullptr);
    MethodConfig c = rtn(4, 32);
    c.overrides[kDown0] = ov(8, 64);
    c.overrides[kDown1] = ov(8, 64);
    c.overrides["model.layers.0.self_attn.q_proj"] = ov(8, -1);
    c.overrides[kUp1] = ov(0, 0, true);
    s.apply(c);
    TempDir tmp;
    ExportOptions o;
    o.format = ExportFormat::CompressedTensors;
    o.out_dir = tmp / "ct";
    const ExportReport r = export_checkpoint(s, o);
    EXPECT_EQ(r.quantized_linears, 13);
    const json qc = Checkpoint(tmp / "ct").config().at("quantization_config");
    const json& g = qc.at("config_groups");
    ASSERT_EQ(g.size(), 3u);
    // numbered by their first Linear in module order: q_proj (w8 channel), k_proj (the default), down_proj
    EXPECT_EQ(g.at("group_0").at("targets"), json::array({"model.layers.0.self_attn.q_proj"}));
    EXPECT_EQ(g.at("group_0").at("weights").at("strategy"), "channel");
    EXPECT_EQ(g.at("group_0").at("weights").at("num_bits"), 8);
    EXPECT_EQ(g.at("group_1").at("targets"), json::array({"Linear"}));
    EXPECT_EQ(g.at("group_1").at("weights").at("group_size"), 32);
    EXPECT_EQ(g.at("group_2").at("targets"), json::array({kDown0, kDown1}));
    EXPECT_EQ(g.at("group_2").at("weights").at("group_size"), 64);
    EXPECT_EQ(qc.at("ignore"), json::array({kUp1, "lm_head"}));
    Checkpoint ck(tmp / "ct");
    EXPECT_EQ(ck.info(kDown0 + ".weight_packed").shape, (std::vector<int64_t>{128, 96}));  // 384 x 8 bits / 32
    EXPECT_EQ(ck.info(kDown0 + ".weight_scale").shape, (std::vector<int64_t>{128, 6}));
    EXPECT_TRUE(ck.has(kUp1 + ".weight"));
    EXPECT_FALSE(ck.has(kUp1 + ".weight_packed"));
    auto back = load(tmp / "ct");
    const auto bl = back->decoder_linears(), ml = model->decoder_linears();
    ASSERT_EQ(bl.size(), ml.size());
    for (size_t k = 0; k < bl.size(); ++k) EXPECT_TRUE(at::equal(bl[k]->dense_weight(), ml[k]->weight)) << bl[k]->name;
    EXPECT_EQ(back->blocks[0].down.source_type, "compressed-tensors pack-quantized w8 g64 asym");
    EXPECT_EQ(back->blocks[0].q.source_type, "compressed-tensors pack-quantized w8 per-channel asym");
    EXPECT_EQ(back->blocks[0].k.source_type, "compressed-tensors pack-quantized w4 g32 asym");
    EXPECT_TRUE(at::equal(logits(*back), logits(*model)));
}

TEST(MixedPrecisionExport, CompressedTensorsReaderFollowsThePackagesTargetPrecedence) {
    PackedCheckpointFormat f;
    f.kind = PackedCheckpointFormat::Kind::CompressedTensors;
    f.where = "x/config.json: quantization_config";
    f.schemes = {{"group_0", 4, 32, true, {"Linear"}},
                 {"group_1", 8, 0, false, {"re:.*down_proj$"}},
                 {"group_2", 8, 64, true, {kDown0}}};
    EXPECT_EQ(f.for_linear("model.layers.0.self_attn.q_proj").describe(),
              "compressed-tensors pack-quantized w4 g32 sym");
    EXPECT_EQ(f.for_linear(kDown1).describe(), "compressed-tensors pack-quantized w8 per-channel asym");
    EXPECT_EQ(f.for_linear(kDown0).describe(), "compressed-tensors pack-quantized w8 g64 sym");  // exact name first
    f.schemes.erase(f.schemes.begin());
    QS_EXPECT_ERROR_CONTAINS(f.for_linear("model.layers.0.self_attn.q_proj"),
                             "no config group targets the Linear 'model.layers.0.self_attn.q_proj'");
}

TEST(MixedPrecisionExport, AwqGemmSkipsIntoModulesToNotConvertAndRefusesOtherOverrides) {
    c10::InferenceMode guard;
    auto model = load(tinystories());
    QuantSession s(model, nullptr);
    MethodConfig c = rtn(4, 64);
    c.weight.fp16_scales = true;
    c.overrides[kDown0] = ov(0, 0, true);
    s.apply(c);
    TempDir tmp;
    ExportOptions o;
    o.format = ExportFormat::AwqGemm;
    o.out_dir = tmp / "awq";
    const ExportReport r = export_checkpoint(s, o);
    EXPECT_EQ(r.quantized_linears, 13);
    const json qc = Checkpoint(tmp / "awq").config().at("quantization_config");
    EXPECT_EQ(qc.at("modules_to_not_convert"), json::array({kDown0}));
    Checkpoint ck(tmp / "awq");
    EXPECT_EQ(ck.info(kDown0 + ".weight").dtype, "F16");  // dense, fp16 as AutoAWQ stores it
    EXPECT_FALSE(ck.has(kDown0 + ".qweight"));
    auto back = load(tmp / "awq");
    EXPECT_EQ(back->blocks[0].down.packed, nullptr);
    // the reopened model is exactly the AWQ reference state of the session
    auto ref = over_state(*model, awq_reference_state(s));
    EXPECT_TRUE(at::equal(logits(*back), logits(*ref)));
    EXPECT_TRUE(at::equal(back->blocks[0].down.weight, ref->blocks[0].down.weight));

    // a bits / group override cannot be held by AWQ GEMM (one w_bit / q_group_size)
    MethodConfig bad = rtn(4, 64);
    bad.overrides[kDown1] = ov(8);
    s.apply(bad);
    o.out_dir = tmp / "awq2";
    QS_EXPECT_ERROR_CONTAINS(export_checkpoint(s, o), "'" + kDown1 + "': its override (w8) cannot be held");
    // the same override in the configuration's own spec is no override at all
    MethodConfig same = rtn(4, 64);
    same.overrides[kDown1] = ov(4, 64);
    s.apply(same);
    EXPECT_TRUE(export_problems(s, ExportFormat::AwqGemm).empty());
}

TEST(MixedPrecisionExport, CompressedTensorsRefusesAnOverrideItCannotHoldNamingTheLinear) {
    auto model = load(tinystories());
    QuantSession s(model, nullptr);
    MethodConfig c = rtn(4, 32);
    c.overrides[kDown0] = ov(3);
    s.apply(c);
    const auto p = export_problems(s, ExportFormat::CompressedTensors);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_NE(p[0].problem.find("the override of '" + kDown0 + "' quantizes to 3 bits"), std::string::npos)
        << p[0].problem;
    c.overrides[kDown0] = ov(8, 100);  // 384 inputs: not a multiple of 100
    s.apply(c);
    const auto q = export_problems(s, ExportFormat::CompressedTensors);
    ASSERT_EQ(q.size(), 1u);
    EXPECT_NE(q[0].problem.find("'" + kDown0 + "' has 384 input features, not a multiple of the group size 100"),
              std::string::npos)
        << q[0].problem;
}

TEST(MixedPrecisionExport, Int8LeavesSkippedLinearsUnconverted) {
    c10::InferenceMode guard;
    auto model = load(tinystories());
    QuantSession s(model, nullptr);
    MethodConfig c = rtn(8, -1, true);
    c.overrides[kDown0] = ov(0, 0, true);
    s.apply(c);
    TempDir tmp;
    ExportOptions o;
    o.format = ExportFormat::Int8;
    o.out_dir = tmp / "int8";
    export_checkpoint(s, o);
    const json nc = Checkpoint(tmp / "int8").config().at("quantization_config").at("modules_to_not_convert");
    EXPECT_NE(std::find(nc.begin(), nc.end(), json(kDown0)), nc.end());
    auto back = load(tmp / "int8");
    EXPECT_EQ(back->blocks[0].down.packed, nullptr);
    EXPECT_TRUE(at::equal(logits(*back), logits(*model)));
}

// ---------------------------------------------------------------- workspace and recipe

TEST(MixedPrecisionWorkspace, OverridesAreSavedAndRestored) {
    TempDir tmp;
    Workspace ws;
    ws.model_path = tinystories();
    ws.config = rtn(3, 64);
    ws.config.overrides[kDown0] = ov(8);
    ws.config.overrides[kUp1] = ov(0, 0, true);
    ws.applied = true;
    save_workspace(ws, tmp / "mixed.qscope");
    const Workspace back = load_workspace(tmp / "mixed.qscope");
    EXPECT_EQ(back.config.overrides, ws.config.overrides);
    EXPECT_EQ(back.config.to_json(), ws.config.to_json());
    // a workspace written before mixed precision (no "overrides" key) still opens, with none
    json j = workspace_to_json(ws);
    j["configuration"].erase("overrides");
    EXPECT_TRUE(workspace_from_json(j, "old.qscope").config.overrides.empty());
    // a bad override in a workspace is refused naming it
    j["configuration"]["overrides"] = {{kDown0, {{"bits", 99}}}};
    QS_EXPECT_ERROR_CONTAINS(workspace_from_json(j, "bad.qscope"), "overrides['" + kDown0 + "'].bits");
}

TEST(MixedPrecisionRecipe, OverridesBecomeConfigGroupsAndIgnore) {
    MethodConfig c = rtn(4, 128);
    c.overrides[kDown0] = ov(8);
    c.overrides[kDown1] = ov(8);
    c.overrides[kUp1] = ov(0, 0, true);
    LlmcModel m;
    m.arch = Arch::Llama;
    m.hidden_size = 128;
    m.linears = {kDown0, kDown1, kUp1, "model.layers.0.mlp.up_proj"};
    const std::string y = make_llmc_recipe(c, m).yaml;
    EXPECT_NE(y.find("ignore: [" + kUp1 + ", lm_head]"), std::string::npos) << y;
    EXPECT_NE(y.find("group_1:\n"), std::string::npos) << y;
    EXPECT_NE(y.find("targets: [" + kDown0 + ", " + kDown1 + "]"), std::string::npos) << y;
    EXPECT_NE(y.find("num_bits: 8"), std::string::npos) << y;
    c.overrides["model.layers.7.mlp.down_proj"] = ov(8);
    QS_EXPECT_ERROR_CONTAINS(make_llmc_recipe(c, m), "override 'model.layers.7.mlp.down_proj'");
}
