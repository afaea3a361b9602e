#include "perplexity_page.h"

#include <QCheckBox>
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
#include <QDir>
#include <QTableView>
#include <QTextStream>
#include <QVBoxLayout>

#include <cmath>

#include "app_context.h"
#include "io/safe_output.h"
#include "line_plot.h"
#include "sweep_dialog.h"

using ui::qstr;

using ui::duration;

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
    baseline_ = new QCheckBox("+ original (baseline)");
    baseline_->setToolTip(
        "Also evaluate the original model once with the same protocol (skipped when the table "
        "already has that baseline)");
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
    stale_ = new QLabel("stale: the methods changed since this number; Run to update");
    stale_->setWordWrap(true);
    stale_->setMaximumWidth(320);
    stale_->setObjectName("staleLabel");
    stale_->setStyleSheet(
        "QLabel { background:#fff3cd; color:#7a5200; border:1px solid #e6c96b; padding:3px 8px; "
        "font-weight:600; }");
    stale_->hide();
    head->addWidget(latest_, 1);
    head->addWidget(stale_);
    v->addLayout(head);

    auto* split = new QSplitter(Qt::Vertical, this);
    plot_ = new qs::widgets::LinePlot(split);
    plot_->setObjectName("runningPlot");
    plot_->setAxisLabels("windows evaluated", "running perplexity exp(mean NLL)");
    plot_->setIntegerX(true);
    plot_->setPlaceholder("Loading…");
    auto* tableBox = new QWidget(split);
    auto* tv = new QVBoxLayout(tableBox);
    tv->setContentsMargins(0, 0, 0, 0);
    model_ = new PplResultsModel(this);
    model_->setObjectName("pplResultsModel");
    table_ = new QTableView(tableBox);
    table_->setObjectName("resultsTable");
    table_->setModel(model_);
    // One line per result (full texts in the tooltips); the configuration takes the room left.
    table_->setWordWrap(false);
    table_->setTextElideMode(Qt::ElideMiddle);
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table_->horizontalHeader()->setSectionResizeMode(PplResultsModel::Configuration, QHeaderView::Stretch);
    table_->horizontalHeader()->setSectionResizeMode(PplResultsModel::Protocol, QHeaderView::Interactive);
    table_->horizontalHeader()->resizeSection(PplResultsModel::Protocol, 150);
    table_->horizontalHeader()->setMinimumSectionSize(60);
    table_->verticalHeader()->setVisible(false);
    table_->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 6);
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
        const QString f = ctx_->choosers().saveFile(this, "Export perplexity results",
                                                    QDir::home().filePath("perplexity.csv"), "CSV (*.csv)");
        if (f.isEmpty()) return;
        QString err;
        if (!exportCsv(f, &err))
            emit ctx_->errorOccurred("Could not export the results.", err);
        else
            status_->setText("Saved " + f);
    });
    connect(ctx_, &AppContext::configChanged, this, &PerplexityPage::updateStale);
    connect(ctx_, &AppContext::jobsChanged, this,
            [this] { run_->setEnabled(ctx_->hasModel() && !ctx_->modelBusy() && ctx_->workbench()->has_tokenizer()); });
    connect(ctx_, &AppContext::modelChanged, this, [this] {
        if (const auto* s = ctx_->summary())
            seqlen_->setValue(static_cast<int>(std::min<int64_t>(512, s->max_position_embeddings)));
        if (const auto* s = ctx_->summary()) seqlen_->setMaximum(static_cast<int>(s->max_position_embeddings));
        run_->setEnabled(ctx_->workbench()->has_tokenizer());
        if (!ctx_->workbench()->has_tokenizer()) status_->setText("No tokenizer: perplexity is unavailable.");
        plot_->setPlaceholder(ctx_->workbench()->has_tokenizer()
                                  ? "Run draws the running perplexity here, window by window"
                                  : "No tokenizer: perplexity is unavailable");
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
        showStopped(QString("Cancelled at %1 %").arg(progress_->value() / 10));
        emit runCancelled();
    });
    connect(ctx_->jobs(), &JobRunner::failed, this, [this](const QString& ch, quint64, const QString& msg) {
        if (ch != "ppl") return;
        showStopped("Failed: " + msg);
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
        progress_->setFormat("%p%");
        progress_->setValue(0);
        eta_->setText("ETA …");
    }
    updateStale();
}

// The bar stays where the run stopped; the page names the configuration the engine reports
// the model carries now.
void PerplexityPage::showStopped(const QString& what) {
    setRunning(false);
    if (what.startsWith("Cancelled")) progress_->setFormat(what);
    eta_->clear();
    const QString carries = ctx_->hasModel() ? ui::qstr(ctx_->workbench()->applied().describe()) : QString();
    status_->setText(what + (carries.isEmpty() ? QString() : " · the model carries: " + carries));
    status_->setToolTip(status_->text());
}

const PplRow* PerplexityPage::baselineRow(const PplRequest& req) const {
    for (const auto& r : rows())
        if (r.config.methods.empty() && r.config.act.bits == 0 && r.data.seqlen == req.seqlen &&
            (req.nsamples < 0 || r.data.nsamples == req.nsamples))
            return &r;
    return nullptr;
}

