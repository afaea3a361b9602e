// Quantization-error page: the course notes' four panels (original, integer codes,
// dequantized, |error|) for a selectable tile of the selected Linear (axes in the matrix's
// row / column numbers), the whole-matrix |error| heatmap (double-click picks the tile; the
// tile, the quantization groups and AWQ's salient channels are marked on it), and MSE / SQNR /
// max error plus the output error on calibration inputs, all for the methods panel's current
// setting. A Linear the setting does not quantize (lm_head unless ticked) says so.
#pragma once
#include <QMap>
#include <memory>

#include "workbench.h"

#include <QWidget>

class AppContext;
class QComboBox;
class QLabel;
class QSpinBox;
namespace qs::widgets {
class ErrorMatrixPanel;
class HeatmapView;
}  // namespace qs::widgets

class ErrorPage : public QWidget {
    Q_OBJECT
  public:
    explicit ErrorPage(AppContext* ctx, QWidget* parent = nullptr);

    qs::widgets::ErrorMatrixPanel* tiles() const { return tiles_; }
    qs::widgets::HeatmapView* errorHeatmap() const { return heatmap_; }
    // The preview the page currently shows (null if none).
    std::shared_ptr<const PreviewData> shown() const { return shown_; }
    // Metric label text by key: "mse", "sqnr", "maxerr", "outmse", "outrel", "packed", "note".
    QString metricText(const QString& key) const;
    void setTile(int row, int col, int size);
    int tileRow() const;
    int tileCol() const;
    int tileSize() const;

  signals:
    void previewShown();

  private:
    void showPreview();
    void showNoPreview();  // the setting does not quantize the selected Linear
    void showSource();     // how the selected Linear is stored in the source file
    void updateCaption();
    void drawTile();
    void jumpToWorstTile();
    QLabel* addMetric(class QFormLayout* f, const QString& key, const QString& label);

    AppContext* ctx_;
    QComboBox* tileSize_;
    QSpinBox *row_, *col_;
    QLabel* tileInfo_;
    QLabel* caption_;  // what each cell of the |error| map holds
    qs::widgets::ErrorMatrixPanel* tiles_;
    qs::widgets::HeatmapView* heatmap_;
    QMap<QString, QLabel*> metrics_;
    std::shared_ptr<const PreviewData> shown_;
    QString shownLayer_;
};
