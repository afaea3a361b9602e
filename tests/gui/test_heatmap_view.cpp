#include <qcustomplot.h>

#include <QSignalSpy>
#include <QtTest/QtTest>
#include <cmath>

#include "gui_test_util.h"
#include "heatmap_view.h"
#include "matrix_pooling.h"

using namespace qs::widgets;
using namespace qs::widgets::test;

namespace {

// Value with the largest magnitude in a block, first in row-major order on ties
// (computed here independently of matrix_pooling.cpp).
float blockMaxAbs(const std::vector<float>& v, int cols, int r0, int r1, int c0, int c1) {
    float best = 0, bestAbs = -1;
    for (int r = r0; r < r1; ++r)
        for (int c = c0; c < c1; ++c) {
            const float x = v[std::size_t(r) * cols + c];
            if (std::fabs(x) > bestAbs) {
                bestAbs = std::fabs(x);
                best = x;
            }
        }
    return best;
}

// Value drawn by the colour map at data position (row, col).
double shown(HeatmapView& view, int row, int col) { return view.colorMap()->data()->data(col, row); }

}  // namespace

class TestHeatmapView : public QObject {
    Q_OBJECT
  private slots:
    void smallMatrixCellsEqualValues() {
        HeatmapView view;
        QVERIFY(showAt(&view, QSize(900, 560)));
        std::vector<float> m(24);
        for (int i = 0; i < 24; ++i) m[i] = float(i) * 0.25f - 3.0f;
        QVERIFY(view.setMatrix(m, 4, 6));
        QCPColorMapData* d = view.colorMap()->data();
        QCOMPARE(d->keySize(), 6);
        QCOMPARE(d->valueSize(), 4);
        for (int r = 0; r < 4; ++r)
            for (int c = 0; c < 6; ++c) {
                QCOMPARE(d->cell(c, r), double(m[r * 6 + c]));
                QCOMPARE(shown(view, r, c), double(m[r * 6 + c]));
            }
        QCOMPARE(view.displayedGrid().blockRows, 1);
        QCOMPARE(view.displayedGrid().blockCols, 1);
        QCOMPARE(view.visibleRegion(), QRect(0, 0, 6, 4));
        // 24 large cells: every value is written in its cell.
        QCOMPARE(view.annotatedCellCount(), 24);
    }

    void rejectsMismatchedSizes() {
        HeatmapView view;
        QVERIFY(!view.setMatrix(std::vector<float>(10), 3, 4));
        QCOMPARE(view.rows(), 0);
    }

    void axisAndScaleLabels() {
        HeatmapView view;
        QVERIFY(!view.xLabel().isEmpty());
        QVERIFY(!view.yLabel().isEmpty());
        view.setAxisLabels("input channel", "output channel");
        view.setColorScaleLabel("weight");
        QCOMPARE(view.plot()->xAxis->label(), QString("input channel"));
        QCOMPARE(view.plot()->yAxis->label(), QString("output channel"));
        QCOMPARE(view.colorScale()->axis()->label(), QString("weight"));
        view.setTitle("fc1.weight");
        QCOMPARE(view.title(), QString("fc1.weight"));
    }

    void poolingFunctionMatchesBruteForce() {
        const int rows = 37, cols = 53;
        const auto v = randomMatrix(rows, cols, 7);
        const PooledGrid g = poolMaxAbs(v.data(), rows, cols, 0, rows, 0, cols, 10, 10);
        QCOMPARE(g.blockRows, 4);
        QCOMPARE(g.blockCols, 6);
        QCOMPARE(g.cellRows, 10);
        QCOMPARE(g.cellCols, 9);
        for (int i = 0; i < g.cellRows; ++i)
            for (int j = 0; j < g.cellCols; ++j)
                QCOMPARE(g.at(i, j),
                         blockMaxAbs(v, cols, i * 4, std::min(rows, i * 4 + 4), j * 6, std::min(cols, j * 6 + 6)));
    }

    void poolingTiesAndNaN() {
        // Ties on |w|: the first value in row-major order wins; NaN is skipped.
        const std::vector<float> v = {3, -3, NAN, 1, -3, 3, NAN, NAN};
        const PooledGrid g = poolMaxAbs(v.data(), 2, 4, 0, 2, 0, 4, 1, 2);
        QCOMPARE(g.cellCols, 2);
        QCOMPARE(g.at(0, 0), 3.0f);
        QCOMPARE(g.at(0, 1), 1.0f);
        const std::vector<float> allNaN = {NAN, NAN};
        QVERIFY(std::isnan(poolMaxAbs(allNaN.data(), 1, 2, 0, 1, 0, 2, 1, 1).at(0, 0)));
    }

