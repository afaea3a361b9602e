#include "plot_view.h"

#include <qcustomplot.h>

#include <QFileDialog>
#include <QMenu>
#include <QMessageBox>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QVBoxLayout>

#include "plot_style.h"
#include "plot_text_fit.h"

namespace qs::widgets {

PlotView::PlotView(QWidget* parent) : QWidget(parent) {
    m_plot = new QCustomPlot(this);
    m_plot->setObjectName(QStringLiteral("plot"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot);
    // The plot adapts to any size (legends re-wrap); never let its layout hint pin the window.
    m_plot->setMinimumSize(240, 180);
    applyBaseStyle(m_plot);
    // Titles and axis labels wrap to the room the layout gives them (never cut at an edge).
    connect(m_plot, &QCustomPlot::afterLayout, this, [this] {
        const bool texts = fitPlotTexts(m_plot);
        if (fitTickLabels(m_plot) || texts) relayout(m_plot);
    });
    connect(m_plot, &QCustomPlot::beforeReplot, this, &PlotView::updatePlaceholder);
    m_plot->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_plot, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        QMenu* menu = createContextMenu(this);
        menu->setAttribute(Qt::WA_DeleteOnClose);
        menu->popup(m_plot->mapToGlobal(pos));
    });
}

PlotView::~PlotView() = default;

void PlotView::setTitle(const QString& title) {
    if (title.isEmpty()) {
        if (m_title) {
            m_plot->plotLayout()->remove(m_title);
            m_plot->plotLayout()->simplify();
            m_title = nullptr;
        }
        return;
    }
    if (!m_title) {
        m_plot->plotLayout()->insertRow(0);
        m_title = new QCPTextElement(m_plot, title, plotFont(PlotFonts::kTitle, true));
        m_title->setMargins(QMargins(4, 6, 4, 2));
        m_plot->plotLayout()->addElement(0, 0, m_title);
    } else {
        setElementText(m_title, title);
    }
}

QString PlotView::title() const { return m_title ? fullText(m_title) : QString(); }

