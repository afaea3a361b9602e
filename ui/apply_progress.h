// The progress of Apply (and Original weights), under the Apply button: what runs, a bar, the
// elapsed time and ETA, and Cancel. An AWQ auto-scale search (a minute or more on the bundled
// model) also says how many groups are searched (their loss curves appear on the AWQ page as
// they finish). Hidden while nothing is applied; after a cancel it says where it stopped and
// what the model carries until the next change.
#pragma once
#include <QElapsedTimer>
#include <QWidget>

class AppContext;
class QLabel;
class QProgressBar;
class QPushButton;

class ApplyProgress : public QWidget {
    Q_OBJECT
  public:
    explicit ApplyProgress(AppContext* ctx, QWidget* parent = nullptr);

  private:
    void started();
    void progressed(double fraction, const QString& message);
    void stopped(const QString& what);

    AppContext* ctx_;
    QLabel *state_, *eta_;
    QProgressBar* bar_;
    QPushButton* cancel_;
    QElapsedTimer clock_;
    double fraction_ = 0;
};
