// Issue #14, items 11, 12 and 13 ("explain in place"): the window says why nothing changes,
// ties its pictures together, and does not warn or show empty plots before there is a reason.
// The real window on the bundled model (offscreen), driven as a user would.
#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QTextBrowser>
#include <QTimer>
#include <QtTest/QtTest>

#include <numeric>
#include <set>

#include "activations_page.h"
#include "channel_magnitude_view.h"
#include "error_matrix_panel.h"
#include "error_page.h"
#include "generate_page.h"
#include "line_plot.h"
#include "methods_panel.h"
#include "perplexity_page.h"
#include "ui_util.h"
#include "walkthrough_util.h"

using qs::gui::test::kLong;
using qs::widgets::ErrorMatrixPanel;

namespace {

// Items of a plot with a given objectName.
QList<QCPAbstractItem*> itemsNamed(QCustomPlot* p, const QString& name) {
    QList<QCPAbstractItem*> out;
    for (int i = 0; i < p->itemCount(); ++i)
        if (p->item(i)->objectName() == name) out << p->item(i);
    return out;
}

}  // namespace

class TeachingTest : public QObject {
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

  private slots:
    void initTestCase() { QVERIFY(s_.open()); }
    void cleanupTestCase() { s_.close(); }

    // 13 (start-up): before a model has loaded, every plot says "Loading…" (no empty x / y axes).
    void plotsSayLoadingBeforeTheModel() {
        MainWindow w;
        w.resize(1280, 720);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        const auto views = w.findChildren<qs::widgets::PlotView*>();
        QVERIFY(views.size() >= 8);
        for (auto* v : views) {
            QCustomPlot* p = v->plot();
            QVERIFY2(p->xAxis->label() != "x" && p->yAxis->label() != "y", qPrintable(v->objectName()));
            bool loading = false;
            for (QCPAbstractItem* it : itemsNamed(p, "placeholder"))
                if (auto* t = qobject_cast<QCPItemText*>(it))
                    loading = loading || (t->visible() && t->text() == "Loading…");
            QVERIFY2(loading, qPrintable(v->objectName() + " shows no \"Loading…\""));
        }
    }

    // 13 (warnings): once loaded, nothing warns about panel changes the user never made.
    void nothingWarnsBeforeAChange() {
        const QString applied = control<QLabel>("appliedLabel")->text();
        QVERIFY2(!applied.contains("not applied") && !applied.contains("changes"), qPrintable(applied));
        // ...and it does once the user changes something.
        chooseData(control<QComboBox>("bitsCombo"), 3);
        QVERIFY(s_.idle());
        QVERIFY(control<QLabel>("appliedLabel")->text().contains("not applied"));
        chooseData(control<QComboBox>("bitsCombo"), 4);
        QVERIFY(s_.idle());
        // The shown pages' plots have data (no "Loading…" left).
        s_.w->showView("activations");
        QTRY_VERIFY_WITH_TIMEOUT(s_.w->activationsPage()->upToDate(), kLong);
        for (auto* v : s_.w->activationsPage()->findChildren<qs::widgets::PlotView*>())
            for (QCPAbstractItem* it : itemsNamed(v->plot(), "placeholder"))
                QVERIFY2(!it->visible(), qPrintable(v->objectName()));
    }

    // 13 (file dialogs): every chooser starts in the model's folder or the home folder.
    void fileDialogsStartInModelFolderOrHome() {
        const QString modelDir = ui::qstr(ctx()->summary()->source_dir);
        QStringList asked;
        auto& ch = ctx()->choosers();
        const FileChoosers keep = ch;
        ch.folder = [&](QWidget*, const QString&, const QString& dir) {
            asked << dir;
            return QString();
        };
        ch.openFile = [&](QWidget*, const QString&, const QString& dir, const QString&) {
            asked << dir;
            return QString();
        };
        ch.saveFile = [&](QWidget*, const QString&, const QString& dir, const QString&) {
            asked << dir;
            return QString();
        };
        // Old code opened real (modal) file dialogs: close any that appears.
        QTimer closer;
        QObject::connect(&closer, &QTimer::timeout, [] {
            if (QWidget* m = QApplication::activeModalWidget()) m->close();
        });
        closer.start(200);
        QAction* open = nullptr;
        for (QAction* a : s_.w->findChildren<QAction*>())
            if (a->text().startsWith("&Open model")) open = a;
        QVERIFY(open);
        open->trigger();
        auto* calib = panel()->findChild<QPushButton*>("calibChooseButton");
        QVERIFY(calib);
        QTest::mouseClick(calib, Qt::LeftButton);
        QTest::mouseClick(s_.w->perplexityPage()->findChild<QPushButton*>("exportCsvButton"), Qt::LeftButton);
        ch = keep;
        QCOMPARE(asked.size(), 3);
        for (const QString& d : asked) {
            const QString dir = QFileInfo(d).isDir() ? d : QFileInfo(d).absolutePath();
            QVERIFY2(QDir(dir) == QDir(modelDir) || QDir(dir) == QDir::home(), qPrintable(d));
        }
    }

