#include "heatmap_view.h"

#include <qcustomplot.h>

#include <QTimer>
#include <QToolTip>
#include <algorithm>
#include <cmath>
#include <limits>

#include "cell_annotations.h"
#include "color_map_util.h"
#include "plot_style.h"
#include "plot_text_fit.h"

namespace qs::widgets {
namespace {

constexpr int kMaxAnnotatedCells = 1024;
constexpr int kFallbackCells = 1024;  // before the first layout

}  // namespace

HeatmapView::HeatmapView(QWidget* parent) : PlotView(parent) {
    QCustomPlot* p = plot();
    QCPAxisRect* rect = p->axisRect();
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    rect->setRangeDrag(Qt::Horizontal | Qt::Vertical);
    rect->setRangeZoom(Qt::Horizontal | Qt::Vertical);
    p->xAxis->grid()->setVisible(false);
    p->yAxis->grid()->setVisible(false);
    p->yAxis->setRangeReversed(true);  // row 0 at the top, like a matrix
    for (QCPAxis* a : {p->xAxis, p->yAxis}) {
        QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
        ticker->setTickStep(1.0);  // integer indices only
        ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        ticker->setTickCount(8);
        a->setTicker(ticker);
        a->setSubTicks(false);
    }
    p->xAxis->setLabel(tr("column"));
    p->yAxis->setLabel(tr("row"));

    m_map = new QCPColorMap(p->xAxis, p->yAxis);
    m_map->setInterpolate(false);
    m_map->setTightBoundary(false);
    m_map->setSelectable(QCP::stNone);

    m_scale = new QCPColorScale(p);
    p->plotLayout()->addElement(0, 1, m_scale);
    m_scale->setType(QCPAxis::atRight);
    m_scale->setBarWidth(16);
    styleAxis(m_scale->axis());
    m_scale->axis()->setLabel(tr("value"));
    m_map->setColorScale(m_scale);
    auto* group = new QCPMarginGroup(p);
    rect->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, group);

    m_status = new QCPTextElement(p, QString(), plotFont(PlotFonts::kNote));
    m_status->setTextColor(QColor(90, 90, 90));
    m_status->setMargins(QMargins(4, 0, 4, 4));
    p->plotLayout()->addElement(1, 0, m_status);

    m_annotations = new CellAnnotations(p, rect);
    applyGradient();

    m_repoolTimer = new QTimer(this);
    m_repoolTimer->setSingleShot(true);
    m_repoolTimer->setInterval(0);
    connect(m_repoolTimer, &QTimer::timeout, this, [this] {
        repool();
        plot()->replot();
    });
    connect(p->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] {
        clampRange(true);
        scheduleRepool();
    });
    connect(p->yAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] {
        clampRange(false);
        scheduleRepool();
    });
    // The plot area changed size (window resize, tick label widths): pool for the new size.
    // afterLayout runs inside replot() before drawing, so no extra replot is needed.
    connect(p, &QCustomPlot::afterLayout, this, [this] {
        if (m_rows > 0 && (targetCells() != m_pooledFor || plot()->axisRect()->size() != m_pooledRectSize)) repool();
    });
    // As many index ticks as fit (about one per 70 px across, 45 px down), at most 8.
    connect(p, &QCustomPlot::beforeReplot, this, [this] {
        QCPAxisRect* r = plot()->axisRect();
        const int nx = std::clamp(r->width() / 70, 2, 8), ny = std::clamp(r->height() / 45, 2, 8);
        plot()->xAxis->ticker()->setTickCount(nx);
        plot()->yAxis->ticker()->setTickCount(ny);
    });
    p->setMouseTracking(true);
    p->installEventFilter(this);
    connect(p, &QCustomPlot::mouseMove, this, &HeatmapView::onMouseMove);
    clear();
}

HeatmapView::~HeatmapView() {
    delete m_annotations;
    if (m_status && !m_status->layout()) delete m_status;  // hidden status line: not owned by the plot
}

