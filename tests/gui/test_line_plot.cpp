#include <qcustomplot.h>

#include <QtTest/QtTest>

#include "gui_test_util.h"
#include "line_plot.h"

using namespace qs::widgets;
using namespace qs::widgets::test;

class TestLinePlot : public QObject {
    Q_OBJECT
  private slots:
    void seriesAndLegend() {
        LinePlot plot;
        const int a = plot.addSeries("w3 g128", QVector<double>{0, 0.25, 0.5}, QVector<double>{30, 25, 27});
        const int b = plot.addSeries("w4 g128", std::vector<double>{0, 0.25, 0.5}, std::vector<double>{29, 28, 28.5});
        QCOMPARE(a, 0);
        QCOMPARE(b, 1);
        QCOMPARE(plot.seriesCount(), 2);
        QCOMPARE(plot.graph(0)->data()->size(), 3);
        QCOMPARE(plot.graph(1)->name(), QString("w4 g128"));
        QCOMPARE(plot.plot()->legend->itemCount(), 2);
        QVERIFY(plot.graph(0)->pen().color() != plot.graph(1)->pen().color());
        QVERIFY(plot.graph(0)->scatterStyle().shape() != QCPScatterStyle::ssNone);
        plot.setMarkersVisible(false);
        QCOMPARE(plot.graph(0)->scatterStyle().shape(), QCPScatterStyle::ssNone);
    }

    void highlightedPoint() {
        LinePlot plot;
        // x not sorted: highlight indices refer to the order given.
        const int s = plot.addSeries("loss", QVector<double>{0.5, 0.0, 0.25}, QVector<double>{3, 1, 2});
        plot.setHighlight(s, 2, "chosen ratio");
        QCPGraph* h = plot.highlightGraph(s);
        QCOMPARE(h->data()->size(), 1);
        QCOMPARE(h->data()->constBegin()->key, 0.25);
        QCOMPARE(h->data()->constBegin()->value, 2.0);
        QVERIFY(plot.graph(s)->name().contains("chosen ratio"));
        QVERIFY(plot.graph(s)->name().contains("0.25"));
        QCOMPARE(plot.plot()->legend->itemCount(), 1);  // one entry per series
        // The line is drawn in x order.
        QCOMPARE(plot.graph(s)->data()->constBegin()->key, 0.0);
        plot.setHighlight(s, -1);
        QCOMPARE(h->data()->size(), 0);
        QCOMPARE(plot.graph(s)->name(), QString("loss"));
    }

    void sweepChoosesMinimum() {
        SweepPlot plot;
        const int s =
            plot.addSweep("ppl vs alpha", QVector<double>{0.1, 0.3, 0.5, 0.7}, QVector<double>{31, 29, 29, 35});
        QCOMPARE(plot.highlightIndex(s), 1);  // first minimum on ties
        const int t = plot.addSweep("explicit", QVector<double>{1, 2}, QVector<double>{5, 4}, 0, "default");
        QCOMPARE(plot.highlightIndex(t), 0);
        QCOMPARE(SweepPlot::argMin({NAN, 3, 2, NAN}), 2);
        QCOMPARE(SweepPlot::argMin({}), -1);
    }

    void logScales() {
        LinePlot plot;
        plot.addSeries("ppl", QVector<double>{1, 2, 3}, QVector<double>{10, 100, 1000});
        plot.setLogScale(true);
        QCOMPARE(plot.plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
        QVERIFY(plot.plot()->yAxis->range().lower > 0);
        QVERIFY(plot.plot()->yAxis->range().contains(10) && plot.plot()->yAxis->range().contains(1000));
        plot.setLogScale(false);
        QCOMPARE(plot.plot()->yAxis->scaleType(), QCPAxis::stLinear);
        plot.setLogX(true);
        QCOMPARE(plot.plot()->xAxis->scaleType(), QCPAxis::stLogarithmic);
    }

    void appendAndClear() {
        LinePlot plot;
        const int s = plot.addSeries("running ppl", QVector<double>{}, QVector<double>{});
        for (int i = 1; i <= 5; ++i) plot.appendPoint(s, i, 30.0 / i);
        QCOMPARE(plot.graph(s)->data()->size(), 5);
        QVERIFY(plot.plot()->xAxis->range().contains(5));
        plot.clearSeries();
        QCOMPARE(plot.seriesCount(), 0);
        QCOMPARE(plot.plot()->graphCount(), 0);
    }

    void axisLabels() {
        LinePlot plot;
        // No placeholder "x" / "y": a plot without labels shows none (the pages always set them).
        QVERIFY(plot.xLabel().isEmpty());
        QVERIFY(plot.yLabel().isEmpty());
        plot.setAxisLabels("SmoothQuant alpha", "perplexity");
        QCOMPARE(plot.plot()->xAxis->label(), QString("SmoothQuant alpha"));
        QCOMPARE(plot.plot()->yAxis->label(), QString("perplexity"));
    }
};

QObject* createLinePlotTest() { return new TestLinePlot; }

#include "test_line_plot.moc"
