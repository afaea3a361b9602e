#include "perplexity_page.h"

#include <QCheckBox>
#include <QFile>
#include <QFileDialog>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QTextStream>
#include <QVBoxLayout>

#include <cmath>

#include "app_context.h"
#include "line_plot.h"
#include "sweep_dialog.h"

using ui::qstr;

namespace {

QString csvField(const QString& s) {
    if (s.contains(',') || s.contains('"') || s.contains('\n')) return '"' + QString(s).replace("\"", "\"\"") + '"';
    return s;
}

QString datasetName(const PplData& d) { return qstr(d.dataset).section(':', 0, 0); }

QString shortProtocol(const PplData& d) {
    return QString("%1 · %2 × %3 tokens").arg(datasetName(d)).arg(d.nsamples).arg(d.seqlen);
}

QString duration(double s) {
    if (s < 60) return QString::number(s, 'f', s < 10 ? 1 : 0) + " s";
    return QString("%1 min %2 s").arg(static_cast<int>(s) / 60).arg(static_cast<int>(s) % 60);
}

}  // namespace

PerplexityPage::PerplexityPage(AppContext* ctx, QWidget* parent) : QWidget(parent), ctx_(ctx) {
    setObjectName("perplexityPage");
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(4, 4, 4, 4);

    auto* bar = new QHBoxLayout;
    seqlen_ = new QSpinBox;
    seqlen_->setObjectName("seqlenSpin");
    seqlen_->setRange(8, 32768);
    seqlen_->setValue(512);
    seqlen_->setSuffix(" tokens");
    windows_ = new QSpinBox;
    windows_->setObjectName("windowsSpin");
    windows_->setRange(0, 100000);
    windows_->setValue(10);
    windows_->setSpecialValueText("all");
    baseline_ = new QCheckBox("also the original model (baseline)");
    baseline_->setObjectName("baselineCheck");
    baseline_->setChecked(true);
    run_ = new QPushButton("Run");
    run_->setObjectName("runButton");
    run_->setDefault(true);
    cancel_ = new QPushButton("Cancel");
    cancel_->setObjectName("cancelButton");
    cancel_->setEnabled(false);
    sweepButton_ = new QPushButton("Sweep…");
    sweepButton_->setObjectName("sweepButton");
    bar->addWidget(new QLabel("Window"));
    bar->addWidget(seqlen_);
    bar->addWidget(new QLabel("Windows"));
    bar->addWidget(windows_);
    bar->addWidget(baseline_);
    bar->addStretch(1);
    bar->addWidget(run_);
    bar->addWidget(cancel_);
    bar->addWidget(sweepButton_);
    v->addLayout(bar);

    auto* prog = new QHBoxLayout;
    progress_ = new QProgressBar;
    progress_->setObjectName("pplProgress");
    progress_->setRange(0, 1000);
    progress_->setValue(0);
    progress_->setTextVisible(true);
    progress_->setFormat("%p%");
    eta_ = new QLabel;
    eta_->setObjectName("etaLabel");
    eta_->setMinimumWidth(170);
    status_ = new QLabel("Run evaluates the methods panel's configuration on WikiText-2.");
    status_->setObjectName("pplStatus");
    status_->setStyleSheet("color:#555");
    status_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    prog->addWidget(progress_, 2);
    prog->addWidget(eta_);
    prog->addWidget(status_, 3);
    v->addLayout(prog);

    auto* head = new QHBoxLayout;
    latest_ = new QLabel;
    latest_->setObjectName("pplValue");
    latest_->setTextFormat(Qt::RichText);
    latest_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    latest_->setWordWrap(true);
    stale_ = new QLabel("stale — the methods changed since this number was computed; Run to update");
    stale_->setObjectName("staleLabel");
    stale_->setStyleSheet("QLabel { background:#fff3cd; color:#7a5200; border:1px solid #e6c96b; padding:3px 8px; "
                          "font-weight:600; }");
    stale_->hide();
    head->addWidget(latest_, 1);
    head->addWidget(stale_);
    v->addLayout(head);

    auto* split = new QSplitter(Qt::Vertical, this);
    plot_ = new qs::widgets::LinePlot(split);
    plot_->setObjectName("runningPlot");
    plot_->setAxisLabels("windows evaluated", "running perplexity exp(mean NLL)");
    ui::setPlotTitle(plot_, "Running estimate");
    auto* tableBox = new QWidget(split);
    auto* tv = new QVBoxLayout(tableBox);
    tv->setContentsMargins(0, 0, 0, 0);
    table_ = new QTableWidget(0, 8, tableBox);
    table_->setObjectName("resultsTable");
    table_->setHorizontalHeaderLabels({"Configuration", "Protocol", "Perplexity", "Size (seed formula)", "Packed size",
                                       "Time", "Device / dtype", "KL vs original: mean / median / 99.9% · top-1"});
    table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    for (int c = 1; c < 8; ++c) table_->horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    table_->verticalHeader()->setVisible(false);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setAlternatingRowColors(true);
    tv->addWidget(table_, 1);
    auto* tb = new QHBoxLayout;
    export_ = new QPushButton("Export CSV…");
    export_->setObjectName("exportCsvButton");
    clear_ = new QPushButton("Clear");
    clear_->setObjectName("clearResultsButton");
    tb->addStretch(1);
    tb->addWidget(clear_);
    tb->addWidget(export_);
    tv->addLayout(tb);
    split->addWidget(plot_);
    split->addWidget(tableBox);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    v->addWidget(split, 1);

    connect(run_, &QPushButton::clicked, this, &PerplexityPage::run);
    connect(cancel_, &QPushButton::clicked, this, &PerplexityPage::cancel);
    connect(sweepButton_, &QPushButton::clicked, this, &PerplexityPage::openSweep);
    connect(clear_, &QPushButton::clicked, this, &PerplexityPage::clearResults);
    connect(export_, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getSaveFileName(this, "Export perplexity results", "perplexity.csv", "CSV (*.csv)");
        if (f.isEmpty()) return;
        QString err;
        if (!exportCsv(f, &err)) emit ctx_->errorOccurred("Could not export the results.", err);
        else status_->setText("Saved " + f);
    });
    connect(ctx_, &AppContext::configChanged, this, &PerplexityPage::updateStale);
    connect(ctx_, &AppContext::jobsChanged, this, [this] {
        run_->setEnabled(ctx_->hasModel() && !ctx_->modelBusy() && ctx_->workbench()->has_tokenizer());
    });
    connect(ctx_, &AppContext::modelChanged, this, [this] {
        if (const auto* s = ctx_->summary())
            seqlen_->setValue(static_cast<int>(std::min<int64_t>(512, s->max_position_embeddings)));
        if (const auto* s = ctx_->summary()) seqlen_->setMaximum(static_cast<int>(s->max_position_embeddings));
        run_->setEnabled(ctx_->workbench()->has_tokenizer());
        if (!ctx_->workbench()->has_tokenizer()) status_->setText("No tokenizer: perplexity is unavailable.");
    });
    connect(ctx_, &AppContext::jobProgress, this, [this](const QString& ch, double f, const QString& m) {
        if (ch != "ppl") return;
        progress_->setValue(static_cast<int>(f * 1000));
        status_->setText(m);
        const double el = clock_.elapsed() / 1000.0;
        if (f > 0.02) eta_->setText(QString("ETA %1 · %2 elapsed").arg(duration(el * (1 - f) / f), duration(el)));
    });
    connect(ctx_->jobs(), &JobRunner::cancelled, this, [this](const QString& ch, quint64) {
        if (ch != "ppl") return;
        setRunning(false);
        status_->setText("Cancelled.");
        eta_->clear();
        emit runCancelled();
    });
    connect(ctx_->jobs(), &JobRunner::failed, this, [this](const QString& ch, quint64, const QString& msg) {
        if (ch != "ppl") return;
        setRunning(false);
        status_->setText("Failed: " + msg);
        eta_->clear();
    });
}

