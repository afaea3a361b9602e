// Rotation kinds (QuaRot): random orthogonal, randomized Hadamard diag(s) H / sqrt(n) (as
// QuaRot builds it), or the plain Hadamard H / sqrt(n) (no seed).
#pragma once
#include <string>

namespace qs {
enum class RotationKind { Random, Hadamard, PlainHadamard };
RotationKind parse_rotation_kind(const std::string& s);  // "random" | "hadamard" | "hadamard-plain"
std::string rotation_kind_name(RotationKind k);
}  // namespace qs
