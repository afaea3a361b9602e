#include "sweep_dialog.h"

#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QRegularExpression>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>

#include "app_context.h"
#include "line_plot.h"
#include "quant/rotation_kind.h"

using ui::qstr;

namespace {

bool parseList(const QString& text, std::vector<double>* out) {
    out->clear();
    for (const QString& part : text.split(QRegularExpression("[,;\\s]+"), Qt::SkipEmptyParts)) {
        bool ok = false;
        const double v = part.toDouble(&ok);
        if (!ok) return false;
        out->push_back(v);
    }
    return !out->empty();
}

}  // namespace

SweepDialog::SweepDialog(AppContext* ctx, QWidget* parent) : QDialog(parent), ctx_(ctx) {
    setObjectName("sweepDialog");
    setWindowTitle("Perplexity sweep");
    resize(900, 640);
    auto* v = new QVBoxLayout(this);
    auto* form = new QFormLayout;
    param_ = new QComboBox;
    param_->setObjectName("sweepParameter");
    param_->addItem("AWQ salient scale factor (awq-scale)", AwqFactor);
    param_->addItem("SmoothQuant alpha", SqAlpha);
    param_->addItem("weight bits × group size", BitsGroup);
    values_ = new QLineEdit;
    values_->setObjectName("sweepValues");
    groups_ = new QLineEdit("32, 64, 128");
    groups_->setObjectName("sweepGroups");
    groupsLabel_ = new QLabel("Group sizes");
    windows_ = new QSpinBox;
    windows_->setObjectName("sweepWindows");
    windows_->setRange(1, 100000);
    windows_->setValue(10);
    seqlen_ = new QSpinBox;
    seqlen_->setObjectName("sweepSeqlen");
    seqlen_->setRange(8, 32768);
    seqlen_->setValue(512);
    form->addRow("Parameter", param_);
    form->addRow("Values", values_);
    form->addRow(groupsLabel_, groups_);
    form->addRow("Windows × tokens", [&] {
        auto* w = new QWidget;
        auto* h = new QHBoxLayout(w);
        h->setContentsMargins(0, 0, 0, 0);
        h->addWidget(windows_);
        h->addWidget(new QLabel("×"));
        h->addWidget(seqlen_);
        h->addStretch(1);
        return w;
    }());
    v->addLayout(form);
    auto* row = new QHBoxLayout;
    run_ = new QPushButton("Run sweep");
    run_->setObjectName("sweepRun");
    cancel_ = new QPushButton("Cancel");
    cancel_->setObjectName("sweepCancel");
    cancel_->setEnabled(false);
    progress_ = new QProgressBar;
    progress_->setObjectName("sweepProgress");
    progress_->setRange(0, 1000);
    status_ = new QLabel("The rest of the configuration comes from the methods panel.");
    status_->setObjectName("sweepStatus");
    status_->setWordWrap(true);
    row->addWidget(run_);
    row->addWidget(cancel_);
    row->addWidget(progress_, 1);
    v->addLayout(row);
    v->addWidget(status_);
    plot_ = new qs::widgets::SweepPlot(this);
    plot_->setObjectName("sweepPlot");
    plot_->setAxisLabels("parameter", "perplexity");
    plot_->setPlaceholder("Run sweep draws perplexity against the parameter here");
    v->addWidget(plot_, 1);

    connect(param_, qOverload<int>(&QComboBox::currentIndexChanged), this, &SweepDialog::parameterChanged);
    connect(run_, &QPushButton::clicked, this, &SweepDialog::start);
    connect(cancel_, &QPushButton::clicked, this, &SweepDialog::cancel);
    connect(ctx_, &AppContext::jobsChanged, this, [this] {
        run_->setEnabled(ctx_->hasModel() && !ctx_->modelBusy());
        cancel_->setEnabled(running());
    });
    connect(ctx_, &AppContext::jobProgress, this, [this](const QString& ch, double f, const QString& m) {
        if (ch != "sweep") return;
        progress_->setValue(static_cast<int>(f * 1000));
        status_->setText(m);
    });
    connect(ctx_->jobs(), &JobRunner::cancelled, this, [this](const QString& ch, quint64) {
        if (ch == "sweep") status_->setText("Sweep cancelled (the points so far are in the perplexity table).");
    });
    connect(ctx_->jobs(), &JobRunner::failed, this, [this](const QString& ch, quint64, const QString& msg) {
        if (ch == "sweep") status_->setText("Sweep failed: " + msg);
    });
    parameterChanged();
}

void SweepDialog::setRequest(const PplRequest& req) {
    if (req.seqlen > 0) seqlen_->setValue(static_cast<int>(req.seqlen));
    if (req.nsamples > 0) windows_->setValue(static_cast<int>(req.nsamples));
}

