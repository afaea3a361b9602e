#include "sensitivity_view.h"

#include <qcustomplot.h>

#include <QToolTip>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "plot_style.h"
#include "plot_text_fit.h"

namespace qs::widgets {

SensitivityView::SensitivityView(QWidget* parent) : PlotView(parent) {
    QCustomPlot* p = plot();
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    p->axisRect()->setRangeDrag(Qt::Horizontal);
    p->axisRect()->setRangeZoom(Qt::Horizontal);
    placeLegendAbove(p, 7);
    m_info = new QCPTextElement(p, QString(), plotFont(PlotFonts::kTick));
    m_info->setMargins(QMargins(6, 0, 6, 6));
    p->plotLayout()->addElement(p->plotLayout()->rowCount(), 0, m_info);
    p->setMouseTracking(true);
    connect(p, &QCustomPlot::mousePress, this, &SensitivityView::onPress);
    connect(p, &QCustomPlot::mouseMove, this, &SensitivityView::onMove);
    setAxisLabels(tr("layer (model order)"), tr("value"));
    rebuild();
}

void SensitivityView::setBars(const QVector<SensitivityBar>& bars, const QString& valueLabel) {
    m_bars = bars;
    m_order.clear();  // indices into the old bars
    m_valueLabel = valueLabel;
    const bool kept =
        std::any_of(m_bars.begin(), m_bars.end(), [this](const SensitivityBar& b) { return b.name == m_selected; });
    if (!kept) m_selected.clear();
    rebuild();
    resetZoom();
}

void SensitivityView::setSortByValue(bool on) {
    m_sorted = on;
    rebuild();
    resetZoom();
}

int SensitivityView::positionAtKey(double key) const {
    const int i = int(std::lround(key));
    return i >= 0 && i < m_order.size() && std::fabs(key - i) <= 0.5 ? i : -1;
}

int SensitivityView::positionOf(const QString& name) const {
    if (name.isEmpty()) return -1;
    for (int i = 0; i < m_order.size(); ++i)
        if (m_bars[m_order[i]].name == name) return i;
    return -1;
}

QStringList SensitivityView::groups() const {
    QStringList g;
    for (const auto& b : m_bars)
        if (!g.contains(b.group)) g << b.group;
    return g;
}

void SensitivityView::setSelected(const QString& name) {
    if (name == m_selected) return;
    m_selected = positionOf(name) >= 0 ? name : QString();
    updateSelection();
    plot()->replot();
}

QString SensitivityView::selectionText() const { return fullText(m_info); }

void SensitivityView::rebuild() {
    QCustomPlot* p = plot();
    p->clearPlottables();
    m_selectedBar = nullptr;
    m_order.resize(m_bars.size());
    std::iota(m_order.begin(), m_order.end(), 0);
    if (m_sorted)
        std::stable_sort(m_order.begin(), m_order.end(), [this](int a, int b) {
            const double va = std::isfinite(m_bars[a].value) ? m_bars[a].value : -1e300;
            const double vb = std::isfinite(m_bars[b].value) ? m_bars[b].value : -1e300;
            return va > vb;
        });
    const QStringList gs = groups();
    for (int g = 0; g < gs.size(); ++g) {
        QVector<double> k, v;
        for (int i = 0; i < m_order.size(); ++i)
            if (m_bars[m_order[i]].group == gs[g]) {
                k << i;
                v << m_bars[m_order[i]].value;
            }
        auto* bars = new QCPBars(p->xAxis, p->yAxis);
        bars->setWidthType(QCPBars::wtPlotCoords);
        bars->setWidth(0.85);
        const QColor c = seriesColor(g);
        bars->setBrush(c);
        bars->setPen(QPen(c, 0));
        bars->setData(k, v, true);
        bars->setName(gs[g]);
        bars->setSelectable(QCP::stNone);
    }
    // role names have underscores, which DejaVu Sans draws below the font's descent: a taller
    // item (its outer rect is its clip rect) keeps them visible. Reached through the plottables:
    // the legend's grid wraps (placeLegendAbove), and item(i) of an empty cell in its last row is null
    for (int i = 0; i < p->plottableCount(); ++i)
        if (QCPPlottableLegendItem* it = p->legend->itemWithPlottable(p->plottable(i))) {
            QMargins m = it->margins();
            m.setBottom(m.bottom() + 3);
            it->setMargins(m);
        }
    m_selectedBar = new QCPBars(p->xAxis, p->yAxis);
    m_selectedBar->setWidthType(QCPBars::wtPlotCoords);
    m_selectedBar->setWidth(0.85);
    m_selectedBar->setBrush(Qt::NoBrush);
    m_selectedBar->setPen(QPen(Qt::black, 2.0));
    m_selectedBar->removeFromLegend();
    m_selectedBar->setSelectable(QCP::stNone);

    // x ticks: the first bar of each block in model order (thinned to ~16 labels); ranks when sorted
    if (m_sorted) {
        p->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        p->xAxis->setLabel(tr("rank (largest first)"));
    } else {
        QSharedPointer<QCPAxisTickerText> t(new QCPAxisTickerText);
        QVector<int> starts;
        for (int i = 0; i < m_bars.size(); ++i)
            if (i == 0 || m_bars[i].block != m_bars[i - 1].block) starts << i;
        const int step = std::max<int>(1, int(std::ceil(starts.size() / 16.0)));
        for (int s = 0; s < starts.size(); s += step) t->addTick(starts[s], QString::number(m_bars[starts[s]].block));
        p->xAxis->setTicker(t);
        p->xAxis->setLabel(tr("decoder block (bars in model order)"));
    }
    p->yAxis->setLabel(m_valueLabel);
    updateSelection();
}

void SensitivityView::updateSelection() {
    const int i = positionOf(m_selected);
    if (m_selectedBar) m_selectedBar->setData(QVector<double>(), QVector<double>());
    if (i < 0) {
        setElementText(m_info, m_bars.isEmpty() ? QString() : tr("Click a bar to select its layer"));
        return;
    }
    const SensitivityBar& b = m_bars[m_order[i]];
    m_selectedBar->setData(QVector<double>{double(i)}, QVector<double>{b.value}, true);
    const int rank = [&] {
        int r = 1;
        for (const auto& o : m_bars)
            if (o.value > b.value) ++r;
        return r;
    }();
    setElementText(m_info, tr("Selected: %1 — %2 = %3 (rank %4 of %5)")
                               .arg(b.name, m_valueLabel, formatValue(b.value, 4))
                               .arg(rank)
                               .arg(m_bars.size()));
}

void SensitivityView::onPress(QMouseEvent* e) {
    if (e->button() != Qt::LeftButton || m_bars.isEmpty()) return;
    QCustomPlot* p = plot();
    if (!p->axisRect()->rect().contains(e->pos())) return;
    const int i = positionAtKey(p->xAxis->pixelToCoord(e->pos().x()));
    if (i < 0) return;
    const QString name = m_bars[m_order[i]].name;
    setSelected(name);
    emit barClicked(name);
}

void SensitivityView::onMove(QMouseEvent* e) {
    QCustomPlot* p = plot();
    if (m_bars.isEmpty() || !p->axisRect()->rect().contains(e->pos())) return;
    const int i = positionAtKey(p->xAxis->pixelToCoord(e->pos().x()));
    if (i < 0) return;
    const SensitivityBar& b = m_bars[m_order[i]];
    QToolTip::showText(e->globalPosition().toPoint(),
                       QString("%1\n%2 = %3").arg(b.name, m_valueLabel, formatValue(b.value, 4)), p);
}

void SensitivityView::applyLogScale(bool on) {
    setAxisLogScale(plot()->yAxis, on);
    resetZoom();
}

void SensitivityView::resetZoom() {
    QCustomPlot* p = plot();
    const int n = m_bars.size();
    p->xAxis->setRange(-0.7, std::max(1, n) - 0.3);
    double maxV = 0, minV = 0, minPos = std::numeric_limits<double>::infinity();
    for (const auto& b : m_bars) {
        if (!std::isfinite(b.value)) continue;
        maxV = std::max(maxV, b.value);
        minV = std::min(minV, b.value);
        if (b.value > 0) minPos = std::min(minPos, b.value);
    }
    if (isLogScale()) {
        if (!std::isfinite(minPos)) minPos = 0.1, maxV = 1;
        p->yAxis->setRange(minPos / 1.5, std::max(maxV, minPos) * 1.8);
    } else {
        const double span = std::max(maxV - minV, 1e-12);
        p->yAxis->setRange(minV < 0 ? minV - 0.06 * span : 0, maxV > 0 ? maxV + 0.06 * span : 1.0);
    }
    p->replot();
}

}  // namespace qs::widgets
