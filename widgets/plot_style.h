#pragma once
// Shared look of every QuantScope plot: slide-readable fonts, colour palette, gradients.

#include <QColor>
#include <QFont>
#include <QString>

class QCustomPlot;
class QCPAxis;
class QCPAxisRect;
class QCPColorGradient;
class QCPLegend;

namespace qs::widgets {

// Point sizes chosen to stay readable on a 1600x1000 slide and at laptop sizes.
struct PlotFonts {
    static constexpr int kTick = 11;
    static constexpr int kLabel = 12;
    static constexpr int kTitle = 14;
    static constexpr int kLegend = 11;
    static constexpr int kNote = 10;  // status lines, colour-scale ticks of small panels
};

QFont plotFont(int pointSize, bool bold = false);

// Fonts, antialiasing, white background; applied once to a fresh QCustomPlot.
void applyBaseStyle(QCustomPlot* plot);
// Fonts and pens of one axis (tick labels, label, grid).
void styleAxis(QCPAxis* axis);
// All four axes of an axis rect.
void styleAxisRect(QCPAxisRect* rect);
// Legend font and a semi-transparent frame.
void styleLegend(QCPLegend* legend);

// Moves the legend out of the plot area into a strip above it (row 0 of the main layout),
// centred, `columns` entries per row. Keeps the data unobstructed on slides.
void placeLegendAbove(QCustomPlot* plot, int columns = 4);

// Switches a value axis between linear (format "g", `linearPrecision` digits) and
// logarithmic (powers of ten as 10^n, 3 digits).
void setAxisLogScale(QCPAxis* axis, bool log, int linearPrecision = 4);

// A 10-colour categorical palette (tab10); index wraps around.
QColor seriesColor(int index);

// Blue - white - red for signed data centred at 0 (RdBu reversed).
QCPColorGradient divergingGradient();
// Perceptually uniform dark-to-bright (viridis approximation) for magnitudes.
QCPColorGradient sequentialGradient();

// Black or white, whichever reads better on `background`.
QColor contrastingTextColor(const QColor& background);

// Compact number for cell annotations and readouts (significant digits).
QString formatValue(double v, int significantDigits = 3);

}  // namespace qs::widgets
