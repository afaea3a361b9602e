// Model page: every block and Linear (HF name, shape, parameters, method applied, with the
// draft's mixed-precision override when not applied yet) and a summary: architecture, parameters, size at the panel's
// bits/group (seed formula and packed bytes), device, dtype, calibration set, and the steps of
// the last Apply. Side by side when the page is wide, the summary under the tree when it is not
// (every column in view).
//
// Mixed precision (issue #16 item 5): under the tree, the selected Linear's override (bits,
// group size, skip; "Clear override") and the average bits and size of the whole model with
// every override of the draft configuration (AppContext::setOverride; Apply and perplexity use
// them). The tree's context menu offers the common overrides.
#pragma once
#include <QWidget>

#include "quant/method_config.h"

class AppContext;
class QCheckBox;
class QComboBox;
class QGroupBox;
class QLabel;
class QPushButton;
class QSplitter;
class QTextBrowser;
class QTreeWidget;
class QTreeWidgetItem;

class ModelPage : public QWidget {
    Q_OBJECT
  public:
    explicit ModelPage(AppContext* ctx, QWidget* parent = nullptr);
    QTreeWidget* tree() const { return tree_; }
    QTextBrowser* summaryView() const { return summary_; }
    // The override editor of the selected Linear and the whole-model figures beside it.
    QGroupBox* overrideBox() const { return overrideBox_; }
    QComboBox* overrideBitsCombo() const { return bits_; }    // data: 0 = the configuration's, 2..8
    QComboBox* overrideGroupCombo() const { return group_; }  // data: 0 = configuration's, -1 = channel, N
    QCheckBox* overrideSkipCheck() const { return skip_; }
    QPushButton* clearOverrideButton() const { return clear_; }
    QPushButton* clearAllOverridesButton() const { return clearAll_; }
    QLabel* mixedSummaryLabel() const { return mixed_; }
    // The tree column with what each Linear carries, and the draft's override not applied yet.
    static constexpr int kMethodColumn = 3;

  protected:
    void resizeEvent(QResizeEvent* e) override;

  private:
    void rebuildTree();
    void updateMethods();
    void updateSummary();
    void updateOverrideEditor();
    void editOverride();  // from the editor's controls
    void showContextMenu(const QPoint& pos);
    std::string selectedLinear() const;
    AppContext* ctx_;
    QTreeWidget* tree_;
    QTextBrowser* summary_;
    QSplitter* split_;
    QGroupBox* overrideBox_;
    QLabel* overrideName_;
    QComboBox* bits_;
    QComboBox* group_;
    QCheckBox* skip_;
    QPushButton* clear_;
    QPushButton* clearAll_;
    QLabel* mixed_;
    bool syncing_ = false;
    bool editing_ = false;
};
