// Qt Test suite for hostile inputs in the real window (offscreen, issue #15): workspaces that
// are folders, huge sparse files or hold nonsense (refused with the file and the key named,
// never opened with clamped values), values the methods panel cannot show exactly (refused)
// or only outside its usual range (widened, not clamped), files written into the model folder
// (refused: workspace, CSV, plot), stale temporaries of dead processes, broken GGUF files and a
// named pipe opened with File > Open GGUF file…, and a tokenizer whose ids exceed the model's
// vocabulary (the activations preview named the wrong index).
#include <QAction>
#include <QApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSignalSpy>
#include <QSlider>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "activations_page.h"
#include "app_context.h"
#include "channel_magnitude_view.h"
#include "main_window.h"
#include "methods_panel.h"
#include "model_session.h"
#include "perplexity_page.h"
#include "ui_util.h"
#include "workbench_test_util.h"
#include "workspace_actions.h"

namespace {

using qs::gui::test::kLong;

bool copyFolder(const QString& from, const QString& to) {
    if (!QDir().mkpath(to)) return false;
    for (const QFileInfo& f : QDir(from).entryInfoList(QDir::Files))
        if (!QFile::copy(f.absoluteFilePath(), QDir(to).filePath(f.fileName()))) return false;
    return true;
}

// Every file of a folder with its bytes (to prove it unchanged).
QMap<QString, QByteArray> snapshot(const QString& dir) {
    QMap<QString, QByteArray> out;
    for (const QFileInfo& f : QDir(dir).entryInfoList(QDir::Files)) {
        QFile in(f.absoluteFilePath());
        if (in.open(QIODevice::ReadOnly)) out[f.fileName()] = in.readAll();
    }
    return out;
}

bool writeFile(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(bytes) == bytes.size();
}

long deadPid() {
    const pid_t p = ::fork();
    if (p == 0) ::_exit(0);
    ::waitpid(p, nullptr, 0);
    return p;
}

}  // namespace

class HostileGuiTest : public QObject {
    Q_OBJECT

  private:
    std::unique_ptr<MainWindow> w_;
    QTemporaryDir tmp_;
    QString model_, wsDir_, good_;
    AppContext* ctx() const { return w_->context(); }
    bool waitIdle() { return qs::gui::test::waitIdle(ctx()); }

    // A copy of the saved good workspace, edited.
    QString edited(const QString& name, const std::function<void(nlohmann::json&)>& edit) {
        QFile f(good_);
        if (!f.open(QIODevice::ReadOnly)) return {};
        nlohmann::json j = nlohmann::json::parse(f.readAll().toStdString());
        edit(j);
        const QString p = QDir(wsDir_).filePath(name);
        return writeFile(p, QByteArray::fromStdString(j.dump(2))) ? p : QString();
    }

