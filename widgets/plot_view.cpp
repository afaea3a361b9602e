#include "plot_view.h"

#include <qcustomplot.h>

#include <QFileDialog>
#include <QMenu>
#include <QMessageBox>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QVBoxLayout>

#include "plot_style.h"

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
    m_title->setText(title);
  }
}

QString PlotView::title() const { return m_title ? m_title->text() : QString(); }

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

QString PlotView::xLabel() const { return m_plot->xAxis->label(); }
QString PlotView::yLabel() const { return m_plot->yAxis->label(); }

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
  if (s == QLatin1String("png")) filter = tr("PNG image (*.png)");
  else if (s == QLatin1String("svg")) filter = tr("SVG drawing (*.svg)");
  else if (s == QLatin1String("pdf")) filter = tr("PDF document (*.pdf)");
  else return;
  if (m_lastDir.isEmpty())
    m_lastDir = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
  QString base = title().isEmpty() ? QStringLiteral("plot") : title();
  base.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9_.-]+")), QStringLiteral("_"));
  QString path = QFileDialog::getSaveFileName(this, tr("Save plot"),
                                              QDir(m_lastDir).filePath(base + '.' + s), filter);
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
