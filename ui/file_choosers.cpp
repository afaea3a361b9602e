#include "file_choosers.h"

#include <QFileDialog>

FileChoosers FileChoosers::dialogs() {
    FileChoosers c;
    c.folder = [](QWidget* parent, const QString& caption, const QString& dir) {
        return QFileDialog::getExistingDirectory(parent, caption, dir);
    };
    c.openFile = [](QWidget* parent, const QString& caption, const QString& dir, const QString& filter) {
        return QFileDialog::getOpenFileName(parent, caption, dir, filter);
    };
    c.saveFile = [](QWidget* parent, const QString& caption, const QString& dir, const QString& filter) {
        return QFileDialog::getSaveFileName(parent, caption, dir, filter);
    };
    return c;
}
