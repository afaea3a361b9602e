#include <qcustomplot.h>

#include <QtTest/QtTest>

#include "gui_test_util.h"
#include "histogram_view.h"

using namespace qs::widgets;
using namespace qs::widgets::test;

class TestHistogramView : public QObject {
    Q_OBJECT
  private slots:
    void countsOfKnownData() {
        HistogramView view;
        // 0,0,1,1,1,2,3,4 over 4 bins of [0, 4]: [0,1) [1,2) [2,3) [3,4] -> 2, 3, 1, 2
        view.setBinCount(4);
        view.setValues({0, 0, 1, 1, 1, 2, 3, 4}, "w");
        QCOMPARE(view.binRange().lower, 0.0);
        QCOMPARE(view.binRange().upper, 4.0);
        QCOMPARE(view.binWidth(), 1.0);
        QCOMPARE(view.binCounts(), (QVector<double>{2, 3, 1, 2}));
        QCOMPARE(view.binCenters(), (QVector<double>{0.5, 1.5, 2.5, 3.5}));
        // The bars show those counts.
        QCPBars* bars = view.bars(0);
        QVERIFY(bars);
        QCOMPARE(bars->data()->size(), 4);
        QVector<double> shown;
        for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it) shown << it->value;
        QCOMPARE(shown, (QVector<double>{2, 3, 1, 2}));
        QCOMPARE(bars->width(), 1.0);
        QVERIFY(bars->name().startsWith("w (n = 8"));
    }

    void binCountAndFixedRange() {
        HistogramView view;
        std::vector<float> v;
        for (int i = 0; i < 1000; ++i) v.push_back(float(i) / 1000.0f);
        view.setValues(v);
        QCOMPARE(view.binCount(), 100);
        view.setBinCount(10);
        QCOMPARE(view.binCounts().size(), 10);
        double total = 0;
        for (double c : view.binCounts()) total += c;
        QCOMPARE(total, 1000.0);
        view.setValueRange(0.0, 0.5);
        QCOMPARE(view.outOfRangeCount(), 499);
        view.clearValueRange();
        QCOMPARE(view.outOfRangeCount(), 0);
    }

    void overlaySeriesShareBins() {
        HistogramView view;
        view.setBinCount(5);
        view.setValues({0, 1, 2, 3, 4, 5}, "before");
        QCOMPARE(view.addValues("after", {0, 0, 0, 5, 5, 10}), 1);
        QCOMPARE(view.seriesCount(), 2);
        QCOMPARE(view.binRange().upper, 10.0);
        QCOMPARE(view.binCounts(1), (QVector<double>{3, 0, 2, 0, 1}));
        QCOMPARE(view.plot()->legend->itemCount(), 2);
    }

    void logScaleToggle() {
        HistogramView view;
        view.setValues({1, 2, 2, 3, 3, 3});
        view.setLogScale(true);
        QCOMPARE(view.plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
        QVERIFY(view.plot()->yAxis->range().lower > 0);
        view.setLogScale(false);
        QCOMPARE(view.plot()->yAxis->scaleType(), QCPAxis::stLinear);
    }

    void axisLabels() {
        HistogramView view;
        QVERIFY(!view.xLabel().isEmpty());
        QVERIFY(!view.yLabel().isEmpty());
        view.setAxisLabels("weight", "count");
        QCOMPARE(view.plot()->xAxis->label(), QString("weight"));
    }
};

QObject* createHistogramViewTest() { return new TestHistogramView; }

#include "test_histogram_view.moc"
