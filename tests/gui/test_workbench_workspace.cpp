// Qt Test suite for File > Save Workspace… / Open Workspace… on the real window (offscreen):
// a saved workspace reopens in a fresh window with the same methods, results table, page and
// Linear; a moved model folder is located through the (injected) folder chooser and must hold
// the same model; a cancelled or failed open and a corrupt file leave the current model.
#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QtTest/QtTest>

#include <memory>

#include "app_context.h"
#include "layer_navigator.h"
#include "main_window.h"
#include "workbench_test_util.h"
#include "methods_panel.h"
#include "model_session.h"
#include "perplexity_page.h"
#include "ui_util.h"
#include "workspace_actions.h"

namespace {

using qs::gui::test::kLong;

bool waitIdle(MainWindow* w, int ms = kLong) { return qs::gui::test::waitIdle(w->context(), ms); }

bool copyFolder(const QString& from, const QString& to) {
    if (!QDir().mkpath(to)) return false;
    for (const QFileInfo& f : QDir(from).entryInfoList(QDir::Files))
        if (!QFile::copy(f.absoluteFilePath(), QDir(to).filePath(f.fileName()))) return false;
    return true;
}

std::unique_ptr<MainWindow> newWindow() {
    auto w = std::make_unique<MainWindow>();
    w->resize(1600, 1000);
    w->show();
    return w;
}

QString canonical(const QString& p) { return QFileInfo(p).canonicalFilePath(); }

}  // namespace

class WorkspaceGuiTest : public QObject {
    Q_OBJECT

  private:
    std::unique_ptr<MainWindow> w_;
    QTemporaryDir tmp_;
    QString model_, wsDir_;
    AppContext* ctx() const { return w_->context(); }

