#include "error_page.h"

#include <QComboBox>
#include <QEvent>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "app_context.h"
#include "error_matrix_panel.h"
#include "heatmap_view.h"
#include "ui_util.h"

using qs::widgets::ErrorMatrixPanel;
using qs::widgets::HeatmapView;
using ui::num;
using ui::qstr;

namespace {

// Double-clicks on a heatmap's plot area, as data cells.
class CellPicker : public QObject {
  public:
    CellPicker(HeatmapView* view, std::function<void(int, int)> pick)
        : QObject(view), view_(view), pick_(std::move(pick)) {
        view->plot()->installEventFilter(this);
    }
    bool eventFilter(QObject*, QEvent* e) override {
        if (e->type() == QEvent::MouseButtonDblClick) {
            auto* m = static_cast<QMouseEvent*>(e);
            int r = 0, c = 0;
            if (view_->cellAt(m->position(), &r, &c)) {
                pick_(r, c);
                return true;
            }
        }
        return false;
    }

  private:
    HeatmapView* view_;
    std::function<void(int, int)> pick_;
};

}  // namespace

ErrorPage::ErrorPage(AppContext* ctx, QWidget* parent) : QWidget(parent), ctx_(ctx) {
    setObjectName("errorPage");
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(4, 4, 4, 4);
    auto* bar = new QHBoxLayout;
    tileSize_ = new QComboBox;
    tileSize_->setObjectName("tileSizeCombo");
    for (int s : {8, 12, 16, 24, 32}) tileSize_->addItem(QString("%1 × %1").arg(s), s);
    tileSize_->setCurrentIndex(tileSize_->findData(8));  // numbers fit in the cells at laptop widths
    row_ = new QSpinBox;
    row_->setObjectName("tileRowSpin");
    col_ = new QSpinBox;
    col_->setObjectName("tileColSpin");
    auto* worst = new QPushButton("Largest error");
    worst->setObjectName("worstTileButton");
    worst->setToolTip("Move the tile to the weight with the largest |error|");
    tileInfo_ = new ui::ElidedLabel;
    tileInfo_->setText("Double-click the |error| heatmap to pick a tile");
    tileInfo_->setStyleSheet("color:#555");
    bar->addWidget(new QLabel("Tile"));
    bar->addWidget(tileSize_);
    bar->addWidget(new QLabel("first row"));
    bar->addWidget(row_);
    bar->addWidget(new QLabel("first column"));
    bar->addWidget(col_);
    bar->addWidget(worst);
    bar->addSpacing(12);
    bar->addWidget(tileInfo_, 1);
    v->addLayout(bar);

    auto* vs = new QSplitter(Qt::Vertical, this);
    tiles_ = new ErrorMatrixPanel(vs);
    tiles_->setObjectName("errorTiles");
    tiles_->setAxisLabels("column", "row");
    tiles_->setPlaceholder("Loading…");
    auto* bottom = new QWidget(vs);
    auto* hb = new QHBoxLayout(bottom);
    hb->setContentsMargins(0, 0, 0, 0);
    auto* mapBox = new QWidget(bottom);
    auto* mv = new QVBoxLayout(mapBox);
    mv->setContentsMargins(0, 0, 0, 0);
    mv->setSpacing(2);
    heatmap_ = new HeatmapView(mapBox);
    heatmap_->setObjectName("errorHeatmap");
    heatmap_->setColorMode(HeatmapView::ColorMode::Sequential);
    heatmap_->setAxisLabels("input channel (column)", "output channel (row)");
    heatmap_->setColorScaleLabel("|error|");
    heatmap_->setPooledValueName("|error|");
    heatmap_->setStatusLineVisible(false);  // the caption below says it, wrapped to any width
    heatmap_->setPlaceholder("Loading…");
    caption_ = new QLabel(mapBox);
    caption_->setObjectName("errorHeatmapCaption");
    caption_->setWordWrap(true);
    caption_->setStyleSheet("color:#555");
    mv->addWidget(heatmap_, 1);
    mv->addWidget(caption_);
    hb->addWidget(mapBox, 1);
    auto* box = new QGroupBox("Error of this layer");
    box->setObjectName("errorMetrics");
    box->setMinimumWidth(240);
    box->setMaximumWidth(360);
    auto* f = new QFormLayout(box);
    addMetric(f, "spec", "Setting");
    addMetric(f, "source", "Stored as");
    addMetric(f, "mse", "Weight MSE");
    addMetric(f, "sqnr", "SQNR");
    addMetric(f, "maxerr", "Max |error|");
    addMetric(f, "outmse", "Output MSE");
    addMetric(f, "outrel", "Output rel. error");
    addMetric(f, "tokens", "Calibration inputs");
    addMetric(f, "packed", "Packed size");
    addMetric(f, "note", "Applied");
    // Scrolls when the window is too low for every number (nothing is cut off).
    auto* boxScroll = new QScrollArea;
    boxScroll->setObjectName("errorMetricsScroll");
    boxScroll->setWidget(box);
    boxScroll->setWidgetResizable(true);
    boxScroll->setFrameShape(QFrame::NoFrame);
    boxScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    boxScroll->setMinimumWidth(box->minimumWidth() + boxScroll->verticalScrollBar()->sizeHint().width());
    boxScroll->setMaximumWidth(box->maximumWidth() + boxScroll->verticalScrollBar()->sizeHint().width());
    hb->addWidget(boxScroll);
    vs->addWidget(tiles_);
    vs->addWidget(bottom);
    vs->setStretchFactor(0, 1);
    vs->setStretchFactor(1, 1);
    v->addWidget(vs, 1);

    new CellPicker(heatmap_, [this](int r, int c) {
        const int s = tileSize();
        setTile(r - r % s, c - c % s, s);
    });
    connect(worst, &QPushButton::clicked, this, &ErrorPage::jumpToWorstTile);
    connect(heatmap_, &HeatmapView::visibleRegionChanged, this, &ErrorPage::updateCaption);
    connect(ctx_, &AppContext::previewReady, this, &ErrorPage::showPreview);
    connect(ctx_, &AppContext::modelChanged, this, [this] {
        shown_.reset();
        shownLayer_.clear();
    });
    auto retile = [this] { drawTile(); };
    connect(row_, qOverload<int>(&QSpinBox::valueChanged), this, retile);
    connect(col_, qOverload<int>(&QSpinBox::valueChanged), this, retile);
    connect(tileSize_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        row_->setSingleStep(tileSize());
        col_->setSingleStep(tileSize());
        drawTile();
    });
    row_->setSingleStep(tileSize());
    col_->setSingleStep(tileSize());
}

