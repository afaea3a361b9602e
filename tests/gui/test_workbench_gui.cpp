// Qt Test suite driving the real workbench window on the offscreen platform. Every number
// a widget shows is compared with the value computed by calling the engine (through the
// torch-free Workbench bridge) directly on a second copy of the same model.
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QTextBrowser>
#include <QSpinBox>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTextBrowser>
#include <QTextDocumentFragment>
#include <QTimer>
#include <QPlainTextEdit>
#include <QTreeWidget>
#include <QtTest/QtTest>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "activations_page.h"
#include "app_context.h"
#include "awq_page.h"
#include "channel_magnitude_view.h"
#include "error_matrix_panel.h"
#include "error_page.h"
#include "generate_page.h"
#include "heatmap_view.h"
#include "histogram_view.h"
#include "layer_navigator.h"
#include "line_plot.h"
#include "main_window.h"
#include "workbench_test_util.h"
#include "methods_panel.h"
#include "model_page.h"
#include "model_session.h"
#include "perplexity_page.h"
#include "sweep_dialog.h"
#include "ui_util.h"
#include "weights_page.h"
#include "workbench.h"

namespace {

using qs::gui::test::kLong;

QVector<double> toD(const std::vector<float>& v) {
    QVector<double> out;
    for (float x : v) out << double(x);
    return out;
}

bool close(double a, double b, double rel = 1e-6) {
    return std::fabs(a - b) <= rel * std::max({1e-12, std::fabs(a), std::fabs(b)});
}

QString outDir() {
    QString d = qEnvironmentVariable("QS_GUI_TEST_OUTPUT");
#ifdef QS_GUI_TEST_OUTPUT_DIR
    if (d.isEmpty()) d = QStringLiteral(QS_GUI_TEST_OUTPUT_DIR);
#endif
    if (d.isEmpty()) d = QDir::temp().filePath("quantscope-gui-tests");
    QDir().mkpath(d);
    return d;
}

}  // namespace

class WorkbenchGuiTest : public QObject {
    Q_OBJECT

  private:
    std::unique_ptr<MainWindow> w_;
    std::shared_ptr<Workbench> ref_;  // the same model, driven directly
    AppContext* ctx() const { return w_->context(); }
    bool waitIdle(int ms = kLong) { return qs::gui::test::waitIdle(ctx(), ms); }
    // Clicks the Linear in the layer navigator, as a user would.
    void selectLayer(const QString& name) {
        LayerNavigator* nav = w_->navigator();
        QTreeWidgetItem* item = nullptr;
        for (QTreeWidgetItemIterator it(nav); *it; ++it)
            if ((*it)->data(0, Qt::UserRole).toString() == name) item = *it;
        QVERIFY(item);
        nav->scrollToItem(item);
        const QRect r = nav->visualItemRect(item);
        QVERIFY(r.isValid());
        QTest::mouseClick(nav->viewport(), Qt::LeftButton, {}, r.center());
        QCOMPARE(ctx()->layer(), name);
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
        QVERIFY(ctx()->hasModel());
        QVERIFY(waitIdle());
        LoadRequest req;
        req.dir = default_model_path();
        ref_ = Workbench::open(req, {});
        QVERIFY(ref_->has_tokenizer());
    }

    void cleanupTestCase() {
        w_.reset();  // closes the window: cancels and joins every job
        ref_.reset();
    }

    // 1. The model tree lists every Linear with its shape and parameters; the summary has the
    //    parameter count and device/dtype.
    void modelTreeAndSummary() {
        w_->showView("model");
        const auto& s = ref_->summary();
        QTreeWidget* tree = w_->modelPage()->tree();
        int linears = 0;
        for (QTreeWidgetItemIterator it(tree); *it; ++it) {
            const QString name = (*it)->data(0, Qt::UserRole).toString();
            if (name.isEmpty()) continue;
            ++linears;
            auto f = std::find_if(s.linears.begin(), s.linears.end(),
                                  [&](const qs::LinearSummary& l) { return ui::qstr(l.name) == name; });
            QVERIFY(f != s.linears.end());
            QCOMPARE((*it)->text(1), QString("[%1, %2]").arg(f->out_features).arg(f->in_features));
            QCOMPARE((*it)->text(3), QString("fp32"));  // nothing applied yet
        }
        QCOMPARE(linears, static_cast<int>(s.linears.size()));
        const QString summary = w_->modelPage()->summaryView()->toPlainText();
        QVERIFY2(summary.contains(ui::commas(s.parameters)), qPrintable(summary));
        QVERIFY(summary.contains("cpu / fp32"));
        QVERIFY(summary.contains("Seed formula at w4 g128 asym"));
        const ui::ModelSizes sz = ui::model_sizes(s, AppContext::defaultConfig());
        QVERIFY(summary.contains(ui::mib(sz.packed_mib)));
    }

