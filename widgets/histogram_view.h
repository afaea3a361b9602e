#pragma once
// HistogramView: histogram of one or more value sets (e.g. a weight distribution before and
// after quantization) over shared bins, with a log-y toggle.

#include <QVector>
#include <vector>

#include "plot_view.h"

class QCPBars;

namespace qs::widgets {

class HistogramView : public PlotView {
    Q_OBJECT
  public:
    explicit HistogramView(QWidget* parent = nullptr);

    // Replaces all series with one.
    void setValues(const std::vector<float>& values, const QString& name = QString());
    // Adds an overlaid series (same bins); returns its index.
    int addValues(const QString& name, const std::vector<float>& values);
    void clear();
    int seriesCount() const { return m_series.size(); }

    void setBinCount(int bins);  // >= 1, default 100
    int binCount() const { return m_bins; }
    // Fixed histogram range; values outside are not counted. Default: [min, max] of all data.
    void setValueRange(double lower, double upper);
    void clearValueRange();
    ValueRange binRange() const { return m_range; }
    double binWidth() const;
    QVector<double> binCenters() const;
    QVector<double> binCounts(int series = 0) const;
    // Values of a series outside the fixed range (0 with the automatic range).
    int outOfRangeCount(int series = 0) const;
    QCPBars* bars(int series) const;

    bool supportsLogScale() const override { return true; }  // log y

  public slots:
    void resetZoom() override;

  protected:
    void applyLogScale(bool on) override;

  private:
    struct Series {
        QString name;
        std::vector<float> values;
        QVector<double> counts;
        int outOfRange = 0;
        QCPBars* bars = nullptr;
    };
    void rebuild();

    QVector<Series> m_series;
    int m_bins = 100;
    bool m_fixedRange = false;
    ValueRange m_range{0, 1};
};

}  // namespace qs::widgets