    // Opening `file` fails with an error containing every `parts`; the model and the
    // configuration stay as they were.
    void expectRefused(const QString& file, const QStringList& parts) {
        QVERIFY(!file.isEmpty());
        const qs::MethodConfig config = ctx()->config();
        QSignalSpy failed(w_->workspaceActions(), &WorkspaceActions::workspaceFailed);
        w_->workspaceActions()->open(file);
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, kLong);
        QVERIFY(waitIdle());
        const QString err = w_->errorText();
        for (const QString& p : parts) QVERIFY2(err.contains(p), qPrintable("missing '" + p + "' in: " + err));
        QVERIFY(w_->hasModel());
        QVERIFY(AppContext::sameConfig(ctx()->config(), config));
    }

  private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        model_ = QDir(tmp_.path()).filePath("models/tiny");
        wsDir_ = QDir(tmp_.path()).filePath("workspaces");
        QVERIFY(QDir().mkpath(wsDir_));
        QVERIFY(copyFolder(QString::fromStdString(default_model_path()), model_));
        w_ = std::make_unique<MainWindow>();
        w_->resize(1600, 1000);
        w_->show();
        QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
        QSignalSpy loaded(w_.get(), &MainWindow::modelChanged);
        w_->openModel(model_);
        QVERIFY(loaded.wait(kLong));
        QVERIFY(waitIdle());
        qs::MethodConfig cfg = AppContext::defaultConfig();
        cfg.methods = {"smoothquant", "rtn"};
        cfg.sq_alpha = 0.5;
        w_->methodsPanel()->setConfig(cfg);
        QVERIFY(waitIdle());
        good_ = QDir(wsDir_).filePath("good.qscope");
        QVERIFY(w_->workspaceActions()->save(good_));
    }

    // A folder, a huge sparse file: named, nothing read (a folder said "invalid JSON").
    void workspaceThatIsAFolderOrHuge() {
        const QString folder = QDir(wsDir_).filePath("folder.qscope");
        QVERIFY(QDir().mkpath(folder));
        expectRefused(folder, {"folder.qscope: is a folder, expected a regular file"});
        const QString huge = QDir(wsDir_).filePath("huge.qscope");
        QVERIFY(writeFile(huge, "{}"));
        QVERIFY(QFile::resize(huge, qint64(4) << 30));
        expectRefused(huge, {"huge.qscope: 4 GiB, larger than the 64 MiB a workspace may have"});
    }

    // alpha -5 and w99 were opened and applied with clamped values while the labels showed the file's.
    void workspaceWithNonsenseIsRefused() {
        using json = nlohmann::json;
        expectRefused(
            edited("alpha.qscope", [](json& j) { j["configuration"]["sq_alpha"] = -5; }),
            {"alpha.qscope", "'configuration'", "sq_alpha (--sq-alpha) must be a number in [0, 1], found -5"});
        expectRefused(edited("w99.qscope", [](json& j) { j["configuration"]["w_bits"] = 99; }),
                      {"w99.qscope", "w_bits (--w-bits) must be an integer in 2..8, found 99"});
        expectRefused(edited("calib.qscope", [](json& j) { j["configuration"]["calib_seqlen"] = 100000; }),
                      {"calib.qscope", "calib_seqlen (--calib-seqlen) 100000 is longer than the model's context"});
        expectRefused(edited("seqlen.qscope", [](json& j) { j["evaluation"]["seqlen"] = 100000; }),
                      {"seqlen.qscope", "'evaluation.seqlen' 100000 is longer than the model's context"});
        // valid, but between the panel's 0.01 steps: refused instead of rounded
        expectRefused(edited("step.qscope", [](json& j) { j["configuration"]["sq_alpha"] = 0.503; }),
                      {"step.qscope", "sq_alpha is 0.503 in the file, the methods panel can only hold 0.5"});
    }

    // Valid values outside the controls' usual range widen them; the model gets the file's value.
    void workspaceOutsideThePanelRangeIsNotClamped() {
        const QString file = edited("factor.qscope", [](nlohmann::json& j) {
            j["configuration"]["methods"] = {"awq-scale"};
            j["configuration"]["awq_factor"] = 6.5;
            j["applied"] = false;
            j["ui"].erase("applied_configuration");
        });
        QSignalSpy opened(w_->workspaceActions(), &WorkspaceActions::workspaceOpened);
        w_->workspaceActions()->open(file);
        QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, kLong);
        QVERIFY(waitIdle());
        QCOMPARE(ctx()->config().awq_factor, 6.5);  // the slider stops at 4.00 by default
        QCOMPARE(w_->methodsPanel()->findChild<QSlider*>("awqFactorSlider")->value(), 650);
    }

    // Workspace, CSV and plot: never into the model folder; the folder stays byte-identical.
    void nothingIsWrittenIntoTheModelFolder() {
        const auto before = snapshot(model_);
        QSignalSpy errors(ctx(), &AppContext::errorOccurred);
        QVERIFY(!w_->workspaceActions()->save(QDir(model_).filePath("config.json")));
        QVERIFY2(w_->errorText().contains("lies inside the model folder"), qPrintable(w_->errorText()));
        QVERIFY(!w_->workspaceActions()->save(QDir(model_).filePath("ws.qscope")));
        QString err;
        QVERIFY(!w_->perplexityPage()->exportCsv(QDir(model_).filePath("model.safetensors"), &err));
        QVERIFY2(err.contains("model.safetensors: lies inside the model folder"), qPrintable(err));
        w_->showView("activations");
        QTRY_VERIFY_WITH_TIMEOUT(w_->activationsPage()->upToDate(), kLong);
        auto* view = w_->activationsPage()->channelView();
        err.clear();
        QVERIFY(!view->exportTo(QDir(model_).filePath("plot.png"), &err));
        QVERIFY2(err.contains("plot.png: lies inside the model folder"), qPrintable(err));
        QCOMPARE(snapshot(model_), before);
    }

    // Atomic writes elsewhere, and temporaries of killed processes removed, with a notice.
    void staleTemporariesAreRemoved() {
        const long dead = deadPid();
        const QString csv = QDir(wsDir_).filePath("ppl.csv");
        const QString plot = QDir(wsDir_).filePath("plot.png");
        const QString ws = QDir(wsDir_).filePath("again.qscope");
        for (const QString& p : {csv, plot, ws}) QVERIFY(writeFile(p + ".tmp-" + QString::number(dead), "partial"));
        QString err;
        QVERIFY2(w_->perplexityPage()->exportCsv(csv, &err), qPrintable(err));
        QVERIFY2(w_->activationsPage()->channelView()->exportTo(plot, &err), qPrintable(err));
        QVERIFY2(w_->statusText().contains("removed " + plot + ".tmp-" + QString::number(dead)),
                 qPrintable(w_->statusText()));
        QSignalSpy notices(ctx(), &AppContext::notice);
        QVERIFY(w_->workspaceActions()->save(ws));
        QCOMPARE(notices.count(), 1);
        QVERIFY2(notices[0][0].toString().contains("removed " + ws + ".tmp-" + QString::number(dead)),
                 qPrintable(notices[0][0].toString()));
        const QStringList left = QDir(wsDir_).entryList({"*.tmp-*"}, QDir::Files);
        QVERIFY2(left.isEmpty(), qPrintable(left.join(", ")));
        QVERIFY(QFileInfo(csv).size() > 0 && QFileInfo(plot).size() > 1000);
    }

    // File > Open GGUF file… on broken GGUF files (the broken corpus' expectations) and on a
    // named pipe: the error names the file and the problem, the loaded model stays.
    void brokenGgufFilesAreNamedAndTheModelStays() {
        const std::string before = ctx()->summary()->source_dir;
        const QString corpus = QStringLiteral(QS_TEST_DATA_DIR "/broken/");
        const QString pipe = QDir(tmp_.path()).filePath("pipe.gguf");
        QVERIFY(::mkfifo(pipe.toLocal8Bit().constData(), 0644) == 0);
        std::vector<std::pair<QString, QString>> cases = {{pipe, pipe + ": is a named pipe (FIFO)"}};
        for (const char* name : {"gguf_kv_count_huge", "gguf_array_length_huge", "gguf_layer_index_huge",
                                 "gguf_block_count_1e9", "gguf_nan_weights", "gguf_truncated_data"}) {
            QFile f(corpus + name + "/expected_error.txt");
            QVERIFY2(f.open(QIODevice::ReadOnly), name);
            const QString file = corpus + name + "/model.gguf";
            cases.emplace_back(file, QString::fromUtf8(f.readLine()).trimmed().replace("{dir}", corpus + name));
        }
        auto* act = w_->findChild<QAction*>("openGgufAction");
        QVERIFY(act);
        for (const auto& [file, expected] : cases) {
            ctx()->choosers().openFile = [f = file](QWidget*, const QString&, const QString&, const QString&) {
                return f;
            };
            QSignalSpy failed(ctx(), &AppContext::loadFailed);
            act->trigger();
            QVERIFY2(failed.wait(kLong), qPrintable(file));
            QVERIFY(waitIdle());
            const QString err = w_->errorText();
            QVERIFY2(err.contains(expected), qPrintable("missing '" + expected + "' in: " + err));
            QCOMPARE(ctx()->summary()->source_dir, before);
        }
    }

    // A tokenizer whose ids exceed the model's vocab_size: the activations preview (calibration
    // through the model) said "index out of range in self".
    void tokenizerIdsBeyondTheVocabularyAreNamed() {
        const QString other = QDir(tmp_.path()).filePath("models/bigtok");
        QVERIFY(copyFolder(QString::fromStdString(default_model_path()), other));
        QFile f(QDir(other).filePath("tokenizer.json"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        QByteArray text = f.readAll();
        f.close();
        text.replace(
            "\"added_tokens\": [",
            "\"added_tokens\": [{\"id\": 5000, \"content\": \"the\", \"single_word\": false, \"lstrip\": false, "
            "\"rstrip\": false, \"normalized\": false, \"special\": false},");
        QVERIFY(writeFile(QDir(other).filePath("tokenizer.json"), text));
        QSignalSpy loaded(w_.get(), &MainWindow::modelChanged);
        w_->openModel(other);
        QVERIFY(loaded.wait(kLong));
        w_->showView("activations");
        QVERIFY(waitIdle());
        const QString err = w_->errorText();
        QVERIFY2(err.contains("token id 5000 is outside the model's vocabulary [0, 2048)"), qPrintable(err));
        QVERIFY2(!err.contains("index out of range"), qPrintable(err));
    }
};

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    HostileGuiTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_workbench_hostile.moc"
