#include "awq_page.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSplitter>
#include <QTextBrowser>
#include <QVBoxLayout>

#include <set>

#include "app_context.h"
#include "line_plot.h"
#include "ui_util.h"

using ui::qstr;

AwqPage::AwqPage(AppContext* ctx, QWidget* parent) : QWidget(parent), ctx_(ctx) {
    setObjectName("awqPage");
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(4, 4, 4, 4);
    auto* bar = new QHBoxLayout;
    block_ = new QComboBox;
    block_->setObjectName("awqBlockCombo");
    block_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    block_->setMinimumContentsLength(10);
    scale_ = new QComboBox;
    scale_->setObjectName("awqLossScale");
    scale_->addItem("loss / loss at ratio 0", true);
    scale_->addItem("block-output MSE", false);
    info_ = new ui::ElidedLabel;
    info_->setStyleSheet("color:#555");
    bar->addWidget(new QLabel("Groups of"));
    bar->addWidget(block_);
    bar->addWidget(new QLabel("y"));
    bar->addWidget(scale_);
    bar->addSpacing(12);
    bar->addWidget(info_, 1);
    v->addLayout(bar);
    auto* split = new QSplitter(Qt::Vertical, this);
    plot_ = new qs::widgets::SweepPlot(split);
    plot_->setObjectName("awqCurves");
    plot_->setAxisLabels("ratio (scales = mean|x|^ratio)", "block-output loss / loss at ratio 0");
    ui::setPlotTitle(plot_, "AWQ auto-scale: loss vs ratio per group");
    plot_->setPlaceholder("Loading…");
    steps_ = new QTextBrowser(split);
    steps_->setObjectName("applySteps");
    split->addWidget(plot_);
    split->addWidget(steps_);
    split->setStretchFactor(0, 4);
    split->setStretchFactor(1, 1);
    v->addWidget(split, 1);
    connect(ctx_, &AppContext::appliedChanged, this, &AwqPage::rebuildChoices);
    connect(ctx_, &AppContext::modelChanged, this, &AwqPage::rebuildChoices);
    connect(ctx_, &AppContext::awqGroupSearched, this, &AwqPage::drawLive);
    connect(ctx_, &AppContext::applyStarted, this, [this] {
        if (ctx_->config().has("awq")) drawLive();
    });
    connect(block_, qOverload<int>(&QComboBox::currentIndexChanged), this, &AwqPage::draw);
    connect(scale_, qOverload<int>(&QComboBox::currentIndexChanged), this, &AwqPage::draw);
    rebuildChoices();
}

QString AwqPage::groupName(const AwqCurve& c) {
    // "0: norm → q,k,v": the op whose output is scaled and the Linears reading it.
    auto shortOp = [](const std::string& n) {
        QString s = qstr(n).section('.', -1);
        if (s.contains("norm")) return QString("norm");
        return s.remove("_proj");
    };
    QStringList ls;
    for (const auto& l : c.linears) ls << shortOp(l);
    return QString("%1: %2 → %3").arg(c.block).arg(shortOp(c.prev_op), ls.join(','));
}

void AwqPage::rebuildChoices() {
    block_->blockSignals(true);
    block_->clear();
    const ApplyData* a = ctx_->lastApply();
    std::set<int64_t> blocks;
    if (a)
        for (const auto& c : a->awq) blocks.insert(c.block);
    if (a && !a->awq.empty()) {
        block_->addItem("all blocks", -1);
        for (int64_t b : blocks) block_->addItem(QString("block %1").arg(b), static_cast<qlonglong>(b));
        block_->setCurrentIndex(a->awq.size() <= 8 ? 0 : 1);
    }
    block_->blockSignals(false);
    QString h;
    if (a) {
        h = "<b>" + qstr(a->description).toHtmlEscaped() + "</b> (" + QString::number(a->seconds, 'f', 2) + " s)<ol>";
        for (const auto& s : a->steps) h += "<li>" + qstr(s).toHtmlEscaped() + "</li>";
        h += "</ol>";
        if (!a->calibration.empty()) h += "Calibration: " + qstr(a->calibration).toHtmlEscaped();
        if (!a->gptq.empty()) {
            // GPTQ: each Linear's loss (the reference's error, sum (w - q)^2 / Hinv_ii^2 / 2) in quantization order
            h += "<h4>GPTQ loss per Linear</h4><table cellspacing=3><tr><th align=left>Linear</th>"
                 "<th align=right>loss</th><th align=right>s</th></tr>";
            for (const auto& l : a->gptq)
                h += QString("<tr><td>%1</td><td align=right>%2</td><td align=right>%3</td></tr>")
                         .arg(qstr(l.linear).toHtmlEscaped())
                         .arg(l.loss, 0, 'g', 5)
                         .arg(l.seconds, 0, 'f', 2);
            h += "</table>";
        }
    } else {
        h = "No methods applied: the model carries its original weights.";
    }
    steps_->setHtml(h);
    draw();
}

const std::vector<AwqCurve>* AwqPage::curvesShown() const {
    if (ctx_->jobs()->busy("apply") && ctx_->config().has("awq")) return &ctx_->liveAwq();
    const ApplyData* a = ctx_->lastApply();
    return a ? &a->awq : nullptr;
}

void AwqPage::drawLive() {
    if (!ctx_->jobs()->busy("apply")) return;
    block_->blockSignals(true);
    block_->clear();
    block_->addItem("all blocks", -1);
    block_->blockSignals(false);
    draw();
    const int n = static_cast<int>(ctx_->liveAwq().size());
    ui::setPlotTitle(plot_, QString("AWQ auto-scale search running: %1 group%2 searched so far (ring = chosen ratio)")
                                .arg(n)
                                .arg(n == 1 ? "" : "s"));
    info_->setText("The search runs block by block; each curve appears as its group is searched.");
}

void AwqPage::draw() {
    plot_->clearSeries();
    const std::vector<AwqCurve>* curves = curvesShown();
    if (!curves || curves->empty()) {
        const bool running = ctx_->jobs()->busy("apply") && ctx_->config().has("awq");
        ui::setPlotTitle(plot_, "AWQ auto-scale: loss vs ratio per group");
        plot_->setPlaceholder(!ctx_->hasModel() ? "Loading…"
                              : running         ? "Searching the first group…"
                                                : "No auto-scale search yet: choose “auto-scale search” and Apply");
        info_->clear();
        return;
    }
    const ApplyData* a = ctx_->lastApply();
    const bool rel = scale_->currentData().toBool();
    const qlonglong only = block_->currentData().toLongLong();
    int shown = 0;
    for (const auto& c : *curves) {
        if (only >= 0 && c.block != only) continue;
        QVector<double> x, y;
        const double base = !c.loss.empty() && c.loss[0] > 0 ? c.loss[0] : 1.0;
        for (size_t i = 0; i < c.loss.size(); ++i) {
            x << static_cast<double>(i) / c.loss.size();
            y << (rel ? c.loss[i] / base : c.loss[i]);
        }
        plot_->addSweep(groupName(c), x, y, c.best, "best");
        ++shown;
    }
    plot_->setAxisLabels("ratio α (scales = mean|x|^α)", rel ? "loss / loss at α = 0" : "block-output MSE");
    ui::setPlotTitle(plot_, QString("AWQ auto-scale: loss vs ratio, %1 group%2 (ring = chosen ratio)")
                                .arg(shown)
                                .arg(shown == 1 ? "" : "s"));
    if (a && curves == &a->awq)
        info_->setText(QString("%1 groups searched in %2 s").arg(a->awq.size()).arg(a->seconds, 0, 'f', 2));
}
