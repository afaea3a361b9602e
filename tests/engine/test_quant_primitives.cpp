// Linear-quantization primitives on fixed tensors whose results are derived by hand
// (course-notes seed formulas), bit packing, sizes, SmoothQuant scales, and exact undo.
#include <ATen/ATen.h>

#include <c10/core/InferenceMode.h>

#include <cmath>

#include "engine/test_util.h"
#include "models/causal_lm.h"
#include "quant/awq.h"
#include "quant/linear_quant.h"
#include "quant/smoothquant.h"

using namespace qs;

static at::Tensor T(std::vector<float> v, std::vector<int64_t> shape) { return at::tensor(v, at::kFloat).view(shape); }

TEST(QuantPrimitives, AsymmetricPerChannelByHand) {
    // Row 0: min 0, max 3, 2 bits -> s = 3/3 = 1, z = 0, codes = w.
    // Row 1: [-1, 0.5, 2]: s = (2-(-1))/3 = 1, z = -round(-1/1) = 1,
    //   codes = clamp(round(w/s) + z): round(-1)+1 = 0, round(0.5) = 0 (half to even) + 1 = 1, 2+1 = 3
    //   dequantized = (q - z) * s = [-1, 0, 2]; error |0.5 - 0| = 0.5 at [1,1].
    QuantSpec s{2, Granularity::PerChannel, 0, false};
    auto q = quantize(T({0, 1, 2, 3, -1, 0.5f, 2, 2}, {2, 4}), s);
    EXPECT_TRUE(at::equal(q.codes, at::tensor({0, 1, 2, 3, 0, 1, 3, 3}, at::kInt).view({2, 4})));
    EXPECT_TRUE(at::allclose(q.scales, T({1, 1}, {2, 1})));
    EXPECT_TRUE(at::allclose(q.zeros, T({0, 1}, {2, 1})));
    EXPECT_TRUE(at::allclose(dequantize(q), T({0, 1, 2, 3, -1, 0, 2, 2}, {2, 4})));
    ErrorStats e = error_stats(T({0, 1, 2, 3, -1, 0.5f, 2, 2}, {2, 4}), dequantize(q));
    EXPECT_DOUBLE_EQ(e.max_abs, 0.5);
    EXPECT_DOUBLE_EQ(e.mse, 0.25 / 8);
    // SQNR = 10 log10(sum w^2 / sum err^2): sum w^2 = 0+1+4+9 + 1+0.25+4+4 = 23.25, sum err^2 = 0.25
    EXPECT_NEAR(e.sqnr_db, 10 * std::log10(23.25 / 0.25), 1e-9);
}

TEST(QuantPrimitives, SymmetricAbsmaxByHand) {
    // 3 bits: q in [-4, 3], s = max|w| / 3. w = [-6, 1.5, 3, 0.9]: s = 2,
    // w/s = [-3, 0.75, 1.5, 0.45] -> round -> [-3, 1, 2, 0] -> deq [-6, 2, 4, 0].
    QuantSpec s{3, Granularity::PerChannel, 0, true};
    auto q = quantize(T({-6, 1.5f, 3, 0.9f}, {1, 4}), s);
    EXPECT_TRUE(at::equal(q.codes, at::tensor({-3, 1, 2, 0}, at::kInt).view({1, 4})));
    EXPECT_FLOAT_EQ(q.scales.item<float>(), 2.0f);
    EXPECT_TRUE(at::allclose(dequantize(q), T({-6, 2, 4, 0}, {1, 4})));
}

TEST(QuantPrimitives, PerGroupAndRaggedLastGroup) {
    // 1 x 5 row, group 2: groups [0,1], [2,3], [4] (short last group), 2-bit asym.
    // g0 = [0, 3]: s=1, z=0 -> [0,3]; g1 = [10, 13]: s=1, z=-round(10)=-10 -> clamp 0 ->
    //   q = clamp(round(w)+0, 0, 3) = [3, 3] -> deq [3, 3]; g2 = [5]: max=min -> s = 1e-5/3,
    //   z = clamp(-round(5/s), 0, 3) = 0, q = clamp(round(5/s), 0, 3) = 3 -> deq 1e-5.
    QuantSpec s{2, Granularity::PerGroup, 2, false};
    auto q = quantize(T({0, 3, 10, 13, 5}, {1, 5}), s);
    EXPECT_EQ(q.scales.sizes(), (at::IntArrayRef{1, 3}));
    EXPECT_TRUE(at::equal(q.codes, at::tensor({0, 3, 3, 3, 3}, at::kInt).view({1, 5})));
    at::Tensor d = dequantize(q);
    EXPECT_NEAR(d[0][0].item<float>(), 0, 1e-6);
    EXPECT_NEAR(d[0][1].item<float>(), 3, 1e-6);
    EXPECT_NEAR(d[0][2].item<float>(), 3, 1e-6);
    EXPECT_NEAR(d[0][4].item<float>(), 1e-5, 1e-9);
}