bool HeatmapView::setMatrix(const float* values, int rows, int cols) {
    if (rows < 0 || cols < 0 || (rows * std::size_t(cols) > 0 && !values)) return false;
    return setMatrix(std::vector<float>(values, values + std::size_t(rows) * std::size_t(cols)), rows, cols);
}

bool HeatmapView::setMatrix(std::vector<float> values, int rows, int cols) {
    if (rows < 0 || cols < 0 || values.size() != std::size_t(rows) * std::size_t(cols)) {
        qWarning("HeatmapView::setMatrix: %zu values for %d x %d", values.size(), rows, cols);
        return false;
    }
    if (rows == 0 || cols == 0) {
        clear();
        return true;
    }
    m_values = std::move(values);
    m_rows = rows;
    m_cols = cols;
    float mn = std::numeric_limits<float>::infinity(), mx = -mn, ma = 0, mp = mn;
    for (float v : m_values) {
        if (!std::isfinite(v)) continue;
        if (v > 0) mp = std::min(mp, v);
        mn = std::min(mn, v);
        mx = std::max(mx, v);
        ma = std::max(ma, std::fabs(v));
    }
    if (mn > mx) mn = mx = 0;  // no finite value
    m_min = mn;
    m_max = mx;
    m_maxAbs = ma;
    m_minPositive = std::isfinite(mp) ? mp : 0;
    m_pooledRegion = QRect();  // new data: pool again even when the region and size are the same
    m_map->setVisible(true);
    updateColorRange();
    resetZoom();
    return true;
}

void HeatmapView::clear() {
    m_values.clear();
    m_rows = m_cols = 0;
    m_min = m_max = m_maxAbs = m_minPositive = 0;
    m_grid = PooledGrid();
    m_visible = QRect();
    m_pooledRegion = QRect();
    m_annotations->clear();
    for (const char* name : {"groupBoundary", "tileMark"}) removeItems(QLatin1String(name));
    m_map->data()->clear();
    m_map->setVisible(false);
    setElementText(m_status, tr("no data"));
    m_clamping = true;
    plot()->xAxis->setRange(-0.5, 0.5);
    plot()->yAxis->setRange(-0.5, 0.5);
    m_clamping = false;
    updateColorRange();
    plot()->replot();
}

float HeatmapView::valueAt(int row, int col) const {
    if (row < 0 || col < 0 || row >= m_rows || col >= m_cols) return std::numeric_limits<float>::quiet_NaN();
    return m_values[std::size_t(row) * std::size_t(m_cols) + std::size_t(col)];
}

void HeatmapView::setColorMode(ColorMode mode) {
    if (mode != ColorMode::Sequential) setLogScale(false);
    m_mode = mode;
    m_symmetric = (mode == ColorMode::Diverging);
    applyGradient();
    updateColorRange();
    repool(true);
    plot()->replot();
}

void HeatmapView::setSymmetricRange(bool on) {
    m_symmetric = on;
    updateColorRange();
    repool(true);
    plot()->replot();
}

void HeatmapView::setFixedColorRange(double lower, double upper) {
    m_fixedRange = true;
    m_fixedLower = std::min(lower, upper);
    m_fixedUpper = std::max(lower, upper);
    updateColorRange();
    repool(true);
    plot()->replot();
}

void HeatmapView::clearFixedColorRange() {
    m_fixedRange = false;
    updateColorRange();
    repool(true);
    plot()->replot();
}

ValueRange HeatmapView::colorRange() const {
    const QCPRange r = m_map->dataRange();
    return {r.lower, r.upper};
}

void HeatmapView::applyGradient() {
    const QCPColorGradient g = m_mode == ColorMode::Diverging ? divergingGradient() : sequentialGradient();
    m_map->setGradient(g);
    m_scale->setGradient(g);
}

