// Model page: every block and Linear (HF name, shape, parameters, method applied) and a
// summary: architecture, parameters, size at the panel's bits/group (seed formula and
// packed bytes), device, dtype, calibration set, and the steps of the last Apply. Side by side
// when the page is wide, the summary under the tree when it is not (every column in view).
#pragma once
#include <QWidget>

class AppContext;
class QSplitter;
class QTextBrowser;
class QTreeWidget;

class ModelPage : public QWidget {
    Q_OBJECT
  public:
    explicit ModelPage(AppContext* ctx, QWidget* parent = nullptr);
    QTreeWidget* tree() const { return tree_; }
    QTextBrowser* summaryView() const { return summary_; }

  protected:
    void resizeEvent(QResizeEvent* e) override;

  private:
    void rebuildTree();
    void updateMethods();
    void updateSummary();
    AppContext* ctx_;
    QTreeWidget* tree_;
    QTextBrowser* summary_;
    QSplitter* split_;
    bool syncing_ = false;
};
