// AWQ search page: each group's block-output loss against the scaling ratio (scales =
// mean|x|^ratio), with the chosen ratio marked, drawn as each group is searched during an
// auto-scale Apply and kept from the last Apply; plus the steps of the last Apply
// and, after GPTQ, each Linear's GPTQ loss.
#pragma once
#include <QWidget>

class AppContext;
struct AwqCurve;
class QComboBox;
class QLabel;
class QTextBrowser;
namespace qs::widgets {
class SweepPlot;
}

#include <vector>

class AwqPage : public QWidget {
    Q_OBJECT
  public:
    explicit AwqPage(AppContext* ctx, QWidget* parent = nullptr);
    qs::widgets::SweepPlot* curves() const { return plot_; }
    QComboBox* blockCombo() const { return block_; }
    QTextBrowser* steps() const { return steps_; }  // the last Apply's steps (and GPTQ's per-Linear losses)

    // Legend name of a group: block, the scaled op and the Linears that read it.
    static QString groupName(const AwqCurve& c);

  private:
    void rebuildChoices();
    void draw();
    void drawLive();  // the groups of the running search
    // The curves to show: the running search's while it runs, else the last Apply's.
    const std::vector<AwqCurve>* curvesShown() const;
    AppContext* ctx_;
    QComboBox* block_;
    QComboBox* scale_;
    QLabel* info_;
    qs::widgets::SweepPlot* plot_;
    QTextBrowser* steps_;
};