void PerplexityPage::setPlotWindows(quint64 gen, int64_t windows, int64_t seqlen) {
    if (gen != gen_) return;
    ui::setPlotTitle(plot_, QString("Running estimate (%1 windows of %2 tokens)").arg(windows).arg(seqlen));
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
    std::vector<qs::MethodConfig> evals;
    if (baseline_->isChecked() && !baselineRow(req) && !AppContext::sameConfig(cfg, AppContext::originalConfig()))
        evals.push_back(AppContext::originalConfig());
    evals.push_back(cfg);

    const quint64 gen = ++gen_;
    windowsDone_ = 0;
    plot_->clearSeries();
    for (const auto& e : evals) plot_->addSeries(qstr(e.describe()), QVector<double>(), QVector<double>());
    ui::setPlotTitle(plot_, QString("Running estimate (windows of %1 tokens)").arg(req.seqlen));
    plot_->setPlaceholder("Reading the evaluation text…");
    latest_->setText("<i>Running: " + ui::qstr(cfg.describe()).toHtmlEscaped() + " …</i>");
    latest_->setToolTip(QString());
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
        // The title counts the windows that exist: min(requested, tokens / seqlen).
        const int64_t avail = wb->eval_tokens(p.sub(0, 0.01)) / std::max<int64_t>(1, req.seqlen);
        const int64_t windows = req.nsamples < 0 ? avail : std::min(req.nsamples, avail);
        QMetaObject::invokeMethod(
            self.data(),
            [self, gen, windows, req] {
                if (self) self->setPlotWindows(gen, windows, req.seqlen);
            },
            Qt::QueuedConnection);
        const double n = static_cast<double>(evals.size());
        for (size_t k = 0; k < evals.size(); ++k) {
            qs::Progress part = p.sub(k / n, (k + 1) / n);
            auto sum = std::make_shared<double>(0.0);
            const int series = static_cast<int>(k);
            auto onWindow = [self, gen, series, sum](int64_t i, double nll) {
                *sum += nll;
                const double running = std::exp(*sum / static_cast<double>(i + 1));
                QMetaObject::invokeMethod(
                    self.data(),
                    [self, gen, series, i, running] {
                        if (self) self->onWindow(gen, series, i, running);
                    },
                    Qt::QueuedConnection);
            };
            // The engine's one evaluation entry point: applies the configuration unless the model
            // carries it; a cancel during the perplexity keeps the configuration applied.
            auto applied = std::make_shared<ApplyData>();
            out->data.push_back(wb->evaluate(evals[k], req, part, onWindow, applied.get()));
            // Only when an apply really ran (a baseline is evaluated on the originals, without one:
            // noting it would drop the report of what the model carries, e.g. its AWQ curves).
            if (!applied->description.empty()) {
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
            self->status_->setText(
                QString("%1 evaluation%2 finished").arg(out->data.size()).arg(out->data.size() == 1 ? "" : "s"));
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
    model_->addRow(row);
    table_->scrollToBottom();
    const PplData& d = row.data;
    latest_->setText(QString("<span style='font-size:15pt;font-weight:600'>ppl %1</span>"
                             "&nbsp;&nbsp;<span style='color:#333'>%2</span><br>"
                             "<span style='color:#666'>%3 — %4 windows × %5 tokens (llm-awq / GPTQ protocol)</span>")
                         .arg(d.ppl, 0, 'f', 3)
                         .arg(PplResultsModel::configurationText(row).toHtmlEscaped(), qstr(d.dataset).toHtmlEscaped())
                         .arg(d.nsamples)
                         .arg(d.seqlen));
    latest_->setToolTip(qstr(d.protocol));
    updateStale();
}

void PerplexityPage::clearResults() {
    model_->clear();
    latest_->clear();
    updateStale();
}

void PerplexityPage::updateStale() {
    const PplRow* last = nullptr;
    for (const auto& r : rows())
        if (r.source == "run") last = &r;
    const bool stale = last && !running() && !AppContext::sameConfig(last->config, ctx_->config());
    stale_->setVisible(stale);
}

QString PerplexityPage::csv() const { return model_->csv(); }

bool PerplexityPage::exportCsv(const QString& path, QString* error) const {
    const QByteArray bytes = csv().toUtf8();
    std::vector<std::string> protect;
    if (const auto* s = ctx_->summary()) protect.push_back(s->source_dir);
    try {  // atomic (temporary + rename), never into the model folder (io/safe_output.h)
        for (const auto& note : qs::write_file_atomic(path.toStdString(), bytes.toStdString(), protect))
            emit ctx_->statusMessage(QString::fromStdString(note));  // a killed export's temporary removed
    } catch (const std::exception& e) {
        if (error) *error = QString::fromStdString(e.what());
        return false;
    }
    return true;
}

void PerplexityPage::openSweep() {
    if (!sweep_) {
        sweep_ = new SweepDialog(ctx_, this);
        sweep_->setBaselineLookup([this](const PplRequest& r) { return baselineRow(r); });
        connect(sweep_, &SweepDialog::pointDone, this, [this](const PplRow& row) { addRow(row); });
    }
    sweep_->setRequest(request());
    sweep_->show();
    sweep_->raise();
}
