#include "sensitivity_page.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardItemModel>
#include <QTableView>
#include <QVBoxLayout>

#include <cmath>

#include "app_context.h"
#include "io/safe_output.h"
#include "quant/sensitivity.h"
#include "sensitivity_view.h"
#include "ui_util.h"

using ui::qstr;

namespace {

constexpr int kSortRole = Qt::UserRole + 1;
constexpr int kKindRole = Qt::UserRole + 2;
constexpr int kBlockRole = Qt::UserRole + 3;

QStandardItem* numberItem(double v, const QString& text) {
    auto* it = new QStandardItem(text);
    it->setData(v, kSortRole);
    it->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return it;
}

}  // namespace

double SensitivityPage::metricValue(const SensitivityRow& r, Metric m) {
    switch (m) {
        case KlMean:
            return r.kl_mean;
        case DeltaPpl:
            return r.delta_ppl;
        case KlP999:
            return r.kl_p99_9;
        case Top1Disagreement:
            return 100.0 * (1.0 - r.top1);
        case WeightError:
            return r.weight_rel_error;
        case ImatrixRatio:
            return r.imatrix_max_ratio;
    }
    return 0;
}

QString SensitivityPage::metricLabel(Metric m) {
    switch (m) {
        case KlMean:
            return "mean KL (nats/token)";
        case DeltaPpl:
            return "Δ perplexity";
        case KlP999:
            return "99.9th pct. KL (nats/token)";
        case Top1Disagreement:
            return "top-1 disagreement (%)";
        case WeightError:
            return "‖W − Q(W)‖ / ‖W‖";
        case ImatrixRatio:
            return "max / mean channel Σx²";
    }
    return {};
}

