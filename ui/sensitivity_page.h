// Sensitivity page (issue #16 item 4): Run computes the per-layer sensitivity map of the methods
// panel's configuration in a worker (Workbench::sensitivity: each decoder Linear, and each block,
// alone quantized; ppl and KL against the unquantized model on the first windows of WikiText-2),
// with progress, Cancel and rows arriving as they are measured. A bar plot across all layers
// (metric, Linears or blocks, model order or sorted, log scale) and a sortable table show them;
// clicking a bar or a row selects that layer in the whole window (a block: its first Linear).
// Export writes the CLI's CSV or JSON (quantscope-cli sensitivity --format csv|json).
#pragma once
#include <QElapsedTimer>
#include <QWidget>

#include <vector>

#include "quant/method_config.h"
#include "workbench.h"

class AppContext;
class QCheckBox;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSortFilterProxyModel;
class QSpinBox;
class QStandardItemModel;
class QTableView;
namespace qs::widgets {
class SensitivityView;
}

class SensitivityPage : public QWidget {
    Q_OBJECT
  public:
    // What the plot shows per layer.
    enum Metric { KlMean, DeltaPpl, KlP999, Top1Disagreement, WeightError, ImatrixRatio };
    enum Column {
        Layer,
        Kind,
        Block,
        Role,
        Params,
        Ppl,
        DeltaPplCol,
        KlMeanCol,
        KlP999Col,
        Top1,
        WeightErr,
        Imatrix,
        Columns
    };

    explicit SensitivityPage(AppContext* ctx, QWidget* parent = nullptr);

    void run();
    void cancel();
    bool running() const;
    SensitivityRequest request() const;
    // Writes the CLI's CSV (or JSON when the path ends in .json) of the last complete map.
    bool exportTo(const QString& path, QString* error = nullptr) const;
    // Mixed precision from the map: the keepSpin() most sensitive Linears of the last complete map
    // (by mean KL, or by delta ppl while the plot shows it; quant/sensitivity.h's ranking) get the
    // keepCombo() override in the draft configuration (AppContext), which Apply and Run then use.
    // Returns the names (empty without a complete map).
    std::vector<std::string> keepMostSensitive();

    const std::vector<SensitivityRow>& rows() const { return rows_; }
    bool complete() const { return complete_; }  // the last run finished (not cancelled)
    qs::widgets::SensitivityView* view() const { return view_; }
    QTableView* table() const { return table_; }
    QSortFilterProxyModel* proxy() const { return proxy_; }
    QComboBox* metricCombo() const { return metric_; }
    QComboBox* scopeCombo() const { return scope_; }
    QCheckBox* sortCheck() const { return sort_; }
    QCheckBox* logCheck() const { return log_; }
    QPushButton* runButton() const { return run_; }
    QPushButton* cancelButton() const { return cancel_; }
    QPushButton* exportButton() const { return export_; }
    QPushButton* keepButton() const { return keep_; }
    QSpinBox* keepSpin() const { return keepN_; }
    QComboBox* keepCombo() const { return keepAs_; }
    QSpinBox* seqlenSpin() const { return seqlen_; }
    QSpinBox* windowsSpin() const { return windows_; }
    QLabel* statusLabel() const { return status_; }
    QLabel* summaryLabel() const { return summary_; }
    QLabel* staleLabel() const { return stale_; }
    static double metricValue(const SensitivityRow& r, Metric m);
    static QString metricLabel(Metric m);

  signals:
    void runFinished();
    void runCancelled();

  private:
    void addRow(quint64 gen, const SensitivityRow& r);
    void refreshPlot();
    void finish(quint64 gen, const SensitivityData& d);
    void setRunning(bool on);
    void showStopped(const QString& what);
    void selectLayer(const QString& name, const QString& kind, int64_t block);
    void followSelection(const QString& linear);
    void updateStale();

    AppContext* ctx_;
    QSpinBox *seqlen_, *windows_, *keepN_;
    QComboBox *metric_, *scope_, *keepAs_;
    QCheckBox *sort_, *log_;
    QPushButton *run_, *cancel_, *export_, *keep_;
    QProgressBar* progress_;
    QLabel *status_, *summary_, *stale_;
    qs::widgets::SensitivityView* view_;
    QTableView* table_;
    QStandardItemModel* model_;
    QSortFilterProxyModel* proxy_;
    std::vector<SensitivityRow> rows_;
    SensitivityData last_;
    qs::MethodConfig mapConfig_;
    bool complete_ = false, haveMap_ = false;
    quint64 gen_ = 0;
    QElapsedTimer clock_;
};