TEST(QuantPrimitives, PerTensorUsesOneScale) {
    QuantSpec s{8, Granularity::PerTensor, 0, true};
    auto q = quantize(T({-127, 1, 2, 63.5f}, {2, 2}), s);
    EXPECT_EQ(q.scales.numel(), 1);
    EXPECT_FLOAT_EQ(q.scales.item<float>(), 1.0f);                                         // 127 / 127
    EXPECT_TRUE(at::equal(q.codes, at::tensor({-127, 1, 2, 64}, at::kInt).view({2, 2})));  // 63.5 -> 64 (half to even)
    EXPECT_TRUE(at::allclose(dequantize(q), T({-127, 1, 2, 64}, {2, 2})));
    // 4-bit per-tensor on a wider matrix: q = round(w / (max|w| / 7)), one scale for all
    QuantSpec s4{4, Granularity::PerTensor, 0, true};
    at::Tensor w = T({-7, 0.4f, 3.6f, 1, 2, 14, -0.9f, 5}, {2, 4});  // s = 14 / 7 = 2
    EXPECT_TRUE(at::allclose(pseudo_quantize(w, s4), T({-8, 0, 4, 0, 2, 14, 0, 4}, {2, 4})));
}

TEST(QuantPrimitives, PseudoQuantizeMatchesQuantizeDequantizeAndKeepsDtype) {
    at::Tensor w = at::randn({16, 64}).to(at::kBFloat16);
    QuantSpec s{4, Granularity::PerGroup, 32, false};
    at::Tensor p = pseudo_quantize(w, s);
    EXPECT_EQ(p.scalar_type(), at::kBFloat16);
    EXPECT_TRUE(at::equal(p, dequantize(quantize(w, s)).to(at::kBFloat16)));
}

TEST(QuantPrimitives, BadSpecsAreRejected) {
    QS_EXPECT_ERROR_CONTAINS(quantize(at::zeros({2, 2}), QuantSpec{1, Granularity::PerChannel, 0, false}), "2..8");
    QS_EXPECT_ERROR_CONTAINS(parse_granularity("per-row"), "unknown weight quantization granularity");
}

TEST(QuantPacking, RoundTripsAndBitLayout) {
    // 3-bit codes 5, 3, 7: bits 101 | 011<<3 | 111<<6 = 0b1_1101_1101 -> bytes 0xDD, 0x01
    at::Tensor p = pack_codes(at::tensor({5, 3, 7}, at::kInt), 3);
    ASSERT_EQ(p.numel(), 2);
    EXPECT_EQ(p[0].item<uint8_t>(), 0xDD);
    EXPECT_EQ(p[1].item<uint8_t>(), 0x01);
    for (int bits : {2, 3, 4, 8}) {
        at::Tensor codes = at::randint(0, 1 << bits, {1001}, at::kInt);
        at::Tensor packed = pack_codes(codes, bits);
        EXPECT_EQ(packed.numel(), (1001 * bits + 7) / 8);
        EXPECT_TRUE(at::equal(unpack_codes(packed, bits, 1001), codes)) << bits;
    }
    QS_EXPECT_ERROR_CONTAINS(pack_codes(at::tensor({4}, at::kInt), 2), "does not fit in 2 bits");
}

TEST(QuantSizes, SeedFormulaAndPackedBytes) {
    // seed: params * (bits + (16+4)/group) bits
    EXPECT_DOUBLE_EQ(seed_size_bits(1000, 3, 128), 1000 * (3 + 20.0 / 128));
    EXPECT_DOUBLE_EQ(seed_size_bits(1000, 8, -1), 8000);
    // 4 x 256 at w4 g128 asym: codes 4*256*4/8 = 512 B, 8 groups * 2 B scales = 16 B, zeros 8*4/8 = 4 B
    EXPECT_EQ(packed_size_bytes(4, 256, QuantSpec{4, Granularity::PerGroup, 128, false}), 512 + 16 + 4);
}