  private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        model_ = QDir(tmp_.path()).filePath("models/tiny");
        wsDir_ = QDir(tmp_.path()).filePath("workspaces");
        QVERIFY(QDir().mkpath(wsDir_));
        QVERIFY(copyFolder(QString::fromStdString(default_model_path()), model_));
        w_ = newWindow();
        QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
        QSignalSpy loaded(w_.get(), &MainWindow::modelChanged);
        w_->openModel(model_);
        QVERIFY(loaded.wait(kLong));
        QVERIFY(waitIdle(w_.get()));
        QCOMPARE(canonical(ui::qstr(ctx()->summary()->source_dir)), canonical(model_));
    }

    void cleanupTestCase() { w_.reset(); }

    // (d) Methods changed (3 bits, group 64, AWQ scale factor 2.5), a perplexity run, a Linear
    //     and a page selected; saved through the menu; a fresh window opens it with the same
    //     panel values, results row, Linear and page, and the model carries the configuration.
    void saveAndReopenRestoresState() {
        MethodsPanel* panel = w_->methodsPanel();
        auto* bits = panel->findChild<QComboBox*>("bitsCombo");
        auto* group = panel->findChild<QComboBox*>("groupCombo");
        bits->setCurrentIndex(bits->findData(3));
        group->setCurrentIndex(group->findData(64));
        panel->awqModeCombo()->setCurrentIndex(panel->awqModeCombo()->findData("awq-scale"));
        panel->awqFactorSlider()->setValue(250);
        const qs::MethodConfig cfg = ctx()->config();
        QCOMPARE(cfg.weight.bits, 3);
        QCOMPARE(cfg.weight.group_size, int64_t(64));
        QCOMPARE(cfg.awq_factor, 2.5);
        QVERIFY(cfg.has("awq-scale"));
        QVERIFY(waitIdle(w_.get()));

        PerplexityPage* ppl = w_->perplexityPage();
        w_->showView("perplexity");
        ppl->windowsSpin()->setValue(2);
        ppl->baselineCheck()->setChecked(false);
        QSignalSpy ran(ppl, &PerplexityPage::runFinished);
        QTest::mouseClick(ppl->runButton(), Qt::LeftButton);
        QVERIFY(ran.wait(kLong));
        QVERIFY(waitIdle(w_.get()));
        QCOMPARE(static_cast<int>(ppl->rows().size()), 1);
        QVERIFY(ctx()->configApplied());

        const QString layer = "model.layers.1.mlp.up_proj";
        ctx()->setLayer(layer);
        QCOMPARE(w_->navigator()->currentItem()->data(0, Qt::UserRole).toString(), layer);
        w_->showView("error");
        QVERIFY(waitIdle(w_.get()));

        const QString file = QDir(wsDir_).filePath("state.qscope");
        int asked = 0;
        ctx()->choosers().saveFile = [&](QWidget*, const QString&, const QString&, const QString& filter) {
            ++asked;
            return filter.contains("*.qscope") ? QDir(wsDir_).filePath("state") : QString();  // suffix added
        };
        QSignalSpy saved(w_->workspaceActions(), &WorkspaceActions::workspaceSaved);
        w_->findChild<QAction*>("saveWorkspaceAction")->trigger();
        QCOMPARE(asked, 1);
        QCOMPARE(saved.count(), 1);
        QCOMPARE(saved.at(0).at(0).toString(), file);
        QVERIFY2(w_->statusText().contains("Saved workspace " + file), qPrintable(w_->statusText()));
        // What the file holds, read back by the engine.
        const qs::Workspace ws = qs::load_workspace(file.toStdString());
        QCOMPARE(canonical(ui::qstr(ws.model_path)), canonical(model_));
        QVERIFY(AppContext::sameConfig(ws.config, cfg));
        QVERIFY(ws.applied);
        QCOMPARE(ws.results.size(), size_t(1));
        QCOMPARE(ws.results[0].ppl, ppl->rows()[0].data.ppl);
        QCOMPARE(ws.eval.nsamples, int64_t(2));
        QCOMPARE(ui::qstr(ws.selected_linear), layer);
        QCOMPARE(ui::qstr(ws.views.at(static_cast<size_t>(ws.selected_view)).kind), QString("error"));
        QCOMPARE(ws.model.model_type, std::string("llama"));

        // A fresh window opens it through the menu.
        auto w2 = newWindow();
        QVERIFY(!w2->hasModel());
        w2->context()->choosers().openFile = [&](QWidget*, const QString&, const QString&, const QString&) {
            return file;
        };
        QSignalSpy opened(w2->workspaceActions(), &WorkspaceActions::workspaceOpened);
        w2->findChild<QAction*>("openWorkspaceAction")->trigger();
        QVERIFY(opened.wait(kLong));
        QVERIFY(waitIdle(w2.get()));
        AppContext* c2 = w2->context();
        QVERIFY(w2->hasModel());
        QCOMPARE(canonical(ui::qstr(c2->summary()->source_dir)), canonical(model_));
        // Methods panel
        MethodsPanel* p2 = w2->methodsPanel();
        QCOMPARE(p2->findChild<QComboBox*>("bitsCombo")->currentData().toInt(), 3);
        QCOMPARE(p2->findChild<QComboBox*>("groupCombo")->currentData().toInt(), 64);
        QCOMPARE(p2->awqModeCombo()->currentData().toString(), QString("awq-scale"));
        QCOMPARE(p2->awqFactorSlider()->value(), 250);
        QVERIFY(AppContext::sameConfig(c2->config(), cfg));
        // Re-applied: the model carries it again.
        QVERIFY(AppContext::sameConfig(c2->applied(), cfg));
        QVERIFY(AppContext::sameConfig(c2->workbench()->applied(), cfg));
        // Results table and evaluation settings
        PerplexityPage* ppl2 = w2->perplexityPage();
        QCOMPARE(ppl2->model()->rowCount(), 1);
        QCOMPARE(ppl2->rows()[0].data.ppl, ppl->rows()[0].data.ppl);
        QCOMPARE(ppl2->rows()[0].data.window_nll, ppl->rows()[0].data.window_nll);
        for (int c = 0; c < ppl->model()->columnCount(); ++c)
            QCOMPARE(ppl2->model()->index(0, c).data().toString(), ppl->model()->index(0, c).data().toString());
        QCOMPARE(ppl2->windowsSpin()->value(), 2);
        QVERIFY(!ppl2->baselineCheck()->isChecked());
        QVERIFY(ppl2->staleLabel()->isHidden());
        // Selected Linear and page
        QCOMPARE(c2->layer(), layer);
        QVERIFY(w2->navigator()->currentItem());
        QCOMPARE(w2->navigator()->currentItem()->data(0, Qt::UserRole).toString(), layer);
        QCOMPARE(w2->currentView(), QString("error"));
        QTRY_VERIFY_WITH_TIMEOUT(w2->statusText().contains("Opened workspace " + file), 5000);
        w2.reset();
    }

    // (e) The model folder moved: declining the chooser changes nothing, a folder with another
    //     model is refused naming both, the new location loads.
    void movedModelFolder() {
        const QString file = QDir(wsDir_).filePath("moved.qscope");
        QVERIFY(w_->workspaceActions()->save(file));
        const QString moved = QDir(tmp_.path()).filePath("models/tiny-moved");
        QVERIFY(QDir().rename(model_, moved));
        WorkspaceActions* actions = w_->workspaceActions();
        auto wb = ctx()->workbench();
        const size_t rows = w_->perplexityPage()->rows().size();
        const qs::MethodConfig before = ctx()->config();

        QString answer;
        QStringList captions;
        ctx()->choosers().folder = [&](QWidget*, const QString& caption, const QString&) {
            captions << caption;
            return answer;
        };
        // 1. Cancel: nothing changes.
        QSignalSpy cancelled(actions, &WorkspaceActions::workspaceCancelled);
        actions->open(file);
        QCOMPARE(cancelled.count(), 1);
        QCOMPARE(captions.size(), 1);
        QVERIFY2(captions[0].contains("tiny"), qPrintable(captions[0]));
        QVERIFY(waitIdle(w_.get()));
        QCOMPARE(ctx()->workbench(), wb);
        QVERIFY(AppContext::sameConfig(ctx()->config(), before));
        QCOMPARE(w_->perplexityPage()->rows().size(), rows);

        // 2. Another model's folder: refused, the current model stays.
        const QString other = QDir(tmp_.path()).filePath("models/other");
        QVERIFY(QDir().mkpath(other));
        {
            QFile f(QDir(other).filePath("config.json"));
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(
                R"({"model_type": "opt", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100, "ffn_dim": 256})");
        }
        answer = other;
        QSignalSpy failed(actions, &WorkspaceActions::workspaceFailed);
        actions->open(file);
        QCOMPARE(failed.count(), 1);
        const QString msg = failed.at(0).at(1).toString();
        QVERIFY2(msg.contains("moved.qscope") && msg.contains("opt") && msg.contains("llama"), qPrintable(msg));
        QVERIFY2(w_->errorText().contains("Could not open the workspace."), qPrintable(w_->errorText()));
        QVERIFY(w_->errorText().contains("stays loaded"));
        QVERIFY(waitIdle(w_.get()));
        QCOMPARE(ctx()->workbench(), wb);

        // 3. The new location: the same model, it loads and the workspace is restored.
        answer = moved;
        QSignalSpy opened(actions, &WorkspaceActions::workspaceOpened);
        actions->open(file);
        QVERIFY(opened.wait(kLong));
        QVERIFY(waitIdle(w_.get()));
        QCOMPARE(captions.size(), 3);
        QVERIFY(ctx()->workbench() != wb);
        QCOMPARE(canonical(ui::qstr(ctx()->summary()->source_dir)), canonical(moved));
        QVERIFY(AppContext::sameConfig(ctx()->config(), before));
        QVERIFY(AppContext::sameConfig(ctx()->applied(), before));
        QCOMPARE(w_->perplexityPage()->rows().size(), rows);
        model_ = moved;
    }

    // A corrupt or invalid .qscope: the error names the file and the problem; the model stays.
    void corruptWorkspaceKeepsModel() {
        auto wb = ctx()->workbench();
        const QString corrupt = QDir(wsDir_).filePath("corrupt.qscope");
        {
            QFile f(corrupt);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("{ \"quantscope_workspace\": 1, \"model\": ");
        }
        QSignalSpy failed(w_->workspaceActions(), &WorkspaceActions::workspaceFailed);
        w_->context()->choosers().openFile = [&](QWidget*, const QString&, const QString&, const QString&) {
            return corrupt;
        };
        w_->findChild<QAction*>("openWorkspaceAction")->trigger();
        QCOMPARE(failed.count(), 1);
        QString err = w_->errorText();
        QVERIFY2(err.contains("corrupt.qscope") && err.contains("invalid JSON"), qPrintable(err));
        QVERIFY2(err.contains("stays loaded"), qPrintable(err));
        QVERIFY(waitIdle(w_.get()));
        QCOMPARE(ctx()->workbench(), wb);

        const QString invalid = QDir(wsDir_).filePath("invalid.qscope");
        {
            QFile f(invalid);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(QString(R"({"quantscope_workspace": 1, "model": {"path": "%1"}, "results": [{"ppl": "low"}]})")
                        .arg(model_)
                        .toUtf8());
        }
        w_->workspaceActions()->open(invalid);
        QCOMPARE(failed.count(), 2);
        err = w_->errorText();
        QVERIFY2(err.contains("invalid.qscope") && err.contains("results[0].ppl") && err.contains("must be a number"),
                 qPrintable(err));
        QVERIFY(waitIdle(w_.get()));
        QCOMPARE(ctx()->workbench(), wb);
        QVERIFY(w_->hasModel());
    }
};

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    WorkspaceGuiTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_workbench_workspace.moc"
