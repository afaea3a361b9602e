#pragma once
// PlotView: base of every QuantScope plot widget. Owns one QCustomPlot, a title, and the
// context menu every view shares: Save as PNG/SVG/PDF, Copy, Reset zoom, Log scale.

#include <QPointer>
#include <QWidget>

#include "plot_export.h"

class QCustomPlot;
class QCPItemText;
class QCPTextElement;
class QMenu;

namespace qs::widgets {

// A closed value interval (colour ranges, axis ranges) without pulling in qcustomplot.h.
struct ValueRange {
    double lower = 0.0;
    double upper = 0.0;
    double size() const { return upper - lower; }
};

class PlotView : public QWidget {
    Q_OBJECT
  public:
    explicit PlotView(QWidget* parent = nullptr);
    ~PlotView() override;

    QCustomPlot* plot() const { return m_plot; }

    // Title shown above the plot (an empty string removes the title row).
    void setTitle(const QString& title);
    QString title() const;

    // A message drawn in the middle of the plot while it has no data, with its axes hidden
    // (e.g. "Loading…", "Apply with auto-scale to see the loss curves"); "" for none. The text
    // item's objectName is "placeholder".
    void setPlaceholder(const QString& text);
    QString placeholder() const { return m_placeholderText; }
    bool placeholderShown() const { return m_placeholderShown; }

    // Axis titles (with units), then a replot. Default: the main axis rect's bottom and left
    // axes; views with several axis rects label them all.
    virtual void setAxisLabels(const QString& xLabel, const QString& yLabel);
    virtual QString xLabel() const;
    virtual QString yLabel() const;

    // Whether the view has a meaningful log scale (adds "Log scale" to the menu).
    virtual bool supportsLogScale() const { return false; }
    bool isLogScale() const { return m_logScale; }

    // Dialog-free export; the format comes from the suffix (see exportPlot).
    bool exportTo(const QString& path, QString* error = nullptr, const ExportOptions& options = {});
    // Copies the plot as an image to the clipboard.
    bool copyToClipboard();

    // The context menu (caller owns it). Actions carry objectNames "savePng", "saveSvg",
    // "savePdf", "copy", "resetZoom", "logScale" for lookup in tests and other UI.
    QMenu* createContextMenu(QWidget* parent = nullptr);

    QSize sizeHint() const override { return QSize(900, 560); }
    QSize minimumSizeHint() const override { return QSize(260, 200); }

  public slots:
    void setLogScale(bool on);
    virtual void resetZoom() = 0;
    // Opens a save dialog for the given suffix ("png", "svg", "pdf"). PNG is saved at 2x.
    void saveWithDialog(const QString& suffix);

  signals:
    void logScaleChanged(bool on);
    void exported(const QString& path);

  protected:
    // Subclasses switch their value axis here; called by setLogScale when the state changes.
    virtual void applyLogScale(bool on) { Q_UNUSED(on); }
    // Flush pending (deferred) work before rendering; called before every export/copy.
    virtual void prepareForRender() {}
    // Title text element (null while no title is set).
    QCPTextElement* titleElement() const { return m_title; }
    // Whether the plot has something to draw (a plottable with data); the placeholder shows
    // while it has not.
    virtual bool hasData() const;

  private:
    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    bool m_logScale = false;
    QString m_lastDir;
    void updatePlaceholder();
    QCPItemText* m_placeholder = nullptr;
    QString m_placeholderText;
    bool m_placeholderShown = false;
    QList<QPointer<QObject>> m_hiddenByPlaceholder;  // axes and colour scales to show again
};

}  // namespace qs::widgets
