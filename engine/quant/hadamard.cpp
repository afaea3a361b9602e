#include "quant/hadamard.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "models/generate.h"

namespace qs {

namespace {

// Four +-1 sequences of length 43 whose periodic autocorrelations sum to zero at every
// non-zero shift (sum of PAF = 172 at shift 0). They were found for this project by a
// simulated-annealing search (seed 2); the Goethals-Seidel array of their circulants is a
// Hadamard matrix of order 172 (checked by the tests and by gs172_rows below).
const char* const kGs43[4] = {
    "+++-++-+++--+--+-++-+-+++-+-+-++++-+----+++",
    "+--+-++++++---+----+--+---+++--+---+-++-+-+",
    "-++-+-------++-----+-----++-++++-++---+++--",
    "+-++--+-+++-+--++---+-+-+---++-+++++--++---",
};

bool is_prime(int64_t q) {
    if (q < 2) return false;
    for (int64_t d = 2; d * d <= q; ++d)
        if (q % d == 0) return false;
    return true;
}

// Legendre symbol table chi[a] for a in [0, q): 0, +1 (quadratic residue) or -1.
std::vector<int> legendre_table(int64_t q) {
    std::vector<int> chi(static_cast<size_t>(q), -1);
    chi[0] = 0;
    for (int64_t x = 1; x < q; ++x) chi[static_cast<size_t>((x * x) % q)] = 1;
    return chi;
}

enum class BaseKind { None, One, PaleyI, PaleyII, GS172 };

struct Base {
    BaseKind kind = BaseKind::None;
    int64_t q = 0;  // Paley prime
};

Base base_for(int64_t m) {
    if (m == 1) return {BaseKind::One, 0};
    if (m == 172) return {BaseKind::GS172, 43};
    if (m % 4 != 0) return {};
    if (is_prime(m - 1) && (m - 1) % 4 == 3) return {BaseKind::PaleyI, m - 1};
    if (m % 2 == 0 && is_prime(m / 2 - 1) && (m / 2 - 1) % 4 == 1) return {BaseKind::PaleyII, m / 2 - 1};
    return {};
}

struct Plan {
    Base base;
    int64_t m = 0, p2 = 0;  // n = m * p2, p2 a power of two
};

Plan plan_for(int64_t n) {
    Plan best;
    if (n <= 0) return best;
    int64_t p2 = 1;
    while (n % (p2 * 2) == 0) p2 *= 2;
    for (; p2 >= 1; p2 /= 2) {  // largest power of two first = smallest base order
        Base b = base_for(n / p2);
        if (b.kind != BaseKind::None) return {b, n / p2, p2};
    }
    return best;
}

// Base matrices as row-major int8 (+-1) of order m.
std::vector<int8_t> paley1(int64_t q) {  // order q+1, q prime = 3 mod 4: H = I + [[0, 1^T], [-1, Q]]
    const int64_t m = q + 1;
    auto chi = legendre_table(q);
    std::vector<int8_t> h(static_cast<size_t>(m * m));
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < m; ++j) {
            int s;
            if (i == 0 && j == 0)
                s = 0;
            else if (i == 0)
                s = 1;
            else if (j == 0)
                s = -1;
            else
                s = chi[static_cast<size_t>(((j - i) % q + q) % q)];
            h[static_cast<size_t>(i * m + j)] = static_cast<int8_t>(s + (i == j ? 1 : 0));
        }
    return h;
}

std::vector<int8_t> paley2(int64_t q) {  // order 2(q+1), q prime = 1 mod 4
    const int64_t c = q + 1, m = 2 * c;
    auto chi = legendre_table(q);
    auto conf = [&](int64_t i, int64_t j) -> int {  // symmetric conference matrix [[0, 1^T], [1, Q]]
        if (i == 0 && j == 0) return 0;
        if (i == 0 || j == 0) return 1;
        return chi[static_cast<size_t>(((j - i) % q + q) % q)];
    };
    // H = C (x) [[1, 1], [1, -1]] + I (x) [[1, -1], [-1, -1]]
    const int a[2][2] = {{1, 1}, {1, -1}}, b[2][2] = {{1, -1}, {-1, -1}};
    std::vector<int8_t> h(static_cast<size_t>(m * m));
    for (int64_t i = 0; i < c; ++i)
        for (int64_t j = 0; j < c; ++j)
            for (int r = 0; r < 2; ++r)
                for (int s = 0; s < 2; ++s)
                    h[static_cast<size_t>((2 * i + r) * m + 2 * j + s)] =
                        static_cast<int8_t>(conf(i, j) * a[r][s] + (i == j ? b[r][s] : 0));
    return h;
}

std::vector<int8_t> gs172() {  // Goethals-Seidel array of circulants A, B, C, D (order 43)
    const int64_t n = 43, m = 4 * n;
    auto seq = [&](int k, int64_t i) -> int { return kGs43[k][((i % n) + n) % n] == '+' ? 1 : -1; };
    // circulant X_{ij} = x_{j-i}; (X R)_{ij} = x_{n-1-j-i}; (X^T R)_{ij} = x_{i+j-n+1}; R = back-diagonal
    auto xr = [&](int k, int64_t i, int64_t j) { return seq(k, n - 1 - j - i); };
    auto xtr = [&](int k, int64_t i, int64_t j) { return seq(k, i + j - (n - 1)); };
    auto x = [&](int k, int64_t i, int64_t j) { return seq(k, j - i); };
    std::vector<int8_t> h(static_cast<size_t>(m * m));
    for (int64_t bi = 0; bi < 4; ++bi)
        for (int64_t bj = 0; bj < 4; ++bj)
            for (int64_t i = 0; i < n; ++i)
                for (int64_t j = 0; j < n; ++j) {
                    int v = 0;
                    // [ A    BR    CR    DR  ]
                    // [-BR   A     D'R  -C'R ]
                    // [-CR  -D'R   A     B'R ]
                    // [-DR   C'R  -B'R   A   ]
                    switch (bi * 4 + bj) {
                        case 0:
                            v = x(0, i, j);
                            break;
                        case 1:
                            v = xr(1, i, j);
                            break;
                        case 2:
                            v = xr(2, i, j);
                            break;
                        case 3:
                            v = xr(3, i, j);
                            break;
                        case 4:
                            v = -xr(1, i, j);
                            break;
                        case 5:
                            v = x(0, i, j);
                            break;
                        case 6:
                            v = xtr(3, i, j);
                            break;
                        case 7:
                            v = -xtr(2, i, j);
                            break;
                        case 8:
                            v = -xr(2, i, j);
                            break;
                        case 9:
                            v = -xtr(3, i, j);
                            break;
                        case 10:
                            v = x(0, i, j);
                            break;
                        case 11:
                            v = xtr(1, i, j);
                            break;
                        case 12:
                            v = -xr(3, i, j);
                            break;
                        case 13:
                            v = xtr(2, i, j);
                            break;
                        case 14:
                            v = -xtr(1, i, j);
                            break;
                        case 15:
                            v = x(0, i, j);
                            break;
                    }
                    h[static_cast<size_t>((bi * n + i) * m + bj * n + j)] = static_cast<int8_t>(v);
                }
    return h;
}

std::vector<int8_t> base_matrix(const Plan& p) {
    switch (p.base.kind) {
        case BaseKind::One:
            return {1};
        case BaseKind::PaleyI:
            return paley1(p.base.q);
        case BaseKind::PaleyII:
            return paley2(p.base.q);
        case BaseKind::GS172:
            return gs172();
        case BaseKind::None:
            break;
    }
    return {};
}

int popcount64(uint64_t x) {
    int c = 0;
    while (x) {
        x &= x - 1;
        ++c;
    }
    return c;
}

// Standard normal variates by Box-Muller on qs::Rng (no platform-dependent distributions).
void fill_normal(double* out, int64_t count, Rng& rng) {
    const double two_pi = 6.283185307179586476925286766559;
    for (int64_t i = 0; i < count; i += 2) {
        const double u1 = 1.0 - rng.uniform();  // (0, 1]
        const double u2 = rng.uniform();
        const double r = std::sqrt(-2.0 * std::log(u1));
        out[i] = r * std::cos(two_pi * u2);
        if (i + 1 < count) out[i + 1] = r * std::sin(two_pi * u2);
    }
}

void check_order(int64_t n, const char* what) {
    if (n <= 0) throw Error(std::string(what) + ": order must be positive, got " + std::to_string(n));
}

}  // namespace

