#include <qcustomplot.h>

#include <QMenu>
#include <QSignalSpy>
#include <QtTest/QtTest>
#include <algorithm>
#include <numeric>

#include "channel_magnitude_view.h"
#include "gui_test_util.h"

using namespace qs::widgets;
using namespace qs::widgets::test;

class TestChannelMagnitudeView : public QObject {
    Q_OBJECT
  private slots:
    void highlightsExactlyTopK() {
        // 200 channels 0.5 .. 100; three planted outliers.
        std::vector<float> v(200);
        for (int i = 0; i < 200; ++i) v[i] = 0.5f * float((i * 37) % 200 + 1) / 100.0f;
        v[17] = 50.0f;
        v[150] = 80.0f;
        v[3] = 20.0f;
        ChannelMagnitudeView view;
        QSignalSpy spy(&view, &ChannelMagnitudeView::outliersChanged);
        view.setTopPercent(1.0);  // ceil(200 * 1%) = 2
        view.setValues(v);
        QCOMPARE(view.outlierChannels(), (QVector<int>{150, 17}));
        QCOMPARE(view.highlightedKeys(), (QVector<double>{17, 150}));
        QCOMPARE(view.normalKeys().size(), 198);
        QVERIFY(!view.normalKeys().contains(17));
        QVERIFY(spy.count() >= 1);
        QCOMPARE(spy.last().at(0).value<QVector<int>>(), (QVector<int>{150, 17}));
        QVERIFY(view.outlierListText().contains("150, 17"));

        view.setTopPercent(1.5);  // ceil(3.0) = 3
        QCOMPARE(view.outlierChannels(), (QVector<int>{150, 17, 3}));
        view.setTopCount(1);
        QCOMPARE(view.outlierChannels(), (QVector<int>{150}));
        view.setTopPercent(0);
        QVERIFY(view.outlierChannels().isEmpty());
        QVERIFY(view.highlightedKeys().isEmpty());
    }

    void tiesBreakByLowerIndex() {
        ChannelMagnitudeView view;
        view.setValues(std::vector<float>{1, 5, 3, 5, 2, 5});
        view.setTopCount(2);
        QCOMPARE(view.outlierChannels(), (QVector<int>{1, 3}));
        view.setTopCount(4);
        QCOMPARE(view.outlierChannels(), (QVector<int>{1, 3, 5, 2}));
        // Ranking uses |value|; NaN never ranks.
        view.setValues(std::vector<float>{-9, NAN, 4, 9});
        view.setTopCount(3);
        QCOMPARE(view.outlierChannels(), (QVector<int>{0, 3, 2}));
    }

