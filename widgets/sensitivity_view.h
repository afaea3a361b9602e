#pragma once
// SensitivityView: one bar per layer (a decoder Linear or a block) for a per-layer sensitivity map
// (e.g. the KL divergence when only that layer is quantized). Bars are coloured by their group
// (the Linear's role: q_proj, down_proj, ...; one legend entry each), shown in model order (x ticks
// at the first bar of each block) or sorted largest first (x = rank). A click on a bar's column
// selects it (outlined, named under the plot) and emits barClicked; hovering shows its name and
// value. Log scale for metrics that span decades.

#include <QString>
#include <QVector>

#include "plot_view.h"

class QCPBars;
class QCPTextElement;
class QMouseEvent;

namespace qs::widgets {

struct SensitivityBar {
    QString name;    // shown on hover and when selected; what barClicked carries
    QString group;   // colour / legend entry
    int block = -1;  // model-order ticks: a tick where the block changes
    double value = 0;
};

class SensitivityView : public PlotView {
    Q_OBJECT
  public:
    explicit SensitivityView(QWidget* parent = nullptr);

    // Bars in model order; valueLabel is the y axis title (with its unit). Keeps the selection
    // when a bar of that name is still there.
    void setBars(const QVector<SensitivityBar>& bars, const QString& valueLabel);
    void setSortByValue(bool on);
    bool sortByValue() const { return m_sorted; }

    int barCount() const { return m_order.size(); }
    // Bar at display position i (model order, or rank when sorted).
    const SensitivityBar& barAt(int i) const { return m_bars[m_order[i]]; }
    // Display position of the bar drawn at plot x coordinate `key` (-1 outside the bars).
    int positionAtKey(double key) const;
    // Display position of `name` (-1 if absent).
    int positionOf(const QString& name) const;
    // The plot x coordinate (key) of display position i.
    double keyOf(int i) const { return i; }

    void setSelected(const QString& name);  // "" clears
    QString selected() const { return m_selected; }
    QString selectionText() const;  // the line under the plot
    QStringList groups() const;     // legend entries, in order

    bool supportsLogScale() const override { return true; }

  public slots:
    void resetZoom() override;

  signals:
    void barClicked(const QString& name);

  protected:
    void applyLogScale(bool on) override;
    bool hasData() const override { return !m_bars.isEmpty(); }

  private:
    void rebuild();
    void updateSelection();
    void onPress(QMouseEvent* e);
    void onMove(QMouseEvent* e);

    QVector<SensitivityBar> m_bars;
    QVector<int> m_order;  // display position -> index in m_bars
    QString m_valueLabel;
    QString m_selected;
    bool m_sorted = false;
    QCPBars* m_selectedBar = nullptr;
    QCPTextElement* m_info = nullptr;
};

}  // namespace qs::widgets
