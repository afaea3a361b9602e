#pragma once
// Keeps a plot's texts inside it at any size: titles and text elements wrap to their cell's
// width, axis labels wrap to the axis length (word by word; a single word wider than the room
// stays whole). The full texts are remembered, so a wider plot unwraps them again.

#include <QString>

class QCustomPlot;
class QCPAxis;
class QCPLegend;
class QCPTextElement;
class QFont;

namespace qs::widgets {

// Whether the plot has a real size yet (a widget never shown is 100 x 30): texts are fitted
// only then, so that code reading them before the first show sees them whole.
bool laidOut(const QCustomPlot* plot);

// `text` with line breaks between words so that no line is wider than `width` pixels.
QString wrapToWidth(const QString& text, const QFont& font, int width);

// Wraps every text element of the plot layout and every axis label to the sizes of the last
// layout. Returns true when a text changed (the caller lays the plot out again).
bool fitPlotTexts(QCustomPlot* plot);

// Horizontal axes (colour scales included) whose tick labels would overlap get fewer ticks:
// the largest tick count, up to the one the program set, whose labels keep a gap. True when a
// tick count changed.
bool fitTickLabels(QCustomPlot* plot);

// Wraps the legend entries' names to `width` pixels for the whole entry (icon included); the
// full names come back when there is room. True when a name changed.
bool fitLegendNames(QCPLegend* legend, int width);

// The unwrapped text of an element / axis label (as last set by the program).
QString fullText(const QCPTextElement* element);
QString fullLabel(const QCPAxis* axis);

// Sets an element's (full) text; keeps the wrapped copy when the text is the same.
void setElementText(QCPTextElement* element, const QString& text);

// Lays the plot out again (after its texts or the legend changed in afterLayout), without a
// replot: preparation, margins, layout.
void relayout(QCustomPlot* plot);

}  // namespace qs::widgets
