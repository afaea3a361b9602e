// The status bar's view of long work: the latest job's progress bar, its step, an ETA from the
// rate so far, and a Cancel button for that job (issue #12: long work everywhere shows progress
// with ETA and can be cancelled). Plain QWidget; fed by AppContext::jobProgress.
#pragma once
#include <QElapsedTimer>
#include <QMap>
#include <QWidget>

class QLabel;
class QProgressBar;
class QToolButton;
class JobRunner;

class JobStatus : public QWidget {
    Q_OBJECT
  public:
    JobStatus(JobRunner* jobs, QWidget* parent = nullptr);
    // A progress report of the job on `channel` (fraction 0..1, step in words).
    void report(const QString& channel, double fraction, const QString& message);
    void clear();  // no job left
    QString etaText() const;
    QString channel() const { return channel_; }
    QToolButton* cancelButton() const { return cancel_; }
    // "ETA 1 min 20 s" from the elapsed time and the fraction done ("" before 2 % or 1 s).
    static QString eta(double elapsed_s, double fraction);

  private:
    JobRunner* jobs_;
    QProgressBar* bar_;
    QLabel* eta_;
    QToolButton* cancel_;
    QString channel_;
    QMap<QString, QElapsedTimer> started_;
};