PplRequest PerplexityPage::request() const {
    PplRequest r;
    r.seqlen = seqlen_->value();
    r.nsamples = windows_->value() == 0 ? -1 : windows_->value();
    r.batch = 1;
    return r;
}

bool PerplexityPage::running() const { return ctx_->jobs()->busy("ppl"); }

void PerplexityPage::setRunning(bool on) {
    run_->setEnabled(!on && ctx_->hasModel() && !ctx_->modelBusy());
    cancel_->setEnabled(on);
    if (on) {
        progress_->setValue(0);
        eta_->setText("ETA …");
    } else if (progress_->value() > 0) {
        progress_->setValue(1000);
    }
    updateStale();
}

void PerplexityPage::cancel() {
    ctx_->jobs()->cancel("ppl");
    status_->setText("Cancelling…");
}

void PerplexityPage::run() {
    if (!ctx_->hasModel() || ctx_->modelBusy()) return;
    auto wb = ctx_->workbench();
    const qs::MethodConfig cfg = ctx_->config();
    const PplRequest req = request();
    bool haveBaseline = false;
    for (const auto& r : rows_)
        if (r.config.methods.empty() && r.config.act.bits == 0 && r.data.seqlen == req.seqlen &&
            (req.nsamples < 0 || r.data.nsamples == req.nsamples))
            haveBaseline = true;
    std::vector<qs::MethodConfig> evals;
    if (baseline_->isChecked() && !haveBaseline && !AppContext::sameConfig(cfg, AppContext::originalConfig()))
        evals.push_back(AppContext::originalConfig());
    evals.push_back(cfg);

    const quint64 gen = ++gen_;
    windowsDone_ = 0;
    plot_->clearSeries();
    for (const auto& e : evals) plot_->addSeries(qstr(e.describe()), QVector<double>(), QVector<double>());
    ui::setPlotTitle(plot_, "Running estimate (" + QString::number(req.nsamples < 0 ? 0 : req.nsamples) + " windows of " +
                    QString::number(req.seqlen) + " tokens)");
    if (req.nsamples < 0) ui::setPlotTitle(plot_, "Running estimate (all windows of " + QString::number(req.seqlen) + " tokens)");
    setRunning(true);
    status_->setText("Starting…");
    clock_.start();
    QPointer<PerplexityPage> self(this);
    struct Out {
        std::vector<PplData> data;
        std::vector<qs::MethodConfig> cfgs;
        std::shared_ptr<ApplyData> apply;
        qs::MethodConfig applyCfg;
    };
    ctx_->run("ppl", [self, wb, evals, req, gen](const qs::Progress& p) -> std::function<void()> {
        auto out = std::make_shared<Out>();
        const double n = static_cast<double>(evals.size());
        for (size_t k = 0; k < evals.size(); ++k) {
            qs::Progress part = p.sub(k / n, (k + 1) / n);
            auto sum = std::make_shared<double>(0.0);
            const int series = static_cast<int>(k);
            auto onWindow = [self, gen, series, sum](int64_t i, double nll) {
                *sum += nll;
                const double running = std::exp(*sum / static_cast<double>(i + 1));
                QMetaObject::invokeMethod(
                    self.data(), [self, gen, series, i, running] {
                        if (self) self->onWindow(gen, series, i, running);
                    },
                    Qt::QueuedConnection);
            };
            // The engine's one evaluation entry point: applies the configuration unless the model
            // carries it; a cancel during the perplexity keeps the configuration applied.
            auto applied = std::make_shared<ApplyData>();
            const bool applies = !AppContext::sameConfig(wb->applied(), evals[k]);
            out->data.push_back(wb->evaluate(evals[k], req, part, onWindow, applied.get()));
            if (applies) {
                out->apply = applied;
                out->applyCfg = evals[k];
            }
            out->cfgs.push_back(evals[k]);
        }
        return [self, out, gen] {
            if (!self || gen != self->gen_) return;
            if (out->apply) self->ctx_->noteApply(out->applyCfg, *out->apply);
            for (size_t k = 0; k < out->data.size(); ++k) {
                PplRow row;
                row.config = out->cfgs[k];
                row.data = out->data[k];
                row.sizes = ui::model_sizes(*self->ctx_->summary(), row.config);
                row.source = "run";
                self->addRow(row);
            }
            self->setRunning(false);
            const double el = self->clock_.elapsed() / 1000.0;
            self->eta_->setText("done in " + duration(el));
            self->status_->setText(QString("%1 evaluation%2 finished").arg(out->data.size()).arg(out->data.size() == 1 ? "" : "s"));
            emit self->runFinished();
        };
    });
}

