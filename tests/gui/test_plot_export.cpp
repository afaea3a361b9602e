#include <qcustomplot.h>

#include <QClipboard>
#include <QGuiApplication>
#include <QImage>
#include <QMenu>
#include <QPainter>
#include <QSvgRenderer>
#include <QtTest/QtTest>
#include <functional>
#include <memory>

#include "channel_magnitude_view.h"
#include "error_matrix_panel.h"
#include "gui_test_util.h"
#include "heatmap_view.h"
#include "histogram_view.h"
#include "line_plot.h"
#include "plot_export.h"

using namespace qs::widgets;
using namespace qs::widgets::test;

namespace {

struct Made {
    QString name;
    std::unique_ptr<PlotView> view;
};

std::vector<Made> makeAllViews() {
    std::vector<Made> out;
    auto heat = std::make_unique<HeatmapView>();
    heat->setMatrix(randomMatrix(40, 60, 1), 40, 60);
    out.push_back({"heatmap", std::move(heat)});
    auto chan = std::make_unique<ChannelMagnitudeView>();
    chan->setValues(std::vector<float>{1, 2, 9, 3, 4});
    out.push_back({"channels", std::move(chan)});
    auto panel = std::make_unique<ErrorMatrixPanel>();
    QuantTile t;
    t.rows = t.cols = 2;
    t.original = {0.1f, -0.2f, 0.3f, 0.0f};
    t.codes = {2, 0, 3, 1};
    t.dequantized = {0.1f, -0.2f, 0.28f, 0.02f};
    panel->setTile(t);
    out.push_back({"panel", std::move(panel)});
    auto line = std::make_unique<LinePlot>();
    line->addSeries("a", QVector<double>{1, 2, 3}, QVector<double>{3, 1, 2});
    line->setAxisLabels("window", "perplexity");
    out.push_back({"line", std::move(line)});
    auto sweep = std::make_unique<SweepPlot>();
    sweep->addSweep("s", QVector<double>{0, 0.5, 1}, QVector<double>{3, 1, 2});
    sweep->setAxisLabels("alpha", "perplexity");
    out.push_back({"sweep", std::move(sweep)});
    auto hist = std::make_unique<HistogramView>();
    hist->setValues({0, 1, 1, 2, 2, 2});
    out.push_back({"histogram", std::move(hist)});
    return out;
}

QStringList axisLabels(QCustomPlot* plot) {
    QStringList labels;
    for (QCPAxisRect* r : plot->axisRects())
        for (QCPAxis* a : {r->axis(QCPAxis::atBottom), r->axis(QCPAxis::atLeft)}) labels << a->label();
    return labels;
}

}  // namespace

class TestPlotExport : public QObject {
    Q_OBJECT
  private slots:
    void exportsAllFormatsForEveryView() {
        for (Made& m : makeAllViews()) {
            QVERIFY(showAt(m.view.get(), QSize(800, 500)));
            for (const char* suffix : {"png", "svg", "pdf", "PNG"}) {
                const QString path = outputPath(QStringLiteral("export_%1.%2").arg(m.name, suffix));
                QFile::remove(path);
                QString error;
                QVERIFY2(m.view->exportTo(path, &error), qPrintable(m.name + ": " + error));
                QVERIFY(QFileInfo(path).size() > 100);
                const QByteArray head = fileHead(path, 8);
                const QString s = QString(suffix).toLower();
                if (s == "png") QVERIFY(head.startsWith("\x89PNG"));
                if (s == "pdf") QVERIFY(head.startsWith("%PDF"));
                if (s == "svg") QVERIFY(fileAll(path).contains("<svg"));
            }
            m.view->hide();
        }
    }

    void pngSizeAndScale() {
        LinePlot plot;
        plot.addSeries("a", QVector<double>{1, 2}, QVector<double>{1, 2});
        const QString path = outputPath("export_scaled.png");
        ExportOptions o;
        o.width = 640;
        o.height = 400;
        o.scale = 2.0;
        QString error;
        QVERIFY2(exportPlot(plot.plot(), path, &error, o), qPrintable(error));
        const QImage img(path);
        QCOMPARE(img.size(), QSize(1280, 800));
    }

