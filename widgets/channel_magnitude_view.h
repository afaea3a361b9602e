#pragma once
// ChannelMagnitudeView: one value per input channel (e.g. mean |x| or max |x| of a Linear's
// input) as bars or impulses. The top-k% channels by magnitude are drawn in a highlight
// colour and listed under the plot; an optional "after" series (e.g. after SmoothQuant or
// a rotation) is overlaid with a legend.

#include <QVector>
#include <vector>

#include "plot_view.h"

class QCPAbstractPlottable;
class QCPTextElement;

namespace qs::widgets {

class ChannelMagnitudeView : public PlotView {
    Q_OBJECT
  public:
    enum class Style { Bars, Impulses };
    Q_ENUM(Style)

    explicit ChannelMagnitudeView(QWidget* parent = nullptr);

    // The primary ("before") series; outliers are ranked on it. Resets the zoom.
    void setValues(const std::vector<float>& values);
    void setValues(const QVector<double>& values);
    // Optional overlay; an empty vector removes it.
    void setAfterValues(const std::vector<float>& values);
    void setAfterValues(const QVector<double>& values);
    void clearAfterValues();
    bool hasAfterValues() const { return !m_after.isEmpty(); }
    int channelCount() const { return m_values.size(); }
    QVector<double> values() const { return m_values; }

    // Legend names of the two series (defaults "channel value" / "after").
    void setSeriesNames(const QString& primary, const QString& after = QString());
    QString primaryName() const { return m_primaryName; }
    QString afterName() const { return m_afterName; }

    void setStyle(Style style);
    Style style() const { return m_style; }

    // Highlight the top `percent`% channels by |value|: k = ceil(n * percent / 100), capped at
    // n; 0 highlights none. Default 1%.
    void setTopPercent(double percent);
    double topPercent() const { return m_topPercent; }
    // Highlight exactly k channels instead (k < 0 returns to the percent rule); `legend` names
    // them in the legend (default "top k channels").
    void setTopCount(int k, const QString& legend = QString());
    // Channels highlighted, ranked: largest |value| first, ties broken by lower index.
    QVector<int> outlierChannels() const { return m_outliers; }
    // The text listing them under the plot.
    QString outlierListText() const;
    // Channel indices drawn by the highlight series (read back from the plot, ascending).
    QVector<double> highlightedKeys() const;
    // Channel indices drawn by the normal series (ascending).
    QVector<double> normalKeys() const;

    bool supportsLogScale() const override { return true; }

    static QColor normalColor();
    static QColor outlierColor();
    static QColor afterColor();

  public slots:
    void resetZoom() override;

  signals:
    void outliersChanged(const QVector<int>& channels);

  protected:
    void applyLogScale(bool on) override;

  private:
    void rebuild();
    void recomputeOutliers();
    int outlierTarget() const;
    QCPAbstractPlottable* addSeries(const QVector<double>& keys, const QVector<double>& values, const QColor& color,
                                    const QString& name, bool overlay);

    QVector<double> m_values;
    QVector<double> m_after;
    QVector<int> m_outliers;
    QString m_primaryName;
    QString m_afterName;
    Style m_style = Style::Bars;
    double m_topPercent = 1.0;
    int m_topCount = -1;
    QString m_topLegend;

    QCPAbstractPlottable* m_normal = nullptr;
    QCPAbstractPlottable* m_highlight = nullptr;
    QCPAbstractPlottable* m_afterPlottable = nullptr;
    QCPTextElement* m_list = nullptr;
};

}  // namespace qs::widgets
