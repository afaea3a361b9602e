#include "app_context.h"

#include <QPointer>
#include <QTimer>

#include "ui_util.h"

AppContext::AppContext(QObject* parent)
    : QObject(parent), jobs_(new JobRunner(this)), previewTimer_(new QTimer(this)), idleTimer_(new QTimer(this)) {
    config_ = defaultConfig();
    previewTimer_->setSingleShot(true);
    previewTimer_->setInterval(30);  // debounce slider drags (see setConfig)
    connect(previewTimer_, &QTimer::timeout, this, &AppContext::startPreview);
    idleTimer_->setSingleShot(true);
    idleTimer_->setInterval(150);  // let deferred repaints (heatmap re-pooling) settle
    connect(idleTimer_, &QTimer::timeout, this, [this] {
        if (isIdle()) emit idle();
    });
    connect(jobs_, &JobRunner::progress, this,
            [this](const QString& ch, quint64, double f, const QString& m) { emit jobProgress(ch, f, m); });
    auto changesModel = [](const QString& ch) {
        return ch == "apply" || ch == "ppl" || ch == "sweep" || ch == "export" || ch == "sensitivity";
    };
    connect(jobs_, &JobRunner::finished, this, [this, changesModel](const QString& ch, quint64) {
        if (changesModel(ch)) modelJobEnded();
        previewIfModelWasBusy(ch);
        scheduleIdleCheck();
    });
    connect(jobs_, &JobRunner::cancelled, this, [this, changesModel](const QString& ch, quint64) {
        if (changesModel(ch)) modelJobEnded();
        previewIfModelWasBusy(ch);
        scheduleIdleCheck();
    });
    connect(jobs_, &JobRunner::failed, this, [this, changesModel](const QString& ch, quint64, const QString& msg) {
        if (changesModel(ch)) modelJobEnded();
        previewIfModelWasBusy(ch);
        QString what;
        if (ch == "load")
            what = "Could not open the model.";
        else if (ch == "apply")
            what = "Could not apply the methods.";
        else if (ch == "ppl" || ch == "sweep")
            what = "Perplexity failed.";
        else if (ch == "export")
            what = "Could not export the model.";
        else if (ch == "sensitivity")
            what = "The sensitivity map failed.";
        else
            what = QString("The %1 view could not be computed.").arg(ch);
        if (ch == "load") {
            emit loadFailed(msg);
            if (wb_) {
                emit viewsInvalidated();
                startPreview();
            }
        }
        emit errorOccurred(what, msg);
        scheduleIdleCheck();
    });
}

AppContext::~AppContext() { shutdown(); }

void AppContext::shutdown() {
    previewTimer_->stop();
    jobs_->cancelAll();
    jobs_->waitForDone();
}

quint64 AppContext::run(const QString& channel, JobRunner::Work work, JobRunner::Priority priority) {
    idleTimer_->stop();
    const quint64 id = jobs_->start(channel, std::move(work), priority);
    emit jobsChanged();
    return id;
}

bool AppContext::modelBusy() const {
    return jobs_->busy("apply") || jobs_->busy("ppl") || jobs_->busy("sweep") || jobs_->busy("export") ||
           jobs_->busy("sensitivity");
}

bool AppContext::isIdle() const { return jobs_->idle() && !previewTimer_->isActive(); }

void AppContext::scheduleIdleCheck() {
    emit jobsChanged();
    if (jobs_->idle()) idleTimer_->start();
}

bool AppContext::loading() const { return jobs_->busy("load"); }

qs::MethodConfig AppContext::defaultConfig() {
    qs::MethodConfig c;
    c.methods = {"rtn"};
    c.weight.bits = 4;
    c.weight.granularity = qs::Granularity::PerGroup;
    c.weight.group_size = 128;
    c.weight.symmetric = false;
    // activations in float (MethodConfig's default)
    return c;
}

bool AppContext::sameConfig(const qs::MethodConfig& a, const qs::MethodConfig& b) { return a.to_json() == b.to_json(); }

bool AppContext::configApplied() const { return sameConfig(config_, applied_); }

