#include "job_runner.h"

#include <QMetaObject>
#include <QThreadPool>

#include <exception>

#include "core/error.h"

JobRunner::JobRunner(QObject* parent) : QObject(parent), pool_(new QThreadPool(this)) {
    pool_->setMaxThreadCount(2);
    // Workers never expire: each keeps its OpenMP team and BLAS buffers warm (a fresh thread's
    // first single-layer preview took 40-70 ms instead of ~25).
    pool_->setExpiryTimeout(-1);
}

JobRunner::~JobRunner() {
    cancelAll();
    pool_->waitForDone();
}

void JobRunner::waitForDone() { pool_->waitForDone(); }

quint64 JobRunner::start(const QString& channel, Work work, Priority priority) {
    const quint64 id = next_++;
    auto flag = std::make_shared<std::atomic<bool>>(false);
    const bool quick = priority == Priority::Quick;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = current_.find(channel);
        if (it != current_.end()) it->second.cancel->store(true);
        current_[channel] = Job{id, flag};
        if (quick) {
            ++quick_;
        } else if (quick_ > 0) {
            held_.push_back(Held{channel, id, flag, std::move(work)});
            return id;
        }
    }
    dispatch(channel, id, flag, std::move(work), quick);
    return id;
}

void JobRunner::dispatch(const QString& channel, quint64 id, std::shared_ptr<std::atomic<bool>> flag, Work work,
                         bool quick) {
    QPointer<JobRunner> self(this);
    pool_->start([self, this, channel, id, flag, quick, work = std::move(work)]() {
        qs::Progress p;
        p.cancel = flag.get();
        p.report = [self, channel, id, flag](double f, const std::string& msg) {
            if (flag->load() || !self) return;
            QMetaObject::invokeMethod(
                self.data(),
                [self, channel, id, f, m = QString::fromStdString(msg)] {
                    if (self && self->isCurrent(channel, id)) emit self->progress(channel, id, f, m);
                },
                Qt::QueuedConnection);
        };
        std::function<void()> done;
        QString error;
        bool was_cancelled = flag->load();  // cancelled or superseded before it ran
        if (!was_cancelled) {
            try {
                done = work(p);
            } catch (const qs::Cancelled&) {
                was_cancelled = true;
            } catch (const std::exception& e) {
                error = QString::fromStdString(e.what());
            } catch (...) {
                error = QStringLiteral("unknown error");
            }
        }
        if (quick) {
            // The last Quick job done: the held Normal jobs go to the workers, in start order.
            std::vector<Held> release;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                if (--quick_ == 0) release.swap(held_);
            }
            for (auto& h : release) dispatch(h.channel, h.id, h.cancel, std::move(h.work), false);
        }
        if (!self) return;
        QMetaObject::invokeMethod(
            self.data(),
            [self, this, channel, id, done = std::move(done), error, was_cancelled, flag] {
                if (!self) return;
                const bool current = isCurrent(channel, id) && !flag->load();
                retire(channel, id);
                if (was_cancelled || (flag->load() && error.isEmpty())) {
                    emit cancelled(channel, id);
                } else if (!current) {
                    return;  // superseded: drop the stale result silently
                } else if (!error.isEmpty()) {
                    emit failed(channel, id, error);
                } else {
                    if (done) done();
                    emit finished(channel, id);
                }
            },
            Qt::QueuedConnection);
    });
}

void JobRunner::cancel(const QString& channel) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = current_.find(channel);
    if (it != current_.end()) it->second.cancel->store(true);
}

void JobRunner::cancelAll() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& kv : current_) kv.second.cancel->store(true);
}

bool JobRunner::busy(const QString& channel) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return current_.count(channel) != 0;
}

quint64 JobRunner::currentJob(const QString& channel) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = current_.find(channel);
    return it == current_.end() ? 0 : it->second.id;
}

bool JobRunner::idle() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return current_.empty();
}

int JobRunner::heldJobs() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int>(held_.size());
}

bool JobRunner::isCurrent(const QString& channel, quint64 id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = current_.find(channel);
    return it != current_.end() && it->second.id == id;
}

void JobRunner::retire(const QString& channel, quint64 id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = current_.find(channel);
    if (it != current_.end() && it->second.id == id) current_.erase(it);
}