    // 11. Say why nothing changes.
    void explainsWhyNothingChanges() {
        s_.w->showView("activations");
        auto* sqHint = panel()->findChild<QLabel*>("smoothQuantHint");
        auto* rotHint = panel()->findChild<QLabel*>("rotationHint");
        QVERIFY(sqHint && rotHint);
        // SmoothQuant only acts on Linears fed by a norm.
        QVERIFY(s_.selectLayer("model.layers.0.self_attn.o_proj"));
        QTest::mouseClick(control<QCheckBox>("smoothQuantCheck"), Qt::LeftButton);
        QVERIFY(s_.idle());
        QVERIFY(sqHint->isVisible());
        QVERIFY2(sqHint->text().contains("norm") && sqHint->text().contains("o_proj"), qPrintable(sqHint->text()));
        QVERIFY(s_.selectLayer("model.layers.0.self_attn.q_proj"));
        QVERIFY(s_.idle());
        QVERIFY2(!sqHint->text().contains("no effect"), qPrintable(sqHint->text()));
        // Smoothing can raise activations: channels with s < 1 grow; the page counts them.
        ActivationsPage* act = s_.w->activationsPage();
        panel()->sqAlphaSlider()->setValue(80);
        QVERIFY(s_.idle());
        QTRY_VERIFY_WITH_TIMEOUT(act->upToDate() && act->channelView()->hasAfterValues(), kLong);
        const auto before = act->channelView()->values();
        const PreviewData pv = s_.ref->preview("model.layers.0.self_attn.q_proj", ctx()->config());
        int grew = 0;
        for (size_t i = 0; i < pv.smooth.size(); ++i) grew += pv.smooth[i] < 1.0f;
        auto* actHint = act->findChild<QLabel*>("activationsHint");
        QVERIFY(actHint);
        if (grew > 0) {
            QVERIFY(actHint->isVisible());
            QVERIFY2(actHint->text().contains(QString("%1 channel").arg(grew)) && actHint->text().contains("grow"),
                     qPrintable(actHint->text()));
        }
        QTest::mouseClick(control<QCheckBox>("smoothQuantCheck"), Qt::LeftButton);
        // Rotation needs Apply.
        chooseData(control<QComboBox>("rotationCombo"), static_cast<int>(qs::RotationKind::Hadamard));
        QVERIFY(s_.idle());
        QVERIFY(rotHint->isVisible());
        QVERIFY2(rotHint->text().contains("Apply"), qPrintable(rotHint->text()));
        // After Apply: norm fusion rescales the inputs (said on the Activations page).
        QTest::mouseClick(panel()->applyButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->configApplied() && !ctx()->modelBusy(), kLong);
        QTRY_VERIFY_WITH_TIMEOUT(act->upToDate(), kLong);
        QVERIFY(s_.idle());
        QVERIFY(!rotHint->text().contains("Apply to"));
        QVERIFY(actHint->isVisible());
        QVERIFY2(actHint->text().contains("norm") && actHint->text().contains("fused"), qPrintable(actHint->text()));
        panel()->setConfig(AppContext::defaultConfig());
        QTest::mouseClick(panel()->findChild<QPushButton*>("resetButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->applied().methods.empty() && !ctx()->modelBusy(), kLong);
        QVERIFY(s_.idle());
    }

    // 12. Tie the visuals together: salient channels, the selected tile and group boundaries
    //     marked on the |error| map; tile axes in the matrix's row / column numbers.
    void heatmapsMarkSalientTileAndGroups() {
        const QString layer = "model.layers.0.mlp.down_proj";  // 384 inputs
        QVERIFY(s_.selectLayer(layer));
        chooseData(control<QComboBox>("groupCombo"), 64);
        chooseData(control<QComboBox>("awqModeCombo"), "awq-scale");
        control<QDoubleSpinBox>("salientSpin")->setValue(2.0);
        s_.w->showView("error");
        QVERIFY(s_.idle());
        ErrorPage* page = s_.w->errorPage();
        QCustomPlot* p = page->errorHeatmap()->plot();
        // Salient channels: the engine's (top 2 % of mean |x|).
        const ChannelData st = s_.ref->channel_stats(layer.toStdString(), false, ctx()->config());
        std::vector<int> idx(st.mean_abs.size());
        std::iota(idx.begin(), idx.end(), 0);
        std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return st.mean_abs[a] > st.mean_abs[b]; });
        const int k = static_cast<int>(std::floor(384 * 0.02));
        std::set<int> want(idx.begin(), idx.begin() + k), got;
        for (QCPAbstractItem* it : itemsNamed(p, "salientMark")) {
            auto* line = qobject_cast<QCPItemStraightLine*>(it);
            QVERIFY(line);
            got.insert(static_cast<int>(std::lround(line->point1->coords().x())));
        }
        QVERIFY2(got == want, qPrintable(QString("%1 marks, %2 salient").arg(got.size()).arg(want.size())));
        // Group boundaries every 64 columns.
        QCOMPARE(itemsNamed(p, "groupBoundary").size(), 384 / 64 - 1);
        // The tile: a rectangle over rows 16..23, columns 32..39; the tile's axes count from there.
        page->setTile(16, 32, 8);
        const auto tile = itemsNamed(p, "tileMark");
        QCOMPARE(tile.size(), 1);
        auto* rect = qobject_cast<QCPItemRect*>(tile.front());
        QVERIFY(rect);
        QCOMPARE(rect->topLeft->coords(), QPointF(31.5, 15.5));
        QCOMPARE(rect->bottomRight->coords(), QPointF(39.5, 23.5));
        auto* tiles = page->tiles();
        const QCPRange xr = tiles->axisRect(ErrorMatrixPanel::Original)->axis(QCPAxis::atBottom)->range();
        const QCPRange yr = tiles->axisRect(ErrorMatrixPanel::Original)->axis(QCPAxis::atLeft)->range();
        QCOMPARE(xr.lower, 31.5);
        QCOMPARE(xr.upper, 39.5);
        QCOMPARE(yr.lower, 15.5);
        QCOMPARE(yr.upper, 23.5);
        // The tile still shows the engine's values at those rows and columns.
        const auto shown = page->shown();
        QCOMPARE(tiles->value(ErrorMatrixPanel::Original, 0, 0), double(shown->original.data[16 * 384 + 32]));
        panel()->setConfig(AppContext::defaultConfig());
        QVERIFY(s_.idle());
    }

