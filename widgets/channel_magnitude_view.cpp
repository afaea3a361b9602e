#include "channel_magnitude_view.h"

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "plot_style.h"
#include "plot_text_fit.h"

namespace qs::widgets {
namespace {

constexpr int kListedIndices = 24;

QVector<double> toDouble(const std::vector<float>& v) {
    QVector<double> out;
    out.reserve(int(v.size()));
    for (float x : v) out.append(double(x));
    return out;
}

QVector<double> keysOf(QCPAbstractPlottable* p) {
    QVector<double> keys;
    if (!p) return keys;
    if (auto* bars = qobject_cast<QCPBars*>(p))
        for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it) keys << it->key;
    else if (auto* graph = qobject_cast<QCPGraph*>(p))
        for (auto it = graph->data()->constBegin(); it != graph->data()->constEnd(); ++it) keys << it->key;
    return keys;
}

}  // namespace

QColor ChannelMagnitudeView::normalColor() { return QColor(0x4c, 0x72, 0xb0); }
QColor ChannelMagnitudeView::outlierColor() { return QColor(0xdd, 0x3b, 0x1f); }
QColor ChannelMagnitudeView::afterColor() { return QColor(0x1b, 0x9e, 0x77); }

ChannelMagnitudeView::ChannelMagnitudeView(QWidget* parent) : PlotView(parent) {
    m_primaryName = tr("channel value");
    m_afterName = tr("after");
    QCustomPlot* p = plot();
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    p->axisRect()->setRangeDrag(Qt::Horizontal);
    p->axisRect()->setRangeZoom(Qt::Horizontal);
    p->xAxis->setLabel(tr("input channel"));
    p->yAxis->setLabel(tr("magnitude"));
    placeLegendAbove(p, 3);
    m_list = new QCPTextElement(p, QString(), plotFont(PlotFonts::kTick));
    m_list->setTextColor(outlierColor().darker(130));
    m_list->setMargins(QMargins(6, 0, 6, 6));
    p->plotLayout()->addElement(p->plotLayout()->rowCount(), 0, m_list);
    rebuild();
}

void ChannelMagnitudeView::setValues(const std::vector<float>& values) { setValues(toDouble(values)); }

void ChannelMagnitudeView::setValues(const QVector<double>& values) {
    m_values = values;
    recomputeOutliers();
    rebuild();
    resetZoom();
}

void ChannelMagnitudeView::setAfterValues(const std::vector<float>& values) { setAfterValues(toDouble(values)); }

void ChannelMagnitudeView::setAfterValues(const QVector<double>& values) {
    m_after = values;
    rebuild();
    resetZoom();
}

void ChannelMagnitudeView::clearAfterValues() { setAfterValues(QVector<double>()); }

void ChannelMagnitudeView::setSeriesNames(const QString& primary, const QString& after) {
    if (!primary.isEmpty()) m_primaryName = primary;
    if (!after.isEmpty()) m_afterName = after;
    rebuild();
    plot()->replot();
}

void ChannelMagnitudeView::setStyle(Style style) {
    m_style = style;
    rebuild();
    plot()->replot();
}

void ChannelMagnitudeView::setTopPercent(double percent) {
    m_topPercent = std::max(0.0, percent);
    m_topCount = -1;
    recomputeOutliers();
    rebuild();
    plot()->replot();
}

void ChannelMagnitudeView::setTopCount(int k, const QString& legend) {
    m_topCount = k;
    m_topLegend = legend;
    recomputeOutliers();
    rebuild();
    plot()->replot();
}

int ChannelMagnitudeView::outlierTarget() const {
    const int n = m_values.size();
    if (m_topCount >= 0) return std::min(m_topCount, n);
    if (m_topPercent <= 0) return 0;
    // Tolerate float noise in n * p / 100 (e.g. 1% of 700 = 7.000000000000001).
    const double exact = n * m_topPercent / 100.0;
    return std::min(n, int(std::ceil(exact - 1e-9)));
}

void ChannelMagnitudeView::recomputeOutliers() {
    const int n = m_values.size();
    auto mag = [this](int i) {
        const double v = std::fabs(m_values[i]);
        return std::isnan(v) ? -1.0 : v;  // NaN never ranks as an outlier
    };
    std::vector<int> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    const int k = outlierTarget();
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
        const double ma = mag(a), mb = mag(b);
        return ma > mb || (ma == mb && a < b);
    });
    QVector<int> out;
    out.reserve(k);
    for (int i = 0; i < k; ++i)
        if (mag(idx[i]) >= 0) out.append(idx[i]);
    if (out != m_outliers) {
        m_outliers = out;
        emit outliersChanged(m_outliers);
    }
}