QLabel* ErrorPage::addMetric(QFormLayout* f, const QString& key, const QString& label) {
    auto* l = new QLabel("—");
    l->setObjectName(key + "Value");
    l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    l->setWordWrap(true);
    if (key != "note" && key != "spec") l->setStyleSheet("font-weight:600");
    f->addRow(label, l);
    metrics_[key] = l;
    return l;
}

QString ErrorPage::metricText(const QString& key) const {
    auto it = metrics_.find(key);
    return it == metrics_.end() ? QString() : (*it)->text();
}

int ErrorPage::tileRow() const { return row_->value(); }
int ErrorPage::tileCol() const { return col_->value(); }
int ErrorPage::tileSize() const { return tileSize_->currentData().toInt(); }

void ErrorPage::setTile(int row, int col, int size) {
    tileSize_->blockSignals(true);
    row_->blockSignals(true);
    col_->blockSignals(true);
    const int idx = tileSize_->findData(size);
    if (idx >= 0) tileSize_->setCurrentIndex(idx);
    row_->setSingleStep(tileSize());
    col_->setSingleStep(tileSize());
    row_->setValue(row);
    col_->setValue(col);
    tileSize_->blockSignals(false);
    row_->blockSignals(false);
    col_->blockSignals(false);
    drawTile();
}

