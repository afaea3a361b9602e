// causal_attention (fused SDPA on libtorch >= 2.1, matmul + softmax on 1.13) against a
// hand-written float64 reference: every cache / window / grouped-query case the models use.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "models/attention.h"

using namespace qs;

namespace {

// out[b, h, t] = sum_j softmax_j(scale * q[b,h,t] . k[b,h/G,j]) v[b,h/G,j] over the keys
// j <= past + t (and j > past + t - window when window > 0), computed with plain loops in double.
at::Tensor reference(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in, double scale,
                     int64_t window) {
    at::Tensor q = q_in.to(at::kDouble).contiguous(), k = k_in.to(at::kDouble).contiguous(),
               v = v_in.to(at::kDouble).contiguous();
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3), Hkv = k.size(1), S = k.size(2);
    const int64_t G = H / Hkv, past = S - T;
    at::Tensor out = at::zeros({B, H, T, D}, at::kDouble);
    auto qa = q.accessor<double, 4>(), ka = k.accessor<double, 4>(), va = v.accessor<double, 4>();
    auto oa = out.accessor<double, 4>();
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t t = 0; t < T; ++t) {
                const int64_t pos = past + t, kh = h / G;
                std::vector<double> s;
                std::vector<int64_t> js;
                double mx = -INFINITY;
                for (int64_t j = 0; j <= pos; ++j) {
                    if (window > 0 && j <= pos - window) continue;
                    double dot = 0;
                    for (int64_t d = 0; d < D; ++d) dot += qa[b][h][t][d] * ka[b][kh][j][d];
                    s.push_back(dot * scale);
                    js.push_back(j);
                    mx = std::max(mx, dot * scale);
                }
                double z = 0;
                for (double& x : s) z += (x = std::exp(x - mx));
                for (size_t i = 0; i < s.size(); ++i)
                    for (int64_t d = 0; d < D; ++d) oa[b][h][t][d] += s[i] / z * va[b][kh][js[i]][d];
            }
    return out;
}

struct Case {
    int64_t B, H, Hkv, T, past, D, window;
};

void check(const Case& c, at::ScalarType dt, double tol) {
    at::manual_seed(7);
    const int64_t S = c.past + c.T;
    // q/k/v as the models pass them: [B, T, H, D] projections viewed as [B, H, T, D].
    at::Tensor q = at::randn({c.B, c.T, c.H, c.D}).to(dt).transpose(1, 2);
    at::Tensor k = at::randn({c.B, S, c.Hkv, c.D}).to(dt).transpose(1, 2);
    at::Tensor v = at::randn({c.B, S, c.Hkv, c.D}).to(dt).transpose(1, 2);
    const double scale = 1.0 / std::sqrt(double(c.D));
    at::Tensor got = causal_attention(q, k, v, scale, c.window);
    ASSERT_EQ(got.sizes(), (std::vector<int64_t>{c.B, c.H, c.T, c.D}));
    EXPECT_EQ(got.scalar_type(), dt);
    const double diff = (got.to(at::kDouble) - reference(q, k, v, scale, c.window)).abs().max().item<double>();
    EXPECT_LE(diff, tol) << "B=" << c.B << " H=" << c.H << " Hkv=" << c.Hkv << " T=" << c.T << " past=" << c.past
                         << " window=" << c.window << " dtype=" << at::toString(dt);
}

const std::vector<Case> kCases = {
    {2, 4, 4, 9, 0, 8, 0},   // prefill, multi-head
    {1, 6, 2, 7, 0, 8, 0},   // prefill, grouped-query (3 query heads per KV head)
    {1, 4, 2, 3, 5, 8, 0},   // several new tokens after a cache
    {2, 4, 1, 1, 9, 8, 0},   // one-token decode step
    {1, 4, 2, 10, 0, 8, 4},  // sliding window cuts the prefill
    {1, 4, 4, 3, 6, 8, 4},   // sliding window after a cache
    {1, 4, 2, 1, 9, 8, 3},   // sliding window, decode
    {1, 2, 2, 5, 0, 8, 16},  // window longer than the sequence: plain causal
};

}  // namespace

TEST(CausalAttention, Fp32MatchesFloat64Reference) {
    for (const Case& c : kCases) check(c, at::kFloat, 1e-5);
}

TEST(CausalAttention, Bf16MatchesFloat64Reference) {
    // bf16 inputs and output (8 bits of mantissa): values of |x| ~ 1 are within 2^-7.
    for (const Case& c : kCases) check(c, at::kBFloat16, 2e-2);
}

TEST(CausalAttention, LongPrefillUsesTheSameMaskAsShortOnes) {
    // 32 heads x 400 x 400 scores exceed the 1.13 path's 4 Mi-float budget, so it processes the
    // query rows in chunks (each against the keys it can see); the fused path takes one call.
    check({1, 32, 32, 400, 0, 16, 0}, at::kFloat, 1e-5);
}