void HeatmapView::updateColorRange() {
    double lo, hi;
    if (isLogScale()) {
        lo = m_fixedRange && m_fixedLower > 0 ? m_fixedLower : m_minPositive;
        hi = m_fixedRange ? m_fixedUpper : m_max;
        if (!(lo > 0)) lo = 1e-6;
        if (!(hi > lo)) hi = lo * 10;
    } else if (m_fixedRange) {
        lo = m_fixedLower;
        hi = m_fixedUpper;
    } else if (m_symmetric) {
        lo = -double(m_maxAbs);
        hi = double(m_maxAbs);
    } else if (m_mode == ColorMode::Sequential && m_min >= 0) {
        lo = 0;
        hi = m_max;
    } else {
        lo = m_min;
        hi = m_max;
    }
    if (!(hi > lo)) {  // constant data: widen around the value
        const double pad = std::max(1e-12, std::fabs(hi) * 0.5);
        lo -= pad;
        hi += pad;
        if (m_maxAbs == 0) {
            lo = m_mode == ColorMode::Sequential && !m_symmetric ? 0.0 : -1.0;
            hi = 1.0;
        }
    }
    m_map->setDataRange(QCPRange(lo, hi));
    m_scale->setDataRange(QCPRange(lo, hi));
}

void HeatmapView::applyLogScale(bool on) {
    const QCPAxis::ScaleType type = on ? QCPAxis::stLogarithmic : QCPAxis::stLinear;
    m_map->setDataScaleType(type);
    m_scale->setDataScaleType(type);
    if (on)
        m_scale->axis()->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    else
        m_scale->axis()->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    m_scale->axis()->setNumberFormat(on ? QStringLiteral("gb") : QStringLiteral("g"));
    updateColorRange();
    repool(true);  // annotation colours follow the new scale
}

void HeatmapView::setColorScaleLabel(const QString& label) {
    m_scale->axis()->setLabel(label);
    plot()->replot();
}

QString HeatmapView::colorScaleLabel() const { return m_scale->axis()->label(); }

void HeatmapView::setMaxCells(int maxRows, int maxCols) {
    m_maxCellRows = std::max(0, maxRows);
    m_maxCellCols = std::max(0, maxCols);
    repool(true);
    plot()->replot();
}

void HeatmapView::setValueAnnotations(bool on) {
    m_annotate = on;
    repool(true);
    plot()->replot();
}

int HeatmapView::annotatedCellCount() const { return m_annotations->count(); }

void HeatmapView::setStatusLineVisible(bool on) {
    QCPLayoutGrid* layout = plot()->plotLayout();
    if (on == (m_status->layout() != nullptr)) return;
    if (on) {
        layout->addElement(layout->rowCount(), 0, m_status);
    } else {
        layout->take(m_status);
        layout->simplify();
    }
    plot()->replot();
}

QString HeatmapView::statusText() const { return fullText(m_status); }

QSize HeatmapView::targetCells() const {
    const QRect r = plot()->axisRect()->rect();
    int rows = m_maxCellRows > 0 ? m_maxCellRows : (r.height() > 1 ? r.height() : kFallbackCells);
    int cols = m_maxCellCols > 0 ? m_maxCellCols : (r.width() > 1 ? r.width() : kFallbackCells);
    return QSize(cols, rows);
}

void HeatmapView::zoomTo(int row, int col, int rowCount, int colCount) {
    if (m_rows == 0) return;
    plot()->xAxis->setRange(col - 0.5, col + colCount - 0.5);
    plot()->yAxis->setRange(row - 0.5, row + rowCount - 0.5);
    m_repoolTimer->stop();
    repool();
    plot()->replot();
}

void HeatmapView::resetZoom() {
    if (m_rows == 0) return;
    m_clamping = true;
    plot()->xAxis->setRange(-0.5, m_cols - 0.5);
    plot()->yAxis->setRange(-0.5, m_rows - 0.5);
    m_clamping = false;
    m_repoolTimer->stop();
    repool();
    plot()->replot();
}

