// Activations page: per-input-channel mean |x| or max |x| of the selected Linear over the
// calibration set (top-k% outlier channels highlighted and listed; with SmoothQuant or a
// rotation active, before and after overlaid); an all-Linears overview (max and median
// per Linear) that shows where outliers live; the hidden-state mean |x| entering a block,
// original vs the current model (the rotation seed's plot). "Highlight top p %" counts
// channels by the engine's salient rule (floor(n p), as AWQ keep / scale). A hint line says
// what a transform does to these inputs (norm fusion before a rotation rescales them;
// smoothing makes channels with s < 1 grow).
#pragma once
#include <memory>

#include "ui_util.h"
#include "workbench.h"

class AppContext;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSpinBox;
namespace qs::widgets {
class ChannelMagnitudeView;
class LinePlot;
}  // namespace qs::widgets

class ActivationsPage : public ui::LazyPage {
    Q_OBJECT
  public:
    explicit ActivationsPage(AppContext* ctx, QWidget* parent = nullptr);

    qs::widgets::ChannelMagnitudeView* channelView() const { return channel_; }
    qs::widgets::LinePlot* overviewPlot() const { return overview_; }
    qs::widgets::ChannelMagnitudeView* hiddenView() const { return hidden_; }
    QComboBox* statisticCombo() const { return stat_; }
    bool showsMax() const;  // statistic: max |x| (else mean |x|)
    // The data behind the plots (as received from the engine).
    const ChannelData& before() const { return before_; }
    const ChannelData* after() const { return hasAfter_ ? &after_ : nullptr; }
    QString afterSource() const { return afterName_; }
    const std::vector<LayerStatRow>& overviewRows() const { return overviewRows_; }
    QStringList overviewLabels() const { return overviewLabels_; }
    // True when every plot holds the data for the current layer and configuration.
    bool upToDate() const;

  signals:
    void channelsShown();
    void overviewShown();
    void hiddenShown();
    // Progressive statistics drawn while the calibration pass runs (blocks done / total).
    void partialShown(int done, int total);

  protected:
    void refresh() override;

  private:
    void loadChannels();
    void loadOverview();
    void loadHidden();
    void drawChannels();
    void showPartial(const ChannelData& c, const std::vector<LayerStatRow>& rows);
    void drawOverview();
    void applyTopPercent();  // the engine's salient_count rule on both channel views
    void updateHint();
    bool appliedTransformsInputs() const;

    AppContext* ctx_;
    QComboBox* stat_;
    QDoubleSpinBox* topPct_;
    QSpinBox* hiddenLayer_;
    QLabel* info_;
    QLabel* hint_;
    qs::widgets::ChannelMagnitudeView* channel_;
    qs::widgets::LinePlot* overview_;
    qs::widgets::ChannelMagnitudeView* hidden_;
    ChannelData before_, after_;
    bool hasAfter_ = false;
    QString afterName_;
    QString channelsFor_;
    std::vector<LayerStatRow> overviewRows_, overviewAfter_;
    QString overviewAfterName_;  // what the model carried when the overview was computed
    QStringList overviewLabels_;
    bool channelsDone_ = false, overviewDone_ = false, hiddenDone_ = false;
    quint64 channelsGen_ = 0;
    int64_t partialBlocks_ = 0;
    bool overviewStale_ = true, hiddenStale_ = true, channelsStale_ = true;
};