QString ChannelMagnitudeView::outlierListText() const { return fullText(m_list); }

QVector<double> ChannelMagnitudeView::highlightedKeys() const { return keysOf(m_highlight); }
QVector<double> ChannelMagnitudeView::normalKeys() const { return keysOf(m_normal); }

QCPAbstractPlottable* ChannelMagnitudeView::addSeries(const QVector<double>& keys, const QVector<double>& values,
                                                      const QColor& color, const QString& name, bool overlay) {
    QCustomPlot* p = plot();
    QCPAbstractPlottable* result = nullptr;
    if (m_style == Style::Bars) {
        auto* bars = new QCPBars(p->xAxis, p->yAxis);
        bars->setWidthType(QCPBars::wtPlotCoords);
        bars->setWidth(overlay ? 0.6 : 0.9);
        QColor fill = color;
        if (overlay) fill.setAlpha(190);
        bars->setBrush(fill);
        bars->setPen(QPen(fill, 0));
        bars->setData(keys, values, true);
        result = bars;
    } else {
        auto* graph = new QCPGraph(p->xAxis, p->yAxis);
        graph->setLineStyle(QCPGraph::lsImpulse);
        QColor pen = color;
        if (overlay) pen.setAlpha(200);
        graph->setPen(QPen(pen, overlay ? 1.2 : 1.5));
        graph->setData(keys, values, true);
        result = graph;
    }
    result->setName(name);
    result->setSelectable(QCP::stNone);
    return result;
}

void ChannelMagnitudeView::rebuild() {
    QCustomPlot* p = plot();
    p->clearPlottables();
    m_normal = m_highlight = m_afterPlottable = nullptr;
    const int n = m_values.size();

    QVector<bool> isOutlier(n, false);
    for (int c : m_outliers) isOutlier[c] = true;
    QVector<double> nk, nv, ok, ov;
    nk.reserve(n);
    nv.reserve(n);
    for (int i = 0; i < n; ++i) {
        if (isOutlier[i]) {
            ok << i;
            ov << m_values[i];
        } else {
            nk << i;
            nv << m_values[i];
        }
    }
    m_normal = addSeries(nk, nv, normalColor(), m_primaryName, false);
    QString topName;
    if (m_topCount >= 0)
        topName = m_topLegend.isEmpty() ? tr("top %1 channels").arg(m_outliers.size()) : m_topLegend;
    else
        topName = tr("top %1% (%2 channels)").arg(m_topPercent).arg(m_outliers.size());
    m_highlight = addSeries(ok, ov, outlierColor(), topName, false);
    if (!m_after.isEmpty()) {
        QVector<double> ak(m_after.size());
        std::iota(ak.begin(), ak.end(), 0.0);
        m_afterPlottable = addSeries(ak, m_after, afterColor(), m_afterName, true);
    }
    if (n == 0 || m_outliers.isEmpty()) m_highlight->removeFromLegend();
    if (n == 0) m_normal->removeFromLegend();

    QString list;
    if (!m_outliers.isEmpty()) {
        QStringList idx;
        const int shown = std::min<int>(kListedIndices, m_outliers.size());
        for (int i = 0; i < shown; ++i) idx << QString::number(m_outliers[i]);
        list = tr("Highlighted channels (largest first): %1").arg(idx.join(QStringLiteral(", ")));
        if (m_outliers.size() > shown) list += tr(", … (+%1 more)").arg(m_outliers.size() - shown);
    } else if (n > 0) {
        list = tr("No channels highlighted");
    }
    setElementText(m_list, list);
}

void ChannelMagnitudeView::applyLogScale(bool on) {
    setAxisLogScale(plot()->yAxis, on);
    resetZoom();
}

void ChannelMagnitudeView::resetZoom() {
    QCustomPlot* p = plot();
    const int n = std::max(m_values.size(), m_after.size());
    const double pad = std::max(0.5, n * 0.005);
    p->xAxis->setRange(-0.5 - pad, std::max(1, n) - 0.5 + pad);
    double maxV = 0, minPos = std::numeric_limits<double>::infinity();
    for (const QVector<double>* s : {&m_values, &m_after})
        for (double v : *s) {
            if (!std::isfinite(v)) continue;
            maxV = std::max(maxV, v);
            if (v > 0) minPos = std::min(minPos, v);
        }
    if (isLogScale()) {
        if (!std::isfinite(minPos)) minPos = 0.1, maxV = 1;
        p->yAxis->setRange(minPos / 1.5, std::max(maxV, minPos) * 1.8);
    } else {
        p->yAxis->setRange(0, maxV > 0 ? maxV * 1.06 : 1.0);
    }
    p->replot();
}

}  // namespace qs::widgets
