// The layer navigator (left dock): decoder blocks and their Linear layers; selecting one
// makes it the layer every page shows.
#pragma once
#include <QTreeWidget>

class AppContext;

class LayerNavigator : public QTreeWidget {
    Q_OBJECT
  public:
    explicit LayerNavigator(AppContext* ctx, QWidget* parent = nullptr);
    // Selects the item of a Linear by HF name; false if there is none.
    bool selectLinear(const QString& name);

  private:
    void rebuild();
    AppContext* ctx_;
    bool syncing_ = false;
};