    // 12 (Generate): the first token where the continuations differ is highlighted, and each
    // side says how many tokens it generated.
    void generateMarksDivergenceAndCountsTokens() {
        qs::MethodConfig cfg = AppContext::defaultConfig();
        cfg.weight.bits = 2;
        panel()->setConfig(cfg);
        QTest::mouseClick(panel()->applyButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->configApplied() && !ctx()->modelBusy(), kLong);
        s_.w->showView("generate");
        GeneratePage* page = s_.w->generatePage();
        page->findChild<QSpinBox*>("maxTokens")->setValue(30);
        QSignalSpy done(page, &GeneratePage::generated);
        QTest::mouseClick(page->findChild<QPushButton*>("generateButton"), Qt::LeftButton);
        QVERIFY(done.wait(kLong));
        QVERIFY(s_.idle());
        const std::string prompt = page->promptEdit()->toPlainText().toStdString();
        const GenerateData a = s_.ref->generate(prompt, 30, false, 1.0, 0, true);
        s_.ref->apply(cfg);
        const GenerateData b = s_.ref->generate(prompt, 30, false, 1.0, 0, false);
        size_t first = 0;
        while (first < a.ids.size() && first < b.ids.size() && a.ids[first] == b.ids[first]) ++first;
        QVERIFY2(first < std::min(a.ids.size(), b.ids.size()), "the continuations do not differ");
        for (const char* name : {"originalTitle", "currentTitle"}) {
            auto* t = page->findChild<QLabel*>(name);
            QVERIFY2(t, name);
            QVERIFY2(t->text().contains("tokens"), qPrintable(t->text()));
        }
        QVERIFY(page->findChild<QLabel*>("originalTitle")->text().contains(QString::number(a.ids.size())));
        QVERIFY(page->findChild<QLabel*>("currentTitle")->text().contains(QString::number(b.ids.size())));
        const QString info = page->findChild<QLabel*>("divergenceInfo")->text();
        QVERIFY2(info.contains(QString("token %1").arg(first + 1)), qPrintable(info));
        for (QTextBrowser* out : {page->originalOutput(), page->currentOutput()})
            QVERIFY2(out->toHtml().contains("background-color"), "no highlighted token");
        panel()->setConfig(AppContext::defaultConfig());
        QTest::mouseClick(panel()->findChild<QPushButton*>("resetButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ctx()->applied().methods.empty() && !ctx()->modelBusy(), kLong);
        QVERIFY(s_.idle());
    }
};

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    TeachingTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_walkthrough_teaching.moc"