void HeatmapView::clampRange(bool horizontal) {
    if (m_clamping || m_rows == 0) return;
    QCPAxis* axis = horizontal ? plot()->xAxis : plot()->yAxis;
    const int n = horizontal ? m_cols : m_rows;
    const QCPRange r = axis->range();
    const double lo = -0.5, hi = n - 0.5;
    const double size = std::clamp(r.size(), std::min(1.0, double(n)), double(n));
    double nl = r.center() - size / 2, nu = r.center() + size / 2;
    if (nl < lo) {
        nu += lo - nl;
        nl = lo;
    }
    if (nu > hi) {
        nl -= nu - hi;
        nu = hi;
    }
    if (std::fabs(nl - r.lower) > 1e-9 || std::fabs(nu - r.upper) > 1e-9) {
        m_clamping = true;
        axis->setRange(nl, nu);
        m_clamping = false;
    }
}

void HeatmapView::scheduleRepool() {
    if (m_rows > 0 && !m_clamping) m_repoolTimer->start();
}

void HeatmapView::prepareForRender() {
    if (m_repoolTimer->isActive()) {
        m_repoolTimer->stop();
        repool();
    }
}

void HeatmapView::repool(bool force) {
    if (m_rows == 0) return;
    QCustomPlot* p = plot();
    const QCPRange xr = p->xAxis->range(), yr = p->yAxis->range();
    const int c0 = std::clamp(int(std::floor(xr.lower + 0.5)), 0, m_cols);
    const int c1 = std::clamp(int(std::ceil(xr.upper + 0.5)), c0, m_cols);
    const int r0 = std::clamp(int(std::floor(yr.lower + 0.5)), 0, m_rows);
    const int r1 = std::clamp(int(std::ceil(yr.upper + 0.5)), r0, m_rows);
    const QRect region(c0, r0, c1 - c0, r1 - r0);
    const QSize target = targetCells();
    const QSize rectSize = p->axisRect()->size();
    if (!force && region == m_pooledRegion && target == m_pooledFor && rectSize == m_pooledRectSize) return;
    m_pooledRegion = region;
    m_pooledFor = target;
    m_pooledRectSize = rectSize;

    m_grid = poolMaxAbs(m_values.data(), m_rows, m_cols, r0, r1, c0, c1, target.height(), target.width());
    setColorMapCells(m_map, m_grid.values, m_grid.cellRows, m_grid.cellCols, m_grid.rowStart, m_grid.colStart,
                     m_grid.blockRows, m_grid.blockCols);

    m_annotations->clear();
    const int cells = m_grid.cellRows * m_grid.cellCols;
    if (m_annotate && m_grid.blockRows == 1 && m_grid.blockCols == 1 && cells <= kMaxAnnotatedCells) {
        QCPColorGradient g = m_map->gradient();
        const QCPRange range = m_map->dataRange();
        QStringList texts;
        QVector<QColor> colors;
        texts.reserve(cells);
        colors.reserve(cells);
        for (float v : m_grid.values) {
            texts << formatValue(v, 3);
            colors << QColor::fromRgba(g.color(v, range, isLogScale()));
        }
        m_annotations->show(texts, colors, m_grid.cellRows, m_grid.cellCols, m_grid.colStart, 1.0, m_grid.rowStart,
                            1.0);
    }

    QString status =
        tr("rows %1–%2, cols %3–%4 of %5 × %6").arg(r0).arg(r1 - 1).arg(c0).arg(c1 - 1).arg(m_rows).arg(m_cols);
    if (m_grid.blockRows > 1 || m_grid.blockCols > 1)
        status += tr("  ·  each cell = max %1 of %2 × %3 values (zoom in for single values)")
                      .arg(m_pooledName)
                      .arg(m_grid.blockRows)
                      .arg(m_grid.blockCols);
    else
        status += tr("  ·  each cell = one value");
    setElementText(m_status, status);

    if (region != m_visible) {
        m_visible = region;
        emit visibleRegionChanged(region);
    }
}

void HeatmapView::setPooledValueName(const QString& name) {
    m_pooledName = name;
    repool(true);
    plot()->replot();
}

void HeatmapView::removeItems(const QString& name) {
    QCustomPlot* p = plot();
    for (int i = p->itemCount() - 1; i >= 0; --i)
        if (p->item(i)->objectName() == name) p->removeItem(i);
}

