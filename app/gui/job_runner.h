// Runs engine work on worker threads and hands results back to the GUI thread.
// Every job has an id and a channel ("load", "ppl", ...): starting a job on a channel
// cancels the previous one there, and results of superseded or cancelled jobs are dropped
// (stale-result dropping as in KDAB/hotspot). No processEvents loops anywhere.
//
// Priorities: all engine work meets at one lock (the Workbench's), so the order in which
// jobs reach a worker is the order in which they run. A Quick job (a small read for a plot
// on screen: the hidden-state forward, a weight matrix) goes to a worker at once; a Normal
// job started while a Quick one is queued or running is held until none is. So a long
// calibration pass started in the same breath cannot take the lock first and keep the
// first plot waiting for seconds.
#pragma once
#include <QObject>
#include <QPointer>
#include <QString>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/progress.h"

class QThreadPool;

class JobRunner : public QObject {
    Q_OBJECT
  public:
    explicit JobRunner(QObject* parent = nullptr);
    ~JobRunner() override;  // cancels everything and waits for the workers

    using Work = std::function<std::function<void()>(const qs::Progress&)>;
    enum class Priority { Normal, Quick };
    // `work` runs on a worker thread and returns a continuation that is invoked on the GUI
    // thread if the job is still current. Errors (exceptions) arrive through failed(). A job
    // cancelled or superseded before it reached a worker never runs (cancelled() is emitted).
    quint64 start(const QString& channel, Work work, Priority priority = Priority::Normal);
    void cancel(const QString& channel);
    void cancelAll();
    bool busy(const QString& channel) const;
    quint64 currentJob(const QString& channel) const;
    bool idle() const;     // no job on any channel (running, queued, held or awaiting delivery)
    int heldJobs() const;  // Normal jobs waiting for Quick ones to end
    void waitForDone();

  signals:
    void progress(const QString& channel, quint64 job, double fraction, const QString& message);
    void finished(const QString& channel, quint64 job);
    void failed(const QString& channel, quint64 job, const QString& message);
    void cancelled(const QString& channel, quint64 job);

  private:
    struct Job {
        quint64 id;
        std::shared_ptr<std::atomic<bool>> cancel;
    };
    struct Held {
        QString channel;
        quint64 id;
        std::shared_ptr<std::atomic<bool>> cancel;
        Work work;
    };
    bool isCurrent(const QString& channel, quint64 id) const;
    void retire(const QString& channel, quint64 id);
    void dispatch(const QString& channel, quint64 id, std::shared_ptr<std::atomic<bool>> flag, Work work, bool quick);

    QThreadPool* pool_;
    mutable std::mutex mutex_;
    std::map<QString, Job> current_;
    std::vector<Held> held_;  // Normal jobs in start order, while quick_ > 0
    int quick_ = 0;           // Quick jobs dispatched and not yet done with their work
    std::atomic<quint64> next_{1};
};