    void largeMatrixPooledCellIsMaxAbsOfBlock() {
        const int rows = 1000, cols = 3000;
        auto v = randomMatrix(rows, cols, 42);
        v[std::size_t(123) * cols + 2345] = -7.5f;  // a planted outlier must survive pooling
        HeatmapView view;
        QVERIFY(showAt(&view, QSize(900, 560)));
        view.setMaxCells(100, 300);
        QVERIFY(view.setMatrix(v, rows, cols));
        const PooledGrid& g = view.displayedGrid();
        QCOMPARE(g.blockRows, 10);
        QCOMPARE(g.blockCols, 10);
        QCOMPARE(view.colorMap()->data()->keySize(), 300);
        QCOMPARE(view.colorMap()->data()->valueSize(), 100);
        const int probes[][2] = {{0, 0}, {12, 234}, {99, 299}, {50, 150}, {7, 3}};
        for (const auto& p : probes) {
            const int i = p[0], j = p[1];
            const float expect = blockMaxAbs(v, cols, i * 10, i * 10 + 10, j * 10, j * 10 + 10);
            QCOMPARE(float(view.colorMap()->data()->cell(j, i)), expect);
            // Any data position inside the block shows the pooled value.
            QCOMPARE(float(shown(view, i * 10 + 3, j * 10 + 8)), expect);
        }
        QCOMPARE(float(shown(view, 123, 2345)), -7.5f);
        QVERIFY(view.statusText().contains("10 × 10"));
    }

    void defaultPoolingFitsPixels() {
        const int rows = 1000, cols = 3000;
        HeatmapView view;
        QVERIFY(showAt(&view, QSize(900, 560)));
        QVERIFY(view.setMatrix(randomMatrix(rows, cols, 1), rows, cols));
        view.plot()->replot();
        const QRect area = view.plot()->axisRect()->rect();
        const PooledGrid& g = view.displayedGrid();
        QVERIFY(g.blockCols > 1);
        QVERIFY(g.cellCols <= area.width());
        QVERIFY(g.cellRows <= area.height());
        QCOMPARE(g.blockCols, poolBlockSize(cols, area.width()));
    }

    void zoomToRegionShowsExactValues() {
        const int rows = 1000, cols = 3000;
        const auto v = randomMatrix(rows, cols, 3);
        HeatmapView view;
        QVERIFY(showAt(&view, QSize(900, 560)));
        QVERIFY(view.setMatrix(v, rows, cols));
        QVERIFY(view.displayedGrid().blockCols > 1);
        view.zoomTo(500, 1234, 4, 4);
        QCOMPARE(view.visibleRegion(), QRect(1234, 500, 4, 4));
        QCOMPARE(view.displayedGrid().blockRows, 1);
        QCOMPARE(view.displayedGrid().blockCols, 1);
        for (int r = 500; r < 504; ++r)
            for (int c = 1234; c < 1238; ++c) QCOMPARE(float(shown(view, r, c)), v[std::size_t(r) * cols + c]);
        view.plot()->replot();
        QCOMPARE(view.annotatedCellCount(), 16);
        QVERIFY(view.statusText().contains("one value"));
        view.resetZoom();
        QCOMPARE(view.visibleRegion(), QRect(0, 0, cols, rows));
        QVERIFY(view.displayedGrid().blockCols > 1);
    }

    void interactiveRangeChangeRepools() {
        const int rows = 600, cols = 2000;
        const auto v = randomMatrix(rows, cols, 5);
        HeatmapView view;
        QVERIFY(showAt(&view, QSize(900, 560)));
        QVERIFY(view.setMatrix(v, rows, cols));
        QSignalSpy spy(&view, &HeatmapView::visibleRegionChanged);
        // What a mouse-wheel zoom does: the axes change, the view re-pools on the next event loop.
        view.plot()->xAxis->setRange(99.5, 109.5);
        view.plot()->yAxis->setRange(9.5, 17.5);
        QTRY_COMPARE(view.displayedGrid().blockCols, 1);
        QCOMPARE(view.displayedGrid().blockRows, 1);
        QCOMPARE(view.visibleRegion(), QRect(100, 10, 10, 8));
        QVERIFY(spy.count() >= 1);
        QCOMPARE(float(shown(view, 12, 105)), v[std::size_t(12) * cols + 105]);
    }