    // 2. Activations: the plotted series are the engine's calibration statistics.
    void activationsEqualEngineStatistics() {
        const QString layer = "model.layers.1.mlp.down_proj";
        w_->showView("activations");
        selectLayer(layer);
        ActivationsPage* page = w_->activationsPage();
        QTRY_VERIFY_WITH_TIMEOUT(page->upToDate(), kLong);
        QVERIFY(waitIdle());
        const qs::MethodConfig cfg = ctx()->config();
        const ChannelData ref = ref_->channel_stats(layer.toStdString(), false, cfg);
        QVERIFY(page->showsMax());
        QCOMPARE(page->channelView()->values(), toD(ref.max_abs));
        // Top 1 % highlighted = the largest channels of the engine's statistic, as many as AWQ
        // keep / scale would pick (floor(n * 1 %), the seed notebook's int(0.01 * n)).
        const int k = static_cast<int>(std::floor(ref.max_abs.size() * 0.01));
        std::vector<int> idx(ref.max_abs.size());
        std::iota(idx.begin(), idx.end(), 0);
        std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return ref.max_abs[a] > ref.max_abs[b]; });
        QVector<int> want(idx.begin(), idx.begin() + k);
        QCOMPARE(page->channelView()->outlierChannels(), want);
        QVERIFY(page->channelView()->outlierListText().contains(QString::number(want[0])));

        page->statisticCombo()->setCurrentIndex(page->statisticCombo()->findData("mean"));
        QCOMPARE(page->channelView()->values(), toD(ref.mean_abs));

        const auto rows = ref_->layer_overview(false, cfg);
        QCOMPARE(page->overviewRows().size(), rows.size());
        QCOMPARE(page->overviewPlot()->seriesCount(), 2);
        for (size_t i = 0; i < rows.size(); ++i) QCOMPARE(page->overviewRows()[i].max_of_mean, rows[i].max_of_mean);
        page->statisticCombo()->setCurrentIndex(page->statisticCombo()->findData("max"));

        const int64_t hl = ref_->summary().layers / 2;
        QCOMPARE(page->hiddenView()->values(), toD(ref_->hidden_mean_abs(hl, false)));
    }

    // 3. Weights: heatmap holds the full weight, per-channel max |w| matches, histogram filled.
    void weightsEqualEngine() {
        const QString layer = "model.layers.0.self_attn.q_proj";
        selectLayer(layer);
        w_->showView("weights");
        QTRY_COMPARE_WITH_TIMEOUT(w_->weightsPage()->shownLayer(), layer, kLong);
        QVERIFY(waitIdle());
        const Matrix m = ref_->weight(layer.toStdString(), false);
        auto* hm = w_->weightsPage()->heatmap();
        QCOMPARE(hm->rows(), static_cast<int>(m.rows));
        QCOMPARE(hm->cols(), static_cast<int>(m.cols));
        QCOMPARE(hm->values(), m.data);
        std::vector<float> colMax(m.cols, 0.f);
        for (int64_t r = 0; r < m.rows; ++r)
            for (int64_t c = 0; c < m.cols; ++c) colMax[c] = std::max(colMax[c], std::fabs(m.data[r * m.cols + c]));
        QCOMPARE(w_->weightsPage()->channelMax()->values(), toD(colMax));
        QVERIFY(w_->weightsPage()->histogram()->seriesCount() >= 1);
        // Zooming in to single values works on the full-resolution data.
        hm->zoomTo(3, 5, 4, 4);
        QCOMPARE(hm->valueAt(3, 5), m.data[3 * m.cols + 5]);
    }

    // 4. Quantization error: moving the AWQ factor and the SmoothQuant alpha changes the error
    //    numbers to the engine's values for the same configuration.
    void errorFollowsAwqFactorAndSmoothQuantAlpha() {
        const QString layer = "model.layers.0.mlp.gate_proj";
        selectLayer(layer);
        w_->showView("error");
        MethodsPanel* panel = w_->methodsPanel();
        ErrorPage* page = w_->errorPage();
        panel->awqModeCombo()->setCurrentIndex(panel->awqModeCombo()->findData("awq-scale"));
        QVERIFY(waitIdle());

        // Checks the shown numbers against the engine; (weight mse, output mse) into *out.
        auto check = [&](const char* what, std::pair<double, double>* out) {
            QVERIFY(waitIdle());
            auto shown = page->shown();
            QVERIFY2(shown, what);
            QCOMPARE(ui::qstr(shown->linear), layer);
            const PreviewData ref = ref_->preview(layer.toStdString(), ctx()->config());
            QVERIFY2(close(shown->mse, ref.mse),
                     qPrintable(QString("%1: mse %2 vs %3").arg(what).arg(shown->mse).arg(ref.mse)));
            QVERIFY(close(shown->sqnr_db, ref.sqnr_db));
            QVERIFY(close(shown->max_abs, ref.max_abs));
            QVERIFY(close(shown->output_mse, ref.output_mse));
            QCOMPARE(page->metricText("mse"), ui::num(ref.mse));
            QCOMPARE(page->metricText("sqnr"), ui::num(ref.sqnr_db) + " dB");
            QCOMPARE(page->metricText("maxerr"), ui::num(ref.max_abs));
            QCOMPARE(page->metricText("outmse"), ui::num(ref.output_mse));
            QVERIFY(ref.output_tokens > 0);
            *out = std::make_pair(ref.mse, ref.output_mse);
        };
        std::pair<double, double> a, b, c, d;
        panel->awqFactorSlider()->setValue(300);
        QCOMPARE(ctx()->config().awq_factor, 3.0);
        check("factor 3", &a);
        if (QTest::currentTestFailed()) return;
        // A fast drag: only the last value counts (stale previews are dropped).
        for (int v = 290; v >= 150; v -= 10) panel->awqFactorSlider()->setValue(v);
        QCOMPARE(ctx()->config().awq_factor, 1.5);
        check("factor 1.5", &b);
        if (QTest::currentTestFailed()) return;
        QVERIFY(a.first != b.first);

        // The tile shows the engine's codes and dequantized values at the chosen spot.
        page->setTile(16, 32, 16);
        auto shown = page->shown();
        const auto& tile = page->tiles()->tile();
        QCOMPARE(tile.rows, 16);
        QCOMPARE(tile.original[0], shown->original.data[16 * shown->original.cols + 32]);
        QCOMPARE(tile.codes[1], static_cast<int>(std::lround(shown->codes.data[16 * shown->codes.cols + 33])));
        QCOMPARE(tile.dequantized[17],  // tile (1, 1) = matrix (17, 33)
                 shown->dequantized.data[17 * shown->original.cols + 33]);

        panel->awqModeCombo()->setCurrentIndex(panel->awqModeCombo()->findData(""));
        panel->smoothQuantCheck()->setChecked(true);
        panel->sqAlphaSlider()->setValue(20);
        QCOMPARE(ctx()->config().sq_alpha, 0.2);
        check("alpha 0.2", &c);
        if (QTest::currentTestFailed()) return;
        panel->sqAlphaSlider()->setValue(85);
        check("alpha 0.85", &d);
        if (QTest::currentTestFailed()) return;
        QVERIFY(c.second != d.second);
        QVERIFY(!page->shown()->smooth.empty());

        // The activations page overlays x / s of the SmoothQuant preview.
        w_->showView("activations");
        QTRY_VERIFY_WITH_TIMEOUT(w_->activationsPage()->upToDate(), kLong);
        QVERIFY(waitIdle());
        auto* cv = w_->activationsPage()->channelView();
        QVERIFY(cv->hasAfterValues());
        const ChannelData st = ref_->channel_stats(layer.toStdString(), false, ctx()->config());
        const PreviewData pv = ref_->preview(layer.toStdString(), ctx()->config());
        QVERIFY(w_->activationsPage()->afterSource().contains("SmoothQuant"));
        QCOMPARE(pv.smooth.size(), st.max_abs.size());
        panel->setConfig(AppContext::defaultConfig());
        QVERIFY(waitIdle());
    }

    // 5. Perplexity: Run completes; the table row equals the engine's perplexity for the
    //    same configuration and protocol; changing a method marks it stale.
    void perplexityRunFillsTable() {
        w_->showView("perplexity");
        PerplexityPage* page = w_->perplexityPage();
        QCOMPARE(page->seqlenSpin()->value(), 512);
        QCOMPARE(page->windowsSpin()->value(), 10);
        page->windowsSpin()->setValue(3);
        QSignalSpy done(page, &PerplexityPage::runFinished);
        QTest::mouseClick(page->runButton(), Qt::LeftButton);
        QVERIFY(page->cancelButton()->isEnabled());
        QVERIFY(done.wait(kLong));
        QVERIFY(waitIdle());
        QCOMPARE(static_cast<int>(page->rows().size()), 2);  // baseline + configuration
        QCOMPARE(page->model()->rowCount(), 2);

        PplRequest req = page->request();
        qs::MethodConfig cfg = AppContext::defaultConfig();
        ref_->apply(AppContext::originalConfig());
        const PplData base = ref_->perplexity(req, {});
        ref_->apply(cfg);
        const PplData q = ref_->perplexity(req, {});
        const PplRow& r0 = page->rows()[0];
        const PplRow& r1 = page->rows()[1];
        QVERIFY(r0.config.methods.empty());
        QVERIFY2(close(r0.data.ppl, base.ppl, 1e-9), qPrintable(QString("%1 vs %2").arg(r0.data.ppl).arg(base.ppl)));
        QCOMPARE(ui::qstr(r1.config.describe()), ui::qstr(cfg.describe()));
        QVERIFY2(close(r1.data.ppl, q.ppl, 1e-9), qPrintable(QString("%1 vs %2").arg(r1.data.ppl).arg(q.ppl)));
        auto cell = [&](int r, int c, int role = Qt::DisplayRole) {
            return page->model()->index(r, c).data(role).toString();
        };
        QCOMPARE(cell(1, 2), QString::number(q.ppl, 'f', 3));
        QCOMPARE(cell(1, 0), ui::qstr(cfg.describe()));
        QVERIFY(cell(1, 1).contains("3 × 512 tokens"));
        QVERIFY(cell(1, 1, Qt::ToolTipRole).contains(ui::qstr(q.protocol)));
        QCOMPARE(cell(1, 3), ui::mib(ui::model_sizes(ref_->summary(), cfg).seed_mib));
        // KL divergence against the original next to the perplexity (#16): the engine's numbers;
        // none for the original row (it is the reference).
        const PplData qk = ref_->evaluate(cfg, req, {}, {}, nullptr);
        QVERIFY(qk.has_kl && r1.data.has_kl && !r0.data.has_kl);
        QVERIFY2(close(r1.data.kl_mean, qk.kl_mean, 1e-9),
                 qPrintable(QString("%1 vs %2").arg(r1.data.kl_mean).arg(qk.kl_mean)));
        QVERIFY(qk.kl_mean > 0 && qk.top1 > 0 && qk.top1 < 1);
        QCOMPARE(cell(1, PplResultsModel::Kl), PplResultsModel::klText(qk));
        QCOMPARE(cell(0, PplResultsModel::Kl), QString::fromUtf8("—"));
        QCOMPARE(static_cast<int>(r1.data.running.size()), 3);
        QCOMPARE(page->runningPlot()->seriesCount(), 2);
        QVERIFY(page->rows()[1].data.nsamples == 3);
        // The model now carries the configuration; the tree says so.
        QVERIFY(ctx()->configApplied());
        QVERIFY(page->staleLabel()->isHidden());
        // A method change marks the number stale.
        w_->methodsPanel()
            ->findChild<QComboBox*>("bitsCombo")
            ->setCurrentIndex(w_->methodsPanel()->findChild<QComboBox*>("bitsCombo")->findData(3));
        QVERIFY(!page->staleLabel()->isHidden());
        QVERIFY(waitIdle());
    }

    // 6. Cancel: a started run stops, leaves no row, and the page can run again.
    void perplexityCancel() {
        w_->showView("perplexity");
        PerplexityPage* page = w_->perplexityPage();
        const size_t before = page->rows().size();
        QSignalSpy cancelled(page, &PerplexityPage::runCancelled);
        page->windowsSpin()->setValue(0);  // all windows: long enough to cancel
        QTest::mouseClick(page->runButton(), Qt::LeftButton);
        QVERIFY(page->cancelButton()->isEnabled());
        // The window stays responsive while the run works: the event loop keeps ticking.
        QElapsedTimer gap;
        gap.start();
        qint64 worst = 0;
        QTimer tick;
        QObject::connect(&tick, &QTimer::timeout, [&] { worst = std::max(worst, gap.restart()); });
        tick.start(10);
        QTest::qWait(800);
        tick.stop();
        QVERIFY2(worst < 1000, qPrintable(QString("event loop stalled for %1 ms").arg(worst)));
        QVERIFY(page->running());
        QTest::mouseClick(page->cancelButton(), Qt::LeftButton);
        QVERIFY(cancelled.wait(kLong));
        QVERIFY(waitIdle());
        QCOMPARE(page->rows().size(), before);
        QVERIFY2(page->statusLabel()->text().startsWith("Cancelled at "), qPrintable(page->statusLabel()->text()));
        QVERIFY(page->runButton()->isEnabled());
        QVERIFY(!page->cancelButton()->isEnabled());
        // The applied state is read back from the engine: what the model really carries.
        QVERIFY(AppContext::sameConfig(ctx()->applied(), ctx()->workbench()->applied()));
        page->windowsSpin()->setValue(10);
    }

    // 6b. Sweep: SmoothQuant alpha in the background; each point is plotted and added to the
    //     table, and equals the engine's perplexity; the model gets its configuration back.
    void sweepSmoothQuantAlpha() {
        PerplexityPage* page = w_->perplexityPage();
        w_->showView("perplexity");
        page->openSweep();
        SweepDialog* dlg = page->sweepDialog();
        QVERIFY(dlg && dlg->isVisible());
        dlg->setParameter(SweepDialog::SqAlpha);
        dlg->setValues("0.2, 0.8");
        dlg->findChild<QSpinBox*>("sweepWindows")->setValue(2);
        const qs::MethodConfig before = ctx()->applied();
        const size_t rows = page->rows().size();
        QSignalSpy done(dlg, &SweepDialog::sweepFinished);
        QTest::mouseClick(dlg->findChild<QPushButton*>("sweepRun"), Qt::LeftButton);
        QVERIFY(done.wait(kLong));
        QVERIFY(waitIdle());
        // The two points, after the original model's baseline the sweep evaluated first.
        QCOMPARE(page->rows().size(), rows + 3);
        QVERIFY(page->rows()[rows].config.methods.empty());
        QCOMPARE(dlg->plot()->seriesCount(), 2);  // the sweep and the baseline line
        QCOMPARE(dlg->plot()->graph(0)->dataCount(), 2);
        for (int i = 0; i < 2; ++i) {
            const PplRow& r = page->rows()[rows + 1 + i];
            QVERIFY(r.config.has("smoothquant"));
            QCOMPARE(r.config.sq_alpha, i == 0 ? 0.2 : 0.8);
            ref_->apply(r.config);
            PplRequest req;
            req.seqlen = 512;
            req.nsamples = 2;
            const PplData q = ref_->perplexity(req, {});
            QVERIFY2(close(r.data.ppl, q.ppl, 1e-9), qPrintable(QString("%1 vs %2").arg(r.data.ppl).arg(q.ppl)));
            QCOMPARE(dlg->plot()->graph(0)->data()->at(i)->value, q.ppl);
        }
        QVERIFY(AppContext::sameConfig(ctx()->applied(), before));
        QVERIFY(AppContext::sameConfig(ctx()->workbench()->applied(), before));
        QVERIFY(dlg->grab().save(outDir() + "/sweep_dialog.png"));
        dlg->close();
    }

    // 6c. Generate: the original model's greedy continuation equals the engine's.
    void generateSideBySide() {
        w_->showView("generate");
        GeneratePage* page = w_->generatePage();
        page->promptEdit()->setPlainText("Once upon a time");
        page->findChild<QSpinBox*>("maxTokens")->setValue(12);
        QSignalSpy done(page, &GeneratePage::generated);
        QTest::mouseClick(page->findChild<QPushButton*>("generateButton"), Qt::LeftButton);
        QVERIFY(done.wait(kLong));
        QVERIFY(waitIdle());
        const GenerateData ref = ref_->generate("Once upon a time", 12, false, 1.0, 0, true);
        QCOMPARE(page->originalOutput()->toPlainText(), ui::qstr(ref.text));
        QVERIFY(page->currentOutput()->toPlainText().startsWith("Once upon a time"));
        QVERIFY(w_->grab().save(outDir() + "/generate.png"));
    }

    // 7. Export: a plot to PNG / SVG / PDF and the results table to CSV.
    void exportPlotAndCsv() {
        w_->showView("activations");
        QTRY_VERIFY_WITH_TIMEOUT(w_->activationsPage()->upToDate(), kLong);
        QTemporaryDir dir(outDir() + "/export-XXXXXX");
        QVERIFY(dir.isValid());
        auto* view = w_->activationsPage()->channelView();
        for (const QString& suffix : QStringList{"png", "svg", "pdf"}) {
            const QString path = dir.filePath("channels." + suffix);
            QString err;
            QVERIFY2(view->exportTo(path, &err), qPrintable(err));
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly));
            const QByteArray head = f.read(8);
            QVERIFY(f.size() > 1000);
            if (suffix == "png") QVERIFY(head.startsWith("\x89PNG"));
            if (suffix == "pdf") QVERIFY(head.startsWith("%PDF"));
            if (suffix == "svg") {
                f.seek(0);
                QVERIFY(f.readAll().contains("<svg"));
            }
        }
        QImage img(dir.filePath("channels.png"));
        QVERIFY(!img.isNull());
        QVERIFY(img.width() >= view->plot()->width());

        PerplexityPage* page = w_->perplexityPage();
        const QString csv = dir.filePath("ppl.csv");
        QVERIFY(page->exportCsv(csv));
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly | QIODevice::Text));
        const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), static_cast<int>(page->rows().size()) + 1);
        QVERIFY(lines[0].startsWith("configuration,protocol,dataset,ppl"));
        QVERIFY(lines[2].startsWith(ui::qstr(page->rows()[1].config.describe())));
        QVERIFY(lines[2].contains(QString::number(page->rows()[1].data.ppl, 'g', 10)));
    }

    // 8. AWQ auto-scale: Apply runs as a job; each group's loss curve is plotted with the
    //    engine's chosen ratio marked.
    void awqAutoScaleCurves() {
        MethodsPanel* panel = w_->methodsPanel();
        qs::MethodConfig cfg = AppContext::defaultConfig();
        cfg.methods = {"awq"};
        cfg.calib_samples = 16;  // keep the search short
        panel->setConfig(cfg);
        QVERIFY(waitIdle());
        QSignalSpy applied(ctx(), &AppContext::appliedChanged);
        QVERIFY(panel->applyButton()->isEnabled());
        QTest::mouseClick(panel->applyButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->lastApply() != nullptr && ctx()->configApplied(), kLong);
        QVERIFY(waitIdle());
        const ApplyData ref = ref_->apply(ctx()->config());
        QVERIFY(!ref.awq.empty());
        w_->showView("awq");
        auto* curves = w_->awqPage()->curves();
        QCOMPARE(curves->seriesCount(), static_cast<int>(ref.awq.size()));
        for (size_t i = 0; i < ref.awq.size(); ++i)
            QCOMPARE(curves->highlightIndex(static_cast<int>(i)), ref.awq[i].best);
        // The model tree names the method on each quantized Linear.
        bool found = false;
        for (QTreeWidgetItemIterator it(w_->modelPage()->tree()); *it; ++it)
            if ((*it)->text(3).contains("AWQ")) found = true;
        QVERIFY(found);
        panel->setConfig(AppContext::defaultConfig());
        QVERIFY(waitIdle());
    }

    // 8a. GPTQ (#16): chosen in the methods panel (with act-order), Apply reports each Linear's
    //     progress and loss; the AWQ / GPTQ page lists every Linear's loss, equal to the engine's.
    void gptqLossesAndProgress() {
        MethodsPanel* panel = w_->methodsPanel();
        qs::MethodConfig start = AppContext::defaultConfig();
        start.calib_samples = 8;  // keep it short
        panel->setConfig(start);
        QVERIFY(waitIdle());
        panel->awqModeCombo()->setCurrentIndex(panel->awqModeCombo()->findData("gptq"));
        auto* actOrder = panel->findChild<QCheckBox*>("gptqActOrderCheck");
        QVERIFY(actOrder && actOrder->isEnabled());
        actOrder->setChecked(true);
        QVERIFY(waitIdle());
        QVERIFY(ctx()->config().has("gptq") && !ctx()->config().has("rtn"));
        QVERIFY(ctx()->config().gptq_act_order);
        QSignalSpy progress(ctx(), &AppContext::jobProgress);
        QTest::mouseClick(panel->applyButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->lastApply() != nullptr && ctx()->configApplied(), kLong);
        QVERIFY(waitIdle());
        bool sawLinear = false;
        for (const auto& args : progress)
            if (args.at(2).toString().contains("GPTQ") && args.at(2).toString().contains("loss")) sawLinear = true;
        QVERIFY(sawLinear);
        const ApplyData ref = ref_->apply(ctx()->config());
        QVERIFY(!ref.gptq.empty());
        QCOMPARE(ctx()->lastApply()->gptq.size(), ref.gptq.size());
        w_->showView("awq");
        const QString html = w_->awqPage()->steps()->toPlainText();
        for (const auto& l : ref.gptq) {
            QVERIFY2(html.contains(ui::qstr(l.linear)), qPrintable(ui::qstr(l.linear)));
            QVERIFY2(html.contains(QString::number(l.loss, 'g', 5)), qPrintable(QString::number(l.loss, 'g', 5)));
        }
        panel->setConfig(AppContext::defaultConfig());
        QVERIFY(waitIdle());
    }

    // 8b. Rotation: after Apply, the activations page overlays the rotated model's statistics
    //     and hidden states (the seed's before/after plot), equal to the engine's.
    void rotationBeforeAfter() {
        MethodsPanel* panel = w_->methodsPanel();
        qs::MethodConfig cfg = AppContext::defaultConfig();
        cfg.methods = {"rotate"};  // weights in float: the rotation alone
        cfg.rotation = qs::RotationKind::Hadamard;
        panel->setConfig(cfg);
        QVERIFY(!ctx()->config().quantizes_weights());
        QVERIFY(ctx()->config().has("rotate"));
        w_->showView("activations");
        selectLayer("model.layers.1.mlp.down_proj");
        QTest::mouseClick(panel->applyButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->configApplied() && !ctx()->modelBusy(), kLong);
        ActivationsPage* page = w_->activationsPage();
        QTRY_VERIFY_WITH_TIMEOUT(page->upToDate(), kLong);
        QVERIFY(waitIdle());
        ref_->apply(ctx()->config());
        const int64_t hl = ref_->summary().layers / 2;
        QVERIFY(page->after());
        QVERIFY(page->afterSource().contains("rotation"));
        const ChannelData after = ref_->channel_stats("model.layers.1.mlp.down_proj", true, ctx()->config());
        QCOMPARE(page->after()->max_abs, after.max_abs);
        QVERIFY(page->channelView()->hasAfterValues());
        QVERIFY(page->hiddenView()->hasAfterValues());
        const std::vector<float> hb = ref_->hidden_mean_abs(hl, false), ha = ref_->hidden_mean_abs(hl, true);
        QCOMPARE(page->hiddenView()->values(), toD(hb));
        // Rotation spreads the outlier channels: the largest channel shrinks relative to the mean.
        auto ratio = [](const std::vector<float>& v) {
            return *std::max_element(v.begin(), v.end()) / (std::accumulate(v.begin(), v.end(), 0.0) / v.size());
        };
        QVERIFY2(ratio(ha) < ratio(hb), qPrintable(QString("%1 vs %2").arg(ratio(ha)).arg(ratio(hb))));
        QVERIFY(w_->grab().save(outDir() + "/rotation_activations.png"));
        panel->setConfig(AppContext::defaultConfig());
        QTest::mouseClick(panel->findChild<QPushButton*>("resetButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->applied().methods.empty() && !ctx()->modelBusy(), kLong);
        QVERIFY(waitIdle());
    }

    // 9. A broken model folder: the message names the file and the problem; the old model
    //    stays loaded and usable.
    void brokenModelKeepsPrevious() {
        QTemporaryDir dir(outDir() + "/broken-XXXXXX");
        QVERIFY(dir.isValid());
        {
            QFile f(dir.filePath("config.json"));
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("{ \"model_type\": \"llama\", \"hidden_size\": ");
        }
        const std::string before = ctx()->summary()->source_dir;
        auto wbBefore = ctx()->workbench();
        QSignalSpy failed(ctx(), &AppContext::loadFailed);
        w_->openModel(dir.path());
        QVERIFY(failed.wait(kLong));
        QVERIFY(waitIdle());
        const QString err = w_->errorText();
        QVERIFY2(err.contains("config.json"), qPrintable(err));
        QVERIFY2(err.contains("Could not open the model"), qPrintable(err));
        QVERIFY2(err.contains("stays loaded"), qPrintable(err));
        QCOMPARE(ctx()->summary()->source_dir, before);
        QCOMPARE(ctx()->workbench(), wbBefore);
        // Still usable: selecting a layer recomputes its preview.
        w_->showView("error");
        selectLayer("model.layers.1.self_attn.v_proj");
        QVERIFY(waitIdle());
        QVERIFY(w_->errorPage()->shown());
        QCOMPARE(ui::qstr(w_->errorPage()->shown()->linear), QString("model.layers.1.self_attn.v_proj"));
    }

    // 10. Choosing another dtype reloads the model with it (the choices offered are the
    //     available ones); the status bar names device, dtype and memory.
    void dtypeChoiceReloads() {
        auto* dtype = w_->findChild<QComboBox*>("dtypeCombo");
        QVERIFY(dtype);
        const QStringList offered = [&] {
            QStringList l;
            for (int i = 0; i < dtype->count(); ++i) l << dtype->itemText(i);
            return l;
        }();
        QStringList want;
        for (const auto& t : gui_available_dtypes("cpu")) want << QString::fromStdString(t);
        QCOMPARE(offered, want);
        // fp16 matmul on the CPU exists from libtorch 2.0 on (not in Debian's 1.13)
        const bool libtorch1 = QString::fromStdString(gui_version_text()).contains("\nlibtorch 1.");
        QCOMPARE(offered.contains("fp16"), !libtorch1);
        QVERIFY(offered.contains("bf16"));
        QSignalSpy loaded(w_.get(), &MainWindow::modelChanged);
        dtype->setCurrentText("bf16");
        QVERIFY(loaded.wait(kLong));
        QVERIFY(waitIdle());
        QCOMPARE(ui::qstr(ctx()->summary()->dtype), QString("bf16"));
        const QString status = w_->findChild<QLabel*>("deviceStatus")->text();
        QVERIFY2(status.contains("cpu") && status.contains("bf16") && status.contains("MiB"), qPrintable(status));
    }

    // 10b. Opening a model on the Activations view: the hidden-state plot (one short forward)
    //      is drawn before the plots that wait for the calibration pass, and those jobs do
    //      not start before it is done (Quick jobs first, JobRunner).
    void firstPlotDoesNotWaitForCalibration() {
        w_->showView("activations");
        auto* page = w_->findChild<ActivationsPage*>();
        QVERIFY(page);
        QStringList order;
        auto c1 = connect(page, &ActivationsPage::hiddenShown, this, [&] { order << "hidden"; });
        auto c2 = connect(page, &ActivationsPage::channelsShown, this, [&] { order << "channels"; });
        auto c3 = connect(page, &ActivationsPage::overviewShown, this, [&] { order << "overview"; });
        bool sawHeld = false;
        auto c4 = connect(ctx(), &AppContext::modelChanged, this, [&] {
            // Right after the load's continuation started the pages' jobs.
            QTimer::singleShot(0, this, [&] { sawHeld = ctx()->jobs()->heldJobs() > 0; });
        });
        QSignalSpy loaded(w_.get(), &MainWindow::modelChanged);
        w_->openModel(QString::fromStdString(default_model_path()));
        QVERIFY(loaded.wait(kLong));
        QVERIFY(waitIdle());
        for (auto c : {c1, c2, c3, c4}) disconnect(c);
        QCOMPARE(order.size(), 3);
        QCOMPARE(order.front(), QString("hidden"));
        QVERIFY2(sawHeld, "the calibration-dependent jobs were not held behind the hidden-state job");
        QVERIFY(page->hiddenView()->plot()->plottableCount() > 0);
    }

    // 10c. Help > About names the libtorch version and says, for cuda and mps, whether the
    //      backend is compiled in and usable here (and why not); the device combo's tooltip
    //      says the same. The text is the one `quantscope --version` prints.
    void aboutBoxNamesLibtorchAndGpuBackends() {
        QAction* about = w_->findChild<QAction*>("aboutAction");
        QVERIFY(about);
        about->trigger();
        auto* box = w_->findChild<QMessageBox*>("aboutBox");
        QVERIFY(box);
        QVERIFY(box->isVisible());
        const QString text = QTextDocumentFragment::fromHtml(box->text()).toPlainText();
        const QStringList version = QString::fromStdString(gui_version_text()).split('\n');
        QVERIFY2(version.size() >= 4, qPrintable(version.join(" | ")));
        QVERIFY2(version[1].startsWith("libtorch "), qPrintable(version[1]));
        for (const QString& line : version) QVERIFY2(text.contains(line), qPrintable(line + " not in: " + text));
        QVERIFY2(text.contains("\ncuda: ") && text.contains("\nmps: "), qPrintable(text));
        const QString tip = w_->findChild<QComboBox*>("deviceCombo")->toolTip();
        QVERIFY2(tip.contains("cuda: ") && tip.contains("libtorch"), qPrintable(tip));
        box->accept();
    }

    // 11. Closing the window cancels a running job promptly.
    void closeCancelsJobs() {
        w_->showView("perplexity");
        PerplexityPage* page = w_->perplexityPage();
        page->windowsSpin()->setValue(0);
        QTest::mouseClick(page->runButton(), Qt::LeftButton);
        QVERIFY(page->running());
        QSignalSpy cancelled(page, &PerplexityPage::runCancelled);
        QElapsedTimer t;
        t.start();
        w_->close();
        QVERIFY(cancelled.wait(60000));
        QVERIFY(ctx()->isIdle() || waitIdle(60000));
        QVERIFY2(t.elapsed() < 60000, qPrintable(QString("%1 ms").arg(t.elapsed())));
    }
};

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    WorkbenchGuiTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_workbench_gui.moc"
