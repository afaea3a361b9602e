// Qt Test suite for the Sensitivity page (issue #16 item 4) on the real window (offscreen) and the
// bundled model: Run measures every decoder Linear and block of the methods panel's configuration
// (rows arrive while it runs), the table and the exported CSV/JSON equal `quantscope-cli
// sensitivity` with the same settings, the table sorts by a clicked column, clicking a row or a bar
// selects that layer in the whole window, the plot follows the metric / scope / sort / log controls,
// Cancel keeps the rows measured so far and the configuration the model carries, and a method
// change marks the map stale; "Keep top N at w8" puts the most sensitive Linears' overrides into
// the draft (mixed precision from the map, as the CLI's --keep-top).
#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <qcustomplot.h>

#include <algorithm>
#include <memory>

#include "app_context.h"
#include "layer_navigator.h"
#include "main_window.h"
#include "model_page.h"
#include "methods_panel.h"
#include "model_session.h"
#include "sensitivity_page.h"
#include "sensitivity_view.h"
#include "workbench_test_util.h"

namespace {

using qs::gui::test::kLong;

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

qs::MethodConfig rtn(int bits, int64_t group) {
    qs::MethodConfig c = AppContext::defaultConfig();
    c.methods = {"rtn"};
    c.weight.bits = bits;
    c.weight.group_size = group;
    return c;
}

}  // namespace

class SensitivityGuiTest : public QObject {
    Q_OBJECT

  private:
    std::unique_ptr<MainWindow> w_;
    QTemporaryDir tmp_;
    AppContext* ctx() const { return w_->context(); }
    SensitivityPage* page() const { return w_->sensitivityPage(); }
    bool waitIdle(int ms = kLong) { return qs::gui::test::waitIdle(ctx(), ms); }
    // quantscope-cli sensitivity on the bundled model with the page's settings
    QByteArray cli(const QStringList& args) {
        QProcess p;
        p.start(QS_CLI_PATH, QStringList{"sensitivity", "--seqlen", "64", "--nsamples", "2", "--method", "rtn",
                                         "--w-bits", "3", "--group-size", "64"} +
                                 args);
        if (!p.waitForFinished(kLong) || p.exitCode() != 0) {
            qWarning() << p.readAllStandardError();
            return {};
        }
        return p.readAllStandardOutput();
    }
    void runAndWait() {
        QSignalSpy done(page(), &SensitivityPage::runFinished);
        QVERIFY(page()->runButton()->isEnabled());
        QTest::mouseClick(page()->runButton(), Qt::LeftButton);
        QVERIFY(done.wait(kLong));
        QVERIFY(waitIdle());
    }
    QString cell(int row, int col) const { return page()->proxy()->index(row, col).data().toString(); }

