// File > Export llm-compressor recipe…: the configuration the model carries (the methods
// panel's last Apply) as an llm-compressor recipe (engine/quant/llmc_recipe.h), written
// atomically to a .yaml file the user chooses (never into the model's folder). Success goes to
// the status bar (with how many items are not carried over); failures to the error banner.
#pragma once
#include <QObject>
#include <QString>

class AppContext;
class QWidget;

class RecipeExport : public QObject {
    Q_OBJECT
  public:
    RecipeExport(AppContext* ctx, QWidget* window);

    // Asks the context's save chooser for the file (".yaml" appended when missing), then write().
    void exportInteractive();
    // Writes the recipe of the applied configuration to `file`. False (and errorOccurred) when no
    // model is loaded, the configuration has nothing llm-compressor can express, or the write fails.
    bool write(const QString& file);

  signals:
    void written(const QString& file);

  private:
    AppContext* ctx_;
    QWidget* w_;
    QString lastFile_;
};
