// File > Export…: writes the configuration the model carries (the methods panel's last Apply)
// as a checkpoint, with the formats of `quantscope-cli quantize --format`: fake, awq-gemm,
// int8, transformed, compressed-tensors (engine/export). The dialog checks the choice with the engine as it
// changes (check_exportable, on a worker) and shows why a format is refused; the export
// itself runs as a job on channel "export" with a progress bar and Cancel. Success goes to
// the status bar (folder, files, bytes); failures to the window's error banner.
#pragma once
#include <QDialog>

#include <functional>
#include <string>

#include "export/export_types.h"

class AppContext;
class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;

class ExportDialog : public QDialog {
    Q_OBJECT
  public:
    explicit ExportDialog(AppContext* ctx, QWidget* parent = nullptr);

    // Shows the loaded model's configuration and re-checks the format (call before show()).
    void refresh();
    void setFormat(qs::ExportFormat f);
    qs::ExportFormat format() const;
    void setOutputDir(const QString& dir);
    QString outputDir() const;
    // "Choose…": asks the context's folder chooser for the folder to export into; the output
    // is a new folder "<model>-<format>" inside it.
    void chooseFolder();
    qs::ExportOptions options() const;
    // Starts the export job (the engine checks the configuration first and refuses with its
    // message). False when no job was started (no model, no folder, the model is busy).
    bool startExport();
    void cancelExport();
    bool running() const;
    // The live check's answer for the current choice: "" = exportable. Valid once checked().
    QString problem() const { return problem_; }
    bool checking() const;

    // Test seam: called on the worker thread after each progress report of an export job.
    void setWorkerProgressHook(std::function<void(double, const std::string&)> hook) { hook_ = std::move(hook); }

    QComboBox* formatCombo() const { return format_; }
    QLabel* descriptionLabel() const { return description_; }
    QLineEdit* folderEdit() const { return folder_; }
    QComboBox* dtypeCombo() const { return dtype_; }
    QCheckBox* replaceCheck() const { return replace_; }
    QCheckBox* awqReferenceCheck() const { return awqRef_; }
    QLabel* configurationLabel() const { return configuration_; }
    QLabel* checkLabel() const { return check_; }
    QLabel* statusLabel() const { return status_; }
    QProgressBar* progressBar() const { return progress_; }
    QPushButton* exportButton() const { return export_; }
    QPushButton* cancelButton() const { return cancel_; }

  signals:
    void checked(const QString& problem);
    void exportFinished(const QString& outDir);
    void exportFailed(const QString& message);
    void exportCancelled();

  protected:
    void reject() override;  // closing the dialog cancels a running export
    void resizeEvent(QResizeEvent* e) override;

  private:
    void formatChanged();
    void startCheck();
    void updateButtons();
    QString suggestedName() const;
    // Word-wrapped labels get the height their text needs at their width (the dialog grows).
    void fitTexts();

    AppContext* ctx_;
    QComboBox *format_, *dtype_;
    QLabel *description_, *configuration_, *check_, *status_;
    QLineEdit* folder_;
    QCheckBox *replace_, *awqRef_;
    QProgressBar* progress_;
    QPushButton *choose_, *export_, *cancel_;
    QString parentDir_, autoPath_;
    QString problem_;
    QString dtypeChoice_;  // the user's "Other tensors" choice, kept while awq-gemm forces fp16
    quint64 checkJob_ = 0, exportJob_ = 0;
    std::function<void(double, const std::string&)> hook_;
};