at::Tensor random_orthogonal(int64_t n, uint64_t seed) {
    c10::InferenceMode guard;
    check_order(n, "random_orthogonal");
    at::Tensor a = at::empty({n, n}, at::TensorOptions().dtype(at::kDouble));
    Rng rng(seed);
    fill_normal(a.data_ptr<double>(), n * n, rng);
    auto qr = at::linalg_qr(a, "reduced");
    at::Tensor q = std::get<0>(qr), r = std::get<1>(qr);
    at::Tensor d = r.diagonal();
    at::Tensor sign = at::where(d < 0, at::full_like(d, -1.0), at::full_like(d, 1.0));
    return (q * sign.unsqueeze(0)).contiguous();
}

bool hadamard_available(int64_t n) { return plan_for(n).base.kind != BaseKind::None; }

std::string hadamard_shape(int64_t n) {
    Plan p = plan_for(n);
    if (p.base.kind == BaseKind::None) return "";
    if (p.base.kind == BaseKind::One) return std::to_string(n);
    return std::to_string(p.m) + "x" + std::to_string(p.p2);
}

std::string hadamard_construction(int64_t n) {
    Plan p = plan_for(n);
    std::string base;
    switch (p.base.kind) {
        case BaseKind::None:
            return "";
        case BaseKind::One:
            return "Sylvester " + std::to_string(n);
        case BaseKind::PaleyI:
            base = "Paley I (q=" + std::to_string(p.base.q) + ") " + std::to_string(p.m);
            break;
        case BaseKind::PaleyII:
            base = "Paley II (q=" + std::to_string(p.base.q) + ") " + std::to_string(p.m);
            break;
        case BaseKind::GS172:
            base = "Goethals-Seidel (circulants of order 43) 172";
            break;
    }
    return p.p2 == 1 ? base : base + " x Sylvester " + std::to_string(p.p2);
}

