// Sweep dialog: perplexity against one parameter (AWQ salient scale factor, SmoothQuant
// alpha, or bits x group size), run in the background; each point is plotted as it
// arrives and added to the perplexity table, with the original model's perplexity (same
// protocol) as a dashed baseline. The title lists every method the sweep keeps from the
// methods panel. The model gets its previous configuration back when the sweep ends.
#pragma once
#include <QDialog>

#include <functional>
#include <vector>

#include "perplexity_page.h"

class AppContext;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
namespace qs::widgets {
class SweepPlot;
}

class SweepDialog : public QDialog {
    Q_OBJECT
  public:
    enum Parameter { AwqFactor = 0, SqAlpha = 1, BitsGroup = 2 };

    SweepDialog(AppContext* ctx, QWidget* parent = nullptr);
    void setRequest(const PplRequest& req);
    void setParameter(Parameter p);
    void setValues(const QString& values, const QString& groups = QString());
    // The configurations a sweep would evaluate: one series per entry (bits x group: one per
    // group size), x values alongside.
    struct Series {
        QString name;
        std::vector<double> x;
        std::vector<qs::MethodConfig> configs;
    };
    std::vector<Series> plan(QString* error = nullptr) const;
    void start();
    void cancel();
    bool running() const;
    qs::widgets::SweepPlot* plot() const { return plot_; }
    // Where a finished baseline (original model, same protocol) can be found; without one the
    // sweep evaluates the original model first.
    void setBaselineLookup(std::function<const PplRow*(const PplRequest&)> find) { findBaseline_ = std::move(find); }
    // The methods the sweep runs with, the swept parameter named as such (for the title).
    static QString methodsText(const qs::MethodConfig& c, Parameter swept);
    QLabel* statusLabel() const { return status_; }

  signals:
    void pointDone(const PplRow& row);
    void sweepFinished();

  private:
    void onPoint(quint64 gen, int series, double x, const PplRow& row);
    void showBaseline(quint64 gen, double ppl);
    void parameterChanged();

    AppContext* ctx_;
    QComboBox* param_;
    QLineEdit *values_, *groups_;
    QLabel* groupsLabel_;
    QSpinBox *windows_, *seqlen_;
    QPushButton *run_, *cancel_;
    QProgressBar* progress_;
    QLabel* status_;
    qs::widgets::SweepPlot* plot_;
    quint64 gen_ = 0;
    std::vector<Series> running_;
    std::vector<QVector<double>> xs_, ys_;
    std::function<const PplRow*(const PplRequest&)> findBaseline_;
};
