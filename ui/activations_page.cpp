#include "activations_page.h"

#include <QPointer>

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <algorithm>

#include "app_context.h"
#include "channel_magnitude_view.h"
#include "line_plot.h"

using qs::widgets::ChannelMagnitudeView;
using qs::widgets::LinePlot;
using ui::qstr;

namespace {

QString transformName(const qs::MethodConfig& c) {
    QStringList p;
    if (c.has("rotate")) p << QString("rotation (%1)").arg(qstr(qs::rotation_kind_name(c.rotation)));
    if (c.has("smoothquant")) p << QString("SmoothQuant α=%1").arg(c.sq_alpha);
    return p.join(" + ");
}

bool sameCalibration(const qs::MethodConfig& a, const qs::MethodConfig& b) {
    return a.calib_path == b.calib_path && a.calib_samples == b.calib_samples && a.calib_seqlen == b.calib_seqlen &&
           a.calib_seed == b.calib_seed;
}

}  // namespace

ActivationsPage::ActivationsPage(AppContext* ctx, QWidget* parent) : ui::LazyPage(parent), ctx_(ctx) {
    setObjectName("activationsPage");
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(4, 4, 4, 4);
    auto* bar = new QHBoxLayout;
    stat_ = new QComboBox;
    stat_->setObjectName("statCombo");
    stat_->addItem("max |x| (SmoothQuant)", "max");
    stat_->addItem("mean |x| (AWQ importance)", "mean");
    topPct_ = new QDoubleSpinBox;
    topPct_->setObjectName("topPercentSpin");
    topPct_->setRange(0.0, 20.0);
    topPct_->setDecimals(1);
    topPct_->setSingleStep(0.5);
    topPct_->setValue(1.0);
    topPct_->setSuffix(" %");
    hiddenLayer_ = new QSpinBox;
    hiddenLayer_->setObjectName("hiddenLayerSpin");
    hiddenLayer_->setRange(0, 0);
    info_ = new ui::ElidedLabel;
    info_->setObjectName("activationsInfo");
    info_->setStyleSheet("color:#555");
    bar->addWidget(new QLabel("Statistic"));
    bar->addWidget(stat_);
    bar->addSpacing(12);
    bar->addWidget(new QLabel("Highlight top"));
    bar->addWidget(topPct_);
    bar->addSpacing(12);
    bar->addWidget(new QLabel("Hidden state into block"));
    bar->addWidget(hiddenLayer_);
    bar->addSpacing(12);
    bar->addWidget(info_, 1);
    v->addLayout(bar);
    hint_ = new QLabel;
    hint_->setObjectName("activationsHint");
    hint_->setWordWrap(true);
    hint_->setStyleSheet("QLabel { background:#eef4fb; color:#23415f; border:1px solid #b9cde4; padding:3px 8px; }");
    hint_->hide();
    v->addWidget(hint_);

    auto* vs = new QSplitter(Qt::Vertical, this);
    channel_ = new ChannelMagnitudeView(vs);
    channel_->setObjectName("channelView");
    auto* hs = new QSplitter(Qt::Horizontal, vs);
    overview_ = new LinePlot(hs);
    overview_->setObjectName("overviewPlot");
    hidden_ = new ChannelMagnitudeView(hs);
    hidden_->setObjectName("hiddenView");
    hs->addWidget(overview_);
    hs->addWidget(hidden_);
    vs->addWidget(channel_);
    vs->addWidget(hs);
    vs->setStretchFactor(0, 1);
    vs->setStretchFactor(1, 1);
    v->addWidget(vs, 1);
    overview_->setLogScale(true);
    ui::setPlotTitle(overview_, "All Linears: where the outliers live");
    hidden_->setStyle(ChannelMagnitudeView::Style::Impulses);
    ui::setPlotTitle(hidden_, "Hidden state mean |h| per channel");
    hidden_->setAxisLabels("hidden channel", "mean |h|");
    ui::setPlotTitle(channel_, "Input channels of the selected Linear");
    for (qs::widgets::PlotView* pv : std::initializer_list<qs::widgets::PlotView*>{channel_, overview_, hidden_})
        pv->setPlaceholder("Loading…");

    auto allStale = [this] {
        channelsStale_ = overviewStale_ = hiddenStale_ = true;
        channelsDone_ = overviewDone_ = hiddenDone_ = false;
        requestRefresh();
    };
    connect(ctx_, &AppContext::modelChanged, this, [this, allStale] {
        if (const auto* s = ctx_->summary()) {
            hiddenLayer_->blockSignals(true);
            hiddenLayer_->setRange(0, static_cast<int>(s->layers));
            hiddenLayer_->setValue(static_cast<int>(s->layers / 2));
            hiddenLayer_->blockSignals(false);
        }
        allStale();
    });
    connect(ctx_, &AppContext::appliedChanged, this, allStale);
    connect(ctx_, &AppContext::viewsInvalidated, this, allStale);
    connect(ctx_, &AppContext::layerChanged, this, [this] {
        channelsStale_ = true;
        channelsDone_ = false;
        requestRefresh();
    });
    auto lastCalib = std::make_shared<qs::MethodConfig>(ctx_->config());
    connect(ctx_, &AppContext::configChanged, this, [this, lastCalib] {
        if (sameCalibration(*lastCalib, ctx_->config())) return;
        *lastCalib = ctx_->config();
        channelsStale_ = overviewStale_ = true;
        channelsDone_ = overviewDone_ = false;
        requestRefresh();
    });
    // SmoothQuant preview: the panel's alpha moves the "after" series at once.
    connect(ctx_, &AppContext::previewReady, this, [this] {
        if (channelsDone_ && !hasAfter_)
            drawChannels();
        else if (channelsDone_)
            updateHint();
    });
    connect(stat_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        drawChannels();
        drawOverview();
    });
    connect(topPct_, qOverload<double>(&QDoubleSpinBox::valueChanged), this, &ActivationsPage::applyTopPercent);
    connect(hiddenLayer_, qOverload<int>(&QSpinBox::valueChanged), this, [this] {
        hiddenStale_ = true;
        hiddenDone_ = false;
        requestRefresh();
    });
}

