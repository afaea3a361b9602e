// Perplexity page: Run evaluates the methods panel's configuration (applying it first if
// the model does not carry it yet, and the original model once as a baseline) in a worker,
// with a progress bar, ETA, a running-estimate plot and Cancel (the bar then says where the
// run stopped and the page names what the model carries). Results accumulate in a table
// (PplResultsModel: configuration, protocol, ppl, size, time) exportable as CSV; a method
// change marks the last number stale until the next Run. Sweeps run from the Sweep dialog.
#pragma once
#include <QElapsedTimer>
#include <QWidget>

#include <vector>

#include "ppl_results_model.h"
#include "ui_util.h"
#include "workbench.h"

class AppContext;
class QCheckBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableView;
class SweepDialog;
namespace qs::widgets {
class LinePlot;
}

class PerplexityPage : public QWidget {
    Q_OBJECT
  public:
    explicit PerplexityPage(AppContext* ctx, QWidget* parent = nullptr);

    void run();
    void cancel();
    bool running() const;
    int windowsDone() const { return windowsDone_; }  // windows of the current run evaluated so far
    bool exportCsv(const QString& path, QString* error = nullptr) const;
    void addRow(const PplRow& row);
    void clearResults();  // empties the results table
    void openSweep();

    const std::vector<PplRow>& rows() const { return model_->rows(); }
    QTableView* table() const { return table_; }
    PplResultsModel* model() const { return model_; }
    // A finished evaluation of the original model with the request's protocol (null if none).
    const PplRow* baselineRow(const PplRequest& req) const;
    qs::widgets::LinePlot* runningPlot() const { return plot_; }
    QPushButton* runButton() const { return run_; }
    QPushButton* cancelButton() const { return cancel_; }
    QLabel* staleLabel() const { return stale_; }
    QLabel* statusLabel() const { return status_; }
    QSpinBox* seqlenSpin() const { return seqlen_; }
    QSpinBox* windowsSpin() const { return windows_; }
    QCheckBox* baselineCheck() const { return baseline_; }
    SweepDialog* sweepDialog() const { return sweep_; }
    PplRequest request() const;
    // CSV form of the table (header + one line per row).
    QString csv() const;

  signals:
    void runFinished();
    void runCancelled();

  private:
    void updateStale();
    void setRunning(bool on);
    void onWindow(quint64 gen, int series, int64_t window, double running);
    void setPlotWindows(quint64 gen, int64_t windows, int64_t seqlen);
    void showStopped(const QString& what);  // after a cancel or a failure

    AppContext* ctx_;
    QSpinBox *seqlen_, *windows_;
    QCheckBox* baseline_;
    QPushButton *run_, *cancel_, *sweepButton_, *export_, *clear_;
    QProgressBar* progress_;
    QLabel *eta_, *status_, *stale_, *latest_;
    qs::widgets::LinePlot* plot_;
    QTableView* table_;
    PplResultsModel* model_;
    SweepDialog* sweep_ = nullptr;
    int windowsDone_ = 0;
    quint64 gen_ = 0;
    QElapsedTimer clock_;
};
