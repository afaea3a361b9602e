// Rotation kinds (QuaRot): random orthogonal or randomized Hadamard.
#pragma once
#include <string>

namespace qs {
enum class RotationKind { Random, Hadamard };
RotationKind parse_rotation_kind(const std::string& s);  // "random" | "hadamard"
std::string rotation_kind_name(RotationKind k);
}  // namespace qs