bool ActivationsPage::showsMax() const { return stat_->currentData().toString() == "max"; }

bool ActivationsPage::upToDate() const {
    return channelsDone_ && overviewDone_ && hiddenDone_ && channelsFor_ == ctx_->layer();
}

bool ActivationsPage::appliedTransformsInputs() const {
    const auto& a = ctx_->applied();
    return a.has("rotate") || a.has("smoothquant");
}

void ActivationsPage::refresh() {
    if (!ctx_->hasModel()) return;
    if (!ctx_->workbench()->has_tokenizer()) {
        info_->setText("No tokenizer: calibration statistics are unavailable.");
        return;
    }
    // The hidden-state plot needs one short forward, the other two the calibration pass
    // (seconds, the first time): it goes first, as a Quick job that they wait for.
    if (hiddenStale_) loadHidden();
    if (channelsStale_) loadChannels();
    if (overviewStale_) loadOverview();
}

void ActivationsPage::loadChannels() {
    channelsStale_ = false;
    if (ctx_->layer().isEmpty()) return;
    auto wb = ctx_->workbench();
    const std::string linear = ctx_->layer().toStdString();
    const qs::MethodConfig cfg = ctx_->config();
    const bool withAfter = appliedTransformsInputs();
    const QString afterName = withAfter ? "after " + transformName(ctx_->applied()) : QString();
    info_->setText("Collecting calibration statistics…");
    const quint64 gen = ++channelsGen_;
    QPointer<ActivationsPage> self(this);
    // Progressive: while the calibration pass runs, the original model's statistics so far are
    // drawn every few calibration blocks ("32 / 128 blocks"); the final result replaces them.
    auto partial = [self, wb, gen](const ChannelData& c, const std::vector<LayerStatRow>& rows) {
        QMetaObject::invokeMethod(
            self.data(),
            [self, wb, gen, c, rows] {
                if (self && wb == self->ctx_->workbench() && gen == self->channelsGen_) self->showPartial(c, rows);
            },
            Qt::QueuedConnection);
    };
    ctx_->run("act-channels",
              [this, wb, linear, cfg, withAfter, afterName, partial](const qs::Progress& p) -> std::function<void()> {
                  auto before = std::make_shared<ChannelData>(wb->channel_stats(linear, false, cfg, p, partial));
                  auto after = std::make_shared<ChannelData>();
                  if (withAfter) *after = wb->channel_stats(linear, true, cfg, p);
                  return [this, wb, before, after, withAfter, afterName] {
                      if (wb != ctx_->workbench()) return;
                      before_ = *before;
                      after_ = *after;
                      hasAfter_ = withAfter;
                      afterName_ = afterName;
                      channelsFor_ = qstr(before_.linear);
                      channelsDone_ = true;
                      info_->setText(QString("%2 calibration tokens · %1")
                                         .arg(qstr(before_.calibration))
                                         .arg(ui::commas(before_.tokens)));
                      info_->setToolTip(info_->text());
                      drawChannels();
                      emit channelsShown();
                  };
              });
}

