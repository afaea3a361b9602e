#pragma once
// ErrorMatrixPanel: the four course-notes heatmaps of one small tile side by side:
// original weights, quantized integer codes, dequantized weights, |error|. Original and
// dequantized share one colour range; values are written in the cells when the tile is at
// most 16 x 16 and the numbers fit.

#include <QStringList>
#include <QVector>
#include <vector>

#include "plot_view.h"

class QCPAxisRect;
class QCPColorMap;
class QCPColorScale;
class QCPTextElement;
class QMouseEvent;

namespace qs::widgets {

class CellAnnotations;

struct QuantTile {
    int rows = 0;
    int cols = 0;
    std::vector<float> original;     // rows * cols, row-major
    std::vector<int> codes;          // integer codes q
    std::vector<float> dequantized;  // e.g. (q - zero) * scale
    std::vector<float> absError;     // optional; |original - dequantized| when empty
};

class ErrorMatrixPanel : public PlotView {
    Q_OBJECT
  public:
    enum Panel { Original = 0, Codes = 1, Dequantized = 2, Error = 3 };
    Q_ENUM(Panel)
    static constexpr int kPanels = 4;

    explicit ErrorMatrixPanel(QWidget* parent = nullptr);
    ~ErrorMatrixPanel() override;

    // Returns false (keeping the old tile) if a vector's size is not rows * cols.
    bool setTile(const QuantTile& tile);
    const QuantTile& tile() const { return m_tile; }
    void clear();

    // Row and column of the tile's first cell in the whole matrix: the axes, tooltips and cell
    // positions count from there (default 0, 0). Indices of value() / cellText() stay tile-relative.
    void setOrigin(int row, int col);
    int originRow() const { return m_row0; }
    int originCol() const { return m_col0; }

    // The value drawn in a panel's cell (codes as numbers; NaN when out of range).
    double value(Panel panel, int row, int col) const;
    // Text written in a cell, empty when the panel is not annotated.
    QString cellText(Panel panel, int row, int col) const;
    int annotatedCellCount(Panel panel) const;
    // Tiles up to maxSide x maxSide get numbers in cells (default 16).
    void setAnnotationLimit(int maxSide);
    int annotationLimit() const { return m_annotationLimit; }
    // Power of ten the annotated numbers of a panel are scaled by (0 = none); shown in its title.
    int annotationExponent(Panel panel) const { return m_exponent[panel]; }

    void setPanelTitles(const QStringList& titles);  // four titles
    QString panelTitle(Panel panel) const;
    void setAxisLabels(const QString& xLabel, const QString& yLabel) override;  // all four panels
    QString xLabel() const override;
    QString yLabel() const override;

    QCPAxisRect* axisRect(Panel panel) const { return m_rects[panel]; }
    QCPColorMap* colorMap(Panel panel) const { return m_maps[panel]; }
    QCPColorScale* colorScale(Panel panel) const { return m_scales[panel]; }
    ValueRange colorRange(Panel panel) const;

  public slots:
    void resetZoom() override;

  signals:
    void cellHovered(int row, int col);  // tile-relative

  private:
    void rebuild();
    void annotate();
    void annotateGroup(const QVector<int>& panels);
    void updateTitles();
    void onMouseMove(QMouseEvent* event);
    std::vector<float> panelValues(Panel panel) const;

    QuantTile m_tile;
    std::vector<float> m_error;
    int m_annotationLimit = 16;
    int m_row0 = 0, m_col0 = 0;
    QStringList m_titles;
    int m_exponent[kPanels] = {0, 0, 0, 0};
    QCPTextElement* m_titleItems[kPanels] = {};
    QCPAxisRect* m_rects[kPanels] = {};
    QCPColorMap* m_maps[kPanels] = {};
    QCPColorScale* m_scales[kPanels] = {};
    CellAnnotations* m_annotations[kPanels] = {};
    QSize m_annotatedFor[kPanels];
};

}  // namespace qs::widgets