void PlotView::setPlaceholder(const QString& text) {
    m_placeholderText = text;
    if (!m_placeholder && !text.isEmpty()) {
        m_placeholder = new QCPItemText(m_plot);
        m_placeholder->setObjectName(QStringLiteral("placeholder"));
        m_placeholder->setClipToAxisRect(false);
        m_placeholder->setSelectable(false);
        m_placeholder->position->setType(QCPItemPosition::ptViewportRatio);
        m_placeholder->position->setCoords(0.5, 0.5);
        m_placeholder->setPositionAlignment(Qt::AlignCenter);
        m_placeholder->setFont(plotFont(PlotFonts::kTitle));
        m_placeholder->setColor(QColor(110, 110, 110));
    }
    if (m_placeholder) m_placeholder->setText(text);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

bool PlotView::hasData() const {
    for (int i = 0; i < m_plot->plottableCount(); ++i) {
        QCPAbstractPlottable* p = m_plot->plottable(i);
        if (!p->visible()) continue;
        if (auto* g = qobject_cast<QCPGraph*>(p)) {
            if (g->dataCount() > 0) return true;
        } else if (auto* b = qobject_cast<QCPBars*>(p)) {
            if (b->dataCount() > 0) return true;
        } else if (auto* m = qobject_cast<QCPColorMap*>(p)) {
            if (m->data()->keySize() > 0 && m->data()->valueSize() > 0) return true;
        } else {
            return true;
        }
    }
    return false;
}

// Runs before every replot: the placeholder shows (and the axes hide) while there is no data.
void PlotView::updatePlaceholder() {
    const bool show = !m_placeholderText.isEmpty() && !hasData();
    if (m_placeholder) m_placeholder->setVisible(show);
    if (show == m_placeholderShown) return;
    m_placeholderShown = show;
    if (show) {
        m_hiddenByPlaceholder.clear();
        for (QCPAxisRect* r : m_plot->axisRects())
            for (QCPAxis* a : r->axes())
                if (a->visible()) {
                    a->setVisible(false);
                    m_hiddenByPlaceholder << a;
                }
        for (QCPLayoutElement* e : m_plot->plotLayout()->elements(true))
            if (auto* c = qobject_cast<QCPColorScale*>(e))
                if (c->visible()) {
                    c->setVisible(false);
                    m_hiddenByPlaceholder << c;
                }
    } else {
        for (QObject* o : m_hiddenByPlaceholder) {
            if (auto* a = qobject_cast<QCPAxis*>(o)) a->setVisible(true);
            if (auto* c = qobject_cast<QCPColorScale*>(o)) c->setVisible(true);
        }
        m_hiddenByPlaceholder.clear();
    }
}

void PlotView::setLogScale(bool on) {
    if (!supportsLogScale() || on == m_logScale) return;
    m_logScale = on;
    applyLogScale(on);
    m_plot->replot();
    emit logScaleChanged(on);
}

void PlotView::setAxisLabels(const QString& xLabel, const QString& yLabel) {
    m_plot->xAxis->setLabel(xLabel);
    m_plot->yAxis->setLabel(yLabel);
    m_plot->replot();
}

QString PlotView::xLabel() const { return fullLabel(m_plot->xAxis); }
QString PlotView::yLabel() const { return fullLabel(m_plot->yAxis); }

bool PlotView::exportTo(const QString& path, QString* error, const ExportOptions& options) {
    prepareForRender();
    const bool ok = exportPlot(m_plot, path, error, options);
    if (ok) emit exported(path);
    return ok;
}

bool PlotView::copyToClipboard() {
    prepareForRender();
    return copyPlotToClipboard(m_plot);
}

void PlotView::saveWithDialog(const QString& suffix) {
    const QString s = suffix.toLower();
    QString filter;
    if (s == QLatin1String("png"))
        filter = tr("PNG image (*.png)");
    else if (s == QLatin1String("svg"))
        filter = tr("SVG drawing (*.svg)");
    else if (s == QLatin1String("pdf"))
        filter = tr("PDF document (*.pdf)");
    else
        return;
    if (m_lastDir.isEmpty()) m_lastDir = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
    QString base = title().isEmpty() ? QStringLiteral("plot") : title();
    base.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9_.-]+")), QStringLiteral("_"));
    QString path =
        QFileDialog::getSaveFileName(this, tr("Save plot"), QDir(m_lastDir).filePath(base + '.' + s), filter);
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().toLower() != s) path += '.' + s;
    m_lastDir = QFileInfo(path).absolutePath();
    ExportOptions opt;
    if (s == QLatin1String("png")) opt.scale = 2.0;
    QString error;
    if (!exportTo(path, &error, opt))
        QMessageBox::warning(this, tr("Save plot"), tr("Could not save the plot:\n%1").arg(error));
}

QMenu* PlotView::createContextMenu(QWidget* parent) {
    auto* menu = new QMenu(parent);
    auto add = [&](const QString& text, const char* name, auto fn) {
        QAction* a = menu->addAction(text);
        a->setObjectName(QLatin1String(name));
        connect(a, &QAction::triggered, this, fn);
        return a;
    };
    add(tr("Save as PNG…"), "savePng", [this] { saveWithDialog(QStringLiteral("png")); });
    add(tr("Save as SVG…"), "saveSvg", [this] { saveWithDialog(QStringLiteral("svg")); });
    add(tr("Save as PDF…"), "savePdf", [this] { saveWithDialog(QStringLiteral("pdf")); });
    add(tr("Copy"), "copy", [this] { copyToClipboard(); });
    menu->addSeparator();
    add(tr("Reset zoom"), "resetZoom", [this] { resetZoom(); });
    if (supportsLogScale()) {
        QAction* log = menu->addAction(tr("Log scale"));
        log->setObjectName(QStringLiteral("logScale"));
        log->setCheckable(true);
        log->setChecked(m_logScale);
        connect(log, &QAction::toggled, this, &PlotView::setLogScale);
    }
    return menu;
}

}  // namespace qs::widgets