void HeatmapView::setColumnMarks(const QVector<int>& columns, const QColor& color, const QString& name) {
    removeItems(name);
    QPen pen(color, 1.5);
    for (int c : columns) {
        auto* line = new QCPItemStraightLine(plot());
        line->setObjectName(name);
        line->setSelectable(false);
        line->setPen(pen);
        line->point1->setCoords(c, 0);
        line->point2->setCoords(c, 1);
    }
    plot()->replot();
}

void HeatmapView::setColumnBoundaries(int step) {
    removeItems(QStringLiteral("groupBoundary"));
    if (step > 0 && m_cols > step) {
        QPen pen(QColor(255, 255, 255, 200), 1.0, Qt::DashLine);  // visible on the dark end of the map
        for (int c = step; c < m_cols; c += step) {
            auto* line = new QCPItemStraightLine(plot());
            line->setObjectName(QStringLiteral("groupBoundary"));
            line->setSelectable(false);
            line->setPen(pen);
            line->point1->setCoords(c - 0.5, 0);
            line->point2->setCoords(c - 0.5, 1);
        }
    }
    plot()->replot();
}

void HeatmapView::setMarkedRegion(const QRect& cells) {
    removeItems(QStringLiteral("tileMark"));
    if (cells.isValid()) {
        auto* rect = new QCPItemRect(plot());
        rect->setObjectName(QStringLiteral("tileMark"));
        rect->setSelectable(false);
        rect->setPen(QPen(QColor(0, 160, 0), 2.0));
        rect->setBrush(Qt::NoBrush);
        rect->topLeft->setCoords(cells.x() - 0.5, cells.y() - 0.5);
        rect->bottomRight->setCoords(cells.x() + cells.width() - 0.5, cells.y() + cells.height() - 0.5);
    }
    plot()->replot();
}

bool HeatmapView::cellAt(const QPointF& pixel, int* row, int* col) const {
    if (m_rows == 0) return false;
    QCustomPlot* p = plot();
    if (!p->axisRect()->rect().contains(pixel.toPoint())) return false;
    const int c = int(std::floor(p->xAxis->pixelToCoord(pixel.x()) + 0.5));
    const int r = int(std::floor(p->yAxis->pixelToCoord(pixel.y()) + 0.5));
    if (r < 0 || c < 0 || r >= m_rows || c >= m_cols) return false;
    if (row) *row = r;
    if (col) *col = c;
    return true;
}

void HeatmapView::onMouseMove(QMouseEvent* event) {
    int r = -1, c = -1;
    if (!cellAt(event->position(), &r, &c)) {
        if (m_hoverRow >= 0) {
            m_hoverRow = m_hoverCol = -1;
            if (m_tooltip) QToolTip::hideText();
            emit hoverLeft();
        }
        return;
    }
    if (r == m_hoverRow && c == m_hoverCol) return;
    m_hoverRow = r;
    m_hoverCol = c;
    const float v = valueAt(r, c);
    emit hovered(r, c, v);
    if (m_tooltip) {
        QString text = tr("row %1, col %2: %3").arg(r).arg(c).arg(formatValue(v, 5));
        if (m_grid.blockRows > 1 || m_grid.blockCols > 1) {
            const int gi = (r - m_grid.rowStart) / m_grid.blockRows;
            const int gj = (c - m_grid.colStart) / m_grid.blockCols;
            if (gi >= 0 && gj >= 0 && gi < m_grid.cellRows && gj < m_grid.cellCols)
                text += tr("\ncell (max %1 of %2 × %3): %4")
                            .arg(m_pooledName)
                            .arg(m_grid.blockRows)
                            .arg(m_grid.blockCols)
                            .arg(formatValue(m_grid.at(gi, gj), 5));
        }
        QToolTip::showText(event->globalPosition().toPoint(), text, plot());
    }
}

bool HeatmapView::eventFilter(QObject* watched, QEvent* event) {
    if (watched == plot() && event->type() == QEvent::Leave && m_hoverRow >= 0) {
        m_hoverRow = m_hoverCol = -1;
        emit hoverLeft();
    }
    return PlotView::eventFilter(watched, event);
}

}  // namespace qs::widgets