  private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        w_ = std::make_unique<MainWindow>();
        w_->resize(1600, 1000);
        w_->show();
        QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
        QSignalSpy loaded(w_.get(), &MainWindow::modelChanged);
        w_->openModel(QString::fromStdString(default_model_path()));
        QVERIFY(loaded.wait(kLong));
        QVERIFY(waitIdle());
        QVERIFY(w_->showView("sensitivity"));
        QCOMPARE(w_->currentView(), QString("sensitivity"));
        QVERIFY(page()->view()->placeholderShown());
        QVERIFY(!page()->exportButton()->isEnabled());
    }

    void cleanupTestCase() { w_.reset(); }

    // Run: 14 Linears + 2 blocks, the same numbers as the CLI; the summary names the protocol.
    void runMatchesTheCli() {
        w_->methodsPanel()->setConfig(rtn(3, 64));
        QVERIFY(AppContext::sameConfig(ctx()->config(), rtn(3, 64)));
        page()->seqlenSpin()->setValue(64);
        page()->windowsSpin()->setValue(2);
        int seenWhileRunning = -1;
        QMetaObject::Connection c = connect(ctx(), &AppContext::jobProgress, this, [&](const QString& ch, double f) {
            if (ch == "sensitivity" && f < 0.9)
                seenWhileRunning = std::max<int>(seenWhileRunning, page()->rows().size());
        });
        runAndWait();
        disconnect(c);
        QVERIFY2(seenWhileRunning > 0, "rows appear while the map is measured");
        QVERIFY(page()->complete());
        QCOMPARE(int(page()->rows().size()), 16);
        QCOMPARE(page()->proxy()->rowCount(), 16);
        QCOMPARE(page()->view()->barCount(), 14);  // scope: Linears
        QVERIFY(!page()->view()->placeholderShown());
        QVERIFY(AppContext::sameConfig(ctx()->applied(), rtn(3, 64)));  // the run applied it
        QVERIFY(page()->summaryLabel()->text().contains("2 windows × 64 tokens"));
        QVERIFY(page()->summaryLabel()->toolTip().contains("non-overlapping windows"));

        const QJsonObject j = QJsonDocument::fromJson(cli({"--format", "json"})).object();
        const QJsonArray entries = j["entries"].toArray();
        QCOMPARE(entries.size(), 16);
        for (int i = 0; i < 16; ++i) {
            const SensitivityRow& r = page()->rows()[size_t(i)];
            const QJsonObject e = entries[i].toObject();
            QCOMPARE(QString::fromStdString(r.name), e["name"].toString());
            QCOMPARE(r.kl_mean, e["kl"].toObject()["mean"].toDouble());
            QCOMPARE(r.ppl, e["ppl"].toDouble());
            // the table shows them (model order: sorted by Layer ascending)
            QCOMPARE(cell(i, SensitivityPage::Layer), e["name"].toString());
            QCOMPARE(cell(i, SensitivityPage::Ppl), QString::number(e["ppl"].toDouble(), 'f', 3));
        }
        QVERIFY(page()->summaryLabel()->text().contains(QString::number(j["base_ppl"].toDouble(), 'f', 3)));
        // the bars are the KL means of the Linears
        QCOMPARE(page()->view()->barAt(6).name, QString("model.layers.0.mlp.down_proj"));
        QCOMPARE(page()->view()->barAt(6).value, entries[6].toObject()["kl"].toObject()["mean"].toDouble());
    }

    // Exports: the CLI's CSV byte for byte, and its JSON.
    void exportsEqualTheCli() {
        const QString csv = tmp_.filePath("s.csv"), js = tmp_.filePath("s.json");
        QString err;
        QVERIFY2(page()->exportTo(csv, &err), qPrintable(err));
        QCOMPARE(readAll(csv), cli({"--format", "csv"}));
        ctx()->choosers().saveFile = [js](QWidget*, const QString&, const QString&, const QString&) { return js; };
        QTest::mouseClick(page()->exportButton(), Qt::LeftButton);
        const QJsonObject j = QJsonDocument::fromJson(readAll(js)).object();
        QCOMPARE(j["entries"].toArray().size(), 16);
        QVERIFY(page()->statusLabel()->text().contains("Saved"));
        // never into the model folder
        const QString inside = QString::fromStdString(default_model_path()) + "/s.csv";
        QVERIFY(!page()->exportTo(inside, &err));
        QVERIFY(!QFile::exists(inside));
    }

    // The table sorts by a clicked column; a clicked row or bar selects that layer everywhere.
    void sortAndSelect() {
        QTableView* t = page()->table();
        const int x = t->horizontalHeader()->sectionViewportPosition(SensitivityPage::KlMeanCol) + 5;
        QTest::mouseClick(t->horizontalHeader()->viewport(), Qt::LeftButton, {}, QPoint(x, 5));
        double maxKl = 0;
        for (const auto& r : page()->rows()) maxKl = std::max(maxKl, r.kl_mean);
        const Qt::SortOrder order = t->horizontalHeader()->sortIndicatorOrder();
        const int top = order == Qt::DescendingOrder ? 0 : page()->proxy()->rowCount() - 1;
        QCOMPARE(page()->proxy()->index(top, SensitivityPage::KlMeanCol).data(Qt::UserRole + 1).toDouble(), maxKl);
        QCOMPARE(cell(top, SensitivityPage::Kind), QString("block"));  // a whole block hurts most here

        // click the row of model.layers.1.mlp.up_proj
        int row = -1;
        for (int i = 0; i < page()->proxy()->rowCount(); ++i)
            if (cell(i, SensitivityPage::Layer) == "model.layers.1.mlp.up_proj") row = i;
        QVERIFY(row >= 0);
        t->scrollTo(page()->proxy()->index(row, SensitivityPage::Block));
        QTest::mouseClick(t->viewport(), Qt::LeftButton, {},
                          t->visualRect(page()->proxy()->index(row, SensitivityPage::Block)).center());
        QCOMPARE(ctx()->layer(), QString("model.layers.1.mlp.up_proj"));
        QCOMPARE(page()->view()->selected(), QString("model.layers.1.mlp.up_proj"));
        QVERIFY(page()->view()->selectionText().contains("model.layers.1.mlp.up_proj"));

        // click the bar of model.layers.0.self_attn.v_proj
        QCustomPlot* p = page()->view()->plot();
        const int pos = page()->view()->positionOf("model.layers.0.self_attn.v_proj");
        QVERIFY(pos >= 0);
        const QPoint at(int(p->xAxis->coordToPixel(page()->view()->keyOf(pos))), int(p->yAxis->coordToPixel(0)) - 3);
        QSignalSpy clicked(page()->view(), &qs::widgets::SensitivityView::barClicked);
        QTest::mouseClick(p, Qt::LeftButton, {}, at);
        QCOMPARE(clicked.count(), 1);
        QCOMPARE(ctx()->layer(), QString("model.layers.0.self_attn.v_proj"));
        QCOMPARE(page()->view()->selected(), QString("model.layers.0.self_attn.v_proj"));
        QVERIFY(waitIdle());
    }

    // Metric, scope, sort and log controls change what the plot draws.
    void plotControls() {
        auto* metric = page()->metricCombo();
        metric->setCurrentIndex(metric->findData(int(SensitivityPage::DeltaPpl)));
        for (int i = 0; i < page()->view()->barCount(); ++i)
            QCOMPARE(page()->view()->barAt(i).value, page()->rows()[size_t(i)].delta_ppl);
        QVERIFY(page()->view()->yLabel().contains("perplexity"));
        QTest::mouseClick(page()->sortCheck(), Qt::LeftButton);
        QVERIFY(page()->view()->sortByValue());
        for (int i = 1; i < page()->view()->barCount(); ++i)
            QVERIFY(page()->view()->barAt(i - 1).value >= page()->view()->barAt(i).value);
        auto* scope = page()->scopeCombo();
        scope->setCurrentIndex(scope->findData("block"));
        QCOMPARE(page()->view()->barCount(), 2);
        QVERIFY(page()->view()->barAt(0).name.startsWith("model.layers."));
        QTest::mouseClick(page()->logCheck(), Qt::LeftButton);
        QVERIFY(page()->view()->isLogScale());
        QTest::mouseClick(page()->logCheck(), Qt::LeftButton);
        scope->setCurrentIndex(scope->findData("linear"));
        QTest::mouseClick(page()->sortCheck(), Qt::LeftButton);
        metric->setCurrentIndex(metric->findData(int(SensitivityPage::KlMean)));
        QCOMPARE(page()->view()->barCount(), 14);
        // and the plot exports for slides
        QString err;
        QVERIFY2(page()->view()->exportTo(tmp_.filePath("map.svg"), &err), qPrintable(err));
        QVERIFY(readAll(tmp_.filePath("map.svg")).contains("<svg"));
    }

    // Mixed precision from the map: "keep the 3 most sensitive Linears at 8 bits" sets those
    // overrides in the draft (the CLI's --keep-top picks the same names), the Model page shows the
    // resulting average bits, and ranking follows the plotted metric (delta ppl).
    void keepMostSensitiveSetsOverrides() {
        QVERIFY(page()->keepButton()->isEnabled());
        page()->keepSpin()->setValue(3);
        page()->keepCombo()->setCurrentIndex(page()->keepCombo()->findData("w8"));
        QTest::mouseClick(page()->keepButton(), Qt::LeftButton);
        std::vector<SensitivityRow> lin;
        for (const auto& r : page()->rows())
            if (r.kind == "linear") lin.push_back(r);
        std::stable_sort(lin.begin(), lin.end(), [](const auto& a, const auto& b) { return a.kl_mean > b.kl_mean; });
        const auto& ov = ctx()->config().overrides;
        QCOMPARE(int(ov.size()), 3);
        double bits = 0, params = 0;
        for (size_t i = 0; i < lin.size(); ++i) {
            const bool kept = i < 3;
            QCOMPARE(ov.count(lin[i].name), size_t(kept ? 1 : 0));
            if (kept) QCOMPARE(ov.at(lin[i].name).bits, 8);
            bits += double(lin[i].params) * (kept ? 8 : 3);
            params += double(lin[i].params);
        }
        QVERIFY(page()->statusLabel()->text().contains("the 3 most sensitive Linears (by mean KL) at w8"));
        QVERIFY(page()->staleLabel()->isVisible());  // the draft is no longer the map's configuration
        // the CLI picks the same three
        const QString out = tmp_.filePath("ov.json");
        QVERIFY(!cli({"--format", "csv", "--no-total", "--keep-top", "3", "--overrides-out", out}).isEmpty());
        const QJsonObject cliOv = QJsonDocument::fromJson(readAll(out)).object()["overrides"].toObject();
        QCOMPARE(cliOv.size(), 3);
        for (const auto& [name, o] : ov) QVERIFY2(cliOv.contains(QString::fromStdString(name)), name.c_str());
        // the Model page: the whole model's average bits with them
        QVERIFY(w_->showView("model"));
        const QString mixed = w_->modelPage()->mixedSummaryLabel()->text();
        QVERIFY2(mixed.contains(QString::number(bits / params, 'f', 4) + " without scales"), qPrintable(mixed));
        QVERIFY(w_->showView("sensitivity"));

        // ranked by delta ppl while the plot shows it; skip = full precision
        ctx()->clearOverrides();
        auto* metric = page()->metricCombo();
        metric->setCurrentIndex(metric->findData(int(SensitivityPage::DeltaPpl)));
        page()->keepSpin()->setValue(2);
        page()->keepCombo()->setCurrentIndex(page()->keepCombo()->findData("skip"));
        QTest::mouseClick(page()->keepButton(), Qt::LeftButton);
        std::stable_sort(lin.begin(), lin.end(),
                         [](const auto& a, const auto& b) { return a.delta_ppl > b.delta_ppl; });
        QCOMPARE(int(ctx()->config().overrides.size()), 2);
        QVERIFY(ctx()->config().overrides.at(lin[0].name).skip);
        QVERIFY(ctx()->config().overrides.at(lin[1].name).skip);
        metric->setCurrentIndex(metric->findData(int(SensitivityPage::KlMean)));
        w_->methodsPanel()->setConfig(rtn(3, 64));  // back to the map's configuration
        QVERIFY(ctx()->config().overrides.empty());
        QVERIFY(!page()->staleLabel()->isVisible());
        QVERIFY(waitIdle());
    }

    // A method change marks the map stale; Cancel keeps the rows so far and what the model carries.
    void staleAndCancel() {
        QVERIFY(!page()->staleLabel()->isVisible());
        w_->methodsPanel()->setConfig(rtn(4, 32));
        QVERIFY(page()->staleLabel()->isVisible());
        page()->seqlenSpin()->setValue(256);
        page()->windowsSpin()->setValue(24);
        QSignalSpy cancelled(page(), &SensitivityPage::runCancelled);
        QTest::mouseClick(page()->runButton(), Qt::LeftButton);
        QVERIFY(page()->cancelButton()->isEnabled());
        QTRY_VERIFY_WITH_TIMEOUT(page()->rows().size() >= 2, kLong);
        QTest::mouseClick(page()->cancelButton(), Qt::LeftButton);
        QVERIFY(cancelled.wait(kLong));
        QVERIFY(waitIdle());
        QVERIFY(page()->statusLabel()->text().startsWith("Cancelled"));
        QVERIFY(page()->rows().size() < 16);
        QCOMPARE(page()->proxy()->rowCount(), int(page()->rows().size()));
        QVERIFY(!page()->complete());
        QVERIFY(!page()->exportButton()->isEnabled());
        QString err;
        QVERIFY(!page()->exportTo(tmp_.filePath("partial.csv"), &err));
        QVERIFY(err.contains("Run first"));
        QVERIFY(page()->runButton()->isEnabled());
        // the engine applied the configuration before the map; a cancel keeps it
        QVERIFY(AppContext::sameConfig(w_->context()->workbench()->applied(), rtn(4, 32)));
    }
};

QTEST_MAIN(SensitivityGuiTest)
#include "test_workbench_sensitivity.moc"
