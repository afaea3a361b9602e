// Small helpers shared by the pages: number formatting, model sizes at a configuration,
// short Linear names, and LazyPage (refresh when shown, never while hidden).
#pragma once
#include <QLabel>
#include <QString>
#include <QWidget>

#include <cstdint>
#include <string>
#include <vector>

#include "models/model_summary.h"
#include "quant/method_config.h"

namespace qs::widgets {
class ChannelMagnitudeView;
class PlotView;
}  // namespace qs::widgets

namespace ui {

// Highlights the top `percent` % channels by the engine's salient rule (qs::salient_count:
// floor(n p), what AWQ keep / scale pick), so every "top %" in the window means the same.
void highlightTop(qs::widgets::ChannelMagnitudeView* view, double percent);

// PlotView::setTitle followed by a replot (the title otherwise shows only at the next replot).
void setPlotTitle(qs::widgets::PlotView* view, const QString& title);

QString commas(long long n);                 // 1,234,567
QString mib(double mebibytes);               // "1.23 MiB"
QString bytesText(double bytes);             // "812 B", "3.4 KiB", "1.2 MiB", "3.1 GiB"
QString num(double v, int significant = 4);  // compact, e.g. 0.0001234 -> 1.234e-04
QString qstr(const std::string& s);
QString duration(double seconds);  // "8.2 s", "42 s", "3 min 5 s"

// Model size with a configuration, by the seed formula (quantized Linears: bits +
// (16+4)/group_size bits per weight; everything else 16 bits) and packed bytes (codes +
// fp16 scales + zero points; other parameters fp16), and the average weight bits of the
// targeted Linears, each at its own spec (mixed precision): qs::estimate_size, the function
// QuantSession::apply reports with.
struct ModelSizes {
    double fp16_mib = 0, seed_mib = 0, packed_mib = 0;
    int64_t quantized_weights = 0;
    double average_bits = 16, average_bits_without_scales = 16;
    int64_t quantized_linears = 0, skipped_linears = 0;
};
ModelSizes model_sizes(const qs::ModelSummary& s, const qs::MethodConfig& cfg);

// Whether `cfg` quantizes the Linear `l` (decoder Linears, lm_head only if included; not one an
// override skips).
bool quantizes_linear(const qs::LinearSummary& l, const qs::MethodConfig& cfg);
// Whether a Linear reads a norm's output (q/k/v, gate/up, OPT fc1): the ones SmoothQuant smooths.
bool readsNorm(const std::string& linearName);
// What the configuration does to one Linear, in a few words ("w4 g128 asym + AWQ auto").
QString method_short(const qs::LinearSummary& l, const qs::MethodConfig& cfg, const std::string& dtype);
// "model.layers.3.self_attn.q_proj" -> "3.q_proj"; other names unchanged.
QString short_linear_name(const std::string& name);
// The Linear's own name ("q_proj", "fc1", "lm_head"): unique within its block.
QString op_name(const std::string& name);
// "model.layers.3.self_attn.q_proj" -> "3.q", "…mlp.down_proj" -> "3.down" (plot ticks).
QString compact_linear_name(const std::string& name);

// A page that refreshes its data when shown: requestRefresh() refreshes now if the page
// is visible, or the next time it is shown.
// A one-line plain-text label that never widens its layout: text longer than the label is
// drawn cut with "…" (text() and the tooltip keep all of it).
class ElidedLabel : public QLabel {
  public:
    explicit ElidedLabel(QWidget* parent = nullptr);

  protected:
    void paintEvent(QPaintEvent* e) override;
};

class LazyPage : public QWidget {
    Q_OBJECT
  public:
    using QWidget::QWidget;
    bool needsRefresh() const { return dirty_; }

  public slots:
    void requestRefresh();

  protected:
    virtual void refresh() = 0;
    void showEvent(QShowEvent* e) override;

  private:
    bool dirty_ = true;
};

}  // namespace ui
