// Small string helpers shared across the engine and the apps (C++17 has no ends_with).
#pragma once
#include <string_view>

namespace qs {

// Whether s ends with suffix (std::string::ends_with from C++20).
inline bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace qs
