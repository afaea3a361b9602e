// The window over the session engine (#12), driven as a user would: a preview finishes while a
// perplexity run is in progress, Cancel keeps the applied configuration, and the Activations
// page shows statistics progressively while the calibration pass runs.
#include <QApplication>
#include <QComboBox>
#include <QPushButton>
#include <QToolButton>
#include <QSpinBox>
#include <QtTest/QtTest>

#include <memory>

#include "activations_page.h"
#include "job_status.h"
#include "app_context.h"
#include "main_window.h"
#include "methods_panel.h"
#include "perplexity_page.h"
#include "workbench_test_util.h"

using qs::gui::test::kLong;

class WorkbenchSessionTest : public QObject {
    Q_OBJECT

  private:
    std::unique_ptr<MainWindow> w_;
    AppContext* ctx() const { return w_->context(); }
    bool waitIdle(int ms = kLong) { return qs::gui::test::waitIdle(ctx(), ms); }
    QComboBox* bits() const { return w_->methodsPanel()->findChild<QComboBox*>("bitsCombo"); }
    void setBits(int b) { bits()->setCurrentIndex(bits()->findData(b)); }
    // Starts a long perplexity run (all windows) and waits until its first window is plotted.
    void startLongRun(PerplexityPage* page) {
        page->windowsSpin()->setValue(0);
        QTest::mouseClick(page->runButton(), Qt::LeftButton);
        QVERIFY(page->running());
        QTRY_VERIFY_WITH_TIMEOUT(page->windowsDone() > 0, kLong);
    }

  private slots:
    void initTestCase() {
        w_ = std::make_unique<MainWindow>();
        w_->resize(1600, 1000);
        w_->show();
        QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
        QSignalSpy loaded(w_.get(), &MainWindow::modelChanged);
        w_->openModel(QString::fromStdString(default_model_path()));
        QVERIFY(loaded.wait(kLong));
        QVERIFY(waitIdle());
    }

    void cleanupTestCase() { w_.reset(); }

    // A preview of the selected Linear computes and shows while the perplexity runs: it reads
    // the originals and the cached statistics, never the model the run is using.
    void previewFinishesDuringPerplexity() {
        w_->showView("perplexity");
        PerplexityPage* page = w_->perplexityPage();
        startLongRun(page);
        QSignalSpy ready(ctx(), &AppContext::previewReady);
        setBits(2);
        QVERIFY(ready.wait(60000));
        QVERIFY2(page->running(), "the perplexity run had ended before the preview: the test proves nothing");
        QVERIFY(ctx()->preview());
        QCOMPARE(ctx()->preview()->spec.substr(0, 2), std::string("w2"));
        QSignalSpy cancelled(page, &PerplexityPage::runCancelled);
        QTest::mouseClick(page->cancelButton(), Qt::LeftButton);
        QVERIFY(cancelled.wait(kLong));
        QVERIFY(waitIdle());
        setBits(4);
        QVERIFY(waitIdle());
    }

    // Cancel during a perplexity run keeps the configuration the model carries (it used to
    // revert the model to its original weights).
    void cancelKeepsTheAppliedConfiguration() {
        setBits(3);
        QVERIFY(waitIdle());
        QTest::mouseClick(w_->methodsPanel()->findChild<QPushButton*>("applyButton"), Qt::LeftButton);
        QVERIFY(waitIdle());
        QCOMPARE(ctx()->applied().weight.bits, 3);
        QVERIFY(ctx()->applied().quantizes_weights());
        w_->showView("perplexity");
        PerplexityPage* page = w_->perplexityPage();
        startLongRun(page);
        QSignalSpy cancelled(page, &PerplexityPage::runCancelled);
        QTest::mouseClick(page->cancelButton(), Qt::LeftButton);
        QVERIFY(cancelled.wait(kLong));
        QVERIFY(waitIdle());
        QVERIFY(ctx()->applied().quantizes_weights());
        QCOMPARE(ctx()->applied().weight.bits, 3);
        QVERIFY(AppContext::sameConfig(ctx()->applied(), ctx()->workbench()->applied()));
        page->windowsSpin()->setValue(10);
    }

    // Long work shows its progress with an ETA in the status bar, and the status bar's Cancel
    // stops it.
    void statusBarEtaAndCancel() {
        QCOMPARE(JobStatus::eta(10.0, 0.5), QString("ETA 10 s"));
        QCOMPARE(JobStatus::eta(30.0, 0.2), QString("ETA 2 min 0 s"));
        QCOMPARE(JobStatus::eta(0.5, 0.5), QString());
        w_->showView("perplexity");
        PerplexityPage* page = w_->perplexityPage();
        startLongRun(page);
        auto* status = w_->findChild<JobStatus*>("jobStatus");
        QVERIFY(status);
        QTRY_VERIFY_WITH_TIMEOUT(status->etaText().startsWith("ETA "), kLong);
        QVERIFY(status->isVisible());
        QCOMPARE(status->channel(), QString("ppl"));
        QSignalSpy cancelled(page, &PerplexityPage::runCancelled);
        QTest::mouseClick(status->cancelButton(), Qt::LeftButton);
        QVERIFY(cancelled.wait(kLong));
        QVERIFY(waitIdle());
        QTRY_VERIFY_WITH_TIMEOUT(!status->isVisible(), 10000);
        page->windowsSpin()->setValue(10);
    }

    // While the calibration pass runs, the Activations plots show the statistics so far with
    // the number of calibration blocks behind them, then the final statistics.
    void activationsShowProgressively() {
        QSignalSpy loaded(w_.get(), &MainWindow::modelChanged);
        w_->openModel(QString::fromStdString(default_model_path()));  // fresh statistics cache
        QVERIFY(loaded.wait(kLong));
        w_->showView("activations");
        auto* page = w_->findChild<ActivationsPage*>();
        QVERIFY(page);
        QSignalSpy partial(page, &ActivationsPage::partialShown);
        QSignalSpy shown(page, &ActivationsPage::channelsShown);
        QVERIFY(shown.wait(kLong));
        QVERIFY2(!partial.isEmpty(), "no progressive statistics were drawn before the final ones");
        const int done = partial.first().at(0).toInt(), total = partial.first().at(1).toInt();
        QVERIFY(done > 0 && done < total);
        QCOMPARE(static_cast<int64_t>(total), ctx()->config().calib_samples);
        QVERIFY(waitIdle());
        QCOMPARE(page->before().samples_done, page->before().samples_total);
    }
};

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    WorkbenchSessionTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_workbench_session.moc"