void ActivationsPage::showPartial(const ChannelData& c, const std::vector<LayerStatRow>& rows) {
    partialBlocks_ = c.samples_done;
    if (!channelsDone_ || channelsFor_ != qstr(c.linear)) {
        before_ = c;
        hasAfter_ = false;
        channelsFor_ = qstr(c.linear);
        channelsDone_ = true;
        drawChannels();
        channelsDone_ = false;  // still running: the final statistics replace these
    }
    if (!overviewDone_) {
        overviewRows_ = rows;
        overviewAfter_.clear();
        overviewDone_ = true;
        drawOverview();
        overviewDone_ = false;
    }
    info_->setText(
        QString("Calibration statistics so far: %1 / %2 blocks (%3 tokens) · the plots refine as blocks arrive")
            .arg(c.samples_done)
            .arg(c.samples_total)
            .arg(ui::commas(c.tokens)));
    info_->setToolTip(info_->text());
    emit partialShown(static_cast<int>(c.samples_done), static_cast<int>(c.samples_total));
}

void ActivationsPage::drawChannels() {
    if (!channelsDone_) return;
    const bool mx = showsMax();
    const QString stat = mx ? "max |x|" : "mean |x|";
    ui::setPlotTitle(channel_, QString("%1 — %2 per input channel").arg(qstr(before_.linear), stat));
    channel_->setAxisLabels("input channel", stat);
    channel_->setValues(mx ? before_.max_abs : before_.mean_abs);
    QString afterName;
    std::vector<float> after;
    if (hasAfter_) {
        after = mx ? after_.max_abs : after_.mean_abs;
        afterName = afterName_;
    } else if (auto pv = ctx_->preview(); pv && qstr(pv->linear) == channelsFor_ && !pv->smooth.empty() &&
                                          pv->smooth.size() == before_.max_abs.size()) {
        // x / s per channel: mean and max of |x / s| are mean and max of |x| divided by s.
        const auto& src = mx ? before_.max_abs : before_.mean_abs;
        after.resize(src.size());
        for (size_t i = 0; i < src.size(); ++i) after[i] = src[i] / pv->smooth[i];
        afterName = QString("after SmoothQuant α=%1 (panel preview)").arg(ctx_->config().sq_alpha, 0, 'f', 2);
        afterName_ = afterName;
    }
    channel_->setSeriesNames("original model (calibration)", afterName.isEmpty() ? QString("after") : afterName);
    if (after.empty())
        channel_->clearAfterValues();
    else
        channel_->setAfterValues(after);
    applyTopPercent();
    updateHint();
}

// "Top p %" = the engine's salient_count(n, p) channels: exactly the channels AWQ keep / scale
// would pick from the same statistic.
void ActivationsPage::applyTopPercent() {
    for (ChannelMagnitudeView* v : {channel_, hidden_}) ui::highlightTop(v, topPct_->value());
}

void ActivationsPage::updateHint() {
    QStringList lines;
    const qs::MethodConfig& a = ctx_->applied();
    if (a.has("rotate"))
        lines << "The rotation first fused each norm's scale into the Linears that read it (q/k/v, gate/up, lm_head): "
                 "their inputs are now the normalized activations without the norm weight, so magnitudes change "
                 "before the rotation even spreads the outliers.";
    // x / s per channel: channels with s < 1 grow.
    const auto& before = showsMax() ? before_.max_abs : before_.mean_abs;
    const std::vector<float>* after = nullptr;
    std::vector<float> preview;
    if (hasAfter_ && a.has("smoothquant")) {
        after = showsMax() ? &after_.max_abs : &after_.mean_abs;
    } else if (auto pv = ctx_->preview(); !hasAfter_ && pv && qstr(pv->linear) == channelsFor_ && !pv->smooth.empty() &&
                                          pv->smooth.size() == before.size()) {
        preview.resize(before.size());
        for (size_t i = 0; i < before.size(); ++i) preview[i] = before[i] / pv->smooth[i];
        after = &preview;
    }
    if (after && after->size() == before.size()) {
        int grew = 0;
        for (size_t i = 0; i < before.size(); ++i) grew += (*after)[i] > before[i];
        if (grew > 0)
            lines << QString(
                         "SmoothQuant divides channel j by s_j = max|x_j|^α / max|w_j|^(1−α): %1 channel%2 of %3 "
                         "have s < 1 and grow (their weights shrink instead).")
                         .arg(grew)
                         .arg(grew == 1 ? "" : "s")
                         .arg(before.size());
    }
    hint_->setText(lines.join("\n"));
    hint_->setVisible(!lines.isEmpty());
}