void ErrorPage::jumpToWorstTile() {
    if (!shown_ || shown_->error.data.empty()) return;
    const auto& e = shown_->error;
    const auto it = std::max_element(e.data.begin(), e.data.end());
    const int64_t i = it - e.data.begin();
    const int s = tileSize();
    const int r = static_cast<int>(i / e.cols), c = static_cast<int>(i % e.cols);
    setTile(std::max(0, std::min(r - s / 2, static_cast<int>(e.rows) - s)),
            std::max(0, std::min(c - s / 2, static_cast<int>(e.cols) - s)), s);
}

void ErrorPage::updateCaption() {
    caption_->setText(heatmap_->rows() > 0 ? heatmap_->statusText() + "  ·  double-click picks the tile" : QString());
}

void ErrorPage::showNoPreview() {
    shown_.reset();
    shownLayer_.clear();
    tiles_->clear();
    heatmap_->clear();
    heatmap_->setColumnMarks({}, QColor(), "salientMark");
    updateCaption();
    for (auto* l : metrics_) l->setText("—");
    showSource();
    QString why;
    if (!ctx_->config().quantizes_weights()) {
        why = "The methods panel does not quantize weights (bits: off)";
        metrics_["note"]->setText("not quantized: weights stay in float (bits: off)");
    } else {
        const QString layer = ui::short_linear_name(ctx_->layer().toStdString());
        why = layer + " is not quantized by this setting: tick \"also quantize lm_head\" to quantize it";
        metrics_["note"]->setText(layer +
                                  " is not quantized (it stays in float unless \"also quantize lm_head\" is "
                                  "ticked)");
        metrics_["spec"]->setText(qstr(ctx_->config().describe()));
        showSource();
    }
    ui::setPlotTitle(tiles_, why);
    ui::setPlotTitle(heatmap_, QString());
    tiles_->setPlaceholder(why);
    heatmap_->setPlaceholder("Nothing quantized here");
    emit previewShown();
}

void ErrorPage::showSource() {
    const qs::ModelSummary* s = ctx_->summary();
    const std::string layer = ctx_->layer().toStdString();
    QString text = "—";
    if (s)
        for (const auto& l : s->linears) {
            if (l.name != layer || l.source_type.empty()) continue;
            const QString t = qstr(l.source_type);
            static const QStringList kFloat = {"F32", "F16", "BF16", "F64"};
            text = kFloat.contains(t) ? t + " (float in the source file)"
                                      : t + " in the source file: W here is its dequantization, so this error "
                                            "comes on top of the file's own quantization";
            break;
        }
    metrics_["source"]->setText(text);
}

