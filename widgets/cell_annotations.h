#pragma once
// Numbers written inside heatmap cells (QCPItemText per cell), with a font fitted to the
// cell size and a text colour that contrasts with the cell colour.

#include <QColor>
#include <QSizeF>
#include <QList>
#include <QString>
#include <QStringList>
#include <QVector>

class QCustomPlot;
class QCPAxisRect;
class QCPItemText;

namespace qs::widgets {

class CellAnnotations {
  public:
    CellAnnotations(QCustomPlot* plot, QCPAxisRect* rect);

    // Removes every annotation item.
    void clear();

    // One text per cell, row-major (rows x cols); cell (i, j) is centred at
    // (x0 + j*dx, y0 + i*dy) in plot coordinates of the rect's bottom/left axes.
    // backgrounds (same layout, may be empty) choose black or white text.
    // Returns false and shows nothing when the text would be smaller than minPixelSize
    // or there are more than maxCells cells.
    // pixelSize > 0 forces that font size instead of fitting one.
    bool show(const QStringList& texts, const QVector<QColor>& backgrounds, int rows, int cols, double x0, double dx,
              double y0, double dy, int pixelSize = 0);

    // Size in pixels of a dx x dy cell with the rect's current geometry and axis ranges.
    QSizeF cellPixelSize(double dx, double dy) const;
    // Largest font pixel size (<= max) at which every text fits a cell of `cell` pixels;
    // 0 when that is below the minimum.
    int fittingPixelSize(const QStringList& texts, const QSizeF& cell) const;

    int count() const { return m_items.size(); }
    // Text shown in cell (row, col), empty if none.
    QString textAt(int row, int col) const;
    // Pixel size of the font used by the last successful show() (0 if none).
    int fontPixelSize() const { return m_pixelSize; }

    void setMaxCells(int n) { m_maxCells = n; }
    void setMinPixelSize(int px) { m_minPixelSize = px; }
    void setMaxPixelSize(int px) { m_maxPixelSize = px; }

  private:
    QCustomPlot* m_plot;
    QCPAxisRect* m_rect;
    QList<QCPItemText*> m_items;
    int m_rows = 0, m_cols = 0;
    int m_pixelSize = 0;
    int m_maxCells = 1024;
    int m_minPixelSize = 8;
    int m_maxPixelSize = 15;
};

}  // namespace qs::widgets