void ActivationsPage::loadOverview() {
    overviewStale_ = false;
    auto wb = ctx_->workbench();
    const qs::MethodConfig cfg = ctx_->config();
    const bool withAfter = appliedTransformsInputs();
    // Named from what the model carries now (not from another view's series).
    const QString afterName = withAfter ? "largest, after " + transformName(ctx_->applied()) : QString();
    ctx_->run("act-overview", [this, wb, cfg, withAfter, afterName](const qs::Progress& p) -> std::function<void()> {
        auto rows = std::make_shared<std::vector<LayerStatRow>>(wb->layer_overview(false, cfg, p));
        auto after = std::make_shared<std::vector<LayerStatRow>>();
        if (withAfter) *after = wb->layer_overview(true, cfg, p);
        return [this, wb, rows, after, afterName] {
            if (wb != ctx_->workbench()) return;
            overviewRows_ = *rows;
            overviewAfter_ = *after;
            overviewAfterName_ = afterName;
            overviewDone_ = true;
            drawOverview();
            emit overviewShown();
        };
    });
}

void ActivationsPage::drawOverview() {
    if (!overviewDone_) return;
    const bool mx = showsMax();
    const QString stat = mx ? "max |x|" : "mean |x|";
    overview_->clearSeries();
    QVector<double> x, top, med, topAfter;
    overviewLabels_.clear();
    for (size_t i = 0; i < overviewRows_.size(); ++i) {
        const auto& r = overviewRows_[i];
        x << static_cast<double>(i);
        top << (mx ? r.max_of_max : r.max_of_mean);
        med << (mx ? r.median_of_max : r.median_of_mean);
        overviewLabels_ << ui::compact_linear_name(r.name);
        if (i < overviewAfter_.size()) topAfter << (mx ? overviewAfter_[i].max_of_max : overviewAfter_[i].max_of_mean);
    }
    overview_->addSeries("largest channel", x, top);
    overview_->addSeries("median channel", x, med);
    if (!topAfter.isEmpty()) overview_->addSeries(overviewAfterName_, x, topAfter);
    overview_->setAxisLabels(QString(), stat);
    ui::setPlotTitle(overview_, "All Linears (block.name): " + stat + " over calibration tokens");
    // Linear names as x tick labels (every k-th when there are many).
    auto ticker = QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText);
    const int n = overviewLabels_.size();
    const int step = std::max(1, (n + 23) / 24);
    for (int i = 0; i < n; i += step) ticker->addTick(i, overviewLabels_[i]);
    QCustomPlot* p = overview_->plot();
    p->xAxis->setTicker(ticker);
    p->xAxis->setTickLabelRotation(n > 8 ? -45 : 0);  // text ends at its tick
    p->xAxis->setSubTicks(false);
    overview_->resetZoom();
}

void ActivationsPage::loadHidden() {
    hiddenStale_ = false;
    auto wb = ctx_->workbench();
    const int64_t layer = hiddenLayer_->value();
    const bool withAfter = !ctx_->applied().methods.empty();
    const QString transforms = transformName(ctx_->applied());
    const QString afterName = !transforms.isEmpty() ? "after " + transforms : "quantized model";
    ctx_->run(
        "act-hidden",
        [this, wb, layer, withAfter, afterName](const qs::Progress& p) -> std::function<void()> {
            auto before = std::make_shared<std::vector<float>>(wb->hidden_mean_abs(layer, false, p));
            auto after = std::make_shared<std::vector<float>>();
            if (withAfter) *after = wb->hidden_mean_abs(layer, true, p);
            return [this, wb, layer, before, after, afterName] {
                if (wb != ctx_->workbench()) return;
                hidden_->setValues(*before);
                hidden_->setSeriesNames("original model", afterName);
                if (after->empty())
                    hidden_->clearAfterValues();
                else
                    hidden_->setAfterValues(*after);
                applyTopPercent();
                const int64_t last = ctx_->summary() ? ctx_->summary()->layers : -1;
                ui::setPlotTitle(hidden_, layer == 0      ? QString("Embeddings output, mean |h|")
                                          : layer == last ? QString("Last block's output, mean |h|")
                                                          : QString("Hidden state into block %1, mean |h|").arg(layer));
                hiddenDone_ = true;
                emit hiddenShown();
            };
        },
        JobRunner::Priority::Quick);
}
