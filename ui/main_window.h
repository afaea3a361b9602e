// The workbench window. It only wires pages together; each page lives in its own file.
#pragma once
#include <QMainWindow>

#include <memory>

#include "model_session.h"

class JobRunner;
class QLabel;
class QTextBrowser;
class QTreeWidget;
class QProgressBar;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    void openModel(const QString& dir);
    void setInitialSelection(const QString& view, const QString& layer);
    bool saveScreenshot(const QString& file);

    const LoadedModel* current() const { return loaded_ ? loaded_.get() : nullptr; }
    QString errorText() const;
    JobRunner* jobs() const { return jobs_; }

signals:
    void modelChanged();
    void idle();  // no job running: the window shows its final state

protected:
    void closeEvent(QCloseEvent* e) override;

private:
    void buildMenus();
    void showSummary();
    void showError(const QString& message);

    JobRunner* jobs_;
    std::unique_ptr<LoadedModel> loaded_;
    QTextBrowser* summary_;
    QTreeWidget* tree_;
    QLabel* error_;
    QLabel* status_;
    QProgressBar* progress_;
    QString initialView_, initialLayer_;
};