void ErrorPage::showPreview() {
    auto pv = ctx_->preview();
    if (!pv) {
        if (ctx_->hasModel()) showNoPreview();
        return;
    }
    const bool newLayer = qstr(pv->linear) != shownLayer_;
    shown_ = pv;
    shownLayer_ = qstr(pv->linear);
    row_->setRange(0, static_cast<int>(std::max<int64_t>(0, pv->original.rows - 1)));
    col_->setRange(0, static_cast<int>(std::max<int64_t>(0, pv->original.cols - 1)));
    if (newLayer)
        heatmap_->setMatrix(pv->error.data, static_cast<int>(pv->error.rows), static_cast<int>(pv->error.cols));
    else {
        // Same layer, new setting: keep the user's zoom on the error map.
        const QRect keep = heatmap_->visibleRegion();
        heatmap_->setMatrix(pv->error.data, static_cast<int>(pv->error.rows), static_cast<int>(pv->error.cols));
        if (keep.isValid() && keep.width() > 0) heatmap_->zoomTo(keep.y(), keep.x(), keep.height(), keep.width());
    }
    const QString basis = pv->basis.empty() ? QString() : " (" + qstr(pv->basis) + ")";
    ui::setPlotTitle(heatmap_, QString("|W − Ŵ| of %1, whole matrix%2").arg(ui::short_linear_name(pv->linear), basis));
    // Marks: AWQ's salient input channels and the quantization groups along the input.
    heatmap_->setColumnMarks(QVector<int>(pv->salient.begin(), pv->salient.end()), QColor(230, 40, 40, 190),
                             "salientMark");
    const auto& w = ctx_->config().weight;
    heatmap_->setColumnBoundaries(w.granularity == qs::Granularity::PerGroup ? static_cast<int>(w.group_size) : 0);
    updateCaption();
    metrics_["spec"]->setText(qstr(ctx_->config().describe()));
    showSource();
    metrics_["mse"]->setText(num(pv->mse));
    metrics_["sqnr"]->setText(num(pv->sqnr_db) + " dB");
    metrics_["maxerr"]->setText(num(pv->max_abs));
    if (pv->output_tokens > 0) {
        metrics_["outmse"]->setText(num(pv->output_mse));
        metrics_["outrel"]->setText(num(pv->output_rel_error * 100, 3) + " %");
        metrics_["tokens"]->setText(QString("%1 sampled tokens").arg(pv->output_tokens));
    } else {
        metrics_["outmse"]->setText("—");
        metrics_["outrel"]->setText("—");
        metrics_["tokens"]->setText("none (no tokenizer)");
    }
    const double fp16 = pv->original.rows * pv->original.cols * 2.0;
    metrics_["packed"]->setText(QString("%1 (%2× smaller than fp16)")
                                    .arg(ui::bytesText(pv->packed_bytes))
                                    .arg(fp16 / std::max<double>(1, pv->packed_bytes), 0, 'f', 2));
    metrics_["note"]->setText(qstr(pv->note));
    drawTile();
    emit previewShown();
}

void ErrorPage::drawTile() {
    if (!shown_) return;
    const auto& pv = *shown_;
    const int s = tileSize();
    const int rows = static_cast<int>(std::min<int64_t>(s, pv.original.rows));
    const int cols = static_cast<int>(std::min<int64_t>(s, pv.original.cols));
    const int r0 = std::max(0, std::min(row_->value(), static_cast<int>(pv.original.rows) - rows));
    const int c0 = std::max(0, std::min(col_->value(), static_cast<int>(pv.original.cols) - cols));
    qs::widgets::QuantTile t;
    t.rows = rows;
    t.cols = cols;
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
            const int64_t i = static_cast<int64_t>(r0 + r) * pv.original.cols + (c0 + c);
            t.original.push_back(pv.original.data[i]);
            t.codes.push_back(static_cast<int>(std::lround(pv.codes.data[i])));
            t.dequantized.push_back(pv.dequantized.data[i]);
            t.absError.push_back(pv.error.data[i]);
        }
    tiles_->setOrigin(r0, c0);  // the tile's axes count in the matrix's rows and columns
    tiles_->setTile(t);
    heatmap_->setMarkedRegion(QRect(c0, r0, cols, rows));
    const QString bits = QString::number(ctx_->config().weight.bits);
    const QString basis = qstr(pv.basis);
    if (basis.isEmpty())
        tiles_->setPanelTitles({"original W", "integer codes q (" + bits + "-bit)", "dequantized Ŵ", "|W − Ŵ|"});
    else
        tiles_->setPanelTitles(
            {"W (" + basis + ")", "integer codes q (" + bits + "-bit)", "Ŵ (" + basis + ")", "|W − Ŵ|"});
    ui::setPlotTitle(tiles_, QString("%1: rows %2–%3, columns %4–%5")
                                 .arg(shownLayer_)
                                 .arg(r0)
                                 .arg(r0 + rows - 1)
                                 .arg(c0)
                                 .arg(c0 + cols - 1));
    tileInfo_->setText(QString("Double-click the |error| heatmap to pick a tile · tile max |error| %1")
                           .arg(num(*std::max_element(t.absError.begin(), t.absError.end()))));
}