    void percentRounding() {
        ChannelMagnitudeView view;
        std::vector<float> v(700);
        std::iota(v.begin(), v.end(), 1.0f);
        view.setValues(v);
        view.setTopPercent(1.0);  // 7 exactly, not 8 from float noise
        QCOMPARE(view.outlierChannels().size(), 7);
        QCOMPARE(view.outlierChannels().front(), 699);
        std::vector<float> w(768, 1.0f);
        view.setValues(w);
        QCOMPARE(view.outlierChannels().size(), 8);  // ceil(7.68)
        QCOMPARE(view.outlierChannels(), (QVector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
    }

    void logScaleToggle() {
        ChannelMagnitudeView view;
        view.setValues(std::vector<float>{0.1f, 1.0f, 10.0f, 100.0f});
        QVERIFY(view.supportsLogScale());
        QCOMPARE(view.plot()->yAxis->scaleType(), QCPAxis::stLinear);
        QSignalSpy spy(&view, &PlotView::logScaleChanged);
        view.setLogScale(true);
        QCOMPARE(view.plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
        QVERIFY(view.plot()->yAxis->range().lower > 0);
        QVERIFY(view.plot()->yAxis->range().lower <= 0.1);
        QCOMPARE(spy.count(), 1);
        // The context menu's "Log scale" action toggles it back.
        std::unique_ptr<QMenu> menu(view.createContextMenu());
        QAction* log = menu->findChild<QAction*>("logScale");
        QVERIFY(log);
        QVERIFY(log->isChecked());
        log->trigger();
        QCOMPARE(view.plot()->yAxis->scaleType(), QCPAxis::stLinear);
        QVERIFY(!view.isLogScale());
    }

    void afterSeriesOverlayAndLegend() {
        ChannelMagnitudeView view;
        view.setSeriesNames("mean |x| before", "mean |x| after SmoothQuant");
        view.setValues(std::vector<float>{1, 2, 30, 4});
        view.setTopCount(1);
        QCOMPARE(view.plot()->legend->itemCount(), 2);
        view.setAfterValues(std::vector<float>{1.5f, 2.2f, 5.0f, 3.9f});
        QVERIFY(view.hasAfterValues());
        QCOMPARE(view.plot()->legend->itemCount(), 3);
        QStringList names;
        for (int i = 0; i < view.plot()->plottableCount(); ++i) names << view.plot()->plottable(i)->name();
        QVERIFY(names.contains("mean |x| before"));
        QVERIFY(names.contains("mean |x| after SmoothQuant"));
        view.clearAfterValues();
        QCOMPARE(view.plot()->legend->itemCount(), 2);
    }

    void impulsesStyle() {
        ChannelMagnitudeView view;
        view.setStyle(ChannelMagnitudeView::Style::Impulses);
        view.setValues(std::vector<float>{1, 9, 2, 3});
        view.setTopCount(1);
        QCOMPARE(view.highlightedKeys(), (QVector<double>{1}));
        bool anyGraph = false;
        for (int i = 0; i < view.plot()->plottableCount(); ++i)
            anyGraph = anyGraph || qobject_cast<QCPGraph*>(view.plot()->plottable(i));
        QVERIFY(anyGraph);
    }

    void axisLabels() {
        ChannelMagnitudeView view;
        QVERIFY(!view.xLabel().isEmpty());
        QVERIFY(!view.yLabel().isEmpty());
        view.setAxisLabels("input channel", "max |x|");
        QCOMPARE(view.plot()->xAxis->label(), QString("input channel"));
        QCOMPARE(view.plot()->yAxis->label(), QString("max |x|"));
    }

    // A narrow view: every legend entry stays inside the widget (entries move to more rows, and
    // their text wraps when one per row is still too wide), at any width.
    void legendEntriesStayInside() {
        ChannelMagnitudeView view;
        view.setStyle(ChannelMagnitudeView::Style::Impulses);
        view.setSeriesNames("original model", "quantized model");
        std::vector<float> v(128), a(128);
        for (int i = 0; i < 128; ++i) v[i] = a[i] = float(i % 7);
        view.setValues(v);
        view.setAfterValues(a);
        view.setTopCount(1, "top 1 %: 1 of 128");
        for (int width : {360, 300, 240, 200}) {
            QVERIFY(qs::widgets::test::showAt(&view, QSize(width, 260)));
            view.plot()->replot();
            QCPLegend* legend = view.plot()->legend;
            for (int i = 0; i < legend->itemCount(); ++i) {
                QCPAbstractLegendItem* item = legend->item(i);
                auto* pl = qobject_cast<QCPPlottableLegendItem*>(item);
                if (!pl) continue;  // an empty cell of the legend's grid
                QFontMetrics fm(item->font());
                int text = 0;
                for (const QString& line : pl->plottable()->name().split('\n'))
                    text = std::max(text, fm.horizontalAdvance(line));
                const int right = item->rect().x() + legend->iconSize().width() + legend->iconTextPadding() + text;
                QVERIFY2(right <= view.plot()->width(),
                         qPrintable(
                             QString("width %1: '%2' ends at %3").arg(width).arg(pl->plottable()->name()).arg(right)));
            }
        }
    }
};

QObject* createChannelMagnitudeViewTest() { return new TestChannelMagnitudeView; }

#include "test_channel_magnitude_view.moc"
