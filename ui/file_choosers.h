// The file and folder choosers the windows use (QFileDialog by default). They live on the
// AppContext so that Qt Tests can replace them and answer without a modal dialog.
#pragma once
#include <QString>

#include <functional>

class QWidget;

struct FileChoosers {
    // Each returns "" when the user cancels.
    std::function<QString(QWidget* parent, const QString& caption, const QString& dir)> folder;
    std::function<QString(QWidget* parent, const QString& caption, const QString& dir, const QString& filter)> openFile;
    std::function<QString(QWidget* parent, const QString& caption, const QString& dir, const QString& filter)> saveFile;

    static FileChoosers dialogs();  // QFileDialog::getExistingDirectory / getOpenFileName / getSaveFileName
};
