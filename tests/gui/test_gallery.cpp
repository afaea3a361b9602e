// Renders every view with realistic data to PNG files in the test output folder, at slide
// size (1600 x 1000) and at a docked-panel size, for visual review. Also checks that the
// files are written and that nothing is laid out outside the widget.

#include <qcustomplot.h>

#include <QImage>
#include <QtTest/QtTest>
#include <cmath>

#include "channel_magnitude_view.h"
#include "error_matrix_panel.h"
#include "gui_test_util.h"
#include "heatmap_view.h"
#include "histogram_view.h"
#include "line_plot.h"

using namespace qs::widgets;
using namespace qs::widgets::test;

namespace {

std::vector<float> gaussian(std::size_t n, float sigma, std::uint64_t seed) {
    Lcg g(seed);
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double u1 = std::max(1e-12, (g.next() + 1.0) / 2.0), u2 = (g.next() + 1.0) / 2.0;
        v[i] = float(sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * M_PI * u2));
    }
    return v;
}

// fc2-like weight [768 out x 3072 in] with a few salient input channels.
std::vector<float> weight768x3072() {
    auto w = gaussian(768u * 3072u, 0.02f, 17);
    for (int c : {5, 1234, 2900})
        for (int r = 0; r < 768; ++r) w[std::size_t(r) * 3072 + c] *= 8.0f;
    return w;
}

bool render(PlotView* view, const QString& name, const QSize& size) {
    if (!showAt(view, size)) return false;
    view->plot()->replot();
    QString error;
    const bool ok = view->exportTo(outputPath(name), &error);
    if (!ok) qWarning("%s", qPrintable(error));
    // Every layout element must lie inside the widget (nothing clipped at the edges); QCP's
    // integer layout rounding may overshoot by a pixel or two.
    const QRect bounds = QRect(QPoint(0, 0), view->plot()->size()).adjusted(-3, -3, 3, 3);
    for (QCPLayoutElement* e : view->plot()->plotLayout()->elements(true))
        if (e && e->visible() && !bounds.contains(e->outerRect()) && e->outerRect().isValid()) {
            qWarning("%s: %s at (%d,%d %dx%d) is outside the widget", qPrintable(name), e->metaObject()->className(),
                     e->outerRect().x(), e->outerRect().y(), e->outerRect().width(), e->outerRect().height());
            return false;
        }
    view->hide();
    return ok && QImage(outputPath(name)).size() == size;
}

}  // namespace

class TestGallery : public QObject {
    Q_OBJECT
  private slots:
    void heatmaps() {
        const auto w = weight768x3072();
        for (const QSize& size : {QSize(1600, 1000), QSize(900, 560)}) {
            const QString tag = QStringLiteral("%1x%2").arg(size.width()).arg(size.height());
            HeatmapView view;
            view.setTitle("decoder.layers.0.fc2.weight  [768 × 3072]");
            view.setAxisLabels("input channel", "output channel");
            view.setColorScaleLabel("weight");
            QVERIFY(view.setMatrix(w, 768, 3072));
            QVERIFY(render(&view, "heatmap_weight_" + tag + ".png", size));

            view.zoomTo(100, 1228, 12, 12);
            QVERIFY(render(&view, "heatmap_zoom12_" + tag + ".png", size));
        }
        // |error| in the sequential gradient.
        std::vector<float> err(256 * 512);
        const auto noise = gaussian(err.size(), 0.004f, 3);
        for (std::size_t i = 0; i < err.size(); ++i) err[i] = std::fabs(noise[i]) * (i % 512 == 77 ? 6.f : 1.f);
        HeatmapView view;
        view.setTitle("|W − Q(W)|, w3 g128");
        view.setAxisLabels("input channel", "output channel");
        view.setColorScaleLabel("|error|");
        view.setColorMode(HeatmapView::ColorMode::Sequential);
        QVERIFY(view.setMatrix(err, 256, 512));
        QVERIFY(render(&view, "heatmap_error_1600x1000.png", QSize(1600, 1000)));
        view.setLogScale(true);
        QVERIFY(render(&view, "heatmap_error_log_1600x1000.png", QSize(1600, 1000)));
    }

    void channels() {
        auto before = gaussian(768, 0.3f, 5);
        for (float& x : before) x = std::fabs(x) + 0.05f;
        for (int c : {12, 77, 300, 301, 588, 702, 740, 65}) before[c] *= 25.0f;
        std::vector<float> after(768);
        for (int i = 0; i < 768; ++i) after[i] = std::pow(before[i], 0.5f) * 0.6f;
        for (const QSize& size : {QSize(1600, 1000), QSize(900, 560), QSize(560, 360)}) {
            const QString tag = QStringLiteral("%1x%2").arg(size.width()).arg(size.height());
            ChannelMagnitudeView view;
            view.setTitle("decoder.layers.3.fc1 input: per-channel max |x|");
            view.setAxisLabels("input channel", "max |x|");
            view.setSeriesNames("before SmoothQuant", "after SmoothQuant (α = 0.5)");
            view.setValues(before);
            view.setAfterValues(after);
            view.setTopPercent(1.0);
            QVERIFY(render(&view, "channels_before_after_" + tag + ".png", size));
            view.setStyle(ChannelMagnitudeView::Style::Impulses);
            view.clearAfterValues();
            view.setLogScale(true);
            QVERIFY(render(&view, "channels_impulses_log_" + tag + ".png", size));
        }
    }

