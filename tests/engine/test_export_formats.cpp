// Export round trips: every format on the real fixtures (TinyStories-656K, stories260K) and on
// random OPT models: the exported files hold exactly the session's codes, QuantScope reopens
// awq-gemm and int8 folders (packed Linears dequantized on the fly) and their perplexity
// equals the fake-quant model's; fake and transformed folders reload to the same tensors.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cmath>

#include "engine/test_export_util.h"
#include "export/export.h"
#include "export/export_internal.h"
#include "models/packed_linears.h"

using namespace qs;
using namespace qs::test;

namespace {

ExportOptions opts(ExportFormat f, const std::string& out) {
    ExportOptions o;
    o.format = f;
    o.out_dir = out;
    return o;
}

// Every dense parameter of `a` equals the same-named one of `b` bit for bit.
void expect_same_params(CausalLM& a, CausalLM& b, const std::string& what) {
    std::map<std::string, at::Tensor> bp;
    for (const auto& p : b.parameters()) bp[p.name] = *p.tensor;
    for (const auto& p : a.parameters()) {
        ASSERT_TRUE(bp.count(p.name)) << what << ": " << p.name << " missing";
        EXPECT_TRUE(at::equal(p.tensor->to(at::kFloat), bp[p.name].to(at::kFloat))) << what << ": " << p.name;
    }
}

}  // namespace

TEST(ExportPacking, AwqNibbleOrderMatchesAutoAwq) {
    c10::InferenceMode guard;
    // codes 0..7 in one row: nibble i holds column kAwqOrder[i]
    at::Tensor codes = at::arange(8, at::kInt).view({1, 8});
    at::Tensor p = awq_pack_int4(codes);
    ASSERT_EQ(p.scalar_type(), at::kInt);
    EXPECT_EQ(static_cast<uint32_t>(p.item<int32_t>()), 0x75316420u);
    // a 15 in column 7 sets the sign bit (nibble 7)
    at::Tensor c2 = at::zeros({1, 8}, at::kInt);
    c2[0][7] = 15;
    EXPECT_EQ(static_cast<uint32_t>(awq_pack_int4(c2).item<int32_t>()), 0xF0000000u);
    // round trip on random codes
    at::Tensor r = at::randint(0, 16, {24, 64}, at::kInt);
    EXPECT_TRUE(at::equal(awq_unpack_int4(awq_pack_int4(r)), r));
    QS_EXPECT_ERROR_CONTAINS(awq_pack_int4(at::zeros({2, 12}, at::kInt)), "multiple of 8");
}

