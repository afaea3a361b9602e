#pragma once
// Filling a QCPColorMap from a row-major grid of cells, x = column, y = row.

#include <vector>

class QCPColorMap;

namespace qs::widgets {

// Cell (i, j) covers data rows rowStart + i*blockRows ... and columns colStart + j*blockCols
// ...; its centre is placed at the centre of that block (data index k spans [k-0.5, k+0.5]).
// A one-cell axis is stored as two half-width cells (QCPColorMap cannot draw one).
void setColorMapCells(QCPColorMap* map, const std::vector<float>& cells, int cellRows, int cellCols, int rowStart = 0,
                      int colStart = 0, int blockRows = 1, int blockCols = 1);

}  // namespace qs::widgets
