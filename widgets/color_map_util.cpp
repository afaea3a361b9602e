#include "color_map_util.h"

#include <qcustomplot.h>

namespace qs::widgets {
namespace {

void axisSpec(int start, int block, int n, int* size, QCPRange* range) {
    const double c0 = start + (block - 1) / 2.0;
    if (n == 1) {
        *size = 2;
        *range = QCPRange(c0 - block / 4.0, c0 + block / 4.0);
    } else {
        *size = n;
        *range = QCPRange(c0, c0 + double(n - 1) * block);
    }
}

}  // namespace

void setColorMapCells(QCPColorMap* map, const std::vector<float>& cells, int cellRows, int cellCols, int rowStart,
                      int colStart, int blockRows, int blockCols) {
    if (cellRows <= 0 || cellCols <= 0 || cells.size() < std::size_t(cellRows) * cellCols) {
        map->data()->clear();
        return;
    }
    int keySize = 0, valueSize = 0;
    QCPRange keyRange, valueRange;
    axisSpec(colStart, blockCols, cellCols, &keySize, &keyRange);
    axisSpec(rowStart, blockRows, cellRows, &valueSize, &valueRange);
    auto* data = new QCPColorMapData(keySize, valueSize, keyRange, valueRange);
    for (int i = 0; i < valueSize; ++i) {
        const int gi = cellRows == 1 ? 0 : i;
        for (int j = 0; j < keySize; ++j) {
            const int gj = cellCols == 1 ? 0 : j;
            data->setCell(j, i, cells[std::size_t(gi) * cellCols + gj]);
        }
    }
    map->setData(data, false);
}

}  // namespace qs::widgets
