#pragma once
// HeatmapView: a (possibly huge) row-major matrix as a colour map. The view pools the
// visible region by max-|w| onto at most one cell per pixel and re-pools from the full
// data whenever the visible range or the widget size changes, so zooming in reaches single
// values (annotated with their numbers once the cells are large enough).
// Convention: x = column index, y = row index (row 0 at the top).

#include <QColor>
#include <QRect>
#include <QVector>
#include <vector>

#include "matrix_pooling.h"
#include "plot_view.h"

class QCPColorMap;
class QCPColorScale;
class QCPTextElement;
class QMouseEvent;
class QTimer;

namespace qs::widgets {

class CellAnnotations;

class HeatmapView : public PlotView {
    Q_OBJECT
  public:
    enum class ColorMode {
        Diverging,   // signed data, blue-white-red (centred at 0 with the symmetric range)
        Sequential,  // magnitudes such as |error|, dark-to-bright
    };
    Q_ENUM(ColorMode)

    explicit HeatmapView(QWidget* parent = nullptr);
    ~HeatmapView() override;

    // Row-major rows x cols values (pass big matrices with std::move: the view keeps the full
    // data to re-pool when zooming). Returns false (and keeps the old data) if the sizes do not
    // match. Resets the zoom to the whole matrix.
    bool setMatrix(std::vector<float> values, int rows, int cols);
    bool setMatrix(const float* values, int rows, int cols);
    void clear();
    int rows() const { return m_rows; }
    int cols() const { return m_cols; }
    const std::vector<float>& values() const { return m_values; }
    // Full-resolution value, NaN when out of range.
    float valueAt(int row, int col) const;

    void setColorMode(ColorMode mode);
    ColorMode colorMode() const { return m_mode; }
    // Symmetric colour range [-max|w|, +max|w|] (default on). Off: [min, max].
    void setSymmetricRange(bool on);
    bool symmetricRange() const { return m_symmetric; }
    // Log colour scale ("Log scale" in the menu): offered in Sequential mode only; the range
    // then starts at the smallest positive value and values <= 0 are drawn grey.
    bool supportsLogScale() const override { return m_mode == ColorMode::Sequential; }

    // Fixed colour range overriding the automatic one (e.g. to compare two matrices).
    void setFixedColorRange(double lower, double upper);
    void clearFixedColorRange();
    ValueRange colorRange() const;

    void setColorScaleLabel(const QString& label);
    QString colorScaleLabel() const;

    // What a pooled cell holds, as written in the status line and tooltip: "max <name> of a × b
    // values" (default "|w|"; an error map says "|error|").
    void setPooledValueName(const QString& name);
    QString pooledValueName() const { return m_pooledName; }

    // Marks drawn over the map (plot items with these objectNames, for tests and exports):
    // thin vertical lines at the given columns (objectName `name`, e.g. salient channels),
    // dashed lines between column groups of `step` (objectName "groupBoundary"; 0 = none),
    // and a rectangle around a region of cells (objectName "tileMark"; an invalid rect = none).
    void setColumnMarks(const QVector<int>& columns, const QColor& color, const QString& name);
    void setColumnBoundaries(int step);
    void setMarkedRegion(const QRect& cells);

    // Upper bound on displayed cells per axis; 0 (default) = the plot area size in pixels.
    void setMaxCells(int maxRows, int maxCols);
    // Numbers inside cells when zoomed in to single values and they fit (default on).
    void setValueAnnotations(bool on);
    bool valueAnnotations() const { return m_annotate; }
    // Number of cells currently annotated (0 if none).
    int annotatedCellCount() const;
    // The status line under the plot ("rows a-b, cols c-d, pooled RxC by max |w|").
    void setStatusLineVisible(bool on);
    QString statusText() const;
    // Tooltip with the hovered value (default on). The hovered() signal is always emitted.
    void setHoverTooltip(bool on) { m_tooltip = on; }

    // Shows rows [row, row+rowCount) x cols [col, col+colCount), re-pooled immediately.
    void zoomTo(int row, int col, int rowCount, int colCount);
    // Data cells currently in view: x = first column, y = first row, width/height = counts.
    QRect visibleRegion() const { return m_visible; }
    // What the colour map currently shows (block sizes, cell values).
    const PooledGrid& displayedGrid() const { return m_grid; }
    QCPColorMap* colorMap() const { return m_map; }
    QCPColorScale* colorScale() const { return m_scale; }
    // The data cell under a widget pixel of plot(); false outside the matrix.
    bool cellAt(const QPointF& pixel, int* row, int* col) const;

  public slots:
    void resetZoom() override;

  signals:
    // Full-resolution value under the mouse.
    void hovered(int row, int col, float value);
    void hoverLeft();
    void visibleRegionChanged(const QRect& region);

  protected:
    void prepareForRender() override;
    void applyLogScale(bool on) override;
    bool eventFilter(QObject* watched, QEvent* event) override;

  private:
    void repool(bool force = false);
    void scheduleRepool();
    void applyGradient();
    void updateColorRange();
    void clampRange(bool horizontal);
    void onMouseMove(QMouseEvent* event);
    QSize targetCells() const;
    void removeItems(const QString& name);

    std::vector<float> m_values;
    int m_rows = 0;
    int m_cols = 0;
    float m_min = 0, m_max = 0, m_maxAbs = 0, m_minPositive = 0;

    ColorMode m_mode = ColorMode::Diverging;
    bool m_symmetric = true;
    bool m_fixedRange = false;
    double m_fixedLower = 0, m_fixedUpper = 1;
    bool m_annotate = true;
    bool m_tooltip = true;
    int m_maxCellRows = 0, m_maxCellCols = 0;

    QCPColorMap* m_map = nullptr;
    QCPColorScale* m_scale = nullptr;
    QCPTextElement* m_status = nullptr;
    CellAnnotations* m_annotations = nullptr;
    QTimer* m_repoolTimer = nullptr;

    PooledGrid m_grid;
    QRect m_visible;
    QSize m_pooledFor;  // target cells used by the last pooling
    QRect m_pooledRegion;
    QSize m_pooledRectSize;
    int m_hoverRow = -1, m_hoverCol = -1;
    QString m_pooledName = QStringLiteral("|w|");
    bool m_clamping = false;
};

}  // namespace qs::widgets
