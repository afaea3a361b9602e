// File > Save Workspace… / Open Workspace… (.qscope, engine/export/workspace.h). Saving
// captures the model folder, device and dtype, the methods panel's configuration (with its
// calibration set), the perplexity settings and results table, the current page and the
// selected Linear. Opening checks the file, asks for the model folder's new location when it
// moved (the context's folder chooser; the folder must hold the same model), loads the model
// on a worker, then restores the panel, re-applies what the model carried, refills the table
// and selects the page and Linear. Until the model has loaded nothing of the current session
// changes; errors go to the window's banner naming the file.
#pragma once
#include <QObject>
#include <QString>

#include <optional>

#include "export/workspace.h"

class AppContext;
class MainWindow;
class QMenu;

class WorkspaceActions : public QObject {
    Q_OBJECT
  public:
    explicit WorkspaceActions(MainWindow* window);

    // Adds "Open Workspace…" and "Save Workspace…" (objectNames openWorkspaceAction,
    // saveWorkspaceAction) to `menu`.
    void addActions(QMenu* menu);
    // The menu entries: ask for the file with the context's choosers, then save / open.
    void saveInteractive();
    void openInteractive();

    // The window's state as a workspace.
    qs::Workspace capture() const;
    bool save(const QString& file);
    // Asynchronous: ends with workspaceOpened, workspaceFailed or workspaceCancelled.
    void open(const QString& file);
    bool opening() const { return pending_.has_value(); }

  signals:
    void workspaceSaved(const QString& file);
    void workspaceOpened(const QString& file);
    void workspaceFailed(const QString& file, const QString& message);
    void workspaceCancelled(const QString& file);  // the moved model was not located, or another load won

  private:
    void fail(const QString& file, const QString& message);
    void restore(const qs::Workspace& ws, const QString& file);

    MainWindow* w_;
    AppContext* ctx_;
    QString lastFile_;
    std::optional<qs::Workspace> pending_;
    QString pendingFile_;
    quint64 loadJob_ = 0;
};
