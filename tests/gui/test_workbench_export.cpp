// Qt Test suite for File > Export… on the real window (offscreen): the dialog exports the
// configuration the model carries through the engine as a worker job; a refused format shows
// the engine's message and writes nothing; Cancel in the middle of writing leaves nothing.
#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSemaphore>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <atomic>
#include <memory>

#include "app_context.h"
#include "export_dialog.h"
#include "main_window.h"
#include "workbench_test_util.h"
#include "methods_panel.h"
#include "model_session.h"
#include "ui_util.h"
#include "workbench.h"

namespace {

using qs::gui::test::kLong;

// Names of the temporary folders an export leaves next to `dir` (must be none).
QStringList leftovers(const QString& dir) {
    return QDir(dir).entryList({"*.tmp-*"}, QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot);
}

QJsonObject readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

// The JSON header of a safetensors file.
QJsonObject safetensorsHeader(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    const QByteArray len = f.read(8);
    if (len.size() != 8) return {};
    quint64 n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(len[i]);
    return QJsonDocument::fromJson(f.read(static_cast<qint64>(n))).object();
}

}  // namespace

class ExportGuiTest : public QObject {
    Q_OBJECT

  private:
    std::unique_ptr<MainWindow> w_;
    std::shared_ptr<Workbench> ref_;  // the same model, driven directly
    QTemporaryDir tmp_;
    qs::MethodConfig cfg_;  // RTN w4 g32 asym, what the model carries after the first test
    AppContext* ctx() const { return w_->context(); }
    bool waitIdle(int ms = kLong) { return qs::gui::test::waitIdle(ctx(), ms); }
    ExportDialog* openDialog() {
        QAction* a = w_->findChild<QAction*>("exportAction");
        if (!a || !a->isEnabled()) return nullptr;
        a->trigger();
        ExportDialog* d = w_->exportDialog();
        return d && d->isVisible() ? d : nullptr;
    }

