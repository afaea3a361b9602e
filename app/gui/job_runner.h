// Runs engine work on worker threads and hands results back to the GUI thread.
// Every job has an id and a channel ("load", "ppl", ...): starting a job on a channel
// cancels the previous one there, and results of superseded or cancelled jobs are dropped
// (stale-result dropping as in KDAB/hotspot). No processEvents loops anywhere.
#pragma once
#include <QObject>
#include <QPointer>
#include <QString>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "core/progress.h"

class QThreadPool;

class JobRunner : public QObject {
    Q_OBJECT
public:
    explicit JobRunner(QObject* parent = nullptr);
    ~JobRunner() override;  // cancels everything and waits for the workers

    using Work = std::function<std::function<void()>(const qs::Progress&)>;
    // `work` runs on a worker thread and returns a continuation that is invoked on the GUI
    // thread if the job is still current. Errors (exceptions) arrive through failed().
    quint64 start(const QString& channel, Work work);
    void cancel(const QString& channel);
    void cancelAll();
    bool busy(const QString& channel) const;
    quint64 currentJob(const QString& channel) const;
    bool idle() const;  // no job on any channel (running, queued or awaiting delivery)
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
    bool isCurrent(const QString& channel, quint64 id) const;
    void retire(const QString& channel, quint64 id);

    QThreadPool* pool_;
    mutable std::mutex mutex_;
    std::map<QString, Job> current_;
    std::atomic<quint64> next_{1};
};