SensitivityPage::SensitivityPage(AppContext* ctx, QWidget* parent) : QWidget(parent), ctx_(ctx) {
    setObjectName("sensitivityPage");
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(4, 4, 4, 4);

    auto* bar = new QHBoxLayout;
    seqlen_ = new QSpinBox;
    seqlen_->setObjectName("sensSeqlenSpin");
    seqlen_->setRange(8, 32768);
    seqlen_->setValue(int(SensitivityRequest().seqlen));
    seqlen_->setSuffix(" tokens");
    windows_ = new QSpinBox;
    windows_->setObjectName("sensWindowsSpin");
    windows_->setRange(1, 1000);
    windows_->setValue(int(SensitivityRequest().nsamples));
    windows_->setToolTip(
        "A short evaluation set: the first windows of WikiText-2. Each Linear costs a forward through the "
        "blocks after it (SmolLM2-135M at 2 x 256 tokens: about 14 min on 2 cores)");
    run_ = new QPushButton("Run");
    run_->setObjectName("sensRunButton");
    cancel_ = new QPushButton("Cancel");
    cancel_->setObjectName("sensCancelButton");
    cancel_->setEnabled(false);
    bar->addWidget(new QLabel("Window"));
    bar->addWidget(seqlen_);
    bar->addWidget(new QLabel("Windows"));
    bar->addWidget(windows_);
    keepN_ = new QSpinBox;
    keepN_->setObjectName("sensKeepSpin");
    keepN_->setRange(1, 9999);
    keepN_->setValue(5);
    keepN_->setToolTip("How many of the most sensitive Linears get their own precision");
    keepAs_ = new QComboBox;
    keepAs_->setObjectName("sensKeepCombo");
    for (const char* spec : {"w8", "w6", "w5", "w4", "skip"}) keepAs_->addItem(spec, spec);
    keepAs_->setToolTip("w8: 8-bit weights (the configuration's group size); skip: left unquantized");
    keep_ = new QPushButton("Set in draft");
    keep_->setObjectName("sensKeepButton");
    keep_->setToolTip(
        "Mixed precision: give the most sensitive Linears of this map (by mean KL; by Δ perplexity while the plot "
        "shows it) this precision in the methods' draft. The Model page shows them with the average bits; Apply "
        "uses them.");
    keep_->setEnabled(false);
    bar->addStretch(1);
    bar->addWidget(run_);
    bar->addWidget(cancel_);
    v->addLayout(bar);

    auto* prog = new QHBoxLayout;
    progress_ = new QProgressBar;
    progress_->setObjectName("sensProgress");
    progress_->setRange(0, 1000);
    progress_->setValue(0);
    status_ = new QLabel("Run measures each Linear of the methods panel's configuration alone.");
    status_->setObjectName("sensStatus");
    status_->setStyleSheet("color:#555");
    status_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    prog->addWidget(progress_, 2);
    prog->addWidget(status_, 3);
    v->addLayout(prog);

    auto* head = new QHBoxLayout;
    summary_ = new QLabel;
    summary_->setObjectName("sensSummary");
    summary_->setWordWrap(true);
    summary_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    stale_ = new QLabel("stale: the methods changed since this map; Run to update");
    stale_->setObjectName("sensStaleLabel");
    stale_->setStyleSheet(
        "QLabel { background:#fff3cd; color:#7a5200; border:1px solid #e6c96b; padding:3px 8px; font-weight:600; "
        "}");
    stale_->hide();
    head->addWidget(summary_, 1);
    head->addWidget(stale_);
    v->addLayout(head);

    auto* opts = new QHBoxLayout;
    metric_ = new QComboBox;
    metric_->setObjectName("sensMetricCombo");
    const char* shortNames[] = {"KL divergence (mean)", "Δ perplexity", "KL 99.9th percentile",
                                "top-1 disagreement",   "weight error", "imatrix max/mean"};
    for (Metric m : {KlMean, DeltaPpl, KlP999, Top1Disagreement, WeightError, ImatrixRatio}) {
        metric_->addItem(shortNames[int(m)], int(m));
        metric_->setItemData(metric_->count() - 1, metricLabel(m), Qt::ToolTipRole);
    }
    scope_ = new QComboBox;
    scope_->setObjectName("sensScopeCombo");
    scope_->addItem("Linears", "linear");
    scope_->addItem("Blocks", "block");
    sort_ = new QCheckBox("Sort by value");
    sort_->setObjectName("sensSortCheck");
    log_ = new QCheckBox("Log scale");
    log_->setObjectName("sensLogCheck");
    export_ = new QPushButton("Export…");
    export_->setToolTip("Save the map as CSV or JSON (the same files as quantscope-cli sensitivity)");
    export_->setObjectName("sensExportButton");
    export_->setEnabled(false);
    opts->addWidget(new QLabel("Show"));
    opts->addWidget(metric_);
    opts->addWidget(new QLabel("of"));
    opts->addWidget(scope_);
    opts->addWidget(sort_);
    opts->addWidget(log_);
    opts->addStretch(1);
    v->addLayout(opts);

    auto* split = new QSplitter(Qt::Vertical, this);
    view_ = new qs::widgets::SensitivityView(split);
    view_->setObjectName("sensitivityView");
    view_->setPlaceholder("Loading…");  // until a model is open (modelChanged)
    model_ = new QStandardItemModel(0, Columns, this);
    model_->setHorizontalHeaderLabels({"Layer", "Kind", "Block", "Role", "Weights", "ppl", "Δ ppl", "KL mean",
                                       "KL p99.9", "top-1 %", "w rel. err", "imatrix max/mean"});
    proxy_ = new QSortFilterProxyModel(this);
    proxy_->setSourceModel(model_);
    proxy_->setSortRole(kSortRole);
    table_ = new QTableView(split);
    table_->setObjectName("sensTable");
    table_->setModel(proxy_);
    table_->setSortingEnabled(true);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setAlternatingRowColors(true);
    table_->setWordWrap(false);
    table_->setTextElideMode(Qt::ElideMiddle);
    table_->sortByColumn(Layer, Qt::AscendingOrder);
    table_->verticalHeader()->setVisible(false);
    table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 6);
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table_->horizontalHeader()->setSectionResizeMode(Layer, QHeaderView::Stretch);
    split->addWidget(view_);
    split->addWidget(table_);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    v->addWidget(split, 1);

    // what a finished map offers: mixed precision from it, and its export
    auto* after = new QHBoxLayout;
    after->addWidget(new QLabel("Keep the top"));
    after->addWidget(keepN_);
    after->addWidget(new QLabel("Linears at"));
    after->addWidget(keepAs_);
    after->addWidget(keep_);
    after->addStretch(1);
    after->addWidget(export_);
    v->addLayout(after);

    connect(run_, &QPushButton::clicked, this, &SensitivityPage::run);
    connect(cancel_, &QPushButton::clicked, this, &SensitivityPage::cancel);
    connect(metric_, &QComboBox::currentIndexChanged, this, &SensitivityPage::refreshPlot);
    connect(scope_, &QComboBox::currentIndexChanged, this, &SensitivityPage::refreshPlot);
    connect(sort_, &QCheckBox::toggled, view_, &qs::widgets::SensitivityView::setSortByValue);
    connect(log_, &QCheckBox::toggled, view_, &qs::widgets::PlotView::setLogScale);
    connect(view_, &qs::widgets::PlotView::logScaleChanged, log_, &QCheckBox::setChecked);
    connect(view_, &qs::widgets::SensitivityView::barClicked, this, [this](const QString& name) {
        for (const auto& r : rows_)
            if (qstr(r.name) == name) selectLayer(name, qstr(r.kind), r.block);
    });
    connect(table_, &QTableView::clicked, this, [this](const QModelIndex& idx) {
        const QModelIndex src = proxy_->mapToSource(idx);
        const QStandardItem* it = model_->item(src.row(), Layer);
        selectLayer(it->text(), it->data(kKindRole).toString(), it->data(kBlockRole).toLongLong());
    });
    connect(ctx_, &AppContext::layerChanged, this, &SensitivityPage::followSelection);
    connect(export_, &QPushButton::clicked, this, [this] {
        const QString f = ctx_->choosers().saveFile(
            this, "Export the sensitivity map", QDir::home().filePath("sensitivity.csv"), "CSV (*.csv);;JSON (*.json)");
        if (f.isEmpty()) return;
        QString err;
        if (!exportTo(f, &err))
            emit ctx_->errorOccurred("Could not export the sensitivity map.", err);
        else
            status_->setText("Saved " + f);
    });
    connect(keep_, &QPushButton::clicked, this, [this] { keepMostSensitive(); });
    connect(ctx_, &AppContext::configChanged, this, &SensitivityPage::updateStale);
    connect(ctx_, &AppContext::jobsChanged, this, [this] {
        if (!running()) run_->setEnabled(ctx_->hasModel() && !ctx_->modelBusy() && ctx_->workbench()->has_tokenizer());
    });
    connect(ctx_, &AppContext::modelChanged, this, [this] {
        if (const auto* s = ctx_->summary()) {
            seqlen_->setMaximum(static_cast<int>(s->max_position_embeddings));
            seqlen_->setValue(
                static_cast<int>(std::min<int64_t>(SensitivityRequest().seqlen, s->max_position_embeddings)));
        }
        rows_.clear();
        model_->removeRows(0, model_->rowCount());
        haveMap_ = complete_ = false;
        export_->setEnabled(false);
        keep_->setEnabled(false);
        summary_->clear();
        refreshPlot();
        updateStale();
        const bool tok = ctx_->workbench()->has_tokenizer();
        run_->setEnabled(tok);
        view_->setPlaceholder(tok ? "Run draws one bar per layer here" : "No tokenizer: the sensitivity map needs one");
    });
    connect(ctx_, &AppContext::jobProgress, this, [this](const QString& ch, double f, const QString& m) {
        if (ch != "sensitivity") return;
        progress_->setValue(static_cast<int>(f * 1000));
        const double el = clock_.elapsed() / 1000.0;
        status_->setText(f > 0.05 ? QString("%1 · ETA %2").arg(m, ui::duration(el * (1 - f) / f)) : m);
    });
    connect(ctx_->jobs(), &JobRunner::cancelled, this, [this](const QString& ch, quint64) {
        if (ch != "sensitivity") return;
        showStopped(QString("Cancelled at %1 %: the %2 rows measured so far are shown")
                        .arg(progress_->value() / 10)
                        .arg(rows_.size()));
        emit runCancelled();
    });
    connect(ctx_->jobs(), &JobRunner::failed, this, [this](const QString& ch, quint64, const QString& msg) {
        if (ch != "sensitivity") return;
        showStopped("Failed: " + msg);
    });
}

