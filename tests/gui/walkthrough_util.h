// Shared by the test_walkthrough_* suites (issue #14, the classroom walk-through): the real
// window on the bundled model, a second copy of the same model driven directly for the
// expected numbers, and helpers that read what the widgets show.
#pragma once
#include <QDir>
#include <QFile>
#include <QFontMetrics>
#include <QLabel>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTextDocumentFragment>
#include <QTreeWidget>
#include <QtTest/QtTest>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "app_context.h"
#include "heatmap_view.h"
#include "layer_navigator.h"
#include "main_window.h"
#include "model_session.h"
#include "plot_view.h"
#include "workbench.h"
#include "workbench_test_util.h"

namespace qs::gui::test {

// Folder for screenshots and files the suites write ($QS_GUI_TEST_OUTPUT overrides).
inline QString outDir() {
    QString d = qEnvironmentVariable("QS_GUI_TEST_OUTPUT");
#ifdef QS_GUI_TEST_OUTPUT_DIR
    if (d.isEmpty()) d = QStringLiteral(QS_GUI_TEST_OUTPUT_DIR);
#endif
    if (d.isEmpty()) d = QDir::temp().filePath("quantscope-gui-tests");
    QDir().mkpath(d);
    return d;
}

// The offscreen platform with one screen of w x h (the projector the class is taught on).
// Call before QApplication is constructed.
inline void useOffscreenScreen(int w, int h) {
    const QString path = QDir::temp().filePath(QString("quantscope-screen-%1x%2.json").arg(w).arg(h));
    QFile f(path);
    if (f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        f.write(QString("{\"screens\": [{\"name\": \"screen\", \"x\": 0, \"y\": 0, \"width\": %1, \"height\": %2, "
                        "\"logicalDpi\": 96, \"logicalBaseDpi\": 96, \"dpr\": 1}]}")
                    .arg(w)
                    .arg(h)
                    .toUtf8());
    qputenv("QT_QPA_PLATFORM", ("offscreen:configfile=" + path).toUtf8());
}

// The window on the bundled model plus a reference Workbench on a second copy of it.
class Session {
  public:
    std::unique_ptr<MainWindow> w;
    std::shared_ptr<Workbench> ref;

    bool open(const QSize& size = QSize(1600, 1000)) {
        w = std::make_unique<MainWindow>();
        w->resize(size);
        w->show();
        if (!QTest::qWaitForWindowExposed(w.get())) return false;
        QSignalSpy loaded(w.get(), &MainWindow::modelChanged);
        w->openModel(QString::fromStdString(default_model_path()));
        if (!loaded.wait(kLong) || !ctx()->hasModel() || !idle()) return false;
        LoadRequest req;
        req.dir = default_model_path();
        ref = Workbench::open(req, {});
        return ref && ref->has_tokenizer();
    }
    void close() {
        w.reset();
        ref.reset();
    }
    AppContext* ctx() const { return w->context(); }
    bool idle(int ms = kLong) const { return waitIdle(w->context(), ms); }

    // Clicks the Linear in the layer navigator, as a user would.
    bool selectLayer(const QString& name) {
        LayerNavigator* nav = w->navigator();
        QTreeWidgetItem* item = nullptr;
        for (QTreeWidgetItemIterator it(nav); *it; ++it)
            if ((*it)->data(0, Qt::UserRole).toString() == name) item = *it;
        if (!item) return false;
        nav->scrollToItem(item);
        const QRect r = nav->visualItemRect(item);
        if (!r.isValid()) return false;
        QTest::mouseClick(nav->viewport(), Qt::LeftButton, {}, r.center());
        return ctx()->layer() == name;
    }
};

// Every colour-map cell the heatmap draws holds the max-|w| of its block of the data it was
// given (so what is drawn is the data, not a leftover of earlier data). "" when it does.
inline QString heatmapDrawsItsData(const qs::widgets::HeatmapView* view) {
    const auto& g = view->displayedGrid();
    if (g.empty()) return "nothing drawn";
    const auto& v = view->values();
    for (int i = 0; i < g.cellRows; ++i)
        for (int j = 0; j < g.cellCols; ++j) {
            float best = 0;
            bool any = false;
            for (int r = g.rowStart + i * g.blockRows; r < std::min(view->rows(), g.rowStart + (i + 1) * g.blockRows);
                 ++r)
                for (int c = g.colStart + j * g.blockCols;
                     c < std::min(view->cols(), g.colStart + (j + 1) * g.blockCols); ++c) {
                    const float x = v[static_cast<size_t>(r) * view->cols() + c];
                    if (!any || std::fabs(x) > std::fabs(best)) best = x;
                    any = true;
                }
            if (g.at(i, j) != best)
                return QString("cell (%1, %2) draws %3, the data's max |x| there is %4")
                    .arg(i)
                    .arg(j)
                    .arg(g.at(i, j))
                    .arg(best);
        }
    return {};
}

// A QLabel shows all of its text: one line that fits, or word wrap with room for every line.
inline bool labelShowsAll(const QLabel* l) {
    if (!l->isVisible()) return false;
    const QRect r = l->contentsRect();
    if (l->wordWrap()) return l->heightForWidth(l->width()) <= l->height() + 1;
    QFontMetrics fm(l->font());
    const QString plain =
        l->textFormat() == Qt::RichText ? QTextDocumentFragment::fromHtml(l->text()).toPlainText() : l->text();
    for (const QString& line : plain.split('\n'))
        if (fm.horizontalAdvance(line) > r.width()) return false;
    return true;
}

// The widest line of a (possibly multi-line) text.
inline int textWidth(const QFont& font, const QString& text) {
    QFontMetrics fm(font);
    int w = 0;
    for (const QString& line : text.split('\n')) w = std::max(w, fm.horizontalAdvance(line));
    return w;
}

// Why a plot's title or axis labels do not fit its plot ("" when everything fits).
inline QString plotTextClipped(qs::widgets::PlotView* view) {
    QCustomPlot* p = view->plot();
    p->replot();
    QString out;
    for (QCPLayoutElement* e : p->plotLayout()->elements(true)) {
        if (auto* t = qobject_cast<QCPTextElement*>(e)) {
            if (!t->visible() || t->text().isEmpty()) continue;
            if (textWidth(t->font(), t->text()) > t->outerRect().width() + 1)
                out += QString("text '%1' (%2 px) in %3 px; ")
                           .arg(t->text())
                           .arg(textWidth(t->font(), t->text()))
                           .arg(t->outerRect().width());
        }
        if (auto* item = qobject_cast<QCPPlottableLegendItem*>(e)) {
            QCPLegend* legend = item->parentLegend();
            if (!legend->visible() || !item->plottable()) continue;
            const int need = legend->iconSize().width() + legend->iconTextPadding() +
                             textWidth(item->font(), item->plottable()->name());
            if (need > item->rect().width() + 1)
                out += QString("legend entry '%1' (%2 px) in %3 px; ")
                           .arg(item->plottable()->name())
                           .arg(need)
                           .arg(item->rect().width());
        }
        if (auto* r = qobject_cast<QCPAxisRect*>(e)) {
            if (!r->visible()) continue;
            for (QCPAxis* a : r->axes()) {
                if (!a->visible() || a->label().isEmpty()) continue;
                const bool vertical = a->axisType() == QCPAxis::atLeft || a->axisType() == QCPAxis::atRight;
                const int room = vertical ? r->height() : r->width();
                if (textWidth(a->labelFont(), a->label()) > room + 1)
                    out += QString("axis label '%1' (%2 px) along %3 px; ")
                               .arg(a->label())
                               .arg(textWidth(a->labelFont(), a->label()))
                               .arg(room);
            }
        }
    }
    return out;
}

}  // namespace qs::gui::test