void PerplexityPage::onWindow(quint64 gen, int series, int64_t window, double running) {
    if (gen != gen_ || series >= plot_->seriesCount()) return;
    ++windowsDone_;
    plot_->appendPoint(series, static_cast<double>(window + 1), running);
}

void PerplexityPage::addRow(const PplRow& row) {
    rows_.push_back(row);
    const int r = table_->rowCount();
    table_->insertRow(r);
    const PplData& d = row.data;
    auto cell = [&](int c, const QString& text, const QString& tip = QString(), bool right = false) {
        auto* it = new QTableWidgetItem(text);
        if (!tip.isEmpty()) it->setToolTip(tip);
        if (right) it->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        table_->setItem(r, c, it);
    };
    QString cfg = qstr(row.config.describe());
    if (row.source != "run") cfg += "  [" + row.source + "]";
    cell(0, cfg, qstr(row.config.to_json().dump(2)));
    cell(1, shortProtocol(d), qstr(d.dataset) + "\n" + qstr(d.protocol));
    cell(2, QString::number(d.ppl, 'f', d.ppl < 1000 ? 3 : 1), QString(), true);
    cell(3, ui::mib(row.sizes.seed_mib), QString(), true);
    cell(4, ui::mib(row.sizes.packed_mib), QString(), true);
    cell(5, duration(d.seconds), QString("%1 tokens/s").arg(d.tokens_per_second, 0, 'f', 0), true);
    cell(6, qstr(d.device + " / " + d.dtype));
    cell(7, klText(d),
         d.has_kl ? QString("KL(original || quantized) of the next-token distributions over the %1 scored tokens "
                            "(llama.cpp --kl-divergence); max %2 nats; top-1: same most likely token")
                        .arg(d.nsamples * (d.seqlen - 1))
                        .arg(d.kl_max, 0, 'g', 4)
                  : QString("the original weights are the reference"),
         true);
    table_->scrollToBottom();
    latest_->setText(QString("<span style='font-size:15pt;font-weight:600'>ppl %1</span>"
                             "&nbsp;&nbsp;<span style='color:#333'>%2</span><br>"
                             "<span style='color:#666'>%3 — %4 windows × %5 tokens (llm-awq / GPTQ protocol)</span>")
                         .arg(d.ppl, 0, 'f', 3)
                         .arg(cfg.toHtmlEscaped(), qstr(d.dataset).toHtmlEscaped())
                         .arg(d.nsamples)
                         .arg(d.seqlen));
    latest_->setToolTip(qstr(d.protocol));
    updateStale();
}

