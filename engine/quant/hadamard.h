// Orthogonal matrices for rotation-based quantization (QuaRot): seeded random orthogonal
// matrices and (randomized) Hadamard matrices. Everything here is float64 on the CPU and
// uses qs::Rng, so a seed gives the same matrix on every platform.
//
// Hadamard orders supported: n = m * 2^k with a base order m that has a construction:
//   m = 1                          Sylvester (H_{2^k} = H_2 (x) ... (x) H_2)
//   m = q + 1,   q prime, q%4 == 3 Paley I      (12, 20, 24, 32, 44, 48, 60, 68, 72, 80, 84, ...)
//   m = 2(q+1),  q prime, q%4 == 1 Paley II     (12, 28, 36, 60, 76, 108, 124, 140, 148, ...)
//   m = 172                        Goethals-Seidel array of four circulants of order 43
//                                  (11008 = 172 * 64, the LLaMA-2-7B FFN width)
// and H_n = H_m (x) H_{2^k}. The smallest base order m is used.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace qs {

// Q from the QR decomposition of an n x n standard-normal matrix (Box-Muller on qs::Rng),
// with the column signs fixed so that diag(R) > 0 (Q *= sign(diag(R))). float64, CPU.
at::Tensor random_orthogonal(int64_t n, uint64_t seed);

bool hadamard_available(int64_t n);
// The construction used for order n, e.g. "Sylvester 128", "Paley I (q=11) 12 x Sylvester 64";
// "" when none.
std::string hadamard_construction(int64_t n);
// "12x64" (base order x power of two) or "128" (pure Sylvester); "" when none.
std::string hadamard_shape(int64_t n);

// The +-1 Hadamard matrix of order n (H H^T = n I), float64, CPU. Throws qs::Error if
// !hadamard_available(n).
at::Tensor hadamard_matrix(int64_t n);

// The seeded random +-1 vector of randomized_hadamard (float64 [n], CPU): bit 63 of each
// qs::Rng draw, 1 -> -1.
at::Tensor hadamard_signs(int64_t n, uint64_t seed);

// QuaRot's randomized Hadamard (random_hadamard_matrix = matmul_hadU(diag(s))):
// R = diag(s) H / sqrt(n), the random signs applied *before* the Hadamard (x' = x R flips the
// signs of x's channels, then mixes them), s = hadamard_signs(n, seed). Orthogonal, entries
// +-1/sqrt(n). Equal to QuaRot's matrix for the same s where QuaRot's base matrix is ours
// (orders 2^k and 12 * 2^k, checked against a fixture made from QuaRot's code); for other
// base orders QuaRot hard-codes a different Hadamard matrix of the same order.
// (The previous H diag(s) only flipped the signs of the rotated channels, which symmetric
// quantization does not see: every seed gave the same perplexity.)
// float64, CPU. Throws qs::Error if !hadamard_available(n).
at::Tensor randomized_hadamard(int64_t n, uint64_t seed);
// The same with given signs (float64 [n] of +-1).
at::Tensor randomized_hadamard(int64_t n, const at::Tensor& signs);

// The plain (deterministic) normalized Hadamard H / sqrt(n). float64, CPU.
at::Tensor normalized_hadamard(int64_t n);

}  // namespace qs