    void failuresReportErrors() {
        LinePlot plot;
        plot.resize(400, 300);
        QString error;
        QVERIFY(!exportPlot(plot.plot(), outputPath("x.xyz"), &error));
        QVERIFY(error.contains("unsupported"));
        error.clear();
        QVERIFY(!exportPlot(plot.plot(), outputPath("no_suffix"), &error));
        QVERIFY(!error.isEmpty());
        error.clear();
        QVERIFY(!exportPlot(plot.plot(), outputPath("missing/dir/plot.png"), &error));
        QVERIFY(error.contains("does not exist"));
        QVERIFY(!exportPlot(nullptr, outputPath("a.png"), &error));
        QVERIFY(!exportPlot(plot.plot(), QString(), &error));
    }

    void copyPutsImageOnClipboard() {
        HistogramView view;
        view.setValues({1, 2, 3});
        QVERIFY(showAt(&view, QSize(500, 300)));
        QGuiApplication::clipboard()->clear();
        QVERIFY(view.copyToClipboard());
        const QImage img = QGuiApplication::clipboard()->image();
        QVERIFY(!img.isNull());
        QCOMPARE(img.size(), view.plot()->size());
    }

    void contextMenuOnEveryView() {
        for (Made& m : makeAllViews()) {
            std::unique_ptr<QMenu> menu(m.view->createContextMenu());
            QStringList names, texts;
            for (QAction* a : menu->actions())
                if (!a->isSeparator()) {
                    names << a->objectName();
                    texts << a->text();
                }
            for (const char* n : {"savePng", "saveSvg", "savePdf", "copy", "resetZoom"})
                QVERIFY2(names.contains(n), qPrintable(m.name + " lacks " + n));
            QVERIFY(texts.contains(QString::fromUtf8("Save as PNG…")));
            QVERIFY(texts.contains(QString::fromUtf8("Save as SVG…")));
            QVERIFY(texts.contains(QString::fromUtf8("Save as PDF…")));
            QVERIFY(texts.contains("Copy"));
            QVERIFY(texts.contains("Reset zoom"));
            QCOMPARE(names.contains("logScale"), m.view->supportsLogScale());
        }
    }

    void resetZoomActionRestoresHeatmap() {
        HeatmapView view;
        QVERIFY(showAt(&view, QSize(700, 450)));
        view.setMatrix(randomMatrix(50, 80, 2), 50, 80);
        view.zoomTo(10, 10, 5, 5);
        std::unique_ptr<QMenu> menu(view.createContextMenu());
        menu->findChild<QAction*>("resetZoom")->trigger();
        QCOMPARE(view.visibleRegion(), QRect(0, 0, 80, 50));
    }

    void svgIsValidAndRenders() {
        for (Made& m : makeAllViews()) {
            QVERIFY(showAt(m.view.get(), QSize(800, 500)));
            const QString path = outputPath(QStringLiteral("svgcheck_%1.svg").arg(m.name));
            QVERIFY(m.view->exportTo(path));
            QSvgRenderer renderer(path);
            QVERIFY2(renderer.isValid(), qPrintable(m.name));
            QImage img(800, 500, QImage::Format_ARGB32);
            img.fill(Qt::white);
            QPainter painter(&img);
            renderer.render(&painter);
            painter.end();
            img.save(outputPath(QStringLiteral("svgcheck_%1.png").arg(m.name)));
            int ink = 0;
            for (int y = 0; y < img.height(); y += 2)
                for (int x = 0; x < img.width(); x += 2)
                    if (img.pixel(x, y) != qRgb(255, 255, 255) && img.pixel(x, y) != qRgba(255, 255, 255, 255)) ++ink;
            QVERIFY2(ink > 1000, qPrintable(m.name));
            m.view->hide();
        }
    }

    void everyViewHasAxisLabels() {
        for (Made& m : makeAllViews())
            for (const QString& l : axisLabels(m.view->plot())) QVERIFY2(!l.trimmed().isEmpty(), qPrintable(m.name));
    }
};

QObject* createPlotExportTest() { return new TestPlotExport; }

#include "test_plot_export.moc"