SensitivityRequest SensitivityPage::request() const {
    SensitivityRequest r;
    r.seqlen = seqlen_->value();
    r.nsamples = windows_->value();
    return r;
}

bool SensitivityPage::running() const { return ctx_->jobs()->busy("sensitivity"); }

void SensitivityPage::setRunning(bool on) {
    run_->setEnabled(!on && ctx_->hasModel() && !ctx_->modelBusy());
    cancel_->setEnabled(on);
    if (on) {
        progress_->setFormat("%p%");
        progress_->setValue(0);
    }
}

void SensitivityPage::showStopped(const QString& what) {
    setRunning(false);
    if (what.startsWith("Cancelled")) progress_->setFormat("cancelled");
    status_->setText(what);
    status_->setToolTip(what);
}

void SensitivityPage::cancel() {
    ctx_->jobs()->cancel("sensitivity");
    status_->setText("Cancelling…");
}

void SensitivityPage::run() {
    if (!ctx_->hasModel() || ctx_->modelBusy()) return;
    auto wb = ctx_->workbench();
    const qs::MethodConfig cfg = ctx_->config();
    if (!cfg.quantizes_weights()) {
        status_->setText("The methods panel quantizes no weights: choose RTN, AWQ, GPTQ or SmoothQuant first.");
        return;
    }
    const SensitivityRequest req = request();
    const quint64 gen = ++gen_;
    rows_.clear();
    model_->removeRows(0, model_->rowCount());
    haveMap_ = true;
    complete_ = false;
    mapConfig_ = cfg;
    export_->setEnabled(false);
    summary_->setText("<i>Measuring " + qstr(cfg.describe()).toHtmlEscaped() + " …</i>");
    refreshPlot();
    updateStale();
    setRunning(true);
    status_->setText("Starting…");
    clock_.start();
    QPointer<SensitivityPage> self(this);
    ctx_->run("sensitivity", [self, wb, cfg, req, gen](const qs::Progress& p) -> std::function<void()> {
        auto applied = std::make_shared<ApplyData>();
        auto onRow = [self, gen](const SensitivityRow& r) {
            QMetaObject::invokeMethod(
                self.data(),
                [self, gen, r] {
                    if (self) self->addRow(gen, r);
                },
                Qt::QueuedConnection);
        };
        auto d = std::make_shared<SensitivityData>(wb->sensitivity(cfg, req, p, onRow, applied.get()));
        return [self, d, applied, cfg, gen] {
            if (!self || gen != self->gen_) return;
            if (!applied->description.empty()) self->ctx_->noteApply(cfg, *applied);
            self->finish(gen, *d);
            emit self->runFinished();
        };
    });
}