    void rangesAreClampedToTheMatrix() {
        HeatmapView view;
        QVERIFY(showAt(&view, QSize(900, 560)));
        QVERIFY(view.setMatrix(randomMatrix(20, 30, 9), 20, 30));
        view.plot()->xAxis->setRange(-100, 500);  // zoom out far beyond the data
        QCOMPARE(view.plot()->xAxis->range().lower, -0.5);
        QCOMPARE(view.plot()->xAxis->range().upper, 29.5);
        view.plot()->yAxis->setRange(15, 40);  // pan past the bottom edge
        QCOMPARE(view.plot()->yAxis->range().upper, 19.5);
        QCOMPARE(view.plot()->yAxis->range().size(), 20.0);
    }

    void hoverReportsFullResolutionValue() {
        const int rows = 8, cols = 10;
        const auto v = randomMatrix(rows, cols, 11);
        HeatmapView view;
        QVERIFY(showAt(&view, QSize(900, 560)));
        QVERIFY(view.setMatrix(v, rows, cols));
        view.plot()->replot();
        QSignalSpy spy(&view, &HeatmapView::hovered);
        const QPoint pos(int(view.plot()->xAxis->coordToPixel(3)), int(view.plot()->yAxis->coordToPixel(2)));
        int r = -1, c = -1;
        QVERIFY(view.cellAt(pos, &r, &c));
        QCOMPARE(r, 2);
        QCOMPARE(c, 3);
        QTest::mouseMove(view.plot(), pos);
        QTRY_COMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(0).toInt(), 2);
        QCOMPARE(spy.at(0).at(1).toInt(), 3);
        QCOMPARE(spy.at(0).at(2).toFloat(), v[2 * cols + 3]);
        QVERIFY(!view.cellAt(QPointF(2, 2), &r, &c));  // outside the plot area
    }

    void colorModesAndRanges() {
        HeatmapView view;
        const std::vector<float> signedData = {-0.5f, 2.0f, 1.0f, -4.0f, 0.0f, 3.0f};
        QVERIFY(view.setMatrix(signedData, 2, 3));
        QCOMPARE(view.colorMode(), HeatmapView::ColorMode::Diverging);
        QVERIFY(view.symmetricRange());
        QCOMPARE(view.colorRange().lower, -4.0);
        QCOMPARE(view.colorRange().upper, 4.0);
        view.setSymmetricRange(false);
        QCOMPARE(view.colorRange().lower, -4.0);
        QCOMPARE(view.colorRange().upper, 3.0);

        const std::vector<float> errors = {0.5f, 0.25f, 0.125f, 2.0f};
        QVERIFY(view.setMatrix(errors, 2, 2));
        view.setColorMode(HeatmapView::ColorMode::Sequential);
        QVERIFY(!view.symmetricRange());
        QCOMPARE(view.colorRange().lower, 0.0);
        QCOMPARE(view.colorRange().upper, 2.0);
        QVERIFY(view.colorMap()->gradient() == view.colorScale()->gradient());
        view.setFixedColorRange(-1, 1);
        QCOMPARE(view.colorRange().upper, 1.0);
        view.clearFixedColorRange();
        QCOMPARE(view.colorRange().upper, 2.0);
    }

    void logColorScaleForSequential() {
        HeatmapView view;
        QVERIFY(!view.supportsLogScale());  // diverging: no log colours
        view.setColorMode(HeatmapView::ColorMode::Sequential);
        QVERIFY(view.supportsLogScale());
        QVERIFY(view.setMatrix(std::vector<float>{0.0f, 1e-4f, 1e-2f, 1.0f}, 2, 2));
        view.setLogScale(true);
        QCOMPARE(view.colorMap()->dataScaleType(), QCPAxis::stLogarithmic);
        QCOMPARE(view.colorScale()->axis()->scaleType(), QCPAxis::stLogarithmic);
        QCOMPARE(float(view.colorRange().lower), 1e-4f);
        QCOMPARE(view.colorRange().upper, 1.0);
        view.setColorMode(HeatmapView::ColorMode::Diverging);  // leaves log mode
        QVERIFY(!view.isLogScale());
        QCOMPARE(view.colorMap()->dataScaleType(), QCPAxis::stLinear);
    }

    void singleRowAndColumn() {
        HeatmapView view;
        QVERIFY(showAt(&view, QSize(600, 400)));
        const std::vector<float> row = {1, -2, 3, -4, 5};
        QVERIFY(view.setMatrix(row, 1, 5));
        for (int c = 0; c < 5; ++c) QCOMPARE(shown(view, 0, c), double(row[c]));
        QVERIFY(view.setMatrix(row, 5, 1));
        for (int r = 0; r < 5; ++r) QCOMPARE(shown(view, r, 0), double(row[r]));
    }
};

QObject* createHeatmapViewTest() { return new TestHeatmapView; }

#include "test_heatmap_view.moc"
