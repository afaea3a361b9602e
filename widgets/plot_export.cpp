#include "plot_export.h"

#include <qcustomplot.h>

#include <QClipboard>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QGuiApplication>
#include <QSvgGenerator>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace qs::widgets {
namespace {

ExportGuard& guard() {
    static ExportGuard g;
    return g;
}

bool fail(QString* error, const QString& message) {
    if (error) *error = message;
    return false;
}

QSize exportSize(QCustomPlot* plot, const ExportOptions& o) {
    int w = o.width > 0 ? o.width : plot->width();
    int h = o.height > 0 ? o.height : plot->height();
    return QSize(w, h);
}

bool checkTarget(QCustomPlot* plot, const QString& path, const ExportOptions& o, QString* error) {
    if (!plot) return fail(error, QStringLiteral("no plot to export"));
    if (path.isEmpty()) return fail(error, QStringLiteral("empty file name"));
    const QSize s = exportSize(plot, o);
    if (s.width() <= 0 || s.height() <= 0)
        return fail(error, QStringLiteral("invalid export size %1x%2").arg(s.width()).arg(s.height()));
    if (o.scale <= 0) return fail(error, QStringLiteral("invalid export scale %1").arg(o.scale));
    const QDir dir = QFileInfo(path).absoluteDir();
    if (!dir.exists()) return fail(error, QStringLiteral("folder does not exist: %1").arg(dir.path()));
    if (guard()) {
        const QString refused = guard()(path);
        if (!refused.isEmpty()) return fail(error, refused);
    }
    return true;
}

// The temporary a plot is written to before it is renamed over `path`.
QString tempPath(const QString& path) { return path + QStringLiteral(".tmp-") + QString::number(::getpid()); }

// Renames the complete temporary into place (atomic on one file system); removes it on failure.
bool commitTemp(const QString& tmp, const QString& path, QString* error) {
    const QFileInfo fi(tmp);
    if (!fi.exists() || fi.size() == 0) {
        std::remove(QFile::encodeName(tmp).constData());
        return fail(error, fi.exists() ? QStringLiteral("wrote an empty file: %1").arg(path)
                                       : QStringLiteral("could not write %1").arg(path));
    }
    if (std::rename(QFile::encodeName(tmp).constData(), QFile::encodeName(path).constData()) != 0) {
        const QString why = QString::fromLocal8Bit(std::strerror(errno));
        std::remove(QFile::encodeName(tmp).constData());
        return fail(error, QStringLiteral("could not write %1 (%2)").arg(path, why));
    }
    return true;
}

bool saveRaster(QCustomPlot* plot, const QString& path, const char* format, const ExportOptions& o, QString* error) {
    if (!checkTarget(plot, path, o, error)) return false;
    const QSize s = exportSize(plot, o);
    const QString tmp = tempPath(path);
    if (!plot->saveRastered(tmp, s.width(), s.height(), o.scale, format)) {
        std::remove(QFile::encodeName(tmp).constData());
        return fail(error, QStringLiteral("could not write %1").arg(path));
    }
    return commitTemp(tmp, path, error);
}

}  // namespace

void setExportGuard(ExportGuard g) { guard() = std::move(g); }

QStringList supportedExportSuffixes() {
    return {QStringLiteral("png"), QStringLiteral("svg"),  QStringLiteral("pdf"),
            QStringLiteral("jpg"), QStringLiteral("jpeg"), QStringLiteral("bmp")};
}

bool savePlotPng(QCustomPlot* plot, const QString& path, const ExportOptions& o, QString* error) {
    return saveRaster(plot, path, "PNG", o, error);
}

bool savePlotSvg(QCustomPlot* plot, const QString& path, const ExportOptions& o, QString* error) {
    if (!checkTarget(plot, path, o, error)) return false;
    const QSize s = exportSize(plot, o);
    QSvgGenerator generator;
    const QString tmp = tempPath(path);
    generator.setFileName(tmp);
    generator.setSize(s);
    generator.setViewBox(QRect(QPoint(0, 0), s));
    // Same DPI as the screen so point-sized fonts keep their proportions.
    generator.setResolution(plot->logicalDpiX() > 0 ? plot->logicalDpiX() : 96);
    generator.setTitle(QStringLiteral("QuantScope plot"));
    generator.setDescription(QStringLiteral("Exported by QuantScope"));
    QCPPainter painter;
    if (!painter.begin(&generator)) {
        std::remove(QFile::encodeName(tmp).constData());
        return fail(error, QStringLiteral("could not open %1 for writing").arg(path));
    }
    painter.setMode(QCPPainter::pmVectorized);
    painter.setMode(QCPPainter::pmNoCaching);
    plot->toPainter(&painter, s.width(), s.height());
    painter.end();
    return commitTemp(tmp, path, error);
}

bool savePlotPdf(QCustomPlot* plot, const QString& path, const ExportOptions& o, QString* error) {
    if (!checkTarget(plot, path, o, error)) return false;
    const QSize s = exportSize(plot, o);
    const QString tmp = tempPath(path);
    if (!plot->savePdf(tmp, s.width(), s.height(), QCP::epAllowCosmetic, QStringLiteral("QuantScope"),
                       QStringLiteral("QuantScope plot"))) {
        std::remove(QFile::encodeName(tmp).constData());
        return fail(error, QStringLiteral("could not write %1").arg(path));
    }
    return commitTemp(tmp, path, error);
}

bool exportPlot(QCustomPlot* plot, const QString& path, QString* error, const ExportOptions& options) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QLatin1String("png")) return savePlotPng(plot, path, options, error);
    if (suffix == QLatin1String("svg")) return savePlotSvg(plot, path, options, error);
    if (suffix == QLatin1String("pdf")) return savePlotPdf(plot, path, options, error);
    if (suffix == QLatin1String("jpg") || suffix == QLatin1String("jpeg"))
        return saveRaster(plot, path, "JPG", options, error);
    if (suffix == QLatin1String("bmp")) return saveRaster(plot, path, "BMP", options, error);
    if (suffix.isEmpty()) return fail(error, QStringLiteral("no file suffix in %1 (use .png, .svg or .pdf)").arg(path));
    return fail(error, QStringLiteral("unsupported export format .%1 (use .png, .svg or .pdf)").arg(suffix));
}

QImage renderPlot(QCustomPlot* plot, const ExportOptions& o) {
    if (!plot) return {};
    const QSize s = exportSize(plot, o);
    if (s.width() <= 0 || s.height() <= 0 || o.scale <= 0) return {};
    return plot->toPixmap(s.width(), s.height(), o.scale).toImage();
}

bool copyPlotToClipboard(QCustomPlot* plot, const ExportOptions& o) {
    const QImage img = renderPlot(plot, o);
    if (img.isNull()) return false;
    QClipboard* cb = QGuiApplication::clipboard();
    if (!cb) return false;
    cb->setImage(img);
    return true;
}

}  // namespace qs::widgets
