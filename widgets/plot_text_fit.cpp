#include "plot_text_fit.h"

#include <qcustomplot.h>

#include <QFontMetrics>
#include <QStringList>

#include <algorithm>
#include <utility>
#include <vector>

namespace qs::widgets {
namespace {

// The text as set by the program: the current text, unless it is our own wrapped version.
QString originalOf(const QObject* o, const QString& current) {
    const QString wrapped = o->property("qsWrapped").toString();
    if (!wrapped.isNull() && wrapped == current) return o->property("qsFull").toString();
    return current;
}

void remember(QObject* o, const QString& full, const QString& wrapped) {
    o->setProperty("qsFull", full);
    o->setProperty("qsWrapped", wrapped);
}

}  // namespace

bool laidOut(const QCustomPlot* plot) {
    return plot->viewport().width() >= plot->minimumWidth() && plot->viewport().height() >= plot->minimumHeight();
}

QString wrapToWidth(const QString& text, const QFont& font, int width) {
    if (width <= 0 || text.isEmpty()) return text;
    QFontMetrics fm(font);
    QStringList out;
    for (const QString& paragraph : text.split(QLatin1Char('\n'))) {
        if (fm.horizontalAdvance(paragraph) <= width) {
            out << paragraph;
            continue;
        }
        QString line;
        for (const QString& word : paragraph.split(QLatin1Char(' '), Qt::SkipEmptyParts)) {
            const QString candidate = line.isEmpty() ? word : line + QLatin1Char(' ') + word;
            if (!line.isEmpty() && fm.horizontalAdvance(candidate) > width) {
                out << line;
                line = word;
            } else {
                line = candidate;
            }
        }
        out << line;
    }
    return out.join(QLatin1Char('\n'));
}

bool fitPlotTexts(QCustomPlot* plot) {
    bool changed = false;
    if (!laidOut(plot)) return false;
    for (QCPLayoutElement* e : plot->plotLayout()->elements(true)) {
        if (auto* t = qobject_cast<QCPTextElement*>(e)) {
            const QString full = originalOf(t, t->text());
            const QMargins m = t->margins();
            const QString wrapped = wrapToWidth(full, t->font(), t->outerRect().width() - m.left() - m.right());
            remember(t, full, wrapped);
            if (wrapped != t->text()) {
                t->setText(wrapped);
                changed = true;
            }
        }
        if (auto* r = qobject_cast<QCPAxisRect*>(e)) {
            for (QCPAxis* a : r->axes()) {
                if (a->label().isEmpty()) continue;
                const QString full = originalOf(a, a->label());
                const bool vertical = a->axisType() == QCPAxis::atLeft || a->axisType() == QCPAxis::atRight;
                const QString wrapped = wrapToWidth(full, a->labelFont(), vertical ? r->height() : r->width());
                remember(a, full, wrapped);
                if (wrapped != a->label()) {
                    a->setLabel(wrapped);
                    changed = true;
                }
            }
        }
    }
    return changed;
}

namespace {

// Whether the axis' tick labels for `count` ticks are at least `gap` pixels apart.
bool tickLabelsFit(QCPAxis* a, int count, int gap) {
    QSharedPointer<QCPAxisTicker> ticker = a->ticker();
    const int keep = ticker->tickCount();
    ticker->setTickCount(count);
    QVector<double> ticks;
    QVector<QString> labels;
    const QString format = a->numberFormat();
    ticker->generate(a->range(), a->parentPlot()->locale(), format.isEmpty() ? QLatin1Char('g') : format.at(0),
                     a->numberPrecision(), ticks, nullptr, &labels);
    ticker->setTickCount(keep);
    QFontMetrics fm(a->tickLabelFont());
    std::vector<std::pair<double, double>> spans;  // [left, right] of each label, in pixels
    for (int i = 0; i < ticks.size() && i < labels.size(); ++i) {
        if (!a->range().contains(ticks[i])) continue;
        const double half = fm.horizontalAdvance(labels[i]) / 2.0, px = a->coordToPixel(ticks[i]);
        spans.emplace_back(px - half, px + half);
    }
    std::sort(spans.begin(), spans.end());
    for (size_t i = 1; i < spans.size(); ++i)
        if (spans[i].first < spans[i - 1].second + gap) return false;
    return true;
}

bool fitAxisTicks(QCPAxis* a) {
    if (!a || !a->visible() || !a->tickLabels() || a->tickLabelRotation() != 0) return false;
    if (a->axisType() != QCPAxis::atBottom && a->axisType() != QCPAxis::atTop) return false;
    QSharedPointer<QCPAxisTicker> ticker = a->ticker();
    if (!ticker || ticker.dynamicCast<QCPAxisTickerText>()) return false;  // fixed labels: not ours to thin
    // The count the program asked for: the current one, unless it is the one we set last.
    const QVariant fitted = a->property("qsFittedTicks");
    int wanted = ticker->tickCount();
    if (fitted.isValid() && fitted.toInt() == wanted) wanted = a->property("qsWantedTicks").toInt();
    a->setProperty("qsWantedTicks", wanted);
    int count = wanted;
    while (count > 1 && !tickLabelsFit(a, count, 6)) --count;
    a->setProperty("qsFittedTicks", count);
    if (count == ticker->tickCount()) return false;
    ticker->setTickCount(count);
    return true;
}

}  // namespace

bool fitTickLabels(QCustomPlot* plot) {
    bool changed = false;
    if (!laidOut(plot)) return false;
    for (QCPLayoutElement* e : plot->plotLayout()->elements(true)) {
        if (auto* r = qobject_cast<QCPAxisRect*>(e))
            for (QCPAxis* a : r->axes()) changed |= fitAxisTicks(a);
        if (auto* c = qobject_cast<QCPColorScale*>(e)) changed |= fitAxisTicks(c->axis());
    }
    return changed;
}

bool fitLegendNames(QCPLegend* legend, int width) {
    bool changed = false;
    if (!laidOut(legend->parentPlot())) return false;
    const QMargins m = legend->margins();
    for (int i = 0; i < legend->itemCount(); ++i) {
        auto* item = qobject_cast<QCPPlottableLegendItem*>(legend->item(i));
        if (!item) continue;
        QCPAbstractPlottable* p = item->plottable();
        const QString full = originalOf(p, p->name());
        const QMargins im = item->margins();
        const int room = width - m.left() - m.right() - im.left() - im.right() - legend->iconSize().width() -
                         legend->iconTextPadding() - 4;  // a few pixels for the layout's rounding
        const QString wrapped = wrapToWidth(full, legend->font(), room);
        remember(p, full, wrapped);
        if (wrapped != p->name()) {
            p->setName(wrapped);
            changed = true;
        }
    }
    return changed;
}

QString fullText(const QCPTextElement* element) { return originalOf(element, element->text()); }

QString fullLabel(const QCPAxis* axis) { return originalOf(axis, axis->label()); }

void setElementText(QCPTextElement* element, const QString& text) {
    if (fullText(element) != text) element->setText(text);
}

void relayout(QCustomPlot* plot) {
    QCPLayoutGrid* main = plot->plotLayout();
    main->update(QCPLayoutElement::upPreparation);
    main->update(QCPLayoutElement::upMargins);
    main->update(QCPLayoutElement::upLayout);
}

}  // namespace qs::widgets
