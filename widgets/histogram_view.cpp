#include "histogram_view.h"

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "plot_style.h"

namespace qs::widgets {

HistogramView::HistogramView(QWidget* parent) : PlotView(parent) {
    QCustomPlot* p = plot();
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    p->axisRect()->setRangeDrag(Qt::Horizontal);
    p->axisRect()->setRangeZoom(Qt::Horizontal);
    p->xAxis->setLabel(tr("value"));
    p->yAxis->setLabel(tr("count"));
    placeLegendAbove(p, 3);
    rebuild();
}

void HistogramView::setValues(const std::vector<float>& values, const QString& name) {
    m_series.clear();
    addValues(name.isEmpty() ? tr("values") : name, values);
}

int HistogramView::addValues(const QString& name, const std::vector<float>& values) {
    Series s;
    s.name = name;
    s.values = values;
    m_series.append(std::move(s));
    rebuild();
    resetZoom();
    return m_series.size() - 1;
}

void HistogramView::clear() {
    m_series.clear();
    rebuild();
    resetZoom();
}

void HistogramView::setBinCount(int bins) {
    m_bins = std::max(1, bins);
    rebuild();
    resetZoom();
}

void HistogramView::setValueRange(double lower, double upper) {
    m_fixedRange = true;
    m_range = {std::min(lower, upper), std::max(lower, upper)};
    rebuild();
    resetZoom();
}

void HistogramView::clearValueRange() {
    m_fixedRange = false;
    rebuild();
    resetZoom();
}

double HistogramView::binWidth() const { return m_range.size() / m_bins; }

QVector<double> HistogramView::binCenters() const {
    QVector<double> c(m_bins);
    const double w = binWidth();
    for (int i = 0; i < m_bins; ++i) c[i] = m_range.lower + (i + 0.5) * w;
    return c;
}

QVector<double> HistogramView::binCounts(int series) const {
    return series >= 0 && series < m_series.size() ? m_series[series].counts : QVector<double>();
}

int HistogramView::outOfRangeCount(int series) const {
    return series >= 0 && series < m_series.size() ? m_series[series].outOfRange : 0;
}

QCPBars* HistogramView::bars(int series) const {
    return series >= 0 && series < m_series.size() ? m_series[series].bars : nullptr;
}

void HistogramView::rebuild() {
    QCustomPlot* p = plot();
    p->clearPlottables();
    if (!m_fixedRange) {
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        for (const Series& s : m_series)
            for (float v : s.values)
                if (std::isfinite(v)) {
                    lo = std::min(lo, double(v));
                    hi = std::max(hi, double(v));
                }
        if (lo > hi) lo = 0, hi = 1;
        if (hi == lo) {
            lo -= 0.5;
            hi += 0.5;
        }
        m_range = {lo, hi};
    }
    const double w = binWidth();
    const QVector<double> centers = binCenters();
    for (int si = 0; si < m_series.size(); ++si) {
        Series& s = m_series[si];
        s.counts = QVector<double>(m_bins, 0.0);
        s.outOfRange = 0;
        std::size_t n = 0;
        double sum = 0, sum2 = 0;
        for (float v : s.values) {
            if (!std::isfinite(v)) continue;
            ++n;
            sum += v;
            sum2 += double(v) * v;
            if (v < m_range.lower || v > m_range.upper) {
                ++s.outOfRange;
                continue;
            }
            const int b = std::min(m_bins - 1, int((v - m_range.lower) / w));
            s.counts[std::max(0, b)] += 1;
        }
        const double mean = n ? sum / n : 0;
        const double sd = n ? std::sqrt(std::max(0.0, sum2 / n - mean * mean)) : 0;
        s.bars = new QCPBars(p->xAxis, p->yAxis);
        s.bars->setWidthType(QCPBars::wtPlotCoords);
        s.bars->setWidth(w);
        QColor c = seriesColor(si);
        c.setAlpha(si == 0 ? 200 : 130);
        s.bars->setBrush(c);
        s.bars->setPen(QPen(seriesColor(si).darker(115), 0));
        s.bars->setSelectable(QCP::stNone);
        s.bars->setData(centers, s.counts, true);
        s.bars->setName(
            tr("%1 (n = %2, mean = %3, std = %4)").arg(s.name).arg(n).arg(formatValue(mean, 3), formatValue(sd, 3)));
    }
}

void HistogramView::applyLogScale(bool on) {
    setAxisLogScale(plot()->yAxis, on, 6);
    resetZoom();
}

void HistogramView::resetZoom() {
    QCustomPlot* p = plot();
    const double pad = m_range.size() * 0.02;
    p->xAxis->setRange(m_range.lower - pad, m_range.upper + pad);
    double maxCount = 0;
    for (const Series& s : m_series)
        for (double c : s.counts) maxCount = std::max(maxCount, c);
    if (isLogScale())
        p->yAxis->setRange(0.7, std::max(10.0, maxCount * 2.0));
    else
        p->yAxis->setRange(0, maxCount > 0 ? maxCount * 1.06 : 1.0);
    p->replot();
}

}  // namespace qs::widgets
