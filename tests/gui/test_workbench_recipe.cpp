// Qt Test suite for File > Export llm-compressor recipe (.yaml)… on the real window (offscreen):
// the methods panel's default (RTN w4 g128 asym) applied and exported through the menu action
// writes exactly the recipe tools/goldens/check_llmc_recipe.py loaded with llm-compressor's own
// parser (tests/data/llmc_recipes/rtn_w4_g128_asym.yaml); an AWQ + clip configuration lists
// the clip as not carried over; the original weights (nothing to carry) and a file inside the
// model folder are refused with a message and write nothing.
#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <memory>

#include "app_context.h"
#include "main_window.h"
#include "methods_panel.h"
#include "recipe_export.h"
#include "workbench_test_util.h"

namespace {

using qs::gui::test::kLong;

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

}  // namespace

class RecipeGuiTest : public QObject {
    Q_OBJECT

  private:
    std::unique_ptr<MainWindow> w_;
    QTemporaryDir tmp_;
    AppContext* ctx() const { return w_->context(); }
    bool waitIdle(int ms = kLong) { return qs::gui::test::waitIdle(ctx(), ms); }
    QAction* action() const { return w_->findChild<QAction*>("exportRecipeAction"); }
    // Triggers the menu action with the save chooser answering `file`; returns how often it asked.
    int exportVia(const QString& file) {
        int asked = 0;
        ctx()->choosers().saveFile = [&asked, file](QWidget*, const QString&, const QString&, const QString& filter) {
            ++asked;
            return filter.contains("*.yaml") ? file : QString();
        };
        action()->trigger();
        return asked;
    }
    void applyPanel() {
        QTest::mouseClick(w_->methodsPanel()->applyButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->configApplied() && !ctx()->modelBusy(), kLong);
        QVERIFY(waitIdle());
    }

  private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        w_ = std::make_unique<MainWindow>();
        w_->resize(1600, 1000);
        w_->show();
        QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
        QVERIFY(action());
        QVERIFY(!action()->isEnabled());  // no model yet
        QSignalSpy loaded(w_.get(), &MainWindow::modelChanged);
        w_->openModel(QString::fromStdString(default_model_path()));
        QVERIFY(loaded.wait(kLong));
        QVERIFY(waitIdle());
        QVERIFY(action()->isEnabled());
    }

    void cleanupTestCase() { w_.reset(); }

    // The panel's default, applied: the file is the fixture llm-compressor parsed, byte for byte.
    void defaultRtnMatchesCheckedFixture() {
        QCOMPARE(QString::fromStdString(ctx()->config().describe()), QString("w4 g128 asym"));
        applyPanel();
        const QString out = QDir(tmp_.path()).filePath("tiny-recipe");  // ".yaml" is appended
        QSignalSpy written(w_->recipeExport(), &RecipeExport::written);
        QCOMPARE(exportVia(out), 1);
        QCOMPARE(written.size(), 1);
        QCOMPARE(written.at(0).at(0).toString(), out + ".yaml");
        QVERIFY(w_->errorText().isEmpty());
        const QByteArray got = readAll(out + ".yaml");
        QCOMPARE(got, readAll(QString(QS_TEST_DATA_DIR) + "/llmc_recipes/rtn_w4_g128_asym.yaml"));
        QVERIFY(got.contains("    QuantizationModifier:\n      ignore: [lm_head]\n"));
        QVERIFY(
            got.contains("            num_bits: 4\n            type: int\n            symmetric: false\n"
                         "            strategy: group\n            group_size: 128\n"));
        QVERIFY(QDir(tmp_.path()).entryList({"*.tmp-*"}, QDir::AllEntries | QDir::Hidden).isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT(w_->statusText().startsWith("Wrote llm-compressor recipe"), 5000);
        QVERIFY2(w_->statusText().contains("1 item not carried over"), qPrintable(w_->statusText()));
    }

    // AWQ with auto-clip: the recipe has AWQModifier + QuantizationModifier and says the clip
    // search is not carried over (top comment block).
    void awqClipListedAsNotCarried() {
        qs::MethodConfig cfg = ctx()->config();
        cfg.methods = {"awq"};
        cfg.awq_clip = true;
        cfg.calib_samples = 4;
        cfg.calib_seqlen = 64;
        ctx()->setConfig(cfg);
        applyPanel();
        QVERIFY(ctx()->applied().has("awq"));
        const QString out = QDir(tmp_.path()).filePath("awq.yaml");
        QCOMPARE(exportVia(out), 1);
        QVERIFY(w_->errorText().isEmpty());
        const QByteArray got = readAll(out);
        QVERIFY(got.contains("# - awq --awq-clip: AWQModifier searches the scales only"));
        QVERIFY(got.contains("    AWQModifier:\n      mappings:\n        - smooth_layer: re:.*input_layernorm$\n"));
        QVERIFY(got.contains("num_calibration_samples=4,"));  // the header comment (wrapped at 100 columns)
        QVERIFY(got.contains("max_seq_length=64)"));
        QVERIFY(got.indexOf("AWQModifier:") < got.indexOf("QuantizationModifier:"));
    }

    // Refusals: a file inside the model folder, and the original weights (nothing to carry).
    void refusals() {
        const QString inModel = QDir(QString::fromStdString(ctx()->summary()->source_dir)).filePath("recipe.yaml");
        exportVia(inModel);
        QTRY_VERIFY_WITH_TIMEOUT(!w_->errorText().isEmpty(), 5000);
        QVERIFY2(w_->errorText().contains("recipe.yaml"), qPrintable(w_->errorText()));
        QVERIFY(!QFileInfo::exists(inModel));

        ctx()->resetToOriginal();
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->applied().methods.empty() && !ctx()->modelBusy(), kLong);
        QVERIFY(waitIdle());
        QSignalSpy failed(ctx(), &AppContext::errorOccurred);
        const QString out = QDir(tmp_.path()).filePath("original.yaml");
        exportVia(out);
        QCOMPARE(failed.size(), 1);
        QVERIFY2(failed.at(0).at(1).toString().contains("no method"), qPrintable(failed.at(0).at(1).toString()));
        QVERIFY(!QFileInfo::exists(out));
    }
};

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    RecipeGuiTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_workbench_recipe.moc"
