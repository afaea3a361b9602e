#include "line_plot.h"

#include <qcustomplot.h>

#include <cmath>

#include "plot_style.h"

namespace qs::widgets {

LinePlot::LinePlot(QWidget* parent) : PlotView(parent) {
    QCustomPlot* p = plot();
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    placeLegendAbove(p, 2);
}

int LinePlot::addSeries(const QString& name, const std::vector<double>& x, const std::vector<double>& y) {
    return addSeries(name, QVector<double>(x.begin(), x.end()), QVector<double>(y.begin(), y.end()));
}

int LinePlot::addSeries(const QString& name, const QVector<double>& x, const QVector<double>& y) {
    QCustomPlot* p = plot();
    Series s;
    s.name = name;
    s.graph = p->addGraph();
    s.graph->setName(name);
    s.graph->setSelectable(QCP::stNone);
    s.highlight = p->addGraph();
    s.highlight->setLineStyle(QCPGraph::lsNone);
    s.highlight->setSelectable(QCP::stNone);
    s.highlight->removeFromLegend();  // the series' own entry names the highlighted point
    m_series.append(s);
    const int index = m_series.size() - 1;
    styleSeries(index);
    setSeriesData(index, x, y);
    return index;
}

void LinePlot::setSeriesData(int series, const QVector<double>& x, const QVector<double>& y) {
    if (series < 0 || series >= m_series.size()) return;
    const int n = std::min(x.size(), y.size());
    m_series[series].x = x.mid(0, n);
    m_series[series].y = y.mid(0, n);
    m_series[series].graph->setData(m_series[series].x, m_series[series].y, false);
    if (m_series[series].highlightIndex >= n) m_series[series].highlightIndex = -1;
    updateHighlight(series);
    resetZoom();
}

void LinePlot::appendPoint(int series, double x, double y) {
    if (series < 0 || series >= m_series.size()) return;
    m_series[series].x.append(x);
    m_series[series].y.append(y);
    m_series[series].graph->addData(x, y);
    resetZoom();
}

void LinePlot::clearSeries() {
    for (Series& s : m_series)
        if (s.label) plot()->removeItem(s.label);
    plot()->clearGraphs();
    m_series.clear();
    m_reference = -1;
    resetZoom();
}

int LinePlot::setReferenceLine(const QString& name, double y) {
    if (name.isEmpty()) {
        if (m_reference >= 0) {  // later series move down by one
            plot()->removeGraph(m_series[m_reference].highlight);
            plot()->removeGraph(m_series[m_reference].graph);
            m_series.remove(m_reference);
            m_reference = -1;
        }
        resetZoom();
        return -1;
    }
    m_referenceY = y;
    if (m_reference < 0) {
        m_reference = addSeries(name, QVector<double>(), QVector<double>());
        QCPGraph* g = m_series[m_reference].graph;
        g->setPen(QPen(QColor(90, 90, 90), 1.6, Qt::DashLine));
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssNone));
    }
    m_series[m_reference].name = name;
    m_series[m_reference].graph->setName(name);
    resetZoom();
    return m_reference;
}

// The reference line spans the x range of the other series (or [0, 1] without data).
void LinePlot::placeReference() {
    if (m_reference < 0) return;
    double lo = 0, hi = 1;
    bool any = false;
    for (int i = 0; i < m_series.size(); ++i) {
        if (i == m_reference) continue;
        for (double x : m_series[i].x) {
            if (!std::isfinite(x)) continue;
            lo = any ? std::min(lo, x) : x;
            hi = any ? std::max(hi, x) : x;
            any = true;
        }
    }
    Series& r = m_series[m_reference];
    r.x = {lo, hi};
    r.y = {m_referenceY, m_referenceY};
    r.graph->setData(r.x, r.y, true);
}

void LinePlot::setIntegerX(bool on) {
    m_integerX = on;
    if (on) {
        QSharedPointer<QCPAxisTickerFixed> t(new QCPAxisTickerFixed);
        t->setTickStep(1.0);
        t->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        plot()->xAxis->setTicker(t);
        plot()->xAxis->setNumberPrecision(0);
    } else {
        setAxisLogScale(plot()->xAxis, m_logX);
    }
    resetZoom();
}

QString LinePlot::seriesName(int series) const {
    return series >= 0 && series < m_series.size() ? m_series[series].name : QString();
}

QCPGraph* LinePlot::graph(int series) const {
    return series >= 0 && series < m_series.size() ? m_series[series].graph : nullptr;
}

QCPGraph* LinePlot::highlightGraph(int series) const {
    return series >= 0 && series < m_series.size() ? m_series[series].highlight : nullptr;
}

int LinePlot::highlightIndex(int series) const {
    return series >= 0 && series < m_series.size() ? m_series[series].highlightIndex : -1;
}