QString PerplexityPage::klText(const PplData& d) {
    if (!d.has_kl) return QString::fromUtf8("—");
    return QString("%1 / %2 / %3 · %4%")
        .arg(d.kl_mean, 0, 'g', 4)
        .arg(d.kl_median, 0, 'g', 4)
        .arg(d.kl_p99_9, 0, 'g', 4)
        .arg(100 * d.top1, 0, 'f', 2);
}

void PerplexityPage::clearResults() {
    rows_.clear();
    table_->setRowCount(0);
    latest_->clear();
    updateStale();
}

void PerplexityPage::updateStale() {
    const PplRow* last = nullptr;
    for (const auto& r : rows_)
        if (r.source == "run") last = &r;
    const bool stale = last && !running() && !AppContext::sameConfig(last->config, ctx_->config());
    stale_->setVisible(stale);
}

QString PerplexityPage::csv() const {
    QString out;
    QTextStream s(&out);
    s << "configuration,protocol,dataset,ppl,seed_size_mib,packed_size_mib,seconds,tokens_per_second,seqlen,nsamples,"
         "device,dtype,source,kl_mean,kl_median,kl_p99_9,kl_max,top1_agreement\n";
    for (const auto& r : rows_) {
        const PplData& d = r.data;
        s << csvField(qstr(r.config.describe())) << ',' << csvField(qstr(d.protocol)) << ','
          << csvField(qstr(d.dataset)) << ',' << QString::number(d.ppl, 'g', 10) << ','
          << QString::number(r.sizes.seed_mib, 'g', 8) << ',' << QString::number(r.sizes.packed_mib, 'g', 8) << ','
          << QString::number(d.seconds, 'g', 6) << ',' << QString::number(d.tokens_per_second, 'g', 6) << ','
          << d.seqlen << ',' << d.nsamples << ',' << csvField(qstr(d.device)) << ',' << csvField(qstr(d.dtype)) << ','
          << csvField(r.source);
        if (d.has_kl)
            s << ',' << QString::number(d.kl_mean, 'g', 8) << ',' << QString::number(d.kl_median, 'g', 8) << ','
              << QString::number(d.kl_p99_9, 'g', 8) << ',' << QString::number(d.kl_max, 'g', 8) << ','
              << QString::number(d.top1, 'g', 8);
        else
            s << ",,,,,";
        s << '\n';
    }
    return out;
}

bool PerplexityPage::exportCsv(const QString& path, QString* error) const {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
        if (error) *error = path + ": " + f.errorString();
        return false;
    }
    const QByteArray bytes = csv().toUtf8();
    if (f.write(bytes) != bytes.size()) {
        if (error) *error = path + ": " + f.errorString();
        return false;
    }
    return true;
}

void PerplexityPage::openSweep() {
    if (!sweep_) {
        sweep_ = new SweepDialog(ctx_, this);
        connect(sweep_, &SweepDialog::pointDone, this, [this](const PplRow& row) { addRow(row); });
    }
    sweep_->setRequest(request());
    sweep_->show();
    sweep_->raise();
}