TEST(ExportPacking, AwqDequantizeIsExactWithFp16Scales) {
    c10::InferenceMode guard;
    at::Tensor w = at::randn({16, 64});
    QuantSpec s;
    s.bits = 4;
    s.group_size = 32;
    QuantizedTensor q = quantize(w, s);
    exp::AwqTensors t = exp::awq_gemm_pack(q);
    EXPECT_EQ(t.qweight.sizes().vec(), (std::vector<int64_t>{64, 2}));
    EXPECT_EQ(t.qzeros.sizes().vec(), (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(t.scales.sizes().vec(), (std::vector<int64_t>{2, 16}));
    EXPECT_EQ(t.scales.scalar_type(), at::kHalf);
    at::Tensor d = awq_gemm_dequantize(t.qweight, t.qzeros, t.scales, 32);
    // the same formula with fp16-rounded scales, in double: identical (the products are exact)
    QuantizedTensor q16 = q;
    q16.scales = q.scales.to(at::kHalf).to(at::kFloat);
    EXPECT_TRUE(at::equal(d, dequantize(q16)));
    at::Tensor ref = (q.codes.to(at::kDouble) - q.zeros.repeat_interleave(32, 1).to(at::kDouble)) *
                     q16.scales.repeat_interleave(32, 1).to(at::kDouble);
    EXPECT_TRUE(at::equal(d.to(at::kDouble), ref));
}

// The pre-quantization weights are rebuilt from the originals and the recorded experiment
// (no second copy is kept at apply): quantizing them gives the session's weights bit for bit.
TEST(ExportSession, PrequantModelIsRebuiltFromTheExperiment) {
    c10::InferenceMode guard;
    auto m1 = load(tinystories());
    QuantSession a(m1, nullptr);
    MethodConfig c = rtn(4, 64);
    c.methods = {"rotate", "rtn"};
    c.rotation = RotationKind::Hadamard;
    a.apply(c);
    EXPECT_EQ(a.rtn_linears().size(), 14u);  // 2 blocks x 7 Linears
    auto pre = a.prequant_model();
    for (const std::string& name : a.rtn_linears()) {
        const Linear* lp = exp::linear_by_name(*pre, name);
        const Linear* lc = exp::linear_by_name(*m1, name);
        ASSERT_TRUE(lp && lc) << name;
        EXPECT_TRUE(at::equal(pseudo_quantize(lp->weight, c.weight), lc->weight)) << name;
    }
    a.reset();
    EXPECT_EQ(a.applied_config(), nullptr);
    EXPECT_TRUE(a.rtn_linears().empty());
}

// The main round trip on the bundled real LLaMA model, every group size.
class AwqGemmTinyStories : public ::testing::TestWithParam<int64_t> {};

TEST_P(AwqGemmTinyStories, ReloadsToTheSessionCodesAndPerplexity) {
    const int64_t g = GetParam();
    TempDir tmp;
    auto model = load(tinystories());
    QuantSession s(model, nullptr);
    s.apply(rtn(4, g));
    const double ppl_fake = ppl(*model);
    const at::Tensor logits_fake = logits(*model);
    ExportReport r = export_checkpoint(s, opts(ExportFormat::AwqGemm, tmp / "awq"));
    EXPECT_EQ(r.quantized_linears, 14);

    // files and config
    Checkpoint ck(tmp / "awq");
    const auto& qc = ck.config()["quantization_config"];
    EXPECT_EQ(qc["quant_method"], "awq");
    EXPECT_EQ(qc["version"], "gemm");
    EXPECT_EQ(qc["bits"], 4);
    EXPECT_EQ(qc["group_size"], g);
    EXPECT_EQ(qc["zero_point"], true);
    EXPECT_TRUE(qc["modules_to_not_convert"].is_null());
    EXPECT_EQ(ck.config()["torch_dtype"], "float16");
    EXPECT_TRUE(fs::exists(tmp / "awq/tokenizer.json"));
    EXPECT_TRUE(fs::exists(tmp / "awq/tokenizer_config.json"));
    const std::string q = "model.layers.1.mlp.down_proj";
    EXPECT_EQ(ck.info(q + ".qweight").dtype, "I32");
    EXPECT_EQ(ck.info(q + ".qweight").shape, (std::vector<int64_t>{384, 16}));
    EXPECT_EQ(ck.info(q + ".qzeros").shape, (std::vector<int64_t>{384 / g, 16}));
    EXPECT_EQ(ck.info(q + ".scales").dtype, "F16");
    EXPECT_EQ(ck.info(q + ".scales").shape, (std::vector<int64_t>{384 / g, 128}));
    EXPECT_EQ(ck.info("model.embed_tokens.weight").dtype, "F16");
    EXPECT_EQ(ck.info("model.norm.weight").dtype, "F16");
    EXPECT_FALSE(ck.has(q + ".weight"));

    // codes in the file == quantize(prequant weight) of the session
    {
        c10::InferenceMode guard;
        auto pre = s.prequant_model();
        const Linear* lp = exp::linear_by_name(*pre, q);
        QuantizedTensor qt = quantize(lp->weight, s.applied_config()->weight);
        EXPECT_TRUE(at::equal(awq_unpack_int4(ck.load(q + ".qweight")), qt.codes.t()));
        EXPECT_TRUE(at::equal(awq_unpack_int4(ck.load(q + ".qzeros")), qt.zeros.t().to(at::kInt)));
        EXPECT_TRUE(at::equal(ck.load(q + ".scales"), qt.scales.t().to(at::kHalf)));
    }

    // reload: packed Linears, identical to the AWQ reference state
    auto back = load(tmp / "awq");
    ASSERT_NE(back->blocks[0].q.packed, nullptr);
    EXPECT_FALSE(back->blocks[0].q.weight.defined());
    EXPECT_EQ(back->blocks[0].q.packed->format(), "awq-gemm");
    EXPECT_EQ(back->lm_head.packed, nullptr);
    CausalLM::State ref_state = awq_reference_state(s);
    auto ref = over_state(*model, ref_state);
    for (size_t i = 0; i < ref->blocks.size(); ++i)
        EXPECT_TRUE(at::equal(back->blocks[i].down.dense_weight(), ref->blocks[i].down.weight)) << i;
    const at::Tensor logits_back = logits(*back);
    EXPECT_TRUE(at::equal(logits_back, logits(*ref)));
    const double ppl_back = ppl(*back), ppl_ref = ppl(*ref);
    EXPECT_EQ(ppl_back, ppl_ref);
    // against the session's own fake-quant model (fp32 scales, fp32 embeddings): only the fp16
    // storage of AutoAWQ's format separates them (measured 1.2e-4 .. 5.5e-4 on this text)
    EXPECT_LE(std::abs(ppl_back - ppl_fake) / ppl_fake, 1e-3) << "fake " << ppl_fake << " reloaded " << ppl_back;
    std::cout << "[awq-gemm g" << g << "] ppl fake-quant " << ppl_fake << ", reloaded " << ppl_back << ", rel diff "
              << std::abs(ppl_back - ppl_fake) / ppl_fake << ", max |logit diff| " << max_diff(logits_back, logits_fake)
              << "\n";
    // the session's model was not changed by the export
    EXPECT_TRUE(at::equal(logits(*model), logits_fake));
}

INSTANTIATE_TEST_SUITE_P(Groups, AwqGemmTinyStories, ::testing::Values(32, 64, 128));

TEST(ExportFormats, FakeAndAwqReferenceOnTinyStories) {
    TempDir tmp;
    auto model = load(tinystories());
    QuantSession s(model, nullptr);
    s.apply(rtn(4, 128));
    const double ppl_fake = ppl(*model);
    export_checkpoint(s, opts(ExportFormat::Fake, tmp / "fake"));
    Checkpoint ck(tmp / "fake");
    EXPECT_EQ(ck.storage_dtype(), "F32");  // the source's dtype
    EXPECT_FALSE(ck.config().contains("quantization_config"));
    EXPECT_EQ(ck.config()["tie_word_embeddings"], true);
    EXPECT_FALSE(ck.has("lm_head.weight"));
    auto back = load(tmp / "fake");
    expect_same_params(*model, *back, "fake");
    EXPECT_EQ(ppl(*back), ppl_fake);

    // AWQ reference: fake export of what the awq-gemm export represents (re-applies once)
    ExportOptions o = opts(ExportFormat::Fake, tmp / "ref");
    o.awq_reference = true;
    ExportReport r = export_checkpoint(s, o);
    EXPECT_EQ(r.dtype, "float32");
    export_checkpoint(s, opts(ExportFormat::AwqGemm, tmp / "awq"));
    auto ref = load(tmp / "ref");
    auto awq = load(tmp / "awq");
    for (size_t i = 0; i < ref->blocks.size(); ++i) {
        EXPECT_TRUE(at::equal(ref->blocks[i].q.weight, awq->blocks[i].q.dense_weight()));
        EXPECT_TRUE(at::equal(ref->blocks[i].up.weight, awq->blocks[i].up.dense_weight()));
    }
    EXPECT_EQ(ppl(*ref), ppl(*awq));
}

TEST(ExportFormats, Int8OnTinyStoriesAndStories260K) {
    for (const std::string& dir : {tinystories(), stories260k()}) {
        TempDir tmp;
        auto model = load(dir);
        QuantSession s(model, nullptr);
        s.apply(rtn(8, -1, true));
        const double ppl_fake = ppl(*model);
        ExportReport r = export_checkpoint(s, opts(ExportFormat::Int8, tmp / "int8"));
        Checkpoint ck(tmp / "int8");
        EXPECT_EQ(ck.config()["quantization_config"]["quant_method"], "quantscope_w8a16");
        const std::string l = "model.layers.0.self_attn.q_proj";
        EXPECT_EQ(ck.info(l + ".weight").dtype, "I8");
        EXPECT_EQ(ck.info(l + ".weight_scale").dtype, "F32");
        EXPECT_EQ(ck.info(l + ".weight_scale").shape, (std::vector<int64_t>{ck.info(l + ".weight").shape[0]}));
        {  // scales = max|w| / 127 per output row of the prequant weight
            c10::InferenceMode guard;
            auto pre = s.prequant_model();
            at::Tensor w = exp::linear_by_name(*pre, l)->weight;
            at::Tensor expect = w.abs().amax(1).clamp_min(1e-5) / 127.0;
            EXPECT_TRUE(at::equal(ck.load(l + ".weight_scale"), expect));
        }
        auto back = load(tmp / "int8");
        ASSERT_NE(back->blocks[0].down.packed, nullptr);
        EXPECT_EQ(back->blocks[0].down.packed->format(), "int8");
        for (size_t i = 0; i < back->blocks.size(); ++i)
            EXPECT_TRUE(at::equal(back->blocks[i].down.dense_weight(), model->blocks[i].down.weight))
                << dir << " " << i;
        const double ppl_back = ppl(*back);
        EXPECT_EQ(ppl_back, ppl_fake) << dir;
        std::cout << "[int8] " << dir << ": ppl fake-quant " << ppl_fake << ", reloaded " << ppl_back << "\n";
    }
}

TEST(ExportFormats, AwqGemmRefusesStories260KNamingTheLayer) {
    TempDir tmp;
    auto model = load(stories260k());
    QuantSession s(model, nullptr);
    for (int64_t g : {32, 64}) {
        s.apply(rtn(4, g));
        QS_EXPECT_ERROR_CONTAINS(export_checkpoint(s, opts(ExportFormat::AwqGemm, tmp / "awq")),
                                 "'model.layers.0.mlp.gate_proj' has 172 output features, not a multiple of 8");
        EXPECT_FALSE(fs::exists(tmp / "awq"));
    }
    s.apply(rtn(4, 128));  // hidden 64 < 128: the first Linear already fails
    QS_EXPECT_ERROR_CONTAINS(
        export_checkpoint(s, opts(ExportFormat::AwqGemm, tmp / "awq")),
        "'model.layers.0.self_attn.q_proj' has 64 input features, not a multiple of the group size 128");
    EXPECT_FALSE(fs::exists(tmp / "awq"));
    // fake works for the same configuration
    export_checkpoint(s, opts(ExportFormat::Fake, tmp / "fake"));
    EXPECT_EQ(ppl(*load(tmp / "fake")), ppl(*model));
}

TEST(ExportFormats, TransformedRotatedLlamaLoadsAndKeepsTheFunction) {
    TempDir tmp;
    auto model = load(tinystories());
    const at::Tensor logits_orig = logits(*model);
    QuantSession s(model, nullptr);
    MethodConfig c = rtn(4, 64);
    c.methods = {"rotate", "rtn"};
    c.rotation = RotationKind::Hadamard;
    s.apply(c);
    ExportReport r = export_checkpoint(s, opts(ExportFormat::Transformed, tmp / "rot"));
    Checkpoint ck(tmp / "rot");
    EXPECT_EQ(ck.config()["tie_word_embeddings"], false);  // rotation unties lm_head
    EXPECT_TRUE(ck.has("lm_head.weight"));
    auto back = load(tmp / "rot");
    auto pre = s.prequant_model();
    expect_same_params(*pre, *back, "transformed");
    EXPECT_LE(max_diff(logits(*back), logits_orig), 1e-4);
    // fused norms have unit weight
    EXPECT_TRUE(at::equal(back->blocks[0].attn_norm.weight, at::ones_like(back->blocks[0].attn_norm.weight)));
    // the rotated + quantized model also exports as awq-gemm and reloads to the reference
    export_checkpoint(s, opts(ExportFormat::AwqGemm, tmp / "rot-awq"));
    auto awq = load(tmp / "rot-awq");
    auto ref = over_state(*model, awq_reference_state(s));
    EXPECT_EQ(ppl(*awq), ppl(*ref));
    // vs the fp32 fake-quant model: rotated embeddings and the untied lm_head are stored fp16
    // here, as AutoAWQ stores them (measured 1.3e-4)
    const double rel = std::abs(ppl(*awq) - ppl(*model)) / ppl(*model);
    EXPECT_LE(rel, 1e-3);
    std::cout << "[rotated awq-gemm g64] ppl fake-quant " << ppl(*model) << ", reloaded " << ppl(*awq) << ", rel diff "
              << rel << "\n";
}

TEST(ExportFormats, RandomOptAllFormats) {
    TempDir tmp;
    make_random_opt(tmp / "opt", 128, 256, 2, 4, 50272, 7);
    auto model = load(tmp / "opt");
    auto tok = tokenizer(tmp / "opt");
    QuantSession s(model, tok);
    for (int64_t g : {32, 64, 128}) {
        s.apply(rtn(4, g));
        const double ppl_fake = ppl(*model);
        const std::string out = tmp / ("awq" + std::to_string(g));
        export_checkpoint(s, opts(ExportFormat::AwqGemm, out));
        auto back = load(out);
        EXPECT_EQ(back->config.arch, Arch::OPT);
        ASSERT_NE(back->blocks[1].down.packed, nullptr);
        auto ref = over_state(*model, awq_reference_state(s));
        EXPECT_TRUE(at::equal(logits(*back), logits(*ref))) << g;
        const double ppl_back = ppl(*back);
        EXPECT_EQ(ppl_back, ppl(*ref)) << g;
        EXPECT_LE(std::abs(ppl_back - ppl_fake) / ppl_fake, 1e-3) << g;  // fp16 storage; measured <= 1.0e-4
        std::cout << "[random OPT awq-gemm g" << g << "] ppl fake-quant " << ppl_fake << ", reloaded " << ppl_back
                  << ", rel diff " << std::abs(ppl_back - ppl_fake) / ppl_fake << "\n";
        fs::remove_all(out);
    }
    // SmoothQuant W8 per-channel (activations off) -> int8 and transformed
    MethodConfig sq = with_calib(rtn(8, -1, true));
    sq.methods = {"smoothquant"};
    s.apply(sq);
    const double ppl_sq = ppl(*model);
    export_checkpoint(s, opts(ExportFormat::Int8, tmp / "int8"));
    EXPECT_EQ(ppl(*load(tmp / "int8")), ppl_sq);
    export_checkpoint(s, opts(ExportFormat::Transformed, tmp / "smooth"));
    auto smooth = load(tmp / "smooth");
    expect_same_params(*s.prequant_model(), *smooth, "smoothed OPT");
    export_checkpoint(s, opts(ExportFormat::Fake, tmp / "fake"));
    EXPECT_EQ(ppl(*load(tmp / "fake")), ppl_sq);
    // AWQ auto-scale -> awq-gemm: the codes of the scaled weights
    MethodConfig awq = with_calib(rtn(4, 64));
    awq.methods = {"awq"};
    s.apply(awq);
    const double ppl_awq = ppl(*model);
    export_checkpoint(s, opts(ExportFormat::AwqGemm, tmp / "awq-auto"));
    const double ppl_awq_back = ppl(*load(tmp / "awq-auto"));
    EXPECT_LE(std::abs(ppl_awq_back - ppl_awq) / ppl_awq, 1e-3);
    EXPECT_EQ(ppl_awq_back, ppl(*over_state(*model, awq_reference_state(s))));
}

TEST(ExportFormats, OptFixtureRoundTripAndRotatedOptRefused) {
    TempDir tmp;
    auto model = load(opt_preln());
    QuantSession s(model, nullptr);
    s.apply(rtn(4, 32));
    const double ppl_fake = ppl(*model);
    export_checkpoint(s, opts(ExportFormat::AwqGemm, tmp / "awq"));
    const double ppl_back = ppl(*load(tmp / "awq"));
    EXPECT_EQ(ppl_back, ppl(*over_state(*model, awq_reference_state(s))));
    EXPECT_LE(std::abs(ppl_back - ppl_fake) / ppl_fake, 1e-3);
    std::cout << "[opt-preln-random awq-gemm g32] ppl fake-quant " << ppl_fake << ", reloaded " << ppl_back << "\n";

    MethodConfig c = rtn(4, 32);
    c.methods = {"rotate", "rtn"};
    s.apply(c);
    for (ExportFormat f : {ExportFormat::Fake, ExportFormat::Transformed, ExportFormat::AwqGemm})
        QS_EXPECT_ERROR_CONTAINS(export_checkpoint(s, opts(f, tmp / "rot")), "cannot export a rotated OPT model");
    EXPECT_FALSE(fs::exists(tmp / "rot"));
}

// With --fp16-scales (the scales AutoAWQ's format stores, rounded before the codes are taken)
// the session's fake-quant model is exactly what the awq-gemm export holds: the reopened
// packed Linears equal its weights bit for bit, and the perplexity agrees within 1e-4 (only
// the fp16 storage of the non-quantized tensors, e.g. embeddings and norms, remains).
class AwqGemmFp16Scales : public ::testing::TestWithParam<int64_t> {};

TEST_P(AwqGemmFp16Scales, ReloadedPerplexityEqualsTheFakeQuantModel) {
    const int64_t g = GetParam();
    TempDir tmp;
    for (const std::string& dir : {tinystories(), test_data("models/opt-preln-random")}) {
        if (dir != tinystories() && g > 32) continue;  // the random OPT has 32 inputs
        auto model = load(dir);
        QuantSession s(model, nullptr);
        MethodConfig c = rtn(4, g);
        c.weight.fp16_scales = true;
        s.apply(c);
        const double ppl_fake = ppl(*model);
        const std::string out = tmp / ("awq" + std::to_string(g) + (dir == tinystories() ? "ts" : "opt"));
        export_checkpoint(s, opts(ExportFormat::AwqGemm, out));
        auto back = load(out);
        auto fake = model->decoder_linears();
        auto packed = back->decoder_linears();
        ASSERT_EQ(fake.size(), packed.size());
        for (size_t i = 0; i < fake.size(); ++i) {
            ASSERT_NE(packed[i]->packed, nullptr) << packed[i]->name;
            EXPECT_TRUE(at::equal(packed[i]->dense_weight().to(at::kFloat), fake[i]->weight.to(at::kFloat)))
                << dir << ": " << fake[i]->name;
        }
        const double ppl_back = ppl(*back), rel = std::abs(ppl_back - ppl_fake) / ppl_fake;
        EXPECT_LE(rel, 1e-4) << dir << " g" << g << ": fake " << ppl_fake << ", reloaded " << ppl_back;
        std::cout << "[awq-gemm g" << g << " fp16-scales] " << dir << ": ppl fake-quant " << ppl_fake << ", reloaded "
                  << ppl_back << ", rel diff " << rel << "\n";
    }
}

INSTANTIATE_TEST_SUITE_P(Groups, AwqGemmFp16Scales, ::testing::Values(32, 64, 128));
