// The Hadamard orders a SmolLM2-135M rotation needs: hidden 576 (the residual stream QuantScope
// rotates) and FFN 1536 (QuaRot's online down_proj rotation; QuantScope does not rotate there,
// but the matrix exists). 576 = 36 x 16: Paley II with q = 17 (2(q+1) = 36, 17 = 1 mod 4)
// Kronecker Sylvester 16. 1536 = 12 x 128: Paley I with q = 11 (q+1 = 12, 11 = 3 mod 4)
// Kronecker Sylvester 128.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "engine/test_util.h"
#include "quant/hadamard.h"

using namespace qs;

TEST(Hadamard, SmolLM2Orders576And1536) {
    c10::InferenceMode guard;
    EXPECT_EQ(hadamard_construction(576), "Paley II (q=17) 36 x Sylvester 16");
    EXPECT_EQ(hadamard_shape(576), "36x16");
    EXPECT_EQ(hadamard_construction(1536), "Paley I (q=11) 12 x Sylvester 128");
    EXPECT_EQ(hadamard_shape(1536), "12x128");
    for (int64_t n : {576, 1536}) {
        const at::Tensor h = hadamard_matrix(n);
        EXPECT_TRUE(at::equal(h.abs(), at::ones_like(h))) << n;
        EXPECT_TRUE(at::equal(at::matmul(h, h.t()), at::eye(n, h.options()) * double(n))) << n;  // exact in float64
        const at::Tensor r = randomized_hadamard(n, 0);
        EXPECT_LT((at::matmul(r, r.t()) - at::eye(n, r.options())).abs().max().item<double>(), 1e-12) << n;
    }
}