    void errorPanels() {
        for (int side : {16, 4}) {
            QuantTile t;
            t.rows = t.cols = side;
            t.original = gaussian(std::size_t(side) * side, 0.03f, 100 + side);
            const float mn = *std::min_element(t.original.begin(), t.original.end());
            const float mx = *std::max_element(t.original.begin(), t.original.end());
            const float scale = (mx - mn) / 7.0f;
            const int zero = std::clamp(int(std::lround(-mn / scale)), 0, 7);
            for (float x : t.original) {
                const int q = std::clamp(int(std::lround(x / scale)) + zero, 0, 7);
                t.codes.push_back(q);
                t.dequantized.push_back((q - zero) * scale);
            }
            for (const QSize& size : {QSize(1600, 1000), QSize(1200, 480)}) {
                ErrorMatrixPanel panel;
                panel.setTitle(QStringLiteral("%1 × %1 tile, asymmetric 3-bit (scale %2, zero %3)")
                                   .arg(side)
                                   .arg(scale, 0, 'g', 3)
                                   .arg(zero));
                panel.setPanelTitles({"original W", "codes q (3-bit)", "dequantized (q − z)·s", "|error|"});
                panel.setAxisLabels("input channel", "output channel");
                QVERIFY(panel.setTile(t));
                const QString name =
                    QStringLiteral("error_panel_%1x%1_%2x%3.png").arg(side).arg(size.width()).arg(size.height());
                QVERIFY(render(&panel, name, size));
                if (side == 4) QCOMPARE(panel.annotatedCellCount(ErrorMatrixPanel::Original), 16);
            }
        }
    }

    void sweeps() {
        for (const QSize& size : {QSize(1600, 1000), QSize(900, 560)}) {
            const QString tag = QStringLiteral("%1x%2").arg(size.width()).arg(size.height());
            SweepPlot sq;
            sq.setTitle("OPT-125m W8A8: perplexity vs SmoothQuant α");
            sq.setAxisLabels("migration strength α", "wikitext-2 perplexity");
            QVector<double> alpha, p1, p2;
            for (int i = 0; i <= 10; ++i) {
                const double a = i / 10.0;
                alpha << a;
                p1 << 28.7 + 9.0 * std::pow(a - 0.55, 2) * 4 + (i == 0 ? 6 : 0);
                p2 << 29.5 + 12.0 * std::pow(a - 0.45, 2) * 4;
            }
            sq.addSweep("per-tensor activations", alpha, p1, -1, "best α");
            sq.addSweep("per-token activations", alpha, p2, -1, "best α");
            QVERIFY(render(&sq, "sweep_smoothquant_" + tag + ".png", size));

            SweepPlot awq;
            awq.setTitle("AWQ search, layer 3 fc1: block output MSE vs scale ratio");
            awq.setAxisLabels("ratio (s = mean|x|^ratio)", "output MSE");
            QVector<double> r, loss;
            for (int i = 0; i < 20; ++i) {
                r << i / 20.0;
                loss << 2e-4 * (1 + 8 * std::pow(i / 20.0 - 0.35, 2)) * (i == 0 ? 3 : 1);
            }
            awq.addSweep("fc1", r, loss, -1, "chosen ratio");
            awq.setLogScale(true);
            QVERIFY(render(&awq, "sweep_awq_ratio_log_" + tag + ".png", size));

            LinePlot run;
            run.setTitle("Running perplexity estimate, OPT-125m w3 g128");
            run.setAxisLabels("window (2048 tokens each)", "perplexity so far");
            QVector<double> x, y, y2;
            Lcg g(4);
            double s1 = 0, s2 = 0;
            for (int i = 1; i <= 140; ++i) {
                s1 += std::log(28.0) + 0.25 * g.next();
                s2 += std::log(64.0) + 0.3 * g.next();
                x << i;
                y << std::exp(s1 / i);
                y2 << std::exp(s2 / i);
            }
            run.addSeries("fp16", x, y);
            run.addSeries("RTN w3 g128", x, y2);
            run.setMarkersVisible(false);
            run.setHighlight(0, 139, "final");
            run.setHighlight(1, 139, "final");
            QVERIFY(render(&run, "line_running_ppl_" + tag + ".png", size));
        }
    }

    void histograms() {
        const auto w = gaussian(200000, 0.02f, 9);
        std::vector<float> q(w.size());
        const float scale = 0.12f / 7;
        for (std::size_t i = 0; i < w.size(); ++i) q[i] = std::clamp(std::round(w[i] / scale), -8.0f, 7.0f) * scale;
        for (const QSize& size : {QSize(1600, 1000), QSize(900, 560), QSize(560, 360)}) {
            const QString tag = QStringLiteral("%1x%2").arg(size.width()).arg(size.height());
            HistogramView view;
            view.setTitle("fc1.weight distribution");
            view.setAxisLabels("weight value", "count");
            view.setBinCount(161);
            view.setValues(w, "original");
            view.addValues("int4 per-tensor", q);
            QVERIFY(render(&view, "histogram_weights_" + tag + ".png", size));
            view.setLogScale(true);
            QVERIFY(render(&view, "histogram_weights_log_" + tag + ".png", size));
        }
    }
};

QObject* createGalleryTest() { return new TestGallery; }

#include "test_gallery.moc"