quint64 AppContext::openModel(const QString& dir, const QString& device, const QString& dtype) {
    // Opening another model cancels whatever runs on the current one; the current model
    // stays loaded (and shown) until the new one has loaded successfully.
    jobs_->cancelAll();
    previewTimer_->stop();
    emit statusMessage("Loading " + dir + " …");
    LoadRequest req;
    req.dir = dir.toStdString();
    req.device = device.toStdString();
    req.dtype = dtype.toStdString();
    return run("load", [this, req, device, dtype](const qs::Progress& p) -> std::function<void()> {
        std::shared_ptr<Workbench> wb = Workbench::open(req, p);
        return [this, wb, device, dtype] {
            emit modelAboutToChange();
            jobs_->cancelAll();  // jobs started on the old model meanwhile
            wb_ = wb;
            device_ = device;
            dtype_ = dtype;
            applied_ = originalConfig();
            configEdited_ = false;
            lastApply_.reset();
            preview_.reset();
            previewAgain_ = false;
            calibration_.clear();
            // Keep the selected layer if the new model has it, else the first decoder Linear.
            QString keep;
            for (const auto& l : wb_->summary().linears)
                if (QString::fromStdString(l.name) == layer_) keep = layer_;
            if (keep.isEmpty() && !wb_->summary().linears.empty())
                keep = QString::fromStdString(wb_->summary().linears.front().name);
            layer_ = keep;
            // A big model on a CPU gets fewer calibration blocks by default (the first statistics
            // within about a minute), unless the user chose a size; the methods panel says why.
            calibrationNote_.clear();
            if (config_.calib_samples == defaultConfig().calib_samples) {
                const auto [n, why] = wb_->default_calibration_samples();
                if (n != config_.calib_samples) {
                    config_.calib_samples = n;
                    calibrationNote_ = QString::fromStdString(why);
                }
            }
            emit modelChanged();
            emit layerChanged(layer_);
            describeCalibration();
            startPreview();
        };
    });
}

void AppContext::describeCalibration() {
    if (!wb_) return;
    auto wb = wb_;
    const qs::MethodConfig cfg = config_;
    run("calibration", [this, wb, cfg](const qs::Progress& p) -> std::function<void()> {
        QString text = QString::fromStdString(wb->calibration_description(cfg, p));
        return [this, wb, text] {
            if (wb != wb_) return;
            calibration_ = calibrationNote_.isEmpty() ? text : text + " — " + calibrationNote_;
            emit calibrationChanged();
        };
    });
}

void AppContext::setLayer(const QString& name) {
    if (name == layer_ || name.isEmpty()) return;
    layer_ = name;
    emit layerChanged(layer_);
    previewTimer_->start(0);
}

void AppContext::setConfig(const qs::MethodConfig& cfg) {
    const bool calibChanged = cfg.calib_path != config_.calib_path || cfg.calib_samples != config_.calib_samples ||
                              cfg.calib_seqlen != config_.calib_seqlen;
    if (!sameConfig(cfg, config_)) configEdited_ = true;
    config_ = cfg;
    emit configChanged();
    if (calibChanged) describeCalibration();
    // Leading edge: a change while no preview is computing starts one on the next turn of the
    // event loop (changes made together coalesce); while one is computing (a slider drag),
    // wait for a 30 ms pause, so the worker is not flooded with superseded previews.
    previewTimer_->start(jobs_->busy("preview") ? 30 : 0);
}

void AppContext::setOverride(const std::string& linear, const qs::LinearOverride& o) {
    qs::MethodConfig c = config_;
    if (o.empty())
        c.overrides.erase(linear);
    else
        c.overrides[linear] = o;
    setConfig(c);
}

void AppContext::clearOverrides() {
    qs::MethodConfig c = config_;
    c.overrides.clear();
    setConfig(c);
}

bool AppContext::layerQuantized() const {
    if (!wb_) return false;
    for (const auto& l : wb_->summary().linears)
        if (QString::fromStdString(l.name) == layer_) return ui::quantizes_linear(l, config_);
    return false;
}

