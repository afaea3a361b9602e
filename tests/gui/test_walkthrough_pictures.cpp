// Issue #14, "wrong or stale pictures", items 1, 2, 3, 6 and 9: the real window on the bundled
// model (offscreen), driven with the mouse and keyboard; each check reads what the widgets show
// and compares it with the engine's numbers for the same setting.
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QtTest/QtTest>

#include <atomic>
#include <chrono>
#include <numeric>
#include <thread>

#include "activations_page.h"
#include "channel_magnitude_view.h"
#include "error_matrix_panel.h"
#include "error_page.h"
#include "line_plot.h"
#include "methods_panel.h"
#include "ui_util.h"
#include "walkthrough_util.h"

using qs::gui::test::kLong;
using qs::widgets::ErrorMatrixPanel;

class PicturesTest : public QObject {
    Q_OBJECT

  private:
    qs::gui::test::Session s_;
    AppContext* ctx() const { return s_.ctx(); }
    MethodsPanel* panel() const { return s_.w->methodsPanel(); }
    template <class T>
    T* control(const char* name) const {
        return panel()->findChild<T*>(name);
    }
    void chooseData(QComboBox* c, const QVariant& data) {
        QVERIFY(c);
        const int i = c->findData(data);
        QVERIFY(i >= 0);
        c->setCurrentIndex(i);
    }
    // The error heatmap draws the error of the setting the panel shows now.
    void checkErrorHeatmap(const char* step) {
        QVERIFY2(s_.idle(), step);
        ErrorPage* page = s_.w->errorPage();
        auto shown = page->shown();
        QVERIFY2(shown, step);
        const PreviewData ref = s_.ref->preview(ctx()->layer().toStdString(), ctx()->config());
        auto* hm = page->errorHeatmap();
        QVERIFY2(hm->values() == ref.error.data, step);
        const QString why = qs::gui::test::heatmapDrawsItsData(hm);
        QVERIFY2(why.isEmpty(), qPrintable(QString("%1: %2").arg(step, why)));
        const float emax = *std::max_element(ref.error.data.begin(), ref.error.data.end());
        QVERIFY2(std::fabs(hm->colorRange().upper - emax) <= 1e-6 * emax, step);
    }

  private slots:
    void initTestCase() { QVERIFY(s_.open()); }
    void cleanupTestCase() { s_.close(); }

    // 1. After changing bits, the AWQ factor (keyboard steps too) or the AWQ mode, the whole-
    //    matrix |W - Ŵ| heatmap draws the new setting's error (not the previous one's).
    void errorHeatmapFollowsEverySetting() {
        QVERIFY(s_.selectLayer("model.layers.0.mlp.gate_proj"));
        s_.w->showView("error");
        checkErrorHeatmap("start");
        chooseData(control<QComboBox>("bitsCombo"), 3);
        checkErrorHeatmap("bits 3");
        chooseData(control<QComboBox>("awqModeCombo"), "awq-scale");
        checkErrorHeatmap("AWQ scale salient");
        QSlider* factor = panel()->awqFactorSlider();
        factor->setFocus();
        QTest::keyClick(factor, Qt::Key_Right);
        QCOMPARE(ctx()->config().awq_factor, 2.05);
        checkErrorHeatmap("factor +1 key step");
        QTest::keyClick(factor, Qt::Key_PageUp);
        checkErrorHeatmap("factor +1 page step");
        chooseData(control<QComboBox>("awqModeCombo"), "awq-keep");
        checkErrorHeatmap("AWQ keep salient");
        panel()->setConfig(AppContext::defaultConfig());
        checkErrorHeatmap("default again");
    }

    // 2. lm_head with "also quantize lm_head" unticked: the Error page says it is not quantized
    //    (no 4-bit error, no "Applied w4 g128 asym"); the error map's caption names |error| and
    //    shows all of its text.
    void lmHeadNotQuantizedSaysSo() {
        s_.w->showView("error");
        ErrorPage* page = s_.w->errorPage();
        QVERIFY(!control<QCheckBox>("lmHeadCheck")->isChecked());
        QVERIFY(s_.selectLayer("lm_head"));
        QVERIFY(s_.idle());
        QVERIFY2(!page->shown(), "a preview of an lm_head the setting does not quantize");
        QVERIFY2(page->metricText("note").contains("not quantized"), qPrintable(page->metricText("note")));
        QVERIFY(!page->metricText("note").contains("w4"));
        QCOMPARE(page->metricText("mse"), QString("—"));
        QVERIFY(page->errorHeatmap()->values().empty());
        QVERIFY(page->tiles()->title().contains("lm_head"));
        // Ticked: lm_head is quantized, and its (pooled) error map is captioned in |error|.
        QTest::mouseClick(control<QCheckBox>("lmHeadCheck"), Qt::LeftButton);
        QVERIFY(s_.idle());
        QVERIFY(page->shown());
        QVERIFY(page->metricText("note").startsWith("w4 g128 asym"));
        auto* caption = page->findChild<QLabel*>("errorHeatmapCaption");
        QVERIFY2(caption, "no caption under the |error| map");
        QVERIFY2(caption->text().contains("max |error|"), qPrintable(caption->text()));
        QVERIFY(!caption->text().contains("|w|"));
        QVERIFY(!page->errorHeatmap()->statusText().contains("|w|"));
        s_.w->resize(1280, 720);
        QTest::qWait(50);
        QVERIFY2(qs::gui::test::labelShowsAll(caption), qPrintable(caption->text()));
        s_.w->resize(1600, 1000);
        QTest::mouseClick(control<QCheckBox>("lmHeadCheck"), Qt::LeftButton);
        QVERIFY(s_.idle());
    }

