#include "weights_page.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "app_context.h"
#include "channel_magnitude_view.h"
#include "heatmap_view.h"
#include "histogram_view.h"

using qs::widgets::ChannelMagnitudeView;
using qs::widgets::HeatmapView;
using qs::widgets::HistogramView;
using ui::qstr;

WeightsPage::WeightsPage(AppContext* ctx, QWidget* parent) : ui::LazyPage(parent), ctx_(ctx) {
    setObjectName("weightsPage");
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(4, 4, 4, 4);
    auto* bar = new QHBoxLayout;
    source_ = new QComboBox;
    source_->setObjectName("weightSourceCombo");
    source_->addItem("original weights", false);
    source_->addItem("current model (after Apply)", true);
    info_ = new ui::ElidedLabel;
    info_->setObjectName("weightsInfo");
    info_->setStyleSheet("color:#555");
    bar->addWidget(new QLabel("Show"));
    bar->addWidget(source_);
    bar->addSpacing(12);
    bar->addWidget(info_, 1);
    v->addLayout(bar);

    auto* hs = new QSplitter(Qt::Horizontal, this);
    heatmap_ = new HeatmapView(hs);
    heatmap_->setObjectName("weightHeatmap");
    heatmap_->setAxisLabels("input channel (column)", "output channel (row)");
    heatmap_->setColorScaleLabel("w");
    heatmap_->setStatusLineVisible(false);  // shown in the bar above instead (keeps the plot uncluttered)
    auto* right = new QSplitter(Qt::Vertical, hs);
    colMax_ = new ChannelMagnitudeView(right);
    colMax_->setObjectName("weightChannelMax");
    colMax_->setAxisLabels("input channel", "max |w| over output rows");
    colMax_->setSeriesNames("max |w|");
    hist_ = new HistogramView(right);
    hist_->setObjectName("weightHistogram");
    hist_->setAxisLabels("weight value", "count");
    hist_->setLogScale(true);
    right->addWidget(colMax_);
    right->addWidget(hist_);
    hs->addWidget(heatmap_);
    hs->addWidget(right);
    for (qs::widgets::PlotView* pv : std::initializer_list<qs::widgets::PlotView*>{heatmap_, colMax_, hist_})
        pv->setPlaceholder("Loading…");
    hs->setStretchFactor(0, 1);
    hs->setStretchFactor(1, 1);
    v->addWidget(hs, 1);

    connect(ctx_, &AppContext::modelChanged, this, &WeightsPage::requestRefresh);
    connect(ctx_, &AppContext::layerChanged, this, &WeightsPage::requestRefresh);
    connect(ctx_, &AppContext::viewsInvalidated, this, &WeightsPage::requestRefresh);
    connect(ctx_, &AppContext::appliedChanged, this, [this] {
        if (source_->currentData().toBool()) requestRefresh();
    });
    connect(ctx_, &AppContext::previewReady, this, &WeightsPage::drawHistogram);
    connect(source_, qOverload<int>(&QComboBox::currentIndexChanged), this, &WeightsPage::requestRefresh);
    connect(heatmap_, &HeatmapView::visibleRegionChanged, this, &WeightsPage::updateInfo);
}

void WeightsPage::refresh() {
    if (!ctx_->hasModel() || ctx_->layer().isEmpty()) return;
    auto wb = ctx_->workbench();
    const std::string linear = ctx_->layer().toStdString();
    const bool current = source_->currentData().toBool();
    ctx_->run(
        "weights",
        [this, wb, linear, current](const qs::Progress&) -> std::function<void()> {
            auto m = std::make_shared<Matrix>(wb->weight(linear, current));
            // Per-input-channel max |w| (computed here, off the GUI thread).
            auto colMax = std::make_shared<std::vector<float>>(static_cast<size_t>(m->cols), 0.f);
            for (int64_t r = 0; r < m->rows; ++r) {
                const float* row = m->data.data() + r * m->cols;
                for (int64_t c = 0; c < m->cols; ++c) (*colMax)[c] = std::max((*colMax)[c], std::fabs(row[c]));
            }
            return [this, wb, m, colMax, linear, current] {
                if (wb != ctx_->workbench()) return;
                weight_ = std::move(*m);
                shown_ = qstr(linear);
                heatmap_->setMatrix(weight_.data, static_cast<int>(weight_.rows), static_cast<int>(weight_.cols));
                ui::setPlotTitle(heatmap_, QString("W of %1  [%2 × %3]%4")
                                               .arg(ui::short_linear_name(linear))
                                               .arg(weight_.rows)
                                               .arg(weight_.cols)
                                               .arg(current ? ", current" : ""));
                colMax_->setValues(*colMax);
                ui::highlightTop(colMax_, 1.0);
                ui::setPlotTitle(colMax_, "Per-input-channel max |w|");
                float mn = 0, mx = 0;
                if (!weight_.data.empty()) {
                    auto [a, b] = std::minmax_element(weight_.data.begin(), weight_.data.end());
                    mn = *a;
                    mx = *b;
                }
                range_ = QString("%1 weights, min %2, max %3")
                             .arg(ui::commas(static_cast<long long>(weight_.data.size())))
                             .arg(ui::num(mn))
                             .arg(ui::num(mx));
                updateInfo();
                drawHistogram();
                emit weightShown();
            };
        },
        JobRunner::Priority::Quick);
}

void WeightsPage::updateInfo() {
    info_->setText(range_ + " · " + heatmap_->statusText() + " · scroll to zoom, drag to pan");
    info_->setToolTip(info_->text());
}

void WeightsPage::drawHistogram() {
    if (shown_.isEmpty()) return;
    hist_->setValues(weight_.data, "W");
    auto pv = ctx_->preview();
    // Ŵ only over the W it quantizes: not over the original W when the preview starts from the
    // model's rotated / smoothed / AWQ-scaled weight (the Quantization error page shows that).
    if (pv && qstr(pv->linear) == shown_ && !source_->currentData().toBool() && pv->basis.empty())
        hist_->addValues("Ŵ", pv->dequantized.data);
    const bool withDeq = hist_->seriesCount() > 1;
    ui::setPlotTitle(hist_, withDeq ? "W and Ŵ (" + qstr(pv->spec) + ")" : QString("Weight distribution"));
}