void SweepDialog::setParameter(Parameter p) { param_->setCurrentIndex(param_->findData(p)); }

void SweepDialog::setValues(const QString& values, const QString& groups) {
    values_->setText(values);
    if (!groups.isEmpty()) groups_->setText(groups);
}

void SweepDialog::parameterChanged() {
    const int p = param_->currentData().toInt();
    values_->setText(p == AwqFactor ? "1, 1.25, 1.5, 2, 3, 4"
                     : p == SqAlpha ? "0, 0.25, 0.5, 0.75, 1"
                                    : "2, 3, 4, 5, 6, 8");
    groups_->setVisible(p == BitsGroup);
    groupsLabel_->setVisible(p == BitsGroup);
    plot_->setAxisLabels(p == AwqFactor ? "salient scale factor s"
                         : p == SqAlpha ? "migration strength α"
                                        : "weight bits",
                         "perplexity");
    plot_->setIntegerX(p == BitsGroup);  // bits are whole numbers
}

QString SweepDialog::methodsText(const qs::MethodConfig& c, Parameter swept) {
    QStringList parts;
    if (c.has("rotate"))
        parts << QString("rotate(%1, seed %2)").arg(qstr(qs::rotation_kind_name(c.rotation))).arg(c.seed);
    if (c.has("smoothquant"))
        parts << (swept == SqAlpha ? QString("SmoothQuant (α swept)") : QString("SmoothQuant α=%1").arg(c.sq_alpha));
    const QString pct = QString::number(c.awq_salient * 100) + " %";
    if (c.has("awq"))
        parts << QString("AWQ auto-scale") + (c.awq_clip ? " + clip" : "") + (c.duo_scaling ? " (duo)" : "");
    if (c.has("awq-keep")) parts << "AWQ keep " + pct + " salient";
    if (c.has("awq-scale"))
        parts << "AWQ scale " + pct + " salient " +
                     (swept == AwqFactor ? QString("(factor swept)") : QString("×%1").arg(c.awq_factor));
    if (c.quantizes_weights()) {
        if (swept == BitsGroup)
            parts << QString("RTN (bits × group swept, %1)").arg(c.weight.symmetric ? "sym" : "asym");
        else
            parts << "RTN " + qstr(c.weight.describe());
    }
    if (c.act.bits > 0)
        parts << QString("activations a%1 %2").arg(c.act.bits).arg(c.act.per_token ? "per token" : "per tensor");
    return parts.join(" + ");
}

std::vector<SweepDialog::Series> SweepDialog::plan(QString* error) const {
    std::vector<Series> out;
    std::vector<double> xs;
    if (!parseList(values_->text(), &xs)) {
        if (error) *error = "Values: write numbers separated by commas, e.g. 1, 1.5, 2";
        return out;
    }
    const qs::MethodConfig base = ctx_->config();
    const int p = param_->currentData().toInt();
    auto withMethods = [](qs::MethodConfig c, std::vector<std::string> add, std::vector<std::string> drop) {
        std::vector<std::string> m;
        for (const auto& x : c.methods)
            if (std::find(drop.begin(), drop.end(), x) == drop.end()) m.push_back(x);
        for (const auto& x : add) m.push_back(x);
        c.methods = qs::parse_methods(m);
        return c;
    };
    if (p == AwqFactor || p == SqAlpha) {
        Series s;
        s.name = p == AwqFactor ? "AWQ scale salient" : "SmoothQuant";
        qs::MethodConfig c = p == AwqFactor ? withMethods(base, {"awq-scale"}, {"awq", "awq-keep", "awq-scale"})
                                            : withMethods(base, {"smoothquant"}, {});
        if (!c.quantizes_weights()) c = withMethods(c, {"rtn"}, {});
        s.name += " (" + qstr(c.weight.describe()) + ")";
        for (double x : xs) {
            qs::MethodConfig ci = c;
            if (p == AwqFactor)
                ci.awq_factor = x;
            else
                ci.sq_alpha = x;
            s.x.push_back(x);
            s.configs.push_back(ci);
        }
        out.push_back(s);
        return out;
    }
    std::vector<double> groups;
    if (!parseList(groups_->text(), &groups)) {
        if (error) *error = "Group sizes: write numbers separated by commas, e.g. 32, 64, 128 (-1 = per channel)";
        return out;
    }
    qs::MethodConfig c = base;
    if (!c.quantizes_weights()) c = withMethods(c, {"rtn"}, {});
    for (double g : groups) {
        Series s;
        s.name = g > 0 ? QString("group %1").arg(g) : QString("per channel");
        for (double b : xs) {
            qs::MethodConfig ci = c;
            ci.weight.bits = static_cast<int>(b);
            if (g > 0) {
                ci.weight.granularity = qs::Granularity::PerGroup;
                ci.weight.group_size = static_cast<int64_t>(g);
            } else {
                ci.weight.granularity = qs::Granularity::PerChannel;
            }
            s.x.push_back(b);
            s.configs.push_back(ci);
        }
        out.push_back(s);
    }
    return out;
}

