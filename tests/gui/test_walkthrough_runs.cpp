// Issue #14, items 4, 5, 7, 8 and 10: the pages that run long jobs (perplexity, sweep, export,
// generate, AWQ auto-scale Apply) driven through the real window on the bundled model
// (offscreen); plus the perplexity results table as a QAbstractTableModel checked by
// QAbstractItemModelTester.
#include <QAbstractItemModelTester>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTextBrowser>
#include <QtTest/QtTest>

#include "awq_page.h"
#include "export_dialog.h"
#include "generate_page.h"
#include "line_plot.h"
#include "methods_panel.h"
#include "perplexity_page.h"
#include "sweep_dialog.h"
#include "ui_util.h"
#include "walkthrough_util.h"

using qs::gui::test::kLong;

namespace {

bool close(double a, double b, double rel = 1e-9) {
    return std::fabs(a - b) <= rel * std::max({1e-12, std::fabs(a), std::fabs(b)});
}

}  // namespace

class RunsTest : public QObject {
    Q_OBJECT

  private:
    qs::gui::test::Session s_;
    QTemporaryDir tmp_;
    AppContext* ctx() const { return s_.ctx(); }
    MethodsPanel* panel() const { return s_.w->methodsPanel(); }
    PerplexityPage* ppl() const { return s_.w->perplexityPage(); }
    QProgressBar* pplBar() const { return ppl()->findChild<QProgressBar*>("pplProgress"); }
    // Applies `cfg` with the Apply button.
    void applyWithButton(const qs::MethodConfig& cfg) {
        panel()->setConfig(cfg);
        QVERIFY(s_.idle());
        if (!ctx()->configApplied()) {
            QTest::mouseClick(panel()->applyButton(), Qt::LeftButton);
            QTRY_VERIFY_WITH_TIMEOUT(ctx()->configApplied() && !ctx()->modelBusy(), kLong);
        }
        QVERIFY(s_.idle());
    }
    // Starts a perplexity run over all windows and waits until at least one window is done.
    void startLongRun() {
        ppl()->windowsSpin()->setValue(0);
        QTest::mouseClick(ppl()->runButton(), Qt::LeftButton);
        QVERIFY(ppl()->running());
        QTRY_VERIFY_WITH_TIMEOUT(pplBar()->value() > 0, kLong);
    }
    int64_t availableWindows(int64_t seqlen) {
        PplRequest r;
        r.seqlen = seqlen;
        r.nsamples = 1;
        return s_.ref->perplexity(r, {}).tokens / seqlen;
    }

