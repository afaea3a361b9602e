#include "matrix_pooling.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qs::widgets {

int poolBlockSize(int span, int maxCells) {
    if (span <= 0) return 1;
    if (maxCells <= 0) maxCells = 1;
    return std::max(1, (span + maxCells - 1) / maxCells);
}

PooledGrid poolMaxAbs(const float* data, int rows, int cols, int rowBegin, int rowEnd, int colBegin, int colEnd,
                      int maxCellRows, int maxCellCols) {
    PooledGrid g;
    rowBegin = std::clamp(rowBegin, 0, rows);
    rowEnd = std::clamp(rowEnd, rowBegin, rows);
    colBegin = std::clamp(colBegin, 0, cols);
    colEnd = std::clamp(colEnd, colBegin, cols);
    if (!data || rowEnd <= rowBegin || colEnd <= colBegin) return g;

    g.blockRows = poolBlockSize(rowEnd - rowBegin, maxCellRows);
    g.blockCols = poolBlockSize(colEnd - colBegin, maxCellCols);
    g.rowStart = (rowBegin / g.blockRows) * g.blockRows;
    g.colStart = (colBegin / g.blockCols) * g.blockCols;
    const int rowStop = std::min(rows, ((rowEnd + g.blockRows - 1) / g.blockRows) * g.blockRows);
    const int colStop = std::min(cols, ((colEnd + g.blockCols - 1) / g.blockCols) * g.blockCols);
    g.cellRows = (rowStop - g.rowStart + g.blockRows - 1) / g.blockRows;
    g.cellCols = (colStop - g.colStart + g.blockCols - 1) / g.blockCols;

    const std::size_t n = std::size_t(g.cellRows) * std::size_t(g.cellCols);
    g.values.assign(n, std::numeric_limits<float>::quiet_NaN());
    std::vector<float> bestAbs(n, -1.0f);

    for (int r = g.rowStart; r < rowStop; ++r) {
        const std::size_t cellRowOffset = std::size_t((r - g.rowStart) / g.blockRows) * g.cellCols;
        const float* row = data + std::size_t(r) * std::size_t(cols);
        for (int j = 0; j < g.cellCols; ++j) {
            const int c0 = g.colStart + j * g.blockCols;
            const int c1 = std::min(colStop, c0 + g.blockCols);
            float best = bestAbs[cellRowOffset + j];
            float bestVal = g.values[cellRowOffset + j];
            for (int c = c0; c < c1; ++c) {
                const float v = row[c];
                const float a = std::fabs(v);
                if (a > best) {  // NaN compares false: skipped; strict: first wins ties
                    best = a;
                    bestVal = v;
                }
            }
            bestAbs[cellRowOffset + j] = best;
            g.values[cellRowOffset + j] = bestVal;
        }
    }
    return g;
}

}  // namespace qs::widgets