bool SweepDialog::running() const { return ctx_->jobs()->busy("sweep"); }

void SweepDialog::cancel() { ctx_->jobs()->cancel("sweep"); }

void SweepDialog::start() {
    if (!ctx_->hasModel() || ctx_->modelBusy()) return;
    QString err;
    std::vector<Series> series = plan(&err);
    if (series.empty()) {
        status_->setText(err);
        return;
    }
    running_ = series;
    xs_.assign(series.size(), {});
    ys_.assign(series.size(), {});
    plot_->clearSeries();
    for (const auto& s : series) plot_->addSweep(s.name, QVector<double>(), QVector<double>());
    const Parameter swept = static_cast<Parameter>(param_->currentData().toInt());
    ui::setPlotTitle(plot_,
                     "Perplexity vs " + param_->currentText() + " · " + methodsText(series[0].configs[0], swept));
    const quint64 gen = ++gen_;
    PplRequest req;
    req.seqlen = seqlen_->value();
    req.nsamples = windows_->value();
    const PplRow* known = findBaseline_ ? findBaseline_(req) : nullptr;
    const bool needBaseline = known == nullptr;
    if (known) showBaseline(gen, known->data.ppl);
    auto wb = ctx_->workbench();
    const qs::MethodConfig restore = ctx_->applied();
    const auto* summary = ctx_->summary();
    const qs::ModelSummary sum = *summary;
    const QString what = "sweep: " + param_->currentText().section(' ', 0, 2);
    QPointer<SweepDialog> self(this);
    status_->setText("Starting…");
    ctx_->run(
        "sweep",
        [self, wb, series, req, gen, restore, sum, what, needBaseline](const qs::Progress& p) -> std::function<void()> {
            size_t total = needBaseline ? 1 : 0, done = 0;
            for (const auto& s : series) total += s.configs.size();
            if (needBaseline) {  // the original model, same protocol: the dashed line
                const qs::Progress part = p.sub(0, 1.0 / total);
                const qs::MethodConfig none = AppContext::originalConfig();
                PplRow row;
                row.config = none;
                row.data = wb->evaluate(none, req, part);  // on the originals: what the model carries stays
                row.sizes = ui::model_sizes(sum, none);
                row.source = "sweep baseline";
                ++done;
                QMetaObject::invokeMethod(
                    self.data(),
                    [self, gen, row] {
                        if (!self) return;
                        self->showBaseline(gen, row.data.ppl);
                        emit self->pointDone(row);
                    },
                    Qt::QueuedConnection);
            }
            for (size_t k = 0; k < series.size(); ++k)
                for (size_t i = 0; i < series[k].configs.size(); ++i, ++done) {
                    const qs::Progress part = p.sub(double(done) / total, double(done + 1) / total);
                    PplRow row;
                    row.config = series[k].configs[i];
                    row.data = wb->evaluate(series[k].configs[i], req, part);
                    row.sizes = ui::model_sizes(sum, row.config);
                    row.source = what;
                    const double x = series[k].x[i];
                    const int si = static_cast<int>(k);
                    QMetaObject::invokeMethod(
                        self.data(),
                        [self, gen, si, x, row] {
                            if (self) self->onPoint(gen, si, x, row);
                        },
                        Qt::QueuedConnection);
                }
            // Back to the configuration the model carried: rebuilt from its recorded results (the
            // session keeps them), so no AWQ search runs again.
            p(1.0, "restoring the model's configuration");
            wb->apply(restore, {});
            return [self, gen] {
                if (!self || gen != self->gen_) return;
                self->status_->setText("Sweep finished; the points are also in the perplexity table.");
                self->progress_->setValue(1000);
                emit self->sweepFinished();
            };
        });
}

void SweepDialog::showBaseline(quint64 gen, double ppl) {
    if (gen != gen_) return;
    plot_->setReferenceLine(QString("original model: %1").arg(ppl, 0, 'f', 3), ppl);
}

void SweepDialog::onPoint(quint64 gen, int series, double x, const PplRow& row) {
    if (gen != gen_ || series >= static_cast<int>(xs_.size())) return;
    xs_[series] << x;
    ys_[series] << row.data.ppl;
    plot_->setSeriesData(series, xs_[series], ys_[series]);
    const int best = qs::widgets::SweepPlot::argMin(ys_[series]);
    plot_->setHighlight(series, best, "best");
    emit pointDone(row);
}