at::Tensor hadamard_matrix(int64_t n) {
    c10::InferenceMode guard;
    check_order(n, "hadamard_matrix");
    Plan p = plan_for(n);
    if (p.base.kind == BaseKind::None)
        throw Error(
            "no Hadamard construction for order " + std::to_string(n) +
            " (supported: m * 2^k with m = 1, 172, p+1 for a prime p = 3 mod 4, or 2(p+1) for a prime p = 1 mod 4)");
    const std::vector<int8_t> hm = base_matrix(p);
    at::Tensor h = at::empty({n, n}, at::TensorOptions().dtype(at::kDouble));
    double* out = h.data_ptr<double>();
    // (H_m (x) H_p)[a*p + b, c*p + d] = H_m[a, c] * (-1)^popcount(b & d)
    for (int64_t a = 0; a < p.m; ++a)
        for (int64_t b = 0; b < p.p2; ++b) {
            double* row = out + (a * p.p2 + b) * n;
            for (int64_t c = 0; c < p.m; ++c) {
                const double s = hm[static_cast<size_t>(a * p.m + c)];
                for (int64_t d = 0; d < p.p2; ++d)
                    row[c * p.p2 + d] = (popcount64(static_cast<uint64_t>(b & d)) & 1) ? -s : s;
            }
        }
    return h;
}

at::Tensor hadamard_signs(int64_t n, uint64_t seed) {
    c10::InferenceMode guard;
    check_order(n, "hadamard_signs");
    at::Tensor s = at::empty({n}, at::TensorOptions().dtype(at::kDouble));
    Rng rng(seed);
    double* sp = s.data_ptr<double>();
    for (int64_t i = 0; i < n; ++i) sp[i] = (rng.next() >> 63) ? -1.0 : 1.0;
    return s;
}

at::Tensor randomized_hadamard(int64_t n, const at::Tensor& signs) {
    c10::InferenceMode guard;
    at::Tensor h = hadamard_matrix(n);
    if (signs.dim() != 1 || signs.size(0) != n)
        throw Error("randomized_hadamard: expected a vector of " + std::to_string(n) + " signs, got " +
                    std::to_string(signs.numel()) + " values in " + std::to_string(signs.dim()) + " dimension(s)");
    // diag(s) H: row i scaled by s_i
    return h * (signs.to(at::kDouble).cpu() / std::sqrt(static_cast<double>(n))).unsqueeze(1);
}

at::Tensor randomized_hadamard(int64_t n, uint64_t seed) {
    check_order(n, "randomized_hadamard");
    if (!hadamard_available(n)) return hadamard_matrix(n);  // throws the message naming the order
    return randomized_hadamard(n, hadamard_signs(n, seed));
}

at::Tensor normalized_hadamard(int64_t n) {
    c10::InferenceMode guard;
    return hadamard_matrix(n) / std::sqrt(static_cast<double>(n));
}

}  // namespace qs
