#pragma once
// Max-|w| pooling of a row-major matrix region onto a grid of at most maxRows x maxCols
// cells. Pure C++ (no Qt), used by HeatmapView and testable on its own.

#include <cstddef>
#include <vector>

namespace qs::widgets {

struct PooledGrid {
    int rowStart = 0;   // first data row covered by cell row 0 (a multiple of blockRows)
    int colStart = 0;   // first data column covered by cell column 0 (a multiple of blockCols)
    int blockRows = 1;  // data rows per cell
    int blockCols = 1;  // data columns per cell
    int cellRows = 0;
    int cellCols = 0;
    // cellRows * cellCols, row-major. Each cell holds the value of largest magnitude in its
    // block, sign kept (so |cell| = max |w|); the first such value in row-major order wins
    // ties; NaNs are skipped; NaN when the block has no finite value.
    std::vector<float> values;

    float at(int cellRow, int cellCol) const {
        return values[std::size_t(cellRow) * std::size_t(cellCols) + std::size_t(cellCol)];
    }
    bool empty() const { return cellRows == 0 || cellCols == 0; }
};

// Cells needed along one axis: ceil(span / maxCells), at least 1.
int poolBlockSize(int span, int maxCells);

// Pools rows [rowBegin, rowEnd) x columns [colBegin, colEnd) of the rows x cols matrix.
// Blocks are aligned to multiples of the block size from index 0 (so panning does not
// shift block boundaries); the grid therefore may start before rowBegin/colBegin. The
// last block along an axis may be partial (clipped at the matrix edge).
PooledGrid poolMaxAbs(const float* data, int rows, int cols, int rowBegin, int rowEnd, int colBegin, int colEnd,
                      int maxCellRows, int maxCellCols);

}  // namespace qs::widgets
