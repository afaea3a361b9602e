#include "error_matrix_panel.h"

#include <qcustomplot.h>

#include <QRegularExpression>
#include <QToolTip>
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "cell_annotations.h"
#include "color_map_util.h"
#include "plot_style.h"
#include "plot_text_fit.h"

namespace qs::widgets {
namespace {

QString superscript(int n) {
    static const QChar digits[] = {QChar(0x2070), QChar(0x00B9), QChar(0x00B2), QChar(0x00B3), QChar(0x2074),
                                   QChar(0x2075), QChar(0x2076), QChar(0x2077), QChar(0x2078), QChar(0x2079)};
    QString out;
    for (QChar c : QString::number(n)) out += c == QLatin1Char('-') ? QChar(0x207B) : digits[c.digitValue()];
    return out;
}

double maxAbsOf(const std::vector<float>& v) {
    double m = 0;
    for (float x : v)
        if (std::isfinite(x)) m = std::max(m, double(std::fabs(x)));
    return m;
}

}  // namespace

ErrorMatrixPanel::ErrorMatrixPanel(QWidget* parent) : PlotView(parent) {
    m_titles = {tr("original"), tr("quantized codes"), tr("dequantized"), tr("|error|")};
    QCustomPlot* p = plot();
    p->plotLayout()->clear();  // replaces the default axis rect with the four panels
    auto* grid = new QCPLayoutGrid;
    p->plotLayout()->addElement(0, 0, grid);
    grid->setColumnSpacing(18);
    grid->setRowSpacing(2);
    auto* rows = new QCPMarginGroup(p);
    for (int i = 0; i < kPanels; ++i) {
        m_titleItems[i] = new QCPTextElement(p, m_titles[i], plotFont(PlotFonts::kLabel, true));
        grid->addElement(0, i, m_titleItems[i]);

        auto* rect = new QCPAxisRect(p, true);
        grid->addElement(1, i, rect);
        styleAxisRect(rect);
        QCPAxis* x = rect->axis(QCPAxis::atBottom);
        QCPAxis* y = rect->axis(QCPAxis::atLeft);
        y->setRangeReversed(true);
        for (QCPAxis* a : {x, y}) {
            a->grid()->setVisible(false);
            QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
            ticker->setTickStep(1.0);
            ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
            ticker->setTickCount(4);
            a->setTicker(ticker);
            a->setSubTicks(false);
        }
        x->setLabel(tr("column"));
        y->setLabel(tr("row"));
        rect->setMarginGroup(QCP::msTop | QCP::msBottom, rows);
        m_rects[i] = rect;

        auto* map = new QCPColorMap(x, y);
        map->setInterpolate(false);
        map->setSelectable(QCP::stNone);
        m_maps[i] = map;

        auto* scale = new QCPColorScale(p);
        grid->addElement(2, i, scale);
        scale->setType(QCPAxis::atBottom);
        scale->setBarWidth(12);
        styleAxis(scale->axis());
        scale->axis()->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        scale->axis()->ticker()->setTickCount(3);
        scale->axis()->setTickLabelFont(plotFont(PlotFonts::kNote));
        map->setColorScale(scale);
        auto* cols = new QCPMarginGroup(p);
        rect->setMarginGroup(QCP::msLeft | QCP::msRight, cols);
        scale->setMarginGroup(QCP::msLeft | QCP::msRight, cols);
        m_scales[i] = scale;

        const QCPColorGradient g = (i == Error || i == Codes) ? sequentialGradient() : divergingGradient();
        map->setGradient(g);
        scale->setGradient(g);
        m_annotations[i] = new CellAnnotations(p, rect);
        m_annotations[i]->setMinPixelSize(8);
        m_annotations[i]->setMaxPixelSize(16);
    }
    grid->setRowStretchFactor(0, 0.01);
    grid->setRowStretchFactor(2, 0.01);

    connect(p, &QCustomPlot::afterLayout, this, [this] {
        for (int i = 0; i < kPanels; ++i)
            if (m_rects[i]->size() != m_annotatedFor[i]) {
                annotate();
                break;
            }
    });
    p->setMouseTracking(true);
    connect(p, &QCustomPlot::mouseMove, this, &ErrorMatrixPanel::onMouseMove);
    rebuild();
}

ErrorMatrixPanel::~ErrorMatrixPanel() {
    for (CellAnnotations* a : m_annotations) delete a;
}

bool ErrorMatrixPanel::setTile(const QuantTile& tile) {
    const std::size_t n = std::size_t(std::max(0, tile.rows)) * std::size_t(std::max(0, tile.cols));
    if (tile.rows < 0 || tile.cols < 0 || tile.original.size() != n || tile.codes.size() != n ||
        tile.dequantized.size() != n || (!tile.absError.empty() && tile.absError.size() != n)) {
        qWarning("ErrorMatrixPanel::setTile: sizes do not match %d x %d", tile.rows, tile.cols);
        return false;
    }
    m_tile = tile;
    m_error = tile.absError;
    if (m_error.empty()) {
        m_error.resize(n);
        for (std::size_t i = 0; i < n; ++i) m_error[i] = std::fabs(tile.original[i] - tile.dequantized[i]);
    }
    rebuild();
    return true;
}

void ErrorMatrixPanel::setOrigin(int row, int col) {
    if (row == m_row0 && col == m_col0) return;
    m_row0 = row;
    m_col0 = col;
    rebuild();
}

void ErrorMatrixPanel::clear() {
    m_tile = QuantTile();
    m_error.clear();
    rebuild();
}

std::vector<float> ErrorMatrixPanel::panelValues(Panel panel) const {
    switch (panel) {
        case Original:
            return m_tile.original;
        case Codes:
            return std::vector<float>(m_tile.codes.begin(), m_tile.codes.end());
        case Dequantized:
            return m_tile.dequantized;
        case Error:
            return m_error;
    }
    return {};
}

double ErrorMatrixPanel::value(Panel panel, int row, int col) const {
    if (row < 0 || col < 0 || row >= m_tile.rows || col >= m_tile.cols) return std::numeric_limits<double>::quiet_NaN();
    const std::size_t k = std::size_t(row) * m_tile.cols + col;
    switch (panel) {
        case Original:
            return m_tile.original[k];
        case Codes:
            return m_tile.codes[k];
        case Dequantized:
            return m_tile.dequantized[k];
        case Error:
            return m_error[k];
    }
    return std::numeric_limits<double>::quiet_NaN();
}

QString ErrorMatrixPanel::cellText(Panel panel, int row, int col) const {
    return m_annotations[panel]->textAt(row, col);
}

int ErrorMatrixPanel::annotatedCellCount(Panel panel) const { return m_annotations[panel]->count(); }

void ErrorMatrixPanel::setAnnotationLimit(int maxSide) {
    m_annotationLimit = std::max(0, maxSide);
    annotate();
    plot()->replot();
}

void ErrorMatrixPanel::setPanelTitles(const QStringList& titles) {
    for (int i = 0; i < kPanels && i < titles.size(); ++i) m_titles[i] = titles[i];
    updateTitles();
    plot()->replot();
}

QString ErrorMatrixPanel::panelTitle(Panel panel) const { return fullText(m_titleItems[panel]); }

void ErrorMatrixPanel::updateTitles() {
    for (int i = 0; i < kPanels; ++i) {
        QString t = m_titles[i];
        if (m_exponent[i] != 0) t += QStringLiteral("  (×10%1)").arg(superscript(m_exponent[i]));
        setElementText(m_titleItems[i], t);
    }
}

void ErrorMatrixPanel::setAxisLabels(const QString& xLabel, const QString& yLabel) {
    for (QCPAxisRect* r : m_rects) {
        r->axis(QCPAxis::atBottom)->setLabel(xLabel);
        r->axis(QCPAxis::atLeft)->setLabel(yLabel);
    }
    plot()->replot();
}

QString ErrorMatrixPanel::xLabel() const { return m_rects[0]->axis(QCPAxis::atBottom)->label(); }
QString ErrorMatrixPanel::yLabel() const { return m_rects[0]->axis(QCPAxis::atLeft)->label(); }

ValueRange ErrorMatrixPanel::colorRange(Panel panel) const {
    const QCPRange r = m_maps[panel]->dataRange();
    return {r.lower, r.upper};
}

void ErrorMatrixPanel::rebuild() {
    const int rows = m_tile.rows, cols = m_tile.cols;
    // Original and dequantized share a symmetric range so colours compare directly.
    double shared = std::max(maxAbsOf(m_tile.original), maxAbsOf(m_tile.dequantized));
    if (!(shared > 0)) shared = 1;
    int cmin = 0, cmax = 1;
    if (!m_tile.codes.empty()) {
        const auto mm = std::minmax_element(m_tile.codes.begin(), m_tile.codes.end());
        cmin = *mm.first;
        cmax = *mm.second;
    }
    double emax = maxAbsOf(m_error);
    if (!(emax > 0)) emax = 1;
    QCPRange ranges[kPanels] = {QCPRange(-shared, shared), QCPRange(cmin, cmax), QCPRange(-shared, shared),
                                QCPRange(0, emax)};
    if (cmin < 0) {  // signed codes (symmetric quantization): centre at 0
        const double m = std::max(-cmin, cmax);
        ranges[Codes] = QCPRange(-m, m);
        m_maps[Codes]->setGradient(divergingGradient());
    } else {
        m_maps[Codes]->setGradient(sequentialGradient());
        if (cmax == cmin) ranges[Codes] = QCPRange(cmin - 0.5, cmax + 0.5);
    }
    m_scales[Codes]->setGradient(m_maps[Codes]->gradient());
    for (int i = 0; i < kPanels; ++i) {
        setColorMapCells(m_maps[i], panelValues(Panel(i)), rows, cols, m_row0, m_col0);
        m_maps[i]->setVisible(rows > 0 && cols > 0);
        m_maps[i]->setDataRange(ranges[i]);
        m_scales[i]->setDataRange(ranges[i]);
    }
    // Integer ticks on the codes scale.
    auto codesTicker = QSharedPointer<QCPAxisTickerFixed>(new QCPAxisTickerFixed);
    codesTicker->setTickStep(1.0);
    codesTicker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    codesTicker->setTickCount(3);
    m_scales[Codes]->axis()->setTicker(codesTicker);
    resetZoom();  // replots; annotations follow the layout
    annotate();
    plot()->replot();
}

void ErrorMatrixPanel::annotate() {
    for (int i = 0; i < kPanels; ++i) {
        m_annotations[i]->clear();
        m_exponent[i] = 0;
        m_annotatedFor[i] = m_rects[i]->size();
    }
    const int rows = m_tile.rows, cols = m_tile.cols;
    if (rows > 0 && cols > 0 && rows <= m_annotationLimit && cols <= m_annotationLimit) {
        // Original and dequantized share one number format and font size.
        annotateGroup({Original, Dequantized});
        annotateGroup({Codes});
        annotateGroup({Error});
    }
    const auto titles = [this] {
        QString t;
        for (QCPTextElement* e : m_titleItems) t += fullText(e);
        return t;
    };
    const QString before = titles();
    updateTitles();
    if (titles() != before) plot()->replot(QCustomPlot::rpQueuedReplot);
}

void ErrorMatrixPanel::annotateGroup(const QVector<int>& group) {
    std::vector<std::vector<float>> vals;
    double maxAbs = 0;
    for (int p : group) {
        vals.push_back(panelValues(Panel(p)));
        maxAbs = std::max(maxAbs, maxAbsOf(vals.back()));
    }
    struct Format {
        std::function<QString(double)> f;
        int exponent;
    };
    auto fixed = [](double v, int decimals) {
        QString t = QString::number(v, 'f', decimals);
        if (t.startsWith(QLatin1Char('-')) && QString(t).remove(QRegularExpression("[-0.]")).isEmpty())
            t.remove(0, 1);  // "-0.00" -> "0.00"
        return t;
    };
    // Most precise first.
    QVector<Format> formats;
    const int e = maxAbs > 0 ? int(std::floor(std::log10(maxAbs))) : 0;
    if (group.front() == Codes) {
        formats.push_back({[](double v) { return QString::number(qint64(std::llround(v))); }, 0});
    } else if (e >= -1 && e <= 2) {
        // Plain numbers, three significant digits for the largest value, then fewer.
        for (int d = 2 - e; d >= std::max(0, -e); --d)
            formats.push_back({[fixed, d](double v) { return fixed(v, d); }, 0});
    } else {
        // A common power of ten, shown in the panel title: "-6.72" instead of "-0.0672".
        const double s = std::pow(10.0, -e);
        for (int d = 2; d >= 0; --d) formats.push_back({[fixed, s, d](double v) { return fixed(v * s, d); }, e});
    }
    // The most precise format that fits the cells.
    for (int i = 0; i < formats.size(); ++i) {
        QVector<QStringList> texts;
        int px = std::numeric_limits<int>::max();
        for (int k = 0; k < group.size(); ++k) {
            QStringList t;
            for (float v : vals[k]) t << formats[i].f(v);
            CellAnnotations* a = m_annotations[group[k]];
            px = std::min(px, a->fittingPixelSize(t, a->cellPixelSize(1.0, 1.0)));
            texts << t;
        }
        if (px <= 0) continue;
        for (int k = 0; k < group.size(); ++k) {
            const int p = group[k];
            QCPColorGradient g = m_maps[p]->gradient();
            const QCPRange range = m_maps[p]->dataRange();
            QVector<QColor> colors;
            for (float v : vals[k]) colors << QColor::fromRgba(g.color(v, range));
            m_annotations[p]->show(texts[k], colors, m_tile.rows, m_tile.cols, m_col0, 1, m_row0, 1, px);
            m_exponent[p] = formats[i].exponent;
        }
        return;
    }
}

void ErrorMatrixPanel::resetZoom() {
    const int rows = std::max(1, m_tile.rows), cols = std::max(1, m_tile.cols);
    for (QCPAxisRect* r : m_rects) {
        r->axis(QCPAxis::atBottom)->setRange(m_col0 - 0.5, m_col0 + cols - 0.5);
        r->axis(QCPAxis::atLeft)->setRange(m_row0 - 0.5, m_row0 + rows - 0.5);
    }
    plot()->replot();
}

void ErrorMatrixPanel::onMouseMove(QMouseEvent* event) {
    const QPointF pos = event->position();
    for (QCPAxisRect* r : m_rects) {
        if (!r->rect().contains(pos.toPoint())) continue;
        const int col = int(std::floor(r->axis(QCPAxis::atBottom)->pixelToCoord(pos.x()) + 0.5)) - m_col0;
        const int row = int(std::floor(r->axis(QCPAxis::atLeft)->pixelToCoord(pos.y()) + 0.5)) - m_row0;
        if (row < 0 || col < 0 || row >= m_tile.rows || col >= m_tile.cols) break;
        emit cellHovered(row, col);
        QToolTip::showText(event->globalPosition().toPoint(),
                           tr("row %1, col %2\n%3: %4\n%5: %6\n%7: %8\n%9: %10")
                               .arg(row + m_row0)
                               .arg(col + m_col0)
                               .arg(m_titles[Original], formatValue(value(Original, row, col), 6))
                               .arg(m_titles[Codes], formatValue(value(Codes, row, col), 6))
                               .arg(m_titles[Dequantized], formatValue(value(Dequantized, row, col), 6))
                               .arg(m_titles[Error], formatValue(value(Error, row, col), 6)),
                           plot());
        return;
    }
    QToolTip::hideText();
}

}  // namespace qs::widgets