  private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        w_ = std::make_unique<MainWindow>();
        w_->resize(1600, 1000);
        w_->show();
        QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
        QVERIFY(!w_->findChild<QAction*>("exportAction")->isEnabled());  // nothing to export yet
        QSignalSpy loaded(w_.get(), &MainWindow::modelChanged);
        w_->openModel(QString::fromStdString(default_model_path()));
        QVERIFY(loaded.wait(kLong));
        QVERIFY(waitIdle());
        LoadRequest req;
        req.dir = default_model_path();
        ref_ = Workbench::open(req, {});
    }

    void cleanupTestCase() {
        w_.reset();
        ref_.reset();
    }

    // (a) RTN w4 g32 applied in the methods panel, exported as awq-gemm through the dialog
    //     with the folder chosen by the (injected) folder chooser.
    void exportAwqGemm() {
        MethodsPanel* panel = w_->methodsPanel();
        auto* bits = panel->findChild<QComboBox*>("bitsCombo");
        auto* group = panel->findChild<QComboBox*>("groupCombo");
        bits->setCurrentIndex(bits->findData(4));
        group->setCurrentIndex(group->findData(32));
        panel->awqModeCombo()->setCurrentIndex(panel->awqModeCombo()->findData(""));
        QVERIFY(waitIdle());
        cfg_ = ctx()->config();
        QCOMPARE(ui::qstr(cfg_.describe()), QString("w4 g32 asym"));
        QCOMPARE(cfg_.methods, std::vector<std::string>{"rtn"});
        QTest::mouseClick(panel->applyButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->configApplied() && !ctx()->modelBusy(), kLong);
        QVERIFY(waitIdle());

        int asked = 0;
        ctx()->choosers().folder = [&](QWidget*, const QString&, const QString&) {
            ++asked;
            return tmp_.path();
        };
        ExportDialog* dlg = openDialog();
        QVERIFY(dlg);
        QVERIFY2(dlg->configurationLabel()->text().contains("w4 g32 asym"),
                 qPrintable(dlg->configurationLabel()->text()));
        dlg->formatCombo()->setCurrentIndex(dlg->formatCombo()->findData("awq-gemm"));
        QCOMPARE(dlg->descriptionLabel()->text(), ui::qstr(qs::export_format_description(qs::ExportFormat::AwqGemm)));
        QVERIFY(!dlg->dtypeCombo()->isEnabled());  // awq-gemm: always fp16
        QVERIFY(!dlg->awqReferenceCheck()->isEnabled());
        QTest::mouseClick(dlg->findChild<QPushButton*>("exportChooseFolder"), Qt::LeftButton);
        QCOMPARE(asked, 1);
        const QString out = QDir(tmp_.path()).filePath("TinyStories-656K-awq-gemm");
        QCOMPARE(dlg->folderEdit()->text(), out);
        QTRY_VERIFY_WITH_TIMEOUT(!dlg->checking(), kLong);
        QCOMPARE(dlg->problem(), QString());
        QVERIFY(dlg->checkLabel()->text().contains("can be exported as awq-gemm"));
        QVERIFY(dlg->exportButton()->isEnabled());

        QSignalSpy done(dlg, &ExportDialog::exportFinished);
        QTest::mouseClick(dlg->exportButton(), Qt::LeftButton);
        QVERIFY(done.wait(kLong));
        QCOMPARE(done.at(0).at(0).toString(), out);
        QVERIFY(waitIdle());
        QVERIFY(!dlg->isVisible());
        QVERIFY(w_->errorText().isEmpty());

        // The folder: AutoAWQ GEMM tensors and config.json with its quantization_config.
        QVERIFY(QFileInfo(out + "/model.safetensors").isFile());
        const QJsonObject config = readJson(out + "/config.json");
        const QJsonObject qc = config["quantization_config"].toObject();
        QCOMPARE(qc["quant_method"].toString(), QString("awq"));
        QCOMPARE(qc["version"].toString(), QString("gemm"));
        QCOMPARE(qc["bits"].toInt(), 4);
        QCOMPARE(qc["group_size"].toInt(), 32);
        QCOMPARE(qc["zero_point"].toBool(), true);
        QCOMPARE(config["torch_dtype"].toString(), QString("float16"));
        const QJsonObject header = safetensorsHeader(out + "/model.safetensors");
        const QJsonObject qw = header["model.layers.0.self_attn.q_proj.qweight"].toObject();
        QCOMPARE(qw["dtype"].toString(), QString("I32"));
        QCOMPARE(qw["shape"].toArray(), QJsonArray({128, 16}));  // [in, out / 8]
        QCOMPARE(header["model.layers.1.mlp.down_proj.scales"].toObject()["shape"].toArray(),
                 QJsonArray({384 / 32, 128}));
        QVERIFY(!header.contains("model.layers.0.self_attn.q_proj.weight"));
        QVERIFY(leftovers(tmp_.path()).isEmpty());

        // The status bar says where, how many files and how many bytes.
        const QFileInfoList files = QDir(out).entryInfoList(QDir::Files);
        qint64 bytes = 0;
        for (const auto& f : files) bytes += f.size();
        QTRY_VERIFY_WITH_TIMEOUT(w_->statusText().startsWith("Exported"), 5000);
        const QString msg = w_->statusText();
        QVERIFY2(msg.contains(out), qPrintable(msg));
        QVERIFY2(msg.contains("awq-gemm"), qPrintable(msg));
        QVERIFY2(msg.contains(QString("%1 files").arg(files.size())), qPrintable(msg));
        QVERIFY2(msg.contains(ui::bytesText(static_cast<double>(bytes))),
                 qPrintable(msg + " vs " + ui::bytesText(bytes)));
        // The model still carries the configuration (export never changes it).
        QVERIFY(AppContext::sameConfig(ctx()->workbench()->applied(), cfg_));
        QVERIFY(ctx()->configApplied());

        // The same folder again: refused without "Replace", replaced with it.
        dlg = openDialog();
        QVERIFY(dlg);
        dlg->setFormat(qs::ExportFormat::AwqGemm);
        dlg->setOutputDir(out);
        QTRY_VERIFY_WITH_TIMEOUT(!dlg->checking() && dlg->exportButton()->isEnabled(), kLong);
        QSignalSpy failed(dlg, &ExportDialog::exportFailed);
        QVERIFY(!dlg->startExport());
        QCOMPARE(failed.count(), 1);
        QVERIFY2(w_->errorText().contains("already exists"), qPrintable(w_->errorText()));
        const QDateTime before = QFileInfo(out + "/model.safetensors").lastModified();
        dlg->replaceCheck()->setChecked(true);
        QSignalSpy again(dlg, &ExportDialog::exportFinished);
        QTest::mouseClick(dlg->exportButton(), Qt::LeftButton);
        QVERIFY(again.wait(kLong));
        QVERIFY(waitIdle());
        QVERIFY(QFileInfo(out + "/config.json").isFile());
        QVERIFY(QFileInfo(out + "/model.safetensors").lastModified() >= before);
        QVERIFY(leftovers(tmp_.path()).isEmpty());
        dlg->replaceCheck()->setChecked(false);
    }

    // (a2) The same configuration as compressed-tensors (pack-quantized), chosen by its label in
    //      the format list: config.json gets the package's quantization_config, the file its
    //      weight_packed / weight_scale / weight_zero_point / weight_shape tensors.
    void exportCompressedTensors() {
        const QString errorBefore = w_->errorText();  // (a)'s refused "already exists" banner
        ExportDialog* dlg = openDialog();
        QVERIFY(dlg);
        const int item = dlg->formatCombo()->findText("compressed-tensors (pack-quantized)");
        QVERIFY(item >= 0);
        QCOMPARE(dlg->formatCombo()->itemData(item).toString(), QString("compressed-tensors"));
        dlg->formatCombo()->setCurrentIndex(item);
        QVERIFY(dlg->format() == qs::ExportFormat::CompressedTensors);
        QCOMPARE(dlg->descriptionLabel()->text(),
                 ui::qstr(qs::export_format_description(qs::ExportFormat::CompressedTensors)));
        QVERIFY(dlg->dtypeCombo()->isEnabled());
        QVERIFY(!dlg->awqReferenceCheck()->isEnabled());
        const QString out = QDir(tmp_.path()).filePath("TinyStories-656K-compressed-tensors");
        dlg->setOutputDir(out);
        QTRY_VERIFY_WITH_TIMEOUT(!dlg->checking(), kLong);
        QCOMPARE(dlg->problem(), QString());
        QVERIFY2(dlg->checkLabel()->text().contains("can be exported as compressed-tensors"),
                 qPrintable(dlg->checkLabel()->text()));
        QSignalSpy done(dlg, &ExportDialog::exportFinished);
        QTest::mouseClick(dlg->exportButton(), Qt::LeftButton);
        QVERIFY(done.wait(kLong));
        QCOMPARE(done.at(0).at(0).toString(), out);
        QVERIFY(waitIdle());
        QCOMPARE(w_->errorText(), errorBefore);  // no new error

        const QJsonObject config = readJson(out + "/config.json");
        const QJsonObject qc = config["quantization_config"].toObject();
        QCOMPARE(qc["quant_method"].toString(), QString("compressed-tensors"));
        QCOMPARE(qc["format"].toString(), QString("pack-quantized"));
        QCOMPARE(qc["quantization_status"].toString(), QString("compressed"));
        QCOMPARE(qc["ignore"].toArray(), QJsonArray({"lm_head"}));
        const QJsonObject g = qc["config_groups"].toObject()["group_0"].toObject();
        QCOMPARE(g["targets"].toArray(), QJsonArray({"Linear"}));
        QVERIFY(g["input_activations"].isNull());
        const QJsonObject wt = g["weights"].toObject();
        QCOMPARE(wt["num_bits"].toInt(), 4);
        QCOMPARE(wt["strategy"].toString(), QString("group"));
        QCOMPARE(wt["group_size"].toInt(), 32);
        QCOMPARE(wt["symmetric"].toBool(), false);
        QCOMPARE(wt["type"].toString(), QString("int"));
        QCOMPARE(config["torch_dtype"].toString(), QString("float32"));
        const QJsonObject header = safetensorsHeader(out + "/model.safetensors");
        const QString q = "model.layers.0.self_attn.q_proj.";
        QCOMPARE(header[q + "weight_packed"].toObject()["dtype"].toString(), QString("I32"));
        QCOMPARE(header[q + "weight_packed"].toObject()["shape"].toArray(), QJsonArray({128, 16}));  // [out, in/8]
        QCOMPARE(header[q + "weight_scale"].toObject()["shape"].toArray(), QJsonArray({128, 4}));
        QCOMPARE(header[q + "weight_zero_point"].toObject()["shape"].toArray(), QJsonArray({16, 4}));
        QCOMPARE(header[q + "weight_shape"].toObject()["dtype"].toString(), QString("I64"));
        QVERIFY(!header.contains(q + "weight"));
        QVERIFY(leftovers(tmp_.path()).isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT(w_->statusText().contains("compressed-tensors"), 5000);
        QVERIFY(AppContext::sameConfig(ctx()->workbench()->applied(), cfg_));
    }

    // (b) int8 while w4 is applied: the dialog shows the engine's check_exportable message,
    //     and an export forced anyway is refused by the engine in the worker: the window shows
    //     the same message, nothing is written, the model stays.
    void refusedFormatShowsEngineMessage() {
        ref_->apply(cfg_);
        const QString want = ui::qstr(ref_->export_problem(qs::ExportFormat::Int8));
        QVERIFY(!want.isEmpty());
        QVERIFY2(want.contains("int8"), qPrintable(want));
        ExportDialog* dlg = openDialog();
        QVERIFY(dlg);
        const QString out = QDir(tmp_.path()).filePath("refused-int8");
        dlg->formatCombo()->setCurrentIndex(dlg->formatCombo()->findData("int8"));
        dlg->setOutputDir(out);
        QTRY_VERIFY_WITH_TIMEOUT(!dlg->checking(), kLong);
        QCOMPARE(dlg->problem(), want);
        QCOMPARE(dlg->checkLabel()->text(), want);
        QVERIFY(!dlg->exportButton()->isEnabled());

        auto wb = ctx()->workbench();
        QSignalSpy failed(dlg, &ExportDialog::exportFailed);
        QVERIFY(dlg->startExport());
        QVERIFY(failed.wait(kLong));
        QVERIFY(waitIdle());
        QCOMPARE(failed.at(0).at(0).toString(), want);
        const QString err = w_->errorText();
        QVERIFY2(err.contains("Could not export the model."), qPrintable(err));
        QVERIFY2(err.contains(want.toHtmlEscaped()), qPrintable(err));
        QVERIFY(dlg->statusLabel()->text().contains(want));
        QVERIFY(!QFileInfo::exists(out));
        QVERIFY(leftovers(tmp_.path()).isEmpty());
        QCOMPARE(ctx()->workbench(), wb);
        QVERIFY(AppContext::sameConfig(ctx()->applied(), cfg_));

        // awq-gemm of the same configuration is fine: the message goes away.
        dlg->setFormat(qs::ExportFormat::AwqGemm);
        QTRY_VERIFY_WITH_TIMEOUT(!dlg->checking(), kLong);
        QCOMPARE(dlg->problem(), QString());
        dlg->close();
    }

    // (c) Cancel while the export writes: no output folder and no temporary folder left.
    void cancelLeavesNothing() {
        ExportDialog* dlg = openDialog();
        QVERIFY(dlg);
        dlg->setFormat(qs::ExportFormat::Fake);
        const QString out = QDir(tmp_.path()).filePath("cancelled-fake");
        dlg->setOutputDir(out);
        QTRY_VERIFY_WITH_TIMEOUT(!dlg->checking() && dlg->exportButton()->isEnabled(), kLong);
        // Hold the worker at its first "writing" report, so Cancel lands in the middle of writing.
        std::atomic<bool> paused{false};
        QSemaphore go;
        dlg->setWorkerProgressHook([&](double, const std::string& m) {
            if (m.rfind("writing ", 0) == 0 && !paused.exchange(true)) go.tryAcquire(1, 120000);
        });
        QSignalSpy cancelled(dlg, &ExportDialog::exportCancelled);
        QTest::mouseClick(dlg->exportButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(paused.load(), kLong);
        QVERIFY(dlg->running());
        QCOMPARE(dlg->cancelButton()->text(), QString("Cancel"));
        QVERIFY(ctx()->modelBusy());                 // Apply / Run wait for the export
        QCOMPARE(leftovers(tmp_.path()).size(), 1);  // the partial export, in its temporary folder
        QVERIFY(!QFileInfo::exists(out));
        QTest::mouseClick(dlg->cancelButton(), Qt::LeftButton);
        go.release();
        QVERIFY(cancelled.wait(kLong));
        QVERIFY(waitIdle());
        dlg->setWorkerProgressHook({});
        QVERIFY(!QFileInfo::exists(out));
        QVERIFY2(leftovers(tmp_.path()).isEmpty(), qPrintable(leftovers(tmp_.path()).join(", ")));
        QCOMPARE(dlg->statusLabel()->text(), QString("Cancelled; nothing was written."));
        QVERIFY(dlg->isVisible());
        QVERIFY(w_->errorText().isEmpty() || !w_->errorText().contains("cancel", Qt::CaseInsensitive));
        QVERIFY(AppContext::sameConfig(ctx()->workbench()->applied(), cfg_));
        // The dialog can export again afterwards.
        QSignalSpy done(dlg, &ExportDialog::exportFinished);
        QTRY_VERIFY_WITH_TIMEOUT(dlg->exportButton()->isEnabled(), kLong);
        QTest::mouseClick(dlg->exportButton(), Qt::LeftButton);
        QVERIFY(done.wait(kLong));
        QVERIFY(waitIdle());
        QVERIFY(QFileInfo(out + "/model.safetensors").isFile());
        const QJsonObject fake = readJson(out + "/config.json");
        QCOMPARE(fake["model_type"].toString(), QString("llama"));
        QVERIFY(!fake.contains("quantization_config"));  // fake: a plain checkpoint
    }

    // "fp16 scales" in the methods panel: the awq-gemm export then holds exactly the session's
    // fake-quant weights, and QuantScope reopens the folder (packed Linears) to the same values.
    void fp16ScalesExportReopensToTheSameWeights() {
        MethodsPanel* panel = w_->methodsPanel();
        auto* fp16 = panel->findChild<QCheckBox*>("fp16ScalesCheck");
        QVERIFY(fp16 && fp16->isEnabled());
        fp16->setChecked(true);
        QVERIFY(waitIdle());
        QVERIFY(ctx()->config().weight.fp16_scales);
        QCOMPARE(ui::qstr(ctx()->config().describe()), QString("w4 g32 asym fp16-scales"));
        QTest::mouseClick(panel->applyButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->configApplied() && !ctx()->modelBusy(), kLong);
        QVERIFY(waitIdle());
        const std::string linear = "model.layers.1.mlp.down_proj";
        const Matrix fakeW = ctx()->workbench()->weight(linear, true);
        const Matrix origW = ctx()->workbench()->weight(linear, false);
        QVERIFY(fakeW.data != origW.data);

        ExportDialog* dlg = openDialog();
        QVERIFY(dlg);
        QVERIFY(dlg->configurationLabel()->text().contains("fp16-scales"));
        dlg->setFormat(qs::ExportFormat::AwqGemm);
        const QString out = QDir(tmp_.path()).filePath("fp16-scales-awq");
        dlg->setOutputDir(out);
        QTRY_VERIFY_WITH_TIMEOUT(!dlg->checking() && dlg->exportButton()->isEnabled(), kLong);
        QSignalSpy done(dlg, &ExportDialog::exportFinished);
        QTest::mouseClick(dlg->exportButton(), Qt::LeftButton);
        QVERIFY(done.wait(kLong));
        QVERIFY(waitIdle());

        QSignalSpy loaded(w_.get(), &MainWindow::modelChanged);
        w_->openModel(out);
        QVERIFY(loaded.wait(kLong));
        QVERIFY(waitIdle());
        QVERIFY(ctx()->hasModel());
        QVERIFY2(ui::qstr(ctx()->summary()->source_dir).endsWith("fp16-scales-awq"), qPrintable(w_->errorText()));
        const Matrix back = ctx()->workbench()->weight(linear, true);
        QCOMPARE(back.rows, fakeW.rows);
        QCOMPARE(back.cols, fakeW.cols);
        QVERIFY(back.data == fakeW.data);  // bit for bit
    }
};

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    ExportGuiTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_workbench_export.moc"
