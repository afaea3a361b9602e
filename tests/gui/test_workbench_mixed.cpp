// Qt Test suite for mixed precision on the Model page (issue #16 item 5), on the real window
// (offscreen) and the bundled TinyStories-656K: select a Linear in the tree, give it its own
// bits / group size in the override editor, see the whole model's average bits and packed size
// change to the values computed by hand, skip and clear, Apply (the engine quantizes that Linear
// with its own spec), export compressed-tensors through the dialog (a config group for it), save
// the workspace and reopen it in a fresh window (the override is back, in the editor too).
#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QGroupBox>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTextBrowser>
#include <QTreeWidget>
#include <QtTest/QtTest>

#include <memory>

#include "app_context.h"
#include "export/workspace.h"
#include "export_dialog.h"
#include "main_window.h"
#include "methods_panel.h"
#include "model_page.h"
#include "model_session.h"
#include "ui_util.h"
#include "workbench.h"
#include "workbench_test_util.h"
#include "workspace_actions.h"

namespace {

using qs::gui::test::kLong;

const QString kDown0 = "model.layers.0.mlp.down_proj";  // [128, 384]

// TinyStories-656K: 2 blocks of q [128,128], k [64,128], v [64,128], o [128,128], gate and up
// [384,128], down [128,384]: 196,608 weights per block, 393,216 in all; down_proj 49,152.
constexpr double kAll = 393216, kDown = 49152;
// w4 g32 asym packed: per weight 1/2 B codes + 2 B / 32 scales + 1/2 B / 32 zeros = 0.578125 B.
// down_proj at w8 g64 asym: 49,152 B codes + 768 groups x (2 B scales + 1 B zeros) = 51,456 B.
constexpr double kPackedW4 = 0.578125, kPackedDownW8 = 51456;

QJsonObject readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

QTreeWidgetItem* itemFor(QTreeWidget* tree, const QString& name) {
    for (QTreeWidgetItemIterator it(tree); *it; ++it)
        if ((*it)->data(0, Qt::UserRole).toString() == name) return *it;
    return nullptr;
}

}  // namespace

class MixedPrecisionGuiTest : public QObject {
    Q_OBJECT

  private:
    std::unique_ptr<MainWindow> w_;
    QTemporaryDir tmp_;
    AppContext* ctx() const { return w_->context(); }
    bool waitIdle(MainWindow* w, int ms = kLong) { return qs::gui::test::waitIdle(w->context(), ms); }
    // The packed size text the page shows for `packed_linear_bytes` of quantized Linears.
    QString packedText(double packed_linear_bytes, double quantized_weights) const {
        const double params = static_cast<double>(ctx()->summary()->parameters);
        return ui::mib((packed_linear_bytes + (params - quantized_weights) * 2) / (1024.0 * 1024.0));
    }