  private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        QVERIFY(s_.open());
    }
    void cleanupTestCase() { s_.close(); }

    // 4a. Cancel: the bar says where the run stopped ("Cancelled at N %", never 100 %), and the
    //     page names the configuration the engine reports the model carries.
    void cancelShowsWhereItStopped() {
        s_.w->showView("perplexity");
        startLongRun();
        const int at = pplBar()->value();
        QSignalSpy cancelled(ppl(), &PerplexityPage::runCancelled);
        QTest::mouseClick(ppl()->cancelButton(), Qt::LeftButton);
        QVERIFY(cancelled.wait(kLong));
        QVERIFY(s_.idle());
        QVERIFY2(pplBar()->value() < pplBar()->maximum(), qPrintable(pplBar()->text()));
        QVERIFY2(pplBar()->text().startsWith("Cancelled at "), qPrintable(pplBar()->text()));
        QVERIFY(!pplBar()->text().contains("100"));
        QVERIFY(pplBar()->value() >= at);
        const QString carries = ui::qstr(ctx()->workbench()->applied().describe());
        QVERIFY2(ppl()->statusLabel()->text().contains(carries),
                 qPrintable(ppl()->statusLabel()->text() + " / engine: " + carries));
        ppl()->windowsSpin()->setValue(3);
    }

    // 4b. The running plot's title counts the windows that exist (min(requested, available)).
    void plotTitleCountsAvailableWindows() {
        s_.w->showView("perplexity");
        const int64_t avail = availableWindows(ppl()->seqlenSpin()->value());
        QVERIFY(avail > 0 && avail < 9999);
        ppl()->windowsSpin()->setValue(9999);
        QTest::mouseClick(ppl()->runButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(pplBar()->value() > 0, kLong);
        const QString title = ppl()->runningPlot()->title();
        QSignalSpy cancelled(ppl(), &PerplexityPage::runCancelled);
        QTest::mouseClick(ppl()->cancelButton(), Qt::LeftButton);
        QVERIFY(cancelled.wait(kLong));
        QVERIFY(s_.idle());
        QVERIFY2(!title.contains("9999"), qPrintable(title));
        QVERIFY2(title.contains(QString("%1 windows").arg(avail)), qPrintable(title));
        ppl()->windowsSpin()->setValue(3);
    }

    // 4c. A new run clears the previous result header until its own result arrives.
    void newRunClearsPreviousResult() {
        s_.w->showView("perplexity");
        ppl()->windowsSpin()->setValue(2);
        QSignalSpy done(ppl(), &PerplexityPage::runFinished);
        QTest::mouseClick(ppl()->runButton(), Qt::LeftButton);
        QVERIFY(done.wait(kLong));
        QVERIFY(s_.idle());
        auto* header = ppl()->findChild<QLabel*>("pplValue");
        QVERIFY(header);
        const QString old = QString::number(ppl()->rows().back().data.ppl, 'f', 3);
        QVERIFY2(header->text().contains(old), qPrintable(header->text()));
        startLongRun();
        QVERIFY2(!header->text().contains(old), qPrintable(header->text()));
        QSignalSpy cancelled(ppl(), &PerplexityPage::runCancelled);
        QTest::mouseClick(ppl()->cancelButton(), Qt::LeftButton);
        QVERIFY(cancelled.wait(kLong));
        QVERIFY(s_.idle());
        ppl()->windowsSpin()->setValue(3);
    }

    // 4d. Cancel never changes which configuration the model carries (engine side: #12, merged;
    //     this failed before it as an expected failure).
    void cancelKeepsAppliedConfiguration() {
        qs::MethodConfig cfg = AppContext::defaultConfig();
        cfg.weight.bits = 3;
        applyWithButton(cfg);
        s_.w->showView("perplexity");
        ppl()->baselineCheck()->setChecked(true);
        ppl()->clearResults();  // no baseline row: the run evaluates the original model first
        startLongRun();
        QSignalSpy cancelled(ppl(), &PerplexityPage::runCancelled);
        QTest::mouseClick(ppl()->cancelButton(), Qt::LeftButton);
        QVERIFY(cancelled.wait(kLong));
        QVERIFY(s_.idle());
        // The page shows what the engine reports, whatever that is.
        QVERIFY(ppl()->statusLabel()->text().contains(ui::qstr(ctx()->workbench()->applied().describe())));
        QVERIFY2(AppContext::sameConfig(ctx()->workbench()->applied(), cfg),
                 ctx()->workbench()->applied().describe().c_str());
        QVERIFY(AppContext::sameConfig(ctx()->applied(), cfg));
        QVERIFY2(ppl()->statusLabel()->text().contains(ui::qstr(cfg.describe())),
                 qPrintable(ppl()->statusLabel()->text()));
        ppl()->windowsSpin()->setValue(3);
        panel()->setConfig(AppContext::defaultConfig());
        QVERIFY(s_.idle());
    }

    // The results table is a QAbstractTableModel (checked by QAbstractItemModelTester while rows
    // are added and cleared); the view shows the model's cells.
    void resultsTableIsAModel() {
        s_.w->showView("perplexity");
        auto* view = ppl()->findChild<QTableView*>("resultsTable");
        QVERIFY(view);
        QAbstractItemModel* model = view->model();
        QVERIFY(model);
        QVERIFY(qobject_cast<QAbstractTableModel*>(model));
        QVERIFY2(!qobject_cast<QTableWidget*>(view), "a QTableWidget, not a view of the page's own model");
        QCOMPARE(model->metaObject()->className(), "PplResultsModel");
        QAbstractItemModelTester tester(model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        ppl()->clearResults();
        QCOMPARE(model->rowCount(), 0);
        ppl()->windowsSpin()->setValue(2);
        QSignalSpy done(ppl(), &PerplexityPage::runFinished);
        QTest::mouseClick(ppl()->runButton(), Qt::LeftButton);
        QVERIFY(done.wait(kLong));
        QVERIFY(s_.idle());
        QCOMPARE(model->rowCount(), static_cast<int>(ppl()->rows().size()));
        QVERIFY(model->rowCount() >= 1);
        const PplRow& last = ppl()->rows().back();
        const int r = model->rowCount() - 1;
        QCOMPARE(model->data(model->index(r, 2)).toString(), QString::number(last.data.ppl, 'f', 3));
        QCOMPARE(model->data(model->index(r, 0)).toString(), ui::qstr(last.config.describe()));
        QCOMPARE(model->headerData(2, Qt::Horizontal).toString(), QString("Perplexity"));
        QVERIFY(model->data(model->index(r, 1), Qt::ToolTipRole).toString().contains(ui::qstr(last.data.protocol)));
        ppl()->clearResults();
        QCOMPARE(model->rowCount(), 0);
    }

    // 5. Sweep: the title lists every active method (here the panel's rotation), the bits axis
    //    has whole-number ticks only, and the original model's perplexity is drawn as a baseline.
    void sweepNamesMethodsTicksAndBaseline() {
        qs::MethodConfig cfg = AppContext::defaultConfig();
        cfg.methods = {"rotate", "rtn"};
        cfg.rotation = qs::RotationKind::Hadamard;
        panel()->setConfig(cfg);
        QVERIFY(s_.idle());
        s_.w->showView("perplexity");
        ppl()->openSweep();
        SweepDialog* dlg = ppl()->sweepDialog();
        dlg->setParameter(SweepDialog::BitsGroup);
        dlg->setValues("3, 4", "128");
        dlg->findChild<QSpinBox*>("sweepWindows")->setValue(2);
        dlg->findChild<QSpinBox*>("sweepSeqlen")->setValue(256);
        QSignalSpy done(dlg, &SweepDialog::sweepFinished);
        QTest::mouseClick(dlg->findChild<QPushButton*>("sweepRun"), Qt::LeftButton);
        QVERIFY(done.wait(kLong));
        QVERIFY(s_.idle());
        auto* plot = dlg->plot();
        QVERIFY2(plot->title().contains("rotate"), qPrintable(plot->title()));
        QVERIFY2(!plot->title().contains("(RTN)"), qPrintable(plot->title()));
        plot->plot()->replot();
        const QVector<double> ticks = plot->plot()->xAxis->tickVector();
        QVERIFY(!ticks.isEmpty());
        for (double t : ticks) QVERIFY2(t == std::round(t), qPrintable(QString("tick at %1").arg(t)));
        // Baseline: the original model, same protocol.
        PplRequest req;
        req.seqlen = 256;
        req.nsamples = 2;
        s_.ref->apply(AppContext::originalConfig());
        const double base = s_.ref->perplexity(req, {}).ppl;
        int found = -1;
        for (int i = 0; i < plot->seriesCount(); ++i)
            if (plot->seriesName(i).contains("original")) found = i;
        QVERIFY2(found >= 0, "no baseline series");
        auto* g = plot->graph(found);
        QVERIFY(g->dataCount() >= 1);
        for (int i = 0; i < g->dataCount(); ++i)
            QVERIFY2(close(g->data()->at(i)->value, base, 1e-6),
                     qPrintable(QString("%1 vs %2").arg(g->data()->at(i)->value).arg(base)));
        dlg->close();
        panel()->setConfig(AppContext::defaultConfig());
        QVERIFY(s_.idle());
    }

    // 7. Export dialog: going back from awq-gemm to fake restores the dtype choice; the
    //    provenance file counts the quantized Linears; refusals use the workbench's words and
    //    name every problem; reopening shows no old error; the description shows all its text.
    void exportDialogTellsTheTruth() {
        qs::MethodConfig cfg = AppContext::defaultConfig();
        applyWithButton(cfg);
        s_.w->openExportDialog();
        ExportDialog* dlg = s_.w->exportDialog();
        QVERIFY(dlg->isVisible());
        QCOMPARE(dlg->dtypeCombo()->currentData().toString(), QString());  // source dtype
        dlg->setFormat(qs::ExportFormat::AwqGemm);
        QCOMPARE(dlg->dtypeCombo()->currentData().toString(), QString("float16"));
        dlg->setFormat(qs::ExportFormat::Fake);
        QCOMPARE(dlg->dtypeCombo()->currentData().toString(), QString());
        QVERIFY2(qs::gui::test::labelShowsAll(dlg->descriptionLabel()), qPrintable(dlg->descriptionLabel()->text()));
        dlg->setFormat(qs::ExportFormat::AwqGemm);
        QVERIFY2(qs::gui::test::labelShowsAll(dlg->descriptionLabel()), qPrintable(dlg->descriptionLabel()->text()));
        dlg->setFormat(qs::ExportFormat::Fake);

        // A fake export: quantscope_export.json counts every quantized Linear.
        const QString out = QDir(tmp_.path()).filePath("fake");
        dlg->setOutputDir(out);
        QTRY_VERIFY_WITH_TIMEOUT(!dlg->checking() && dlg->exportButton()->isEnabled(), kLong);
        QSignalSpy done(dlg, &ExportDialog::exportFinished);
        QTest::mouseClick(dlg->exportButton(), Qt::LeftButton);
        QVERIFY(done.wait(kLong));
        QVERIFY(s_.idle());
        QFile prov(out + "/quantscope_export.json");
        QVERIFY(prov.open(QIODevice::ReadOnly));
        int decoder = 0;
        for (const auto& l : ctx()->summary()->linears) decoder += l.block >= 0;
        QCOMPARE(QJsonDocument::fromJson(prov.readAll()).object()["quantized_linears"].toInt(), decoder);

        // Refused: every problem, in the workbench's words (no command-line flags).
        qs::MethodConfig bad = AppContext::defaultConfig();
        bad.weight.bits = 3;
        bad.weight.symmetric = true;
        bad.weight.granularity = qs::Granularity::PerChannel;
        applyWithButton(bad);
        s_.w->openExportDialog();
        dlg->setFormat(qs::ExportFormat::AwqGemm);
        QTRY_VERIFY_WITH_TIMEOUT(!dlg->checking() && !dlg->problem().isEmpty(), kLong);
        const QString p = dlg->checkLabel()->text();
        QVERIFY2(!p.contains("--"), qPrintable(p));
        QVERIFY2(p.contains("4-bit") || p.contains("4 bits"), qPrintable(p));
        QVERIFY2(p.contains("symmetric", Qt::CaseInsensitive), qPrintable(p));
        QVERIFY2(p.contains("per-group") || p.contains("group size"), qPrintable(p));
        QVERIFY2(qs::gui::test::labelShowsAll(dlg->checkLabel()), qPrintable(p));

        // An error, then Close and reopen: the old error is gone.
        dlg->setFormat(qs::ExportFormat::Fake);
        QTRY_VERIFY_WITH_TIMEOUT(!dlg->checking() && dlg->exportButton()->isEnabled(), kLong);
        dlg->setOutputDir(out);  // exists, "Replace" unticked
        QVERIFY(!dlg->startExport());
        QVERIFY(dlg->statusLabel()->text().startsWith("Not exported"));
        QTest::mouseClick(dlg->cancelButton(), Qt::LeftButton);  // "Close"
        QVERIFY(!dlg->isVisible());
        s_.w->openExportDialog();
        QVERIFY2(dlg->statusLabel()->text().isEmpty(), qPrintable(dlg->statusLabel()->text()));
        dlg->close();
        panel()->setConfig(AppContext::defaultConfig());
        QVERIFY(s_.idle());
    }

    // 8. Generate with the default prompt: both models write a story (not just <|end_story|>).
    void defaultPromptWritesAStory() {
        s_.w->showView("generate");
        GeneratePage* page = s_.w->generatePage();
        const QString prompt = page->promptEdit()->toPlainText();
        QSignalSpy done(page, &GeneratePage::generated);
        QTest::mouseClick(page->findChild<QPushButton*>("generateButton"), Qt::LeftButton);
        QVERIFY(done.wait(kLong));
        QVERIFY(s_.idle());
        for (QTextBrowser* out : {page->originalOutput(), page->currentOutput()}) {
            const QString text = out->toPlainText();
            QVERIFY2(text.startsWith(prompt), qPrintable(text));
            const QString more = text.mid(prompt.size()).remove("<|end_story|>").simplified();
            QVERIFY2(more.split(' ', Qt::SkipEmptyParts).size() >= 10, qPrintable(text));
        }
        // What the engine writes for the original model.
        const GenerateData ref = s_.ref->generate(prompt.toStdString(), 80, false, 1.0, 0, true);
        QVERIFY(page->originalOutput()->toPlainText().startsWith(ui::qstr(ref.text).left(prompt.size() + 20)));
    }

    // 10. AWQ auto-scale Apply: a progress panel with ETA and Cancel under Apply; each group's
    //     loss curve is drawn on the AWQ page as soon as it is searched, during the run.
    void awqProgressPanelAndLiveCurves() {
        qs::MethodConfig cfg = AppContext::defaultConfig();
        cfg.methods = {"awq", "rtn"};
        cfg.calib_samples = 64;
        panel()->setConfig(cfg);
        QVERIFY(s_.idle());
        s_.w->showView("awq");
        auto* curves = s_.w->awqPage()->curves();
        QTest::mouseClick(panel()->applyButton(), Qt::LeftButton);
        auto* box = s_.w->findChild<QWidget*>("applyProgress");
        QVERIFY2(box, "no progress panel");
        QTRY_VERIFY_WITH_TIMEOUT(box->isVisible(), 5000);
        auto* cancel = box->findChild<QPushButton*>("applyCancel");
        auto* eta = box->findChild<QLabel*>("applyEta");
        QVERIFY(cancel && eta);
        QVERIFY(cancel->isEnabled());
        int liveCurves = 0;
        QString etaText;
        while (ctx()->jobs()->busy("apply")) {
            if (curves->seriesCount() > 0) liveCurves = std::max(liveCurves, curves->seriesCount());
            if (eta->text().contains("ETA")) etaText = eta->text();
            QTest::qWait(2);
        }
        QVERIFY(s_.idle());
        QVERIFY2(liveCurves >= 1, "no loss curve was drawn while the search ran");
        QVERIFY2(!etaText.isEmpty(), "no ETA while the search ran");
        QVERIFY(ctx()->configApplied());
        QCOMPARE(curves->seriesCount(), static_cast<int>(ctx()->lastApply()->awq.size()));
        QTRY_VERIFY_WITH_TIMEOUT(!box->isVisible(), 5000);
        // A perplexity run with its baseline (evaluated on the original weights) leaves the curves
        // of the search the model still carries on the page.
        const int searched = curves->seriesCount();
        ppl()->baselineCheck()->setChecked(true);
        ppl()->clearResults();
        ppl()->windowsSpin()->setValue(2);
        QSignalSpy ran(ppl(), &PerplexityPage::runFinished);
        QTest::mouseClick(ppl()->runButton(), Qt::LeftButton);
        QVERIFY(ran.wait(kLong));
        QVERIFY(s_.idle());
        QCOMPARE(static_cast<int>(ppl()->rows().size()), 2);
        QVERIFY(ctx()->configApplied());
        QVERIFY2(ctx()->lastApply(), "the report of the applied search was dropped");
        QCOMPARE(curves->seriesCount(), searched);

        // Cancel from the panel: the search stops, the panel says so.
        cfg.duo_scaling = true;
        panel()->setConfig(cfg);
        QVERIFY(s_.idle());
        QTest::mouseClick(panel()->applyButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(box->isVisible() && curves->seriesCount() >= 1, kLong);
        QTest::mouseClick(cancel, Qt::LeftButton);
        QVERIFY(s_.idle());
        QVERIFY(!ctx()->jobs()->busy("apply"));
        QVERIFY(!ctx()->configApplied());
        const QString status = s_.w->statusText() + " " + box->findChild<QLabel*>("applyState")->text();
        QVERIFY2(status.contains("ancelled"), qPrintable(status));
        panel()->setConfig(AppContext::defaultConfig());
        QVERIFY(s_.idle());
    }
};

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    RunsTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_walkthrough_runs.moc"
