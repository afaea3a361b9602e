#pragma once
// Saving and copying any QCustomPlot. Dialog-free: usable from tests and batch code.

#include <QImage>
#include <QString>

#include <functional>

class QCustomPlot;

namespace qs::widgets {

struct ExportOptions {
    int width = 0;       // logical pixels; 0 = the plot widget's current width
    int height = 0;      // 0 = the plot widget's current height
    double scale = 1.0;  // raster formats only: device pixels per logical pixel (2 = crisp on slides)
};

// Asked before any plot file is written: returns a message to refuse `path` (the GUI refuses
// files inside the open model's folder), or an empty string. Set once by the application.
using ExportGuard = std::function<QString(const QString& path)>;
void setExportGuard(ExportGuard guard);

// Writes `plot` to `path`; the format comes from the suffix (png, jpg/jpeg, bmp, svg, pdf,
// case-insensitive). Atomic: written as "<path>.tmp-<pid>" and renamed over `path` only when
// complete. Returns false and sets *error (if given) when the suffix is unknown, the folder
// does not exist, the export guard refuses the path, or nothing (or an empty file) was written.
bool exportPlot(QCustomPlot* plot, const QString& path, QString* error = nullptr, const ExportOptions& options = {});

// Individual formats (same contract as exportPlot).
bool savePlotPng(QCustomPlot* plot, const QString& path, const ExportOptions& options = {}, QString* error = nullptr);
bool savePlotSvg(QCustomPlot* plot, const QString& path, const ExportOptions& options = {}, QString* error = nullptr);
bool savePlotPdf(QCustomPlot* plot, const QString& path, const ExportOptions& options = {}, QString* error = nullptr);

// Renders to an image (size/scale as in ExportOptions).
QImage renderPlot(QCustomPlot* plot, const ExportOptions& options = {});
// Puts the rendered image on the system clipboard; returns false if the image is empty.
bool copyPlotToClipboard(QCustomPlot* plot, const ExportOptions& options = {});

// The suffixes exportPlot understands, lower case, without dots.
QStringList supportedExportSuffixes();

}  // namespace qs::widgets