void SensitivityPage::addRow(quint64 gen, const SensitivityRow& r) {
    if (gen != gen_) return;
    rows_.push_back(r);
    QList<QStandardItem*> items;
    auto* name = new QStandardItem(qstr(r.name));
    name->setData(double(model_->rowCount()), kSortRole);  // sorting by Layer = model order
    name->setData(qstr(r.kind), kKindRole);
    name->setData(qlonglong(r.block), kBlockRole);
    name->setToolTip(qstr(r.name));
    items << name << new QStandardItem(qstr(r.kind));
    items.back()->setData(qstr(r.kind), kSortRole);
    items << numberItem(double(r.block), QString::number(r.block));
    items << new QStandardItem(qstr(r.role));
    items.back()->setData(qstr(r.role), kSortRole);
    items << numberItem(double(r.params), ui::commas(r.params));
    items << numberItem(r.ppl, QString::number(r.ppl, 'f', 3));
    items << numberItem(r.delta_ppl, QString::number(r.delta_ppl, 'f', 3));
    items << numberItem(r.kl_mean, ui::num(r.kl_mean));
    items << numberItem(r.kl_p99_9, ui::num(r.kl_p99_9));
    items << numberItem(100.0 * r.top1, QString::number(100.0 * r.top1, 'f', 1));
    items << numberItem(r.weight_rel_error, ui::num(r.weight_rel_error));
    if (r.kind == "linear")
        items << numberItem(r.imatrix_max_ratio, QString::number(r.imatrix_max_ratio, 'f', 1));
    else
        items << numberItem(-1, QString());
    model_->appendRow(items);
    refreshPlot();
}

void SensitivityPage::finish(quint64 gen, const SensitivityData& d) {
    if (gen != gen_) return;
    // the rows arrived one by one (each block after its Linears); the final list has the
    // engine's order (Linears in model order, then blocks), as the CLI prints it
    rows_.clear();
    model_->removeRows(0, model_->rowCount());
    for (const auto& r : d.rows) addRow(gen, r);
    last_ = d;
    complete_ = true;
    export_->setEnabled(true);
    keep_->setEnabled(true);
    setRunning(false);
    progress_->setValue(1000);
    QString s =
        QString("<b>%1</b>: original ppl %2").arg(qstr(d.configuration).toHtmlEscaped()).arg(d.base_ppl, 0, 'f', 3);
    if (d.has_total)
        s += QString(", whole configuration %1 (KL mean %2)").arg(d.total_ppl, 0, 'f', 3).arg(ui::num(d.total_kl));
    s += QString(" · %1 windows × %2 tokens of WikiText-2 · %3")
             .arg(d.nsamples)
             .arg(d.seqlen)
             .arg(ui::duration(d.seconds));
    summary_->setText(s);
    summary_->setToolTip(qstr(d.protocol));
    status_->setText(QString("%1 layers measured in %2").arg(d.rows.size()).arg(ui::duration(d.seconds)));
    updateStale();
}