  private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        w_ = std::make_unique<MainWindow>();
        w_->resize(1600, 1000);
        w_->show();
        QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
        QSignalSpy loaded(w_.get(), &MainWindow::modelChanged);
        w_->openModel(QString::fromStdString(default_model_path()));
        QVERIFY(loaded.wait(kLong));
        QVERIFY(waitIdle(w_.get()));
    }

    void cleanupTestCase() { w_.reset(); }

    // Set an override in the editor: the tree, the draft configuration and the whole-model
    // figures follow; skip and clear.
    void overrideChangesAverageBitsAndSize() {
        MethodsPanel* panel = w_->methodsPanel();
        auto* bits = panel->findChild<QComboBox*>("bitsCombo");
        auto* group = panel->findChild<QComboBox*>("groupCombo");
        bits->setCurrentIndex(bits->findData(4));
        group->setCurrentIndex(group->findData(32));
        panel->awqModeCombo()->setCurrentIndex(panel->awqModeCombo()->findData(""));
        QVERIFY(waitIdle(w_.get()));
        QCOMPARE(ui::qstr(ctx()->config().describe()), QString("w4 g32 asym"));
        QVERIFY(w_->showView("model"));
        ModelPage* page = w_->modelPage();
        QLabel* mixed = page->mixedSummaryLabel();
        QVERIFY2(mixed->text().contains("4.6250 bits per weight on average (4.0000 without scales)"),
                 qPrintable(mixed->text()));
        QVERIFY2(mixed->text().contains(packedText(kAll * kPackedW4, kAll) + " packed"), qPrintable(mixed->text()));
        // lm_head is not quantized by the panel's configuration: nothing to override there
        QTreeWidgetItem* head = itemFor(page->tree(), "lm_head");
        QVERIFY(head);
        page->tree()->setCurrentItem(head);
        QVERIFY(!page->overrideBitsCombo()->isEnabled());
        QVERIFY(!page->overrideSkipCheck()->isEnabled());
        QVERIFY2(page->overrideBox()->findChild<QLabel*>("overrideLinear")->text().contains("not quantized"),
                 qPrintable(page->overrideBox()->findChild<QLabel*>("overrideLinear")->text()));

        QTreeWidgetItem* item = itemFor(page->tree(), kDown0);
        QVERIFY(item);
        page->tree()->setCurrentItem(item);
        QCOMPARE(ctx()->layer(), kDown0);
        QVERIFY(page->overrideBitsCombo()->isEnabled());
        const int col = ModelPage::kMethodColumn;
        QCOMPARE(item->text(col), QString("fp32"));  // the model carries its original weights
        page->overrideBitsCombo()->setCurrentIndex(page->overrideBitsCombo()->findData(8));
        page->overrideGroupCombo()->setCurrentIndex(page->overrideGroupCombo()->findData(64));
        QVERIFY(waitIdle(w_.get()));
        const qs::MethodConfig& c = ctx()->config();
        QCOMPARE(c.overrides.size(), size_t(1));
        QCOMPARE(c.overrides.at(kDown0.toStdString()).bits, 8);
        QCOMPARE(c.overrides.at(kDown0.toStdString()).group_size, int64_t(64));
        QCOMPARE(item->text(col), QString("fp32 → draft w8 g64 asym"));
        QVERIFY(item->font(col).bold());
        QVERIFY(ctx()->hasUnappliedChanges());
        // by hand: (344,064 x 4.625 + 49,152 x 8.3125) / 393,216 = 5.0859375; without scales 4.5
        QVERIFY2(mixed->text().contains("5.0859 bits per weight on average (4.5000 without scales)"),
                 qPrintable(mixed->text()));
        QVERIFY2(mixed->text().contains(packedText((kAll - kDown) * kPackedW4 + kPackedDownW8, kAll) + " packed"),
                 qPrintable(mixed->text()));
        QVERIFY2(mixed->text().contains("1 override"), qPrintable(mixed->text()));
        QVERIFY(page->summaryView()->toPlainText().contains("5.0859 per weight"));
        // the methods panel keeps the override when one of its own controls changes
        bits->setCurrentIndex(bits->findData(3));
        QVERIFY(waitIdle(w_.get()));
        QCOMPARE(ctx()->config().overrides.size(), size_t(1));
        QCOMPARE(item->text(col), QString("fp32 → draft w8 g64 asym"));
        bits->setCurrentIndex(bits->findData(4));
        QVERIFY(waitIdle(w_.get()));

        // skip: 16 bits for its weights; (344,064 x 4.625 + 49,152 x 16) / 393,216 = 6.046875
        page->overrideSkipCheck()->setChecked(true);
        QVERIFY(waitIdle(w_.get()));
        QVERIFY(ctx()->config().skips(kDown0.toStdString()));
        QVERIFY(!page->overrideBitsCombo()->isEnabled());
        QCOMPARE(item->text(col), QString("fp32 → draft skip (full precision)"));
        QVERIFY2(mixed->text().contains("6.0469 bits per weight on average (5.5000 without scales)"),
                 qPrintable(mixed->text()));
        QVERIFY2(mixed->text().contains(packedText((kAll - kDown) * kPackedW4, kAll - kDown) + " packed"),
                 qPrintable(mixed->text()));
        QVERIFY2(mixed->text().contains("13 quantized Linears, 1 skipped"), qPrintable(mixed->text()));

        // clear: back to the panel's spec and figures
        QTest::mouseClick(page->clearOverrideButton(), Qt::LeftButton);
        QVERIFY(waitIdle(w_.get()));
        QVERIFY(ctx()->config().overrides.empty());
        QCOMPARE(item->text(col), QString("fp32"));
        QVERIFY(!item->font(col).bold());
        QVERIFY2(mixed->text().contains("4.6250 bits per weight"), qPrintable(mixed->text()));
        QVERIFY(!page->overrideSkipCheck()->isChecked());
        QCOMPARE(page->overrideBitsCombo()->currentData().toInt(), 0);

        // and set again for the next steps: w8 g64
        page->overrideBitsCombo()->setCurrentIndex(page->overrideBitsCombo()->findData(8));
        page->overrideGroupCombo()->setCurrentIndex(page->overrideGroupCombo()->findData(64));
        QVERIFY(waitIdle(w_.get()));
        QCOMPARE(ctx()->config().overrides.size(), size_t(1));
    }

    // Apply: the engine quantizes down_proj with its own spec and reports the same average bits.
    void applyUsesTheOverride() {
        QTest::mouseClick(w_->methodsPanel()->applyButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->configApplied() && !ctx()->modelBusy(), kLong);
        QVERIFY(waitIdle(w_.get()));
        QCOMPARE(ctx()->applied().overrides.size(), size_t(1));
        QVERIFY(AppContext::sameConfig(ctx()->workbench()->applied(), ctx()->config()));
        const ApplyData* a = ctx()->lastApply();
        QVERIFY(a);
        bool noted = false;
        for (const auto& s : a->steps) noted |= s.find("mixed precision: 1 Linear(s)") != std::string::npos;
        QVERIFY(noted);
        const QJsonObject rep = QJsonDocument::fromJson(QByteArray::fromStdString(a->json)).object();
        QCOMPARE(rep["average_bits"].toDouble(), 5.0859375);
        QTreeWidgetItem* item = itemFor(w_->modelPage()->tree(), kDown0);
        // "Method applied": its own spec, bold (an override), nothing pending
        QCOMPARE(item->text(ModelPage::kMethodColumn), QString("w8 g64 asym"));
        QVERIFY(item->font(ModelPage::kMethodColumn).bold());
        QCOMPARE(itemFor(w_->modelPage()->tree(), "model.layers.0.mlp.up_proj")->text(ModelPage::kMethodColumn),
                 QString("w4 g32 asym"));
    }

    // Export compressed-tensors through the dialog: a config group for the overridden Linear.
    void exportWritesAConfigGroup() {
        ctx()->choosers().folder = [&](QWidget*, const QString&, const QString&) { return tmp_.path(); };
        QAction* act = w_->findChild<QAction*>("exportAction");
        QVERIFY(act && act->isEnabled());
        act->trigger();
        ExportDialog* dlg = w_->exportDialog();
        QVERIFY(dlg && dlg->isVisible());
        dlg->setFormat(qs::ExportFormat::CompressedTensors);
        const QString out = QDir(tmp_.path()).filePath("mixed-ct");
        dlg->setOutputDir(out);
        QTRY_VERIFY_WITH_TIMEOUT(!dlg->checking() && dlg->exportButton()->isEnabled(), kLong);
        QSignalSpy done(dlg, &ExportDialog::exportFinished);
        QTest::mouseClick(dlg->exportButton(), Qt::LeftButton);
        QVERIFY(done.wait(kLong));
        QVERIFY(waitIdle(w_.get()));
        const QJsonObject qc = readJson(out + "/config.json")["quantization_config"].toObject();
        const QJsonObject groups = qc["config_groups"].toObject();
        QCOMPARE(groups.size(), 2);
        QCOMPARE(groups["group_0"].toObject()["targets"].toArray(), QJsonArray({"Linear"}));
        QCOMPARE(groups["group_1"].toObject()["targets"].toArray(), QJsonArray({kDown0}));
        QCOMPARE(groups["group_1"].toObject()["weights"].toObject()["num_bits"].toInt(), 8);
        QCOMPARE(groups["group_1"].toObject()["weights"].toObject()["group_size"].toInt(), 64);
    }

    // Save the workspace, reopen it in a fresh window: the override is back in the draft, the
    // model carries it again, and the editor shows it for the Linear.
    void workspaceReopensTheOverride() {
        const QString file = QDir(tmp_.path()).filePath("mixed.qscope");
        QVERIFY(w_->workspaceActions()->save(file));
        const qs::Workspace ws = qs::load_workspace(file.toStdString());
        QCOMPARE(ws.config.overrides.size(), size_t(1));
        QVERIFY(ws.applied);

        auto w2 = std::make_unique<MainWindow>();
        w2->resize(1600, 1000);
        w2->show();
        QVERIFY(QTest::qWaitForWindowExposed(w2.get()));
        w2->context()->choosers().openFile = [&](QWidget*, const QString&, const QString&, const QString&) {
            return file;
        };
        QSignalSpy opened(w2->workspaceActions(), &WorkspaceActions::workspaceOpened);
        w2->findChild<QAction*>("openWorkspaceAction")->trigger();
        QVERIFY(opened.wait(kLong));
        QVERIFY(waitIdle(w2.get()));
        AppContext* c2 = w2->context();
        QVERIFY(AppContext::sameConfig(c2->config(), ctx()->config()));
        QCOMPARE(c2->config().overrides.at(kDown0.toStdString()).bits, 8);
        QTRY_VERIFY_WITH_TIMEOUT(AppContext::sameConfig(c2->workbench()->applied(), ctx()->config()), kLong);
        QVERIFY(w2->showView("model"));
        ModelPage* page = w2->modelPage();
        QTreeWidgetItem* item = itemFor(page->tree(), kDown0);
        QVERIFY(item);
        page->tree()->setCurrentItem(item);
        QCOMPARE(page->overrideBitsCombo()->currentData().toInt(), 8);
        QCOMPARE(page->overrideGroupCombo()->currentData().toInt(), 64);
        QVERIFY2(page->mixedSummaryLabel()->text().contains("5.0859 bits per weight"),
                 qPrintable(page->mixedSummaryLabel()->text()));
        w2.reset();
    }
};

QTEST_MAIN(MixedPrecisionGuiTest)
#include "test_workbench_mixed.moc"