void LinePlot::setHighlight(int series, int pointIndex, const QString& label) {
    if (series < 0 || series >= m_series.size()) return;
    m_series[series].highlightIndex = pointIndex;
    m_series[series].highlightLabel = label;
    updateHighlight(series);
    plot()->replot();
}

void LinePlot::setHighlightLabelsVisible(bool on) {
    m_highlightLabels = on;
    for (int i = 0; i < m_series.size(); ++i) updateHighlight(i);
    plot()->replot();
}

void LinePlot::styleSeries(int index) {
    const Series& s = m_series[index];
    const QColor c = seriesColor(index);
    s.graph->setPen(QPen(c, 2.0));
    s.graph->setScatterStyle(m_markers ? QCPScatterStyle(QCPScatterStyle::ssDisc, c, c, 7)
                                       : QCPScatterStyle(QCPScatterStyle::ssNone));
    s.highlight->setPen(QPen(c, 2.5));
    s.highlight->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(c, 2.5), QBrush(Qt::NoBrush), 17));
}

void LinePlot::updateHighlight(int index) {
    Series& s = m_series[index];
    QCustomPlot* p = plot();
    const int i = s.highlightIndex;
    if (s.label) {
        p->removeItem(s.label);
        s.label = nullptr;
    }
    if (i < 0 || i >= s.x.size()) {
        s.highlight->data()->clear();
        s.graph->setName(s.name);
        return;
    }
    const double x = s.x[i];
    const double y = s.y[i];
    s.highlight->setData(QVector<double>{x}, QVector<double>{y}, true);
    const QString label = s.highlightLabel.isEmpty() ? tr("highlighted") : s.highlightLabel;
    // One legend entry per series: "<name> — <label>: x → y" (the ring marks the point).
    s.graph->setName(tr("%1 — %2: %3 → %4").arg(s.name, label, formatValue(x, 4), formatValue(y, 4)));
    if (m_highlightLabels) {
        s.label = new QCPItemText(p);
        s.label->position->setCoords(x, y);
        s.label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
        s.label->setPadding(QMargins(10, 0, 0, 10));
        s.label->setFont(plotFont(PlotFonts::kTick));
        s.label->setColor(seriesColor(index).darker(120));
        s.label->setText(tr("%1 (%2)").arg(label, formatValue(x, 4)));
        s.label->setClipToAxisRect(true);
    }
}

void LinePlot::setMarkersVisible(bool on) {
    m_markers = on;
    for (int i = 0; i < m_series.size(); ++i)
        if (i != m_reference) styleSeries(i);
    plot()->replot();
}

void LinePlot::setLogX(bool on) {
    m_logX = on;
    setAxisLogScale(plot()->xAxis, on);
    resetZoom();
}

void LinePlot::applyLogScale(bool on) {
    setAxisLogScale(plot()->yAxis, on);
    resetZoom();
}

void LinePlot::resetZoom() {
    QCustomPlot* p = plot();
    placeReference();
    bool any = false;
    for (const Series& s : m_series) any = any || !s.graph->data()->isEmpty();
    if (!any) {
        p->xAxis->setRange(m_logX ? 1 : 0, m_logX ? 10 : 1);
        p->yAxis->setRange(isLogScale() ? 1 : 0, isLogScale() ? 10 : 1);
        p->replot();
        return;
    }
    p->rescaleAxes(true);
    // Breathing room so markers and highlight rings at the edges are not clipped.
    for (QCPAxis* a : {p->xAxis, p->yAxis}) {
        QCPRange r = a->range();
        if (a->scaleType() == QCPAxis::stLogarithmic) {
            if (r.lower <= 0) r.lower = r.upper > 0 ? r.upper / 10 : 1;
            if (r.upper / r.lower < 1.0001) {
                r.lower /= 2;
                r.upper *= 2;
            }
            const double f = std::pow(r.upper / r.lower, 0.06);
            a->setRange(r.lower / f, r.upper * f);
        } else {
            double pad = r.size() * 0.06;
            if (pad <= 0) pad = std::max(1e-9, std::fabs(r.lower) * 0.1 + (r.lower == 0 ? 1 : 0));
            a->setRange(r.lower - pad, r.upper + pad);
        }
    }
    p->replot();
}

SweepPlot::SweepPlot(QWidget* parent) : LinePlot(parent) {}

int SweepPlot::argMin(const QVector<double>& y) {
    int best = -1;
    for (int i = 0; i < y.size(); ++i)
        if (std::isfinite(y[i]) && (best < 0 || y[i] < y[best])) best = i;
    return best;
}

int SweepPlot::addSweep(const QString& name, const QVector<double>& x, const QVector<double>& y, int chosenIndex,
                        const QString& chosenLabel) {
    const int s = addSeries(name, x, y);
    const int n = std::min(x.size(), y.size());
    const int chosen = chosenIndex >= 0 ? chosenIndex : argMin(y.mid(0, n));
    setHighlight(s, chosen, chosenLabel.isEmpty() ? tr("best") : chosenLabel);
    return s;
}

}  // namespace qs::widgets