std::vector<std::string> SensitivityPage::keepMostSensitive() {
    if (!complete_ || !ctx_->hasModel()) return {};
    std::vector<qs::SensitivityEntry> entries;
    for (const auto& r : last_.rows) {
        qs::SensitivityEntry e;
        e.name = r.name;
        e.kind = r.kind;
        e.delta_ppl = r.delta_ppl;
        e.kl.mean = r.kl_mean;
        entries.push_back(e);
    }
    const bool byPpl = Metric(metric_->currentData().toInt()) == DeltaPpl;
    const std::string spec = keepAs_->currentData().toString().toStdString();
    const qs::LinearOverride o = qs::parse_linear_override(spec);
    const auto names = qs::most_sensitive_linears(entries, keepN_->value(), byPpl ? "ppl" : "kl");
    qs::MethodConfig c = ctx_->config();
    for (const auto& n : names) c.overrides[n] = o;
    ctx_->setConfig(c);
    QStringList shown;
    for (size_t i = 0; i < names.size() && i < 3; ++i) shown << qstr(names[i]);
    if (names.size() > 3) shown << "…";
    const QString msg = QString(
                            "Draft: the %1 most sensitive Linears (by %2) at %3 — %4. The Model page shows the "
                            "average bits; Apply to use them.")
                            .arg(names.size())
                            .arg(byPpl ? "Δ perplexity" : "mean KL")
                            .arg(qstr(spec))
                            .arg(shown.join(", "));
    status_->setText(msg);
    status_->setToolTip(msg);
    return names;
}

void SensitivityPage::refreshPlot() {
    const Metric m = Metric(metric_->currentData().toInt());
    const QString kind = scope_->currentData().toString();
    QVector<qs::widgets::SensitivityBar> bars;
    for (const auto& r : rows_) {
        if (qstr(r.kind) != kind) continue;
        if (m == ImatrixRatio && r.kind != "linear") continue;
        bars.push_back({qstr(r.name), qstr(r.role), int(r.block), metricValue(r, m)});
    }
    view_->setBars(bars, metricLabel(m));
    const bool kl = m == KlMean || m == KlP999;
    QString title =
        QString(kind == "linear" ? "Each decoder Linear alone quantized" : "Each decoder block alone quantized") +
        (kl                  ? ": KL(original ‖ quantized)"
         : m == ImatrixRatio ? ": input outliers (imatrix)"
                             : "");
    if (haveMap_) title += " — " + qstr(mapConfig_.describe());
    ui::setPlotTitle(view_, title);
    if (m == ImatrixRatio && kind == "block")
        view_->setPlaceholder("The imatrix statistic is per Linear: show Linears");
    else if (rows_.empty())
        view_->setPlaceholder(haveMap_ ? "Measuring…" : "Run draws one bar per layer here");
    followSelection(ctx_->layer());
}

void SensitivityPage::selectLayer(const QString& name, const QString& kind, int64_t block) {
    if (kind == "linear") {
        ctx_->setLayer(name);
        return;
    }
    for (const auto& r : rows_)  // a block: its first Linear
        if (r.kind == "linear" && r.block == block) {
            ctx_->setLayer(qstr(r.name));
            view_->setSelected(name);
            return;
        }
    view_->setSelected(name);
}

void SensitivityPage::followSelection(const QString& linear) {
    if (scope_->currentData().toString() == "linear") view_->setSelected(linear);
    for (int i = 0; i < proxy_->rowCount(); ++i) {
        const QModelIndex idx = proxy_->index(i, Layer);
        if (idx.data().toString() == linear) {
            table_->selectRow(i);
            return;
        }
    }
}

void SensitivityPage::updateStale() {
    stale_->setVisible(haveMap_ && !AppContext::sameConfig(mapConfig_, ctx_->config()));
}

bool SensitivityPage::exportTo(const QString& path, QString* error) const {
    if (!complete_) {
        if (error) *error = "No complete sensitivity map to export: Run first (a cancelled run is not exported).";
        return false;
    }
    const std::string bytes = path.endsWith(".json", Qt::CaseInsensitive) ? last_.json + "\n" : last_.csv;
    std::vector<std::string> protect;
    if (const auto* s = ctx_->summary()) protect.push_back(s->source_dir);
    try {  // atomic (temporary + rename), never into the model folder (io/safe_output.h)
        for (const auto& note : qs::write_file_atomic(path.toStdString(), bytes, protect))
            emit ctx_->statusMessage(QString::fromStdString(note));
    } catch (const std::exception& e) {
        if (error) *error = QString::fromStdString(e.what());
        return false;
    }
    return true;
}
