#include <qcustomplot.h>

#include <QtTest/QtTest>
#include <cmath>

#include "error_matrix_panel.h"
#include "gui_test_util.h"

using namespace qs::widgets;
using namespace qs::widgets::test;

namespace {

// Asymmetric pseudo-quantization of a tile (the seeds' formula), done here independently.
QuantTile quantize(int rows, int cols, int bits, std::uint64_t seed, float scaleOfValues = 0.05f) {
    QuantTile t;
    t.rows = rows;
    t.cols = cols;
    auto v = randomMatrix(rows, cols, seed);
    for (float& x : v) x *= scaleOfValues;
    t.original = v;
    const float mn = *std::min_element(v.begin(), v.end());
    const float mx = *std::max_element(v.begin(), v.end());
    const int qmax = (1 << bits) - 1;
    const float scale = std::max(mx - mn, 1e-5f) / qmax;
    const int zero = std::clamp(int(std::lround(-mn / scale)), 0, qmax);
    for (float x : v) {
        const int q = std::clamp(int(std::lround(x / scale)) + zero, 0, qmax);
        t.codes.push_back(q);
        t.dequantized.push_back((q - zero) * scale);
    }
    return t;
}

}  // namespace

class TestErrorMatrixPanel : public QObject {
    Q_OBJECT
  private slots:
    void showsGivenCodesAndValues() {
        ErrorMatrixPanel panel;
        QVERIFY(showAt(&panel, QSize(1400, 520)));
        const QuantTile t = quantize(4, 4, 3, 21);
        QVERIFY(panel.setTile(t));
        panel.plot()->replot();
        for (int r = 0; r < 4; ++r)
            for (int c = 0; c < 4; ++c) {
                const int k = r * 4 + c;
                QCOMPARE(panel.colorMap(ErrorMatrixPanel::Codes)->data()->cell(c, r), double(t.codes[k]));
                QCOMPARE(panel.cellText(ErrorMatrixPanel::Codes, r, c), QString::number(t.codes[k]));
                QCOMPARE(panel.colorMap(ErrorMatrixPanel::Original)->data()->cell(c, r), double(t.original[k]));
                QCOMPARE(panel.colorMap(ErrorMatrixPanel::Dequantized)->data()->cell(c, r), double(t.dequantized[k]));
                QCOMPARE(float(panel.colorMap(ErrorMatrixPanel::Error)->data()->cell(c, r)),
                         std::fabs(t.original[k] - t.dequantized[k]));
                QVERIFY(!panel.cellText(ErrorMatrixPanel::Original, r, c).isEmpty());
            }
        for (int p = 0; p < ErrorMatrixPanel::kPanels; ++p)
            QCOMPARE(panel.annotatedCellCount(ErrorMatrixPanel::Panel(p)), 16);
    }

    void sharedColorRangeForOriginalAndDequantized() {
        ErrorMatrixPanel panel;
        const QuantTile t = quantize(8, 8, 4, 5);
        QVERIFY(panel.setTile(t));
        const ValueRange a = panel.colorRange(ErrorMatrixPanel::Original);
        const ValueRange b = panel.colorRange(ErrorMatrixPanel::Dequantized);
        QCOMPARE(a.lower, b.lower);
        QCOMPARE(a.upper, b.upper);
        QCOMPARE(a.lower, -a.upper);
        double m = 0;
        for (float x : t.original) m = std::max(m, double(std::fabs(x)));
        for (float x : t.dequantized) m = std::max(m, double(std::fabs(x)));
        QCOMPARE(a.upper, m);
        QCOMPARE(panel.colorRange(ErrorMatrixPanel::Codes).lower,
                 double(*std::min_element(t.codes.begin(), t.codes.end())));
        QCOMPARE(panel.colorRange(ErrorMatrixPanel::Error).lower, 0.0);
    }

    void annotatesUpTo16x16() {
        ErrorMatrixPanel panel;
        QVERIFY(showAt(&panel, QSize(1600, 1000)));
        QVERIFY(panel.setTile(quantize(16, 16, 4, 8)));
        panel.plot()->replot();
        for (int p = 0; p < ErrorMatrixPanel::kPanels; ++p)
            QCOMPARE(panel.annotatedCellCount(ErrorMatrixPanel::Panel(p)), 256);
        const QuantTile big = quantize(17, 17, 4, 8);
        QVERIFY(panel.setTile(big));
        panel.plot()->replot();
        QCOMPARE(panel.annotatedCellCount(ErrorMatrixPanel::Codes), 0);
        // The data is still shown.
        QCOMPARE(panel.colorMap(ErrorMatrixPanel::Codes)->data()->cell(16, 16), double(big.codes.back()));
    }

    void rejectsMismatchedSizes() {
        ErrorMatrixPanel panel;
        QuantTile t = quantize(4, 4, 4, 1);
        t.codes.pop_back();
        QVERIFY(!panel.setTile(t));
        QCOMPARE(panel.tile().rows, 0);
    }

    void titlesAndAxisLabels() {
        ErrorMatrixPanel panel;
        QCOMPARE(panel.panelTitle(ErrorMatrixPanel::Original), QString("original"));
        QVERIFY(!panel.xLabel().isEmpty());
        QVERIFY(!panel.yLabel().isEmpty());
        panel.setAxisLabels("input channel", "output channel");
        for (int p = 0; p < ErrorMatrixPanel::kPanels; ++p) {
            QCOMPARE(panel.axisRect(ErrorMatrixPanel::Panel(p))->axis(QCPAxis::atBottom)->label(),
                     QString("input channel"));
            QCOMPARE(panel.axisRect(ErrorMatrixPanel::Panel(p))->axis(QCPAxis::atLeft)->label(),
                     QString("output channel"));
        }
        panel.setPanelTitles({"W", "q (int4)", "W'", "|W - W'|"});
        QCOMPARE(panel.panelTitle(ErrorMatrixPanel::Codes), QString("q (int4)"));
    }

    void signedCodesUseCentredRange() {
        ErrorMatrixPanel panel;
        QuantTile t;
        t.rows = 1;
        t.cols = 4;
        t.original = {-1.0f, -0.4f, 0.3f, 0.9f};
        t.codes = {-8, -3, 2, 7};
        t.dequantized = {-1.0f, -0.375f, 0.25f, 0.875f};
        QVERIFY(panel.setTile(t));
        QCOMPARE(panel.colorRange(ErrorMatrixPanel::Codes).lower, -8.0);
        QCOMPARE(panel.colorRange(ErrorMatrixPanel::Codes).upper, 8.0);
        QCOMPARE(panel.value(ErrorMatrixPanel::Error, 0, 1), double(std::fabs(-0.4f + 0.375f)));
    }
};

QObject* createErrorMatrixPanelTest() { return new TestErrorMatrixPanel; }

#include "test_error_matrix_panel.moc"
