#include "cell_annotations.h"

#include <qcustomplot.h>

#include <QFontMetrics>
#include <algorithm>
#include <cmath>

#include "plot_style.h"

namespace qs::widgets {
namespace {
const char* kLayer = "annotations";
}

CellAnnotations::CellAnnotations(QCustomPlot* plot, QCPAxisRect* rect) : m_plot(plot), m_rect(rect) {
    if (!m_plot->layer(QLatin1String(kLayer)))
        m_plot->addLayer(QLatin1String(kLayer), m_plot->layer(QStringLiteral("main")), QCustomPlot::limAbove);
}

void CellAnnotations::clear() {
    for (QCPItemText* item : m_items) m_plot->removeItem(item);
    m_items.clear();
    m_rows = m_cols = 0;
    m_pixelSize = 0;
}

QString CellAnnotations::textAt(int row, int col) const {
    if (row < 0 || col < 0 || row >= m_rows || col >= m_cols) return {};
    const int i = row * m_cols + col;
    return i < m_items.size() ? m_items[i]->text() : QString();
}

QSizeF CellAnnotations::cellPixelSize(double dx, double dy) const {
    QCPAxis* xa = m_rect->axis(QCPAxis::atBottom);
    QCPAxis* ya = m_rect->axis(QCPAxis::atLeft);
    const double x0 = xa->range().center(), y0 = ya->range().center();
    return QSizeF(std::fabs(xa->coordToPixel(x0 + dx) - xa->coordToPixel(x0)),
                  std::fabs(ya->coordToPixel(y0 + dy) - ya->coordToPixel(y0)));
}

int CellAnnotations::fittingPixelSize(const QStringList& texts, const QSizeF& cell) const {
    if (!(cell.width() > 0) || !(cell.height() > 0)) return 0;
    // Widest text within 88% of the cell width, height within 60% of the cell height.
    QFont font = plotFont(PlotFonts::kTick);
    const int probe = 20;
    font.setPixelSize(probe);
    const QFontMetrics fm(font);
    int widest = 1;
    for (const QString& t : texts) widest = std::max(widest, fm.horizontalAdvance(t));
    int px = int(std::floor(probe * (0.88 * cell.width()) / widest));
    px = std::min(px, int(std::floor(0.6 * cell.height())));
    px = std::min(px, m_maxPixelSize);
    return px >= m_minPixelSize ? px : 0;
}

bool CellAnnotations::show(const QStringList& texts, const QVector<QColor>& backgrounds, int rows, int cols, double x0,
                           double dx, double y0, double dy, int pixelSize) {
    clear();
    if (rows <= 0 || cols <= 0 || texts.size() != rows * cols || rows * cols > m_maxCells) return false;
    QCPAxis* xa = m_rect->axis(QCPAxis::atBottom);
    QCPAxis* ya = m_rect->axis(QCPAxis::atLeft);
    const int px = pixelSize > 0 ? pixelSize : fittingPixelSize(texts, cellPixelSize(dx, dy));
    if (px <= 0) return false;
    QFont font = plotFont(PlotFonts::kTick);
    font.setPixelSize(px);

    m_items.reserve(rows * cols);
    for (int i = 0; i < rows; ++i) {
        for (int j = 0; j < cols; ++j) {
            const int k = i * cols + j;
            auto* item = new QCPItemText(m_plot);
            item->setLayer(QLatin1String(kLayer));
            item->setClipToAxisRect(true);
            item->setClipAxisRect(m_rect);
            item->position->setAxes(xa, ya);
            item->position->setAxisRect(m_rect);
            item->position->setType(QCPItemPosition::ptPlotCoords);
            item->position->setCoords(x0 + j * dx, y0 + i * dy);
            item->setPositionAlignment(Qt::AlignCenter);
            item->setPadding(QMargins(0, 0, 0, 0));
            item->setFont(font);
            item->setSelectable(false);
            const QColor bg = k < backgrounds.size() ? backgrounds[k] : QColor(Qt::white);
            item->setColor(contrastingTextColor(bg));
            item->setText(texts[k]);
            m_items.append(item);
        }
    }
    m_rows = rows;
    m_cols = cols;
    m_pixelSize = px;
    return true;
}

}  // namespace qs::widgets
