#include "plot_style.h"
#include "plot_text_fit.h"

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

namespace qs::widgets {

QFont plotFont(int pointSize, bool bold) {
    QFont f;  // application default family
    f.setPointSize(pointSize);
    f.setBold(bold);
    return f;
}

void styleAxis(QCPAxis* axis) {
    if (!axis) return;
    axis->setTickLabelFont(plotFont(PlotFonts::kTick));
    axis->setLabelFont(plotFont(PlotFonts::kLabel));
    axis->setSelectedTickLabelFont(plotFont(PlotFonts::kTick));
    axis->setSelectedLabelFont(plotFont(PlotFonts::kLabel, true));
    axis->setLabelPadding(6);
    axis->setTickLabelPadding(4);
    QPen grid(QColor(200, 200, 200), 0, Qt::DotLine);
    axis->grid()->setPen(grid);
    axis->grid()->setSubGridPen(QPen(QColor(230, 230, 230), 0, Qt::DotLine));
}

void styleAxisRect(QCPAxisRect* rect) {
    if (!rect) return;
    for (QCPAxis* a : rect->axes()) styleAxis(a);
}

void styleLegend(QCPLegend* legend) {
    if (!legend) return;
    legend->setFont(plotFont(PlotFonts::kLegend));
    legend->setSelectedFont(plotFont(PlotFonts::kLegend));
    legend->setBrush(QBrush(QColor(255, 255, 255, 215)));
    legend->setBorderPen(QPen(QColor(160, 160, 160)));
    legend->setIconSize(26, 14);
    legend->setRowSpacing(2);
}

void applyBaseStyle(QCustomPlot* plot) {
    if (!plot) return;
    plot->setFont(plotFont(PlotFonts::kTick));
    plot->setBackground(Qt::white);
    plot->setAntialiasedElements(QCP::aeAll);
    plot->setNotAntialiasedElements(QCP::aeGrid);
    for (QCPAxisRect* r : plot->axisRects()) styleAxisRect(r);
    styleLegend(plot->legend);
}

namespace {

// Chooses how many legend entries share a row (up to `columns`) so that the legend fits
// `avail` pixels, and pins its size: at most its natural size, at least min(natural, avail)
// wide, so that the strip's layout always has a solution (a minimum above the maximum or
// above the room made QCPLayout abort). True when anything changed.
bool fitLegend(QCPLegend* legend, int columns, int avail) {
    avail = std::max(1, avail);
    const int before = legend->wrap();
    QStringList names;
    for (int i = 0; i < legend->itemCount(); ++i)
        if (auto* it = qobject_cast<QCPPlottableLegendItem*>(legend->item(i))) names << it->plottable()->name();
    fitLegendNames(legend, 1 << 20);  // full names while choosing the columns
    int wrap = std::max(1, columns);
    for (; wrap > 1; --wrap) {
        if (legend->wrap() != wrap) {
            legend->setWrap(wrap);
            legend->setFillOrder(QCPLegend::foColumnsFirst, true);
        }
        if (legend->minimumOuterSizeHint().width() <= avail) break;
    }
    if (legend->wrap() != wrap) {
        legend->setWrap(wrap);
        legend->setFillOrder(QCPLegend::foColumnsFirst, true);
    }
    // One entry per row and still too wide: its text wraps (the full names come back with room).
    if (wrap == 1) fitLegendNames(legend, avail);
    QStringList after;
    for (int i = 0; i < legend->itemCount(); ++i)
        if (auto* it = qobject_cast<QCPPlottableLegendItem*>(legend->item(i))) after << it->plottable()->name();
    const bool renamed = after != names;
    const QSize natural = legend->minimumOuterSizeHint();
    const QSize least(std::max(1, std::min(natural.width(), avail)), std::max(1, natural.height()));
    const bool changed =
        renamed || before != wrap || legend->maximumSize() != natural || legend->minimumSize() != least;
    legend->setMaximumSize(natural);
    legend->setMinimumSize(least);
    return changed;
}

}  // namespace

void placeLegendAbove(QCustomPlot* plot, int columns) {
    QCPLegend* legend = plot->legend;
    if (!legend) return;
    if (QCPLayout* owner = legend->layout()) owner->take(legend);
    // [spacer | legend | spacer]: the legend is capped at its natural size, spacers take the rest.
    auto* strip = new QCPLayoutGrid;
    strip->setColumnSpacing(0);  // the legend may take the strip's whole width
    QCPLayoutGrid* layout = plot->plotLayout();
    layout->insertRow(0);
    layout->addElement(0, 0, strip);
    strip->addElement(0, 0, new QCPLayoutElement(plot));
    strip->addElement(0, 1, legend);
    strip->addElement(0, 2, new QCPLayoutElement(plot));
    layout->setRowStretchFactor(0, 0.001);
    legend->setWrap(std::max(1, columns));
    legend->setFillOrder(QCPLegend::foColumnsFirst, true);
    legend->setVisible(true);
    legend->setBorderPen(Qt::NoPen);
    legend->setBrush(Qt::NoBrush);
    legend->setMargins(QMargins(6, 2, 6, 4));
    legend->setColumnSpacing(24);
    legend->setSizeConstraintRect(QCPLayoutElement::scrOuterRect);
    // Before each layout: fit the legend to the widget's width (entries may have changed since
    // the last layout). After it: fit to the strip's real width and lay out again if needed.
    QObject::connect(plot, &QCustomPlot::beforeReplot, legend,
                     [plot, legend, columns] { fitLegend(legend, columns, plot->viewport().width() - 8); });
    QObject::connect(plot, &QCustomPlot::afterLayout, legend, [plot, legend, strip, columns] {
        const int avail = std::min(strip->rect().width(), plot->viewport().width());
        if (fitLegend(legend, columns, avail)) {
            relayout(plot);
            if (fitPlotTexts(plot)) relayout(plot);  // the axis rect's height may have changed
        }
    });
}

void setAxisLogScale(QCPAxis* axis, bool log, int linearPrecision) {
    if (log) {
        axis->setScaleType(QCPAxis::stLogarithmic);
        axis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
        axis->setNumberFormat(QStringLiteral("gb"));
        axis->setNumberPrecision(3);
    } else {
        axis->setScaleType(QCPAxis::stLinear);
        axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        axis->setNumberFormat(QStringLiteral("g"));
        axis->setNumberPrecision(linearPrecision);
    }
}

QColor seriesColor(int index) {
    static const QColor kPalette[] = {QColor(0x1f, 0x77, 0xb4), QColor(0xd6, 0x27, 0x28), QColor(0x2c, 0xa0, 0x2c),
                                      QColor(0xff, 0x7f, 0x0e), QColor(0x94, 0x67, 0xbd), QColor(0x8c, 0x56, 0x4b),
                                      QColor(0xe3, 0x77, 0xc2), QColor(0x7f, 0x7f, 0x7f), QColor(0xbc, 0xbd, 0x22),
                                      QColor(0x17, 0xbe, 0xcf)};
    const int n = int(sizeof(kPalette) / sizeof(kPalette[0]));
    return kPalette[((index % n) + n) % n];
}

QCPColorGradient divergingGradient() {
    QCPColorGradient g;
    g.clearColorStops();
    g.setColorStopAt(0.0, QColor(0x05, 0x30, 0x61));
    g.setColorStopAt(0.15, QColor(0x21, 0x66, 0xac));
    g.setColorStopAt(0.32, QColor(0x92, 0xc5, 0xde));
    g.setColorStopAt(0.5, QColor(0xf7, 0xf7, 0xf7));
    g.setColorStopAt(0.68, QColor(0xf4, 0xa5, 0x82));
    g.setColorStopAt(0.85, QColor(0xb2, 0x18, 0x2b));
    g.setColorStopAt(1.0, QColor(0x67, 0x00, 0x1f));
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setLevelCount(512);
    g.setNanHandling(QCPColorGradient::nhNanColor);
    g.setNanColor(QColor(200, 200, 200));
    return g;
}

QCPColorGradient sequentialGradient() {
    QCPColorGradient g;
    g.clearColorStops();
    g.setColorStopAt(0.0, QColor(0x44, 0x01, 0x54));
    g.setColorStopAt(0.125, QColor(0x48, 0x24, 0x75));
    g.setColorStopAt(0.25, QColor(0x41, 0x44, 0x87));
    g.setColorStopAt(0.375, QColor(0x35, 0x5f, 0x8d));
    g.setColorStopAt(0.5, QColor(0x2a, 0x78, 0x8e));
    g.setColorStopAt(0.625, QColor(0x21, 0x91, 0x8c));
    g.setColorStopAt(0.75, QColor(0x3b, 0xbb, 0x75));
    g.setColorStopAt(0.875, QColor(0x8f, 0xd7, 0x44));
    g.setColorStopAt(1.0, QColor(0xfd, 0xe7, 0x25));
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setLevelCount(512);
    g.setNanHandling(QCPColorGradient::nhNanColor);
    g.setNanColor(QColor(200, 200, 200));
    return g;
}

QColor contrastingTextColor(const QColor& background) {
    const double lum = 0.2126 * background.redF() + 0.7152 * background.greenF() + 0.0722 * background.blueF();
    return lum > 0.5 ? QColor(Qt::black) : QColor(Qt::white);
}

QString formatValue(double v, int significantDigits) {
    if (std::isnan(v)) return QStringLiteral("NaN");
    if (std::isinf(v)) return v > 0 ? QStringLiteral("inf") : QStringLiteral("-inf");
    if (v == std::floor(v) && std::fabs(v) < 1e6) return QString::number(qint64(v));
    return QString::number(v, 'g', significantDigits);
}

}  // namespace qs::widgets
