// The state every page shares: the loaded Workbench, the selected Linear, the methods
// panel's configuration, the applied configuration and the single-layer preview. Pages
// observe its signals and start their engine work through run(), which puts it on the
// JobRunner's worker threads (never on the GUI thread, docs/notes.md §5).
#pragma once
#include <QObject>
#include <QString>

#include <memory>

#include "file_choosers.h"
#include "job_runner.h"
#include "workbench.h"

class QTimer;

class AppContext : public QObject {
    Q_OBJECT
  public:
    explicit AppContext(QObject* parent = nullptr);
    ~AppContext() override;

    JobRunner* jobs() const { return jobs_; }
    // Runs `work` on a worker thread on `channel` (superseding the channel's previous job).
    // Quick: a small read for a plot on screen, which Normal jobs started meanwhile wait for
    // (see JobRunner).
    quint64 run(const QString& channel, JobRunner::Work work,
                JobRunner::Priority priority = JobRunner::Priority::Normal);
    // True when no job is running or queued on any channel.
    bool isIdle() const;
    // Cancels every job and waits for the workers (window closing).
    void shutdown();

    // File and folder choosers (QFileDialog; tests replace them).
    FileChoosers& choosers() { return choosers_; }

    // --- the model ---
    // Returns the id of the "load" job (its finished/failed/cancelled signals carry it).
    quint64 openModel(const QString& dir, const QString& device = "cpu", const QString& dtype = "fp32");
    bool hasModel() const { return wb_ != nullptr; }
    std::shared_ptr<Workbench> workbench() const { return wb_; }
    const qs::ModelSummary* summary() const { return wb_ ? &wb_->summary() : nullptr; }
    QString device() const { return device_; }
    QString dtype() const { return dtype_; }
    bool loading() const;
    // A job that changes or reads the whole model (apply, perplexity run, sweep, export,
    // sensitivity map) is
    // running: another one must not start, or their apply/evaluate steps would interleave.
    bool modelBusy() const;
    // The calibration set of the current configuration, in words (computed once per model).
    QString calibrationText() const { return calibration_; }
    // Why the calibration size was adapted to the model at load ("" when the default was kept).
    QString calibrationNote() const { return calibrationNote_; }

    // --- selection ---
    QString layer() const { return layer_; }
    void setLayer(const QString& name);

    // --- methods ---
    // The methods panel's configuration (what Apply and Run would use).
    const qs::MethodConfig& config() const { return config_; }
    void setConfig(const qs::MethodConfig& cfg);
    // Mixed precision: sets (or, with an empty override, clears) the override of one Linear in
    // the draft configuration; Apply and the perplexity runs then use it.
    void setOverride(const std::string& linear, const qs::LinearOverride& o);
    void clearOverrides();
    // The configuration the model currently carries (after the last Apply; "original" at load).
    const qs::MethodConfig& applied() const { return applied_; }
    const ApplyData* lastApply() const { return lastApply_.get(); }
    bool configApplied() const;  // config() == applied()
    // The user changed the panel since the model was loaded, and the model does not carry it:
    // only then do pages warn about changes that are not applied.
    bool hasUnappliedChanges() const { return configEdited_ && !configApplied(); }
    void applyConfig();                                    // runs Workbench::apply(config()) on channel "apply"
    void applyConfiguration(const qs::MethodConfig& cfg);  // the same with another configuration
    void resetToOriginal();                                // applies the empty configuration
    // Jobs that apply configurations themselves (perplexity runs, sweeps) report the
    // ApplyData of what they applied; the applied state itself is read back from the
    // Workbench when a model-changing job ends (syncApplied), so it is always the truth.
    void noteApply(const qs::MethodConfig& cfg, const ApplyData& data);
    void syncApplied();
    // The empty configuration (original weights, activations in float).
    static qs::MethodConfig originalConfig();
    // AWQ auto-scale groups searched so far by the running Apply (cleared when an Apply starts).
    const std::vector<AwqCurve>& liveAwq() const { return liveAwq_; }
    // Whether config() quantizes the selected Linear (lm_head only with "also quantize lm_head").
    bool layerQuantized() const;
    // The selected Linear quantized with config() (null while none is available or config()
    // does not quantize it).
    std::shared_ptr<const PreviewData> preview() const { return preview_; }

    // The default configuration shown in the methods panel (RTN w4 g128 asym).
    static qs::MethodConfig defaultConfig();
    // Configuration equality by the JSON form (what the engine keys its states on).
    static bool sameConfig(const qs::MethodConfig& a, const qs::MethodConfig& b);

  signals:
    void modelAboutToChange();
    void modelChanged();
    void loadFailed(const QString& message);
    // Opening a model cancelled the views' jobs but the model did not change (the load
    // failed): pages recompute what they show.
    void viewsInvalidated();
    void layerChanged(const QString& name);
    void configChanged();
    void appliedChanged();
    void applyStarted();
    void awqGroupSearched();  // liveAwq() has one more group
    void previewReady();
    void calibrationChanged();
    // Any job's failure: `what` says which work failed ("Could not open the model", ...).
    void errorOccurred(const QString& what, const QString& message);
    void statusMessage(const QString& message);
    // A result worth keeping on screen (an export written, a workspace saved or opened): the
    // status bar shows it, and shows it again when jobs in between have finished.
    void notice(const QString& message);
    void jobProgress(const QString& channel, double fraction, const QString& message);
    // A job started or ended (for enabling buttons).
    void jobsChanged();
    // No job is left; fires (once per quiet period) after a short settling delay.
    void idle();

  private:
    void startPreview();
    void modelJobEnded();
    void previewIfModelWasBusy(const QString& channel);
    void scheduleIdleCheck();
    void describeCalibration();

    JobRunner* jobs_;
    FileChoosers choosers_ = FileChoosers::dialogs();
    QTimer* previewTimer_;
    QTimer* idleTimer_;
    std::shared_ptr<Workbench> wb_;
    QString device_ = "cpu", dtype_ = "fp32";
    QString layer_;
    QString calibration_, calibrationNote_;
    qs::MethodConfig config_, applied_;
    std::unique_ptr<ApplyData> lastApply_;
    qs::MethodConfig lastApplyCfg_;
    bool applyNoted_ = false;
    bool configEdited_ = false;
    std::vector<AwqCurve> liveAwq_;
    std::shared_ptr<const PreviewData> preview_;
    // The shown preview was made from the original layer while a job held the model: made
    // again when a job ends (the holder), so a stale picture never stays up.
    bool previewAgain_ = false;
};
