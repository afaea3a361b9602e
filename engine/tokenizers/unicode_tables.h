// Generated Unicode data tables, defined in unicode_categories.cpp, unicode_decompositions.cpp
// and unicode_compositions.cpp (made by tools/goldens/gen_unicode_tables.py from Python's
// unicodedata).
#pragma once
#include <cstddef>
#include <cstdint>

namespace qs::tok::unicode_tables {

struct CategoryRun {
    char32_t start;   // first code point of the run; the run ends where the next one starts
    uint8_t category; // index into qs::unicode::GeneralCategory
};
struct CccRun {
    char32_t first, last;
    uint8_t ccc;      // canonical combining class (nonzero)
};
struct Decomposition {
    char32_t cp;
    uint16_t offset;  // into kDecompositionPool
    uint8_t length;   // full canonical decomposition (already recursive and reordered)
};
struct Composition {
    char32_t first, second, composite;  // sorted by (first, second)
};

extern const char* const kUnicodeVersion;
extern const CategoryRun kCategoryRuns[];
extern const std::size_t kCategoryRunsSize;
extern const CccRun kCccRuns[];
extern const std::size_t kCccRunsSize;
extern const Decomposition kDecompositions[];
extern const std::size_t kDecompositionsSize;
extern const char32_t kDecompositionPool[];
extern const std::size_t kDecompositionPoolSize;
extern const Composition kCompositions[];
extern const std::size_t kCompositionsSize;

}  // namespace qs::tok::unicode_tables