void AppContext::startPreview() {
    if (!wb_ || layer_.isEmpty()) return;
    if (!layerQuantized()) {
        jobs_->cancel("preview");
        preview_.reset();
        previewAgain_ = false;
        emit previewReady();
        scheduleIdleCheck();
        return;
    }
    auto wb = wb_;
    const std::string linear = layer_.toStdString();
    const qs::MethodConfig cfg = config_;
    run("preview", [this, wb, linear, cfg](const qs::Progress& p) -> std::function<void()> {
        auto d = std::make_shared<const PreviewData>(wb->preview(linear, cfg, p));
        return [this, wb, d] {
            if (wb != wb_) return;
            preview_ = d;
            previewAgain_ = d->model_busy;
            emit previewReady();
        };
    });
}

void AppContext::applyConfig() { applyConfiguration(config_); }

void AppContext::applyConfiguration(const qs::MethodConfig& cfg) {
    if (!wb_ || modelBusy()) return;
    auto wb = wb_;
    liveAwq_.clear();
    emit applyStarted();
    QPointer<AppContext> self(this);
    run("apply", [this, wb, cfg, self](const qs::Progress& p) -> std::function<void()> {
        // Each searched AWQ group goes to the GUI thread at once (the AWQ page draws it).
        auto onGroup = [self, wb](const AwqCurve& c) {
            QMetaObject::invokeMethod(
                self.data(),
                [self, wb, c] {
                    if (!self || wb != self->wb_) return;
                    self->liveAwq_.push_back(c);
                    emit self->awqGroupSearched();
                },
                Qt::QueuedConnection);
        };
        auto d = std::make_shared<ApplyData>(wb->apply(cfg, p, onGroup));
        return [this, wb, cfg, d] {
            if (wb != wb_) return;
            noteApply(cfg, *d);
            emit statusMessage(
                QString("Applied %1 in %2 s").arg(QString::fromStdString(d->description)).arg(d->seconds, 0, 'f', 2));
        };
    });
}

void AppContext::resetToOriginal() {
    if (!wb_ || modelBusy()) return;
    auto wb = wb_;
    const qs::MethodConfig none = originalConfig();
    emit applyStarted();
    run("apply", [this, wb, none](const qs::Progress& p) -> std::function<void()> {
        wb->apply(none, p);
        return [this, wb] {
            if (wb != wb_) return;
            lastApply_.reset();
            emit statusMessage("Back to the original weights");
        };
    });
}

qs::MethodConfig AppContext::originalConfig() { return qs::MethodConfig(); }

void AppContext::noteApply(const qs::MethodConfig& cfg, const ApplyData& data) {
    lastApply_ = std::make_unique<ApplyData>(data);
    lastApplyCfg_ = cfg;
    applyNoted_ = true;
}

// The preview depends on what the model carries (a transformed layer) and may have been made
// while the job held the model: make it again.
void AppContext::modelJobEnded() {
    syncApplied();
    if (wb_ && !layer_.isEmpty()) previewTimer_->start(0);
}

// Any job may have held the model lock (a statistics pass on the current model, a generation,
// not only Apply / perplexity): when one ends, a preview made while the model was busy is made
// again. When the preview itself ends and nothing else runs, the holder is already gone: again
// after a short pause (no loop while a job holds the model: its end triggers the next try).
void AppContext::previewIfModelWasBusy(const QString& channel) {
    if (!previewAgain_ || !wb_ || layer_.isEmpty() || previewTimer_->isActive()) return;
    if (channel != "preview")
        previewTimer_->start(0);
    else if (jobs_->idle())
        previewTimer_->start(100);
}

void AppContext::syncApplied() {
    if (!wb_) return;
    const qs::MethodConfig now = wb_->applied();
    if (lastApply_ && !sameConfig(lastApplyCfg_, now)) lastApply_.reset();
    const bool changed = !sameConfig(now, applied_);
    applied_ = now;
    // Also when a new ApplyData arrived for the same configuration (e.g. a new AWQ search).
    if (changed || applyNoted_) emit appliedChanged();
    applyNoted_ = false;
}
