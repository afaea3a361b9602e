#pragma once
// LinePlot: y vs x for several named series with markers, one highlighted point per series
// (shown with a ring and a legend entry), log-y toggle (context menu) and optional log-x.
// SweepPlot: a LinePlot whose series are parameter sweeps; the chosen point defaults to the
// smallest y (best perplexity / loss).

#include <QVector>
#include <vector>

#include "plot_view.h"

class QCPGraph;
class QCPItemText;

namespace qs::widgets {

class LinePlot : public PlotView {
    Q_OBJECT
  public:
    explicit LinePlot(QWidget* parent = nullptr);

    // Adds a series; returns its index. x and y should have the same length (extra points of
    // the longer one are dropped). Points are joined in order of x; point indices (for
    // highlights) refer to the order given here.
    int addSeries(const QString& name, const QVector<double>& x, const QVector<double>& y);
    int addSeries(const QString& name, const std::vector<double>& x, const std::vector<double>& y);
    void setSeriesData(int series, const QVector<double>& x, const QVector<double>& y);
    // Appends one point (e.g. a running estimate updated per window).
    void appendPoint(int series, double x, double y);
    void clearSeries();
    int seriesCount() const { return m_series.size(); }
    QString seriesName(int series) const;
    QCPGraph* graph(int series) const;

    // Highlights point `pointIndex` (in the order given) of a series with a ring (-1 clears);
    // the series' legend entry becomes "<series> — <label>: x → y".
    void setHighlight(int series, int pointIndex, const QString& label = QString());
    int highlightIndex(int series) const;
    QCPGraph* highlightGraph(int series) const;
    // Also write the highlight label next to the point (default off).
    void setHighlightLabelsVisible(bool on);

    void setMarkersVisible(bool on);
    bool markersVisible() const { return m_markers; }
    void setLogX(bool on);
    bool logX() const { return m_logX; }
    // Whole-number ticks only on the x axis (a parameter such as bits that takes integer values).
    void setIntegerX(bool on);
    bool integerX() const { return m_integerX; }

    // A horizontal reference line at y across the x range of the data (e.g. the original model's
    // perplexity), dashed, with its own legend entry `name`; returns its series index. Replaces
    // the previous reference line; an empty name removes it.
    int setReferenceLine(const QString& name, double y);
    int referenceSeries() const { return m_reference; }

    bool supportsLogScale() const override { return true; }  // log y

  public slots:
    void resetZoom() override;

  protected:
    void applyLogScale(bool on) override;

  private:
    struct Series {
        QString name;
        QVector<double> x, y;  // as given (highlight indices refer to this order)
        QCPGraph* graph = nullptr;
        QCPGraph* highlight = nullptr;
        QCPItemText* label = nullptr;
        int highlightIndex = -1;
        QString highlightLabel;
    };
    void styleSeries(int index);
    void updateHighlight(int index);

    QVector<Series> m_series;
    bool m_markers = true;
    bool m_logX = false;
    bool m_integerX = false;
    bool m_highlightLabels = false;
    int m_reference = -1;  // series index of the reference line, -1 if none
    double m_referenceY = 0;
    void placeReference();
};

class SweepPlot : public LinePlot {
    Q_OBJECT
  public:
    explicit SweepPlot(QWidget* parent = nullptr);
    // Adds a sweep and highlights `chosenIndex` (-1: the point with the smallest finite y,
    // first on ties). Returns the series index.
    int addSweep(const QString& name, const QVector<double>& x, const QVector<double>& y, int chosenIndex = -1,
                 const QString& chosenLabel = QString());
    // Index of the smallest finite y (first on ties), -1 if none.
    static int argMin(const QVector<double>& y);
};

}  // namespace qs::widgets