TEST(SmoothQuant, ScalesByHand) {
    // act max [4, 1], weights max per input column over both Linears: [2, 8];
    // alpha 0.5: s = sqrt(act) / sqrt(w) = [2/sqrt(2), 1/sqrt(8)]
    at::Tensor act = T({4, 1}, {2});
    at::Tensor w1 = T({1, -8, 2, 0}, {2, 2}), w2 = T({-0.5f, 3}, {1, 2});
    at::Tensor s = smooth_scales(act, {w1, w2}, 0.5);
    EXPECT_NEAR(s[0].item<float>(), 2 / std::sqrt(2.0), 1e-6);
    EXPECT_NEAR(s[1].item<float>(), 1 / std::sqrt(8.0), 1e-6);
    // alpha 1: s = act max; alpha 0: s = 1 / weight max
    EXPECT_TRUE(at::allclose(smooth_scales(act, {w1, w2}, 1.0), act));
    EXPECT_TRUE(at::allclose(smooth_scales(act, {w1, w2}, 0.0), T({0.5f, 0.125f}, {2})));
}

TEST(SmoothQuant, ActivationFakeQuantByHand) {
    // per token, 8 bits: s = max|x| / 127. Row [127, 0.4, -63.6] -> s = 1 -> [127, 0, -64]
    at::Tensor x = T({127, 0.4f, -63.6f, 254, 1, 3}, {2, 3});
    at::Tensor y = fake_quant_activation(x, 8, true);
    EXPECT_TRUE(at::allclose(y[0], T({127, 0, -64}, {3})));
    EXPECT_TRUE(at::allclose(y[1], T({254, 0, 4}, {3})));  // s = 2: 1/2 = 0.5 -> 0 (half to even), 3/2 = 1.5 -> 2
}

TEST(AwqSalient, KeepAndScaleOnAFixedWeight) {
    c10::InferenceMode guard;  // engine results are inference tensors; the test edits copies in place
    // importance picks column 2 (fraction 0.34 of 3 columns -> floor(1.02) = 1 channel)
    at::Tensor imp = T({0.1f, 0.2f, 5.0f}, {3});
    at::Tensor idx = salient_channels(imp, 0.34);
    ASSERT_EQ(idx.numel(), 1);
    EXPECT_EQ(idx[0].item<int64_t>(), 2);
    at::Tensor w = T({0.1f, 0.7f, 0.33f, -0.2f, 0.05f, 0.9f}, {2, 3});
    QuantSpec s{2, Granularity::PerChannel, 0, false};
    at::Tensor keep = awq_keep_weight(w, idx, s);
    EXPECT_TRUE(at::equal(keep.select(1, 2), w.select(1, 2)));  // salient kept
    EXPECT_TRUE(at::equal(keep.narrow(1, 0, 2), pseudo_quantize(w, s).narrow(1, 0, 2)));
    // scale by 1 equals plain RTN
    EXPECT_TRUE(at::equal(awq_scale_weight(w, idx, 1.0, s), pseudo_quantize(w, s)));
    // scale by 2: quantize w with column 2 doubled, then halve column 2
    at::Tensor w2 = w.clone();
    w2.select(1, 2).mul_(2);
    at::Tensor expect = pseudo_quantize(w2, s);
    expect.select(1, 2).div_(2);
    EXPECT_TRUE(at::allclose(awq_scale_weight(w, idx, 2.0, s), expect));
}

TEST(ModelState, ComposingAndUndoingRestoresOriginalLogitsExactly) {
    auto m = load_causal_lm(source_path("resources/models/TinyStories-656K"));
    at::Tensor ids = at::tensor({1, 80, 147, 201, 282, 57}, at::kLong).unsqueeze(0);
    at::Tensor before = m->forward(ids);
    auto state = m->save_state();
    for (Linear* l : m->decoder_linears())
        l->weight = pseudo_quantize(l->weight, QuantSpec{3, Granularity::PerGroup, 32, false});
    m->blocks[0].attn_norm.weight = m->blocks[0].attn_norm.weight * 2;
    install_activation_quant(*m, ActQuant{8, true, true});
    m->untie();
    m->lm_head.weight = m->lm_head.weight * 0.5;
    EXPECT_FALSE(at::equal(m->forward(ids), before));
    m->restore_state(state);
    EXPECT_TRUE(m->tied());
    EXPECT_TRUE(at::equal(m->forward(ids), before));
}
