// Weights page: heatmap of the selected Linear's weight (max-|w| pooled, zoom and pan down
// to single values), per-input-channel max |w|, and a histogram of the weights with the
// dequantized weights of the panel's setting overlaid.
#pragma once
#include <vector>

#include "ui_util.h"
#include "workbench.h"

class AppContext;
class QComboBox;
class QLabel;
namespace qs::widgets {
class ChannelMagnitudeView;
class HeatmapView;
class HistogramView;
}  // namespace qs::widgets

class WeightsPage : public ui::LazyPage {
    Q_OBJECT
  public:
    explicit WeightsPage(AppContext* ctx, QWidget* parent = nullptr);

    qs::widgets::HeatmapView* heatmap() const { return heatmap_; }
    qs::widgets::ChannelMagnitudeView* channelMax() const { return colMax_; }
    qs::widgets::HistogramView* histogram() const { return hist_; }
    QComboBox* sourceCombo() const { return source_; }
    const Matrix& weight() const { return weight_; }
    QString shownLayer() const { return shown_; }

  signals:
    void weightShown();

  protected:
    void refresh() override;

  private:
    void drawHistogram();
    void updateInfo();
    AppContext* ctx_;
    QComboBox* source_;
    QLabel* info_;
    qs::widgets::HeatmapView* heatmap_;
    qs::widgets::ChannelMagnitudeView* colMax_;
    qs::widgets::HistogramView* hist_;
    Matrix weight_;
    QString shown_, range_;
};
