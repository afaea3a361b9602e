#include "ui_util.h"

#include <QLocale>
#include <QPainter>
#include <QShowEvent>

#include <cmath>

#include "channel_magnitude_view.h"
#include "plot_view.h"
#include "quant/salient_count.h"
#include "quant/quant_spec.h"
#include "quant/size_estimate.h"

#include <qcustomplot.h>

namespace ui {

void highlightTop(qs::widgets::ChannelMagnitudeView* view, double percent) {
    const int n = view->channelCount();
    const int k = static_cast<int>(qs::salient_count(n, percent / 100.0));
    view->setTopCount(k, QString("top %1 %: %2 of %3").arg(percent).arg(k).arg(n));
}

void setPlotTitle(qs::widgets::PlotView* view, const QString& title) {
    if (view->title() == title) return;
    view->setTitle(title);
    view->plot()->replot(QCustomPlot::rpQueuedReplot);
}

QString commas(long long n) { return QLocale(QLocale::English).toString(n); }

QString mib(double m) { return QString::number(m, 'f', m < 10 ? 3 : 1) + " MiB"; }

QString bytesText(double b) {
    if (b < 1024) return QString::number(b, 'f', 0) + " B";
    if (b < 1024.0 * 1024) return QString::number(b / 1024, 'f', 1) + " KiB";
    if (b < 1024.0 * 1024 * 1024) return QString::number(b / 1024 / 1024, 'f', 2) + " MiB";
    return QString::number(b / 1024 / 1024 / 1024, 'f', 2) + " GiB";
}

QString num(double v, int significant) {
    if (!std::isfinite(v)) return v > 0 ? "inf" : (v < 0 ? "-inf" : "nan");
    const double a = std::fabs(v);
    if (a != 0 && (a < 1e-3 || a >= 1e6)) return QString::number(v, 'e', significant - 1);
    return QString::number(v, 'g', significant);
}

QString qstr(const std::string& s) { return QString::fromStdString(s); }

QString duration(double s) {
    if (s < 60) return QString::number(s, 'f', s < 10 ? 1 : 0) + " s";
    return QString("%1 min %2 s").arg(static_cast<int>(s) / 60).arg(static_cast<int>(s) % 60);
}

bool quantizes_linear(const qs::LinearSummary& l, const qs::MethodConfig& cfg) { return qs::quantizes_linear(l, cfg); }

ModelSizes model_sizes(const qs::ModelSummary& s, const qs::MethodConfig& cfg) {
    const qs::SizeEstimate e = qs::estimate_size(s.linears, s.parameters, cfg);
    ModelSizes out;
    out.fp16_mib = e.fp16_size_mib;
    out.seed_mib = e.seed_size_mib;
    out.packed_mib = e.packed_size_mib;
    out.quantized_weights = e.quantized_weights;
    out.average_bits = e.average_bits;
    out.average_bits_without_scales = e.average_bits_without_scales;
    out.quantized_linears = e.quantized_linears;
    out.skipped_linears = e.skipped_linears;
    return out;
}

bool readsNorm(const std::string& name) {
    if (name.find("layers.") == std::string::npos) return false;  // lm_head, project_in / out
    for (const char* n : {"q_proj", "k_proj", "v_proj", "gate_proj", "up_proj", "fc1"})
        if (name.find(n) != std::string::npos) return true;
    return false;
}

QString method_short(const qs::LinearSummary& l, const qs::MethodConfig& cfg, const std::string& dtype) {
    QStringList parts;
    if (cfg.has("rotate") && l.name.find("lm_head") == std::string::npos) parts << "rotated";
    if (cfg.has("smoothquant") && l.block >= 0 && readsNorm(l.name)) parts << QString("smooth α%1").arg(cfg.sq_alpha);
    if (ui::quantizes_linear(l, cfg)) {
        if (cfg.has("awq")) parts << "AWQ";
        if (cfg.has("awq-keep")) parts << "keep 1%";
        if (cfg.has("awq-scale")) parts << QString("scale ×%1").arg(cfg.awq_factor);
        parts << qstr(cfg.spec_for(l.name).describe());  // mixed precision: the Linear's own spec
    } else if (qs::targets_linear(l, cfg)) {
        parts << "skipped (full precision)";
    }
    if (cfg.act.bits > 0 && l.block >= 0 && !cfg.skips(l.name)) parts << QString("a%1").arg(cfg.act.bits);
    if (parts.isEmpty()) return qstr(dtype);
    return parts.join(" + ");
}

QString short_linear_name(const std::string& name) {
    const std::string key = "layers.";
    auto p = name.find(key);
    if (p == std::string::npos) return qstr(name);
    std::string rest = name.substr(p + key.size());  // "3.self_attn.q_proj"
    auto dot = rest.find('.');
    auto last = rest.rfind('.');
    if (dot == std::string::npos) return qstr(rest);
    return qstr(rest.substr(0, dot) + "." + rest.substr(last + 1));
}

QString op_name(const std::string& name) { return qstr(name).section('.', -1); }

QString compact_linear_name(const std::string& name) {
    QString s = short_linear_name(name);
    if (s.endsWith("_proj")) s.chop(5);
    return s;
}

ElidedLabel::ElidedLabel(QWidget* parent) : QLabel(parent) {
    setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    setTextFormat(Qt::PlainText);
}

void ElidedLabel::paintEvent(QPaintEvent* e) {
    const QRect r = contentsRect();
    if (fontMetrics().horizontalAdvance(text()) <= r.width()) {
        QLabel::paintEvent(e);
        return;
    }
    QPainter p(this);
    p.setPen(palette().color(foregroundRole()));
    p.drawText(r, Qt::AlignLeft | Qt::AlignVCenter, fontMetrics().elidedText(text(), Qt::ElideRight, r.width()));
}

void LazyPage::requestRefresh() {
    dirty_ = true;
    if (isVisible()) {
        dirty_ = false;
        refresh();
    }
}

void LazyPage::showEvent(QShowEvent* e) {
    QWidget::showEvent(e);
    if (dirty_) {
        dirty_ = false;
        refresh();
    }
}

}  // namespace ui