    // 3. After a Hadamard Apply with smoothing off: the all-layers legend names the rotation
    //    only, and the Error page shows the rotated layer (not "Apply to see this layer rotated").
    void hadamardApplyShowsRotation() {
        const QString layer = "model.layers.1.self_attn.q_proj";
        QVERIFY(s_.selectLayer(layer));
        s_.w->showView("activations");
        // A SmoothQuant preview at alpha 1 first (what the class looked at before).
        QTest::mouseClick(control<QCheckBox>("smoothQuantCheck"), Qt::LeftButton);
        panel()->sqAlphaSlider()->setValue(100);
        QVERIFY(s_.idle());
        ActivationsPage* act = s_.w->activationsPage();
        QTRY_VERIFY_WITH_TIMEOUT(act->upToDate(), kLong);
        QTest::mouseClick(control<QCheckBox>("smoothQuantCheck"), Qt::LeftButton);
        chooseData(control<QComboBox>("rotationCombo"), static_cast<int>(qs::RotationKind::Hadamard));
        QVERIFY(!ctx()->config().has("smoothquant"));
        QVERIFY(ctx()->config().has("rotate"));
        QTest::mouseClick(panel()->applyButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->configApplied() && !ctx()->modelBusy(), kLong);
        QTRY_VERIFY_WITH_TIMEOUT(act->upToDate(), kLong);
        QVERIFY(s_.idle());
        auto* overview = act->overviewPlot();
        QVERIFY(overview->seriesCount() >= 3);
        for (int i = 0; i < overview->seriesCount(); ++i)
            QVERIFY2(!overview->seriesName(i).contains("SmoothQuant"), qPrintable(overview->seriesName(i)));
        QVERIFY2(overview->seriesName(2).contains("rotation"), qPrintable(overview->seriesName(2)));

        s_.w->showView("error");
        QVERIFY(s_.idle());
        ErrorPage* page = s_.w->errorPage();
        QVERIFY(page->shown());
        QVERIFY2(!page->metricText("note").contains("Apply to see"), qPrintable(page->metricText("note")));
        QVERIFY2(page->metricText("note").contains("rotated"), qPrintable(page->metricText("note")));
        // The rotated weight: the model with the rotation alone, read from the engine.
        qs::MethodConfig rotOnly = ctx()->config();
        rotOnly.methods = {"rotate"};
        s_.ref->apply(rotOnly);
        const Matrix rotated = s_.ref->weight(layer.toStdString(), true);
        const Matrix original = s_.ref->weight(layer.toStdString(), false);
        QCOMPARE(page->shown()->original.data.size(), rotated.data.size());
        double diff = 0, moved = 0;
        for (size_t i = 0; i < rotated.data.size(); ++i) {
            diff = std::max(diff, double(std::fabs(page->shown()->original.data[i] - rotated.data[i])));
            moved = std::max(moved, double(std::fabs(original.data[i] - rotated.data[i])));
        }
        QVERIFY2(diff <= 1e-5, qPrintable(QString("shown W differs from the rotated W by %1").arg(diff)));
        QVERIFY(moved > 1e-3);  // the rotation really changes this weight
        QVERIFY2(page->tiles()->panelTitle(ErrorMatrixPanel::Original).contains("rotated"),
                 qPrintable(page->tiles()->panelTitle(ErrorMatrixPanel::Original)));

        // A preview made while a job holds the model (here a statistics pass on the current
        // model, held open from its progress report) starts from the original layer and says so;
        // once that job ends, the page shows the rotated layer again without any user action.
        std::atomic<bool> holding{false}, release{false};
        qs::MethodConfig fresh = ctx()->config();
        fresh.calib_samples = 3;  // not cached: a real pass, reporting progress under the model lock
        auto wb = ctx()->workbench();
        const std::string name = layer.toStdString();
        ctx()->run("testHoldsModel",
                   [&holding, &release, wb, name, fresh](const qs::Progress&) -> std::function<void()> {
                       qs::Progress p;
                       p.report = [&holding, &release](double, const std::string&) {
                           holding = true;
                           while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
                       };
                       wb->channel_stats(name, true, fresh, p);
                       return {};
                   });
        QTRY_VERIFY_WITH_TIMEOUT(holding, kLong);
        // The user picks another Linear and comes back: a preview of this layer starts while the model is held.
        QString other;
        for (const auto& l : wb->summary().linears)
            if (QString::fromStdString(l.name) != layer) other = QString::fromStdString(l.name);
        QVERIFY(!other.isEmpty());
        ctx()->setLayer(other);
        ctx()->setLayer(layer);
        QTRY_VERIFY_WITH_TIMEOUT(page->metricText("note").contains("model is busy"), kLong);
        release = true;
        QVERIFY(s_.idle());
        QVERIFY2(!page->metricText("note").contains("busy"), qPrintable(page->metricText("note")));
        QVERIFY2(page->metricText("note").contains("rotated"), qPrintable(page->metricText("note")));
        QVERIFY(page->tiles()->panelTitle(ErrorMatrixPanel::Original).contains("rotated"));
        panel()->setConfig(AppContext::defaultConfig());
        QTest::mouseClick(panel()->findChild<QPushButton*>("resetButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->applied().methods.empty() && !ctx()->modelBusy(), kLong);
        QVERIFY(s_.idle());
    }

    // 6. The W8A8 preset sets every control it implies (AWQ off, SmoothQuant on at alpha 0.5,
    //    8-bit symmetric per-channel weights, 8-bit per-token activations with BMM inputs,
    //    no rotation), whatever the panel showed before.
    void w8a8PresetSetsEveryControl() {
        chooseData(control<QComboBox>("awqModeCombo"), "awq");
        panel()->sqAlphaSlider()->setValue(100);
        chooseData(control<QComboBox>("rotationCombo"), static_cast<int>(qs::RotationKind::Random));
        control<QCheckBox>("lmHeadCheck")->setChecked(true);
        QTest::mouseClick(control<QPushButton>("w8a8Button"), Qt::LeftButton);
        const qs::MethodConfig c = ctx()->config();
        QVERIFY2(!c.has("awq") && !c.has("awq-keep") && !c.has("awq-scale"), c.describe().c_str());
        QVERIFY(c.has("smoothquant"));
        QCOMPARE(c.sq_alpha, 0.5);
        QVERIFY(!c.has("rotate"));
        QCOMPARE(c.weight.bits, 8);
        QCOMPARE(c.weight.granularity, qs::Granularity::PerChannel);
        QVERIFY(c.weight.symmetric);
        QVERIFY(!c.include_lm_head);
        QCOMPARE(c.act.bits, 8);
        QVERIFY(c.act.per_token);
        QVERIFY(c.act.quantize_bmm);
        QCOMPARE(control<QComboBox>("awqModeCombo")->currentData().toString(), QString());
        QCOMPARE(control<QLabel>("sqAlphaValue")->text(), QString("0.50"));
        panel()->setConfig(AppContext::defaultConfig());
        QVERIFY(s_.idle());
    }

    // 9. AWQ "keep 1 %" and "Top 1 %" use one rounding rule: the Activations page highlights
    //    exactly the channels the method keeps (the engine's salient set).
    void keepAndTopPercentAgree() {
        const QString layer = "model.layers.0.self_attn.q_proj";  // 128 inputs: 1 % = 1.28
        QVERIFY(s_.selectLayer(layer));
        chooseData(control<QComboBox>("awqModeCombo"), "awq-keep");
        control<QDoubleSpinBox>("salientSpin")->setValue(1.0);
        s_.w->showView("error");
        QVERIFY(s_.idle());
        const QString note = s_.w->errorPage()->metricText("note");
        const QRegularExpression re("(\\d+) salient channels kept");
        const auto m = re.match(note);
        QVERIFY2(m.hasMatch(), qPrintable(note));
        const int kept = m.captured(1).toInt();
        // The engine's salient channels: the largest mean |x| (AWQ importance).
        const ChannelData st = s_.ref->channel_stats(layer.toStdString(), false, ctx()->config());
        std::vector<int> idx(st.mean_abs.size());
        std::iota(idx.begin(), idx.end(), 0);
        std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return st.mean_abs[a] > st.mean_abs[b]; });

        s_.w->showView("activations");
        ActivationsPage* act = s_.w->activationsPage();
        QTRY_VERIFY_WITH_TIMEOUT(act->upToDate(), kLong);
        act->statisticCombo()->setCurrentIndex(act->statisticCombo()->findData("mean"));
        act->findChild<QDoubleSpinBox*>("topPercentSpin")->setValue(1.0);
        QVERIFY(s_.idle());
        const QVector<int> shown = act->channelView()->outlierChannels();
        QCOMPARE(shown.size(), kept);
        QCOMPARE(shown, QVector<int>(idx.begin(), idx.begin() + kept));
        panel()->setConfig(AppContext::defaultConfig());
        QVERIFY(s_.idle());
    }
};

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    PicturesTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_walkthrough_pictures.moc"
