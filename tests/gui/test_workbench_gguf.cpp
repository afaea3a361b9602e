// File > Open GGUF file… through the real window: the chooser's file opens, the Model page
// states how each Linear is stored in the GGUF (its ggml type) and the summary counts them, the
// tokenizer comes from the file's metadata (a perplexity runs), and the result matches the
// engine loading the same file directly.
#include <QAction>
#include <QSignalSpy>
#include <QTextBrowser>
#include <QTreeWidget>
#include <QtTest/QtTest>

#include <map>
#include <memory>

#include "app_context.h"
#include "error_page.h"
#include "layer_navigator.h"
#include "main_window.h"
#include "model_page.h"
#include "workbench.h"
#include "workbench_test_util.h"

namespace {
using qs::gui::test::kLong;
const QString kGguf = QStringLiteral(QS_TEST_DATA_DIR "/gguf/tiny-llama-smollm.gguf");
}  // namespace

class WorkbenchGgufTest : public QObject {
    Q_OBJECT

  private:
    std::unique_ptr<MainWindow> w_;
    AppContext* ctx() const { return w_->context(); }

  private slots:
    void initTestCase() {
        w_ = std::make_unique<MainWindow>();
        w_->resize(1600, 1000);
        w_->show();
        QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
    }
    void cleanupTestCase() { w_.reset(); }

    void openGgufFromTheFileMenu() {
        QString asked;
        ctx()->choosers().openFile = [&](QWidget*, const QString& caption, const QString&, const QString& filter) {
            asked = caption + " | " + filter;
            return kGguf;
        };
        auto* act = w_->findChild<QAction*>("openGgufAction");
        QVERIFY(act);
        QCOMPARE(act->text(), QString("Open &GGUF file…"));
        QSignalSpy loaded(w_.get(), &MainWindow::modelChanged);
        act->trigger();
        QVERIFY(loaded.wait(kLong));
        QVERIFY2(asked.contains("*.gguf"), qPrintable(asked));
        QVERIFY(ctx()->hasModel());
        QCOMPARE(QString::fromStdString(ctx()->summary()->source_dir), kGguf);
        QVERIFY(ctx()->workbench()->has_tokenizer());
        QVERIFY(qs::gui::test::waitIdle(ctx()));
    }

    void modelPageShowsTheStorageTypePerLinear() {
        w_->showView("model");
        auto* tree = w_->findChild<QTreeWidget*>("modelTree");
        QVERIFY(tree);
        QCOMPARE(tree->headerItem()->text(4), QString("Stored as"));
        // The engine's view of the same file (tools/goldens/make_gguf_models.py wrote these types).
        const std::map<QString, QString> want = {{"model.layers.0.self_attn.q_proj", "Q4_K"},
                                                 {"model.layers.0.self_attn.k_proj", "Q5_K"},
                                                 {"model.layers.0.self_attn.v_proj", "Q6_K"},
                                                 {"model.layers.0.self_attn.o_proj", "Q3_K"},
                                                 {"model.layers.0.mlp.gate_proj", "Q2_K"},
                                                 {"model.layers.0.mlp.up_proj", "Q4_0"},
                                                 {"model.layers.0.mlp.down_proj", "Q8_0"},
                                                 {"model.layers.1.self_attn.q_proj", "Q4_1"},
                                                 {"model.layers.1.self_attn.k_proj", "F16"},
                                                 {"model.layers.1.self_attn.v_proj", "BF16"},
                                                 {"model.layers.1.self_attn.o_proj", "Q5_0"},
                                                 {"model.layers.1.mlp.gate_proj", "Q5_1"},
                                                 {"model.layers.1.mlp.up_proj", "Q4_K"},
                                                 {"model.layers.1.mlp.down_proj", "Q6_K"},
                                                 {"lm_head", "Q6_K"}};
        int rows = 0;
        for (QTreeWidgetItemIterator it(tree); *it; ++it) {
            const QString name = (*it)->data(0, Qt::UserRole).toString();
            if (name.isEmpty()) continue;
            ++rows;
            QVERIFY2(want.count(name), qPrintable(name));
            QCOMPARE((*it)->text(4), want.at(name));
        }
        QCOMPARE(rows, int(want.size()));
        auto* summary = w_->findChild<QTextBrowser*>("modelSummary");
        QVERIFY(summary);
        const QString text = summary->toPlainText();
        QVERIFY2(text.contains("Linears stored as"), qPrintable(text));
        QVERIFY2(text.contains("Q4_K × 2"), qPrintable(text));
        QVERIFY2(text.contains("Q6_K × 3"), qPrintable(text));
    }

    // The Error page states how the selected Linear is stored: a GGUF quant type means the W it
    // shows is already a dequantization (the error comes on top of the file's own).
    void errorPageStatesTheSourceType() {
        w_->showView("error");
        auto* page = w_->findChild<ErrorPage*>();
        QVERIFY(page);
        LayerNavigator* nav = w_->navigator();
        for (const auto& [layer, want] :
             std::map<QString, QString>{{"model.layers.0.mlp.down_proj", "Q8_0 in the source file"},
                                        {"model.layers.1.self_attn.k_proj", "F16 (float in the source file)"}}) {
            QTreeWidgetItem* item = nullptr;
            for (QTreeWidgetItemIterator it(nav); *it; ++it)
                if ((*it)->data(0, Qt::UserRole).toString() == layer) item = *it;
            QVERIFY2(item, qPrintable(layer));
            QSignalSpy shown(page, &ErrorPage::previewShown);
            nav->scrollToItem(item);
            QTest::mouseClick(nav->viewport(), Qt::LeftButton, {}, nav->visualItemRect(item).center());
            QCOMPARE(ctx()->layer(), layer);
            QVERIFY(shown.wait(kLong));
            QVERIFY2(page->metricText("source").startsWith(want),
                     qPrintable(layer + ": " + page->metricText("source")));
        }
    }
};

QTEST_MAIN(WorkbenchGgufTest)
#include "test_workbench_gguf.moc"
