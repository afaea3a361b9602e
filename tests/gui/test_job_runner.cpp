// JobRunner: stale results dropped, cancel, and the Quick priority that keeps a long job
// (the calibration pass) from taking the engine lock before the first plot's short read.

#include <QCoreApplication>
#include <QSignalSpy>
#include <QtTest/QtTest>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"
#include "job_runner.h"

namespace {

constexpr int kWait = 20000;  // ms

// The order in which job bodies ran (worker threads) and continuations were delivered.
struct Log {
    std::mutex m;
    std::vector<QString> ran;
    void add(const QString& s) {
        std::lock_guard<std::mutex> l(m);
        ran.push_back(s);
    }
    std::vector<QString> get() {
        std::lock_guard<std::mutex> l(m);
        return ran;
    }
};

}  // namespace

class JobRunnerTest : public QObject {
    Q_OBJECT
  private slots:
    void normalJobsWaitForQuickOnes() {
        JobRunner jobs;
        Log log;
        std::promise<void> gate;
        std::shared_future<void> open = gate.get_future().share();
        std::atomic<bool> quickStarted{false};
        QSignalSpy finished(&jobs, &JobRunner::finished);
        jobs.start(
            "quick",
            [&, open](const qs::Progress&) -> std::function<void()> {
                quickStarted = true;
                open.wait();
                log.add("quick");
                return {};
            },
            JobRunner::Priority::Quick);
        jobs.start("long-a", [&](const qs::Progress&) -> std::function<void()> {
            log.add("long-a");
            return {};
        });
        jobs.start("long-b", [&](const qs::Progress&) -> std::function<void()> {
            log.add("long-b");
            return {};
        });
        QTRY_VERIFY_WITH_TIMEOUT(quickStarted.load(), kWait);
        // Two workers, one busy: without the priority long-a would run now.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        QCOMPARE(jobs.heldJobs(), 2);
        QVERIFY(log.get().empty());
        QVERIFY(!jobs.idle());  // held jobs count as pending
        gate.set_value();
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 3, kWait);
        const auto order = log.get();
        QCOMPARE(order.size(), size_t(3));
        QCOMPARE(order[0], QString("quick"));
        QCOMPARE(jobs.heldJobs(), 0);
        QTRY_VERIFY_WITH_TIMEOUT(jobs.idle(), kWait);
    }

    void normalJobsRunAtOnceWithoutQuickOnes() {
        JobRunner jobs;
        std::promise<void> gate;
        std::shared_future<void> open = gate.get_future().share();
        std::atomic<int> running{0};
        QSignalSpy finished(&jobs, &JobRunner::finished);
        for (const char* ch : {"a", "b"})
            jobs.start(ch, [&, open](const qs::Progress&) -> std::function<void()> {
                ++running;
                open.wait();
                return {};
            });
        QCOMPARE(jobs.heldJobs(), 0);
        QTRY_COMPARE_WITH_TIMEOUT(running.load(), 2, kWait);  // both workers busy together
        gate.set_value();
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, kWait);
    }

    void heldJobSupersededNeverRuns() {
        JobRunner jobs;
        Log log;
        std::promise<void> gate;
        std::shared_future<void> open = gate.get_future().share();
        QSignalSpy finished(&jobs, &JobRunner::finished);
        QSignalSpy cancelled(&jobs, &JobRunner::cancelled);
        jobs.start(
            "quick",
            [&, open](const qs::Progress&) -> std::function<void()> {
                open.wait();
                return {};
            },
            JobRunner::Priority::Quick);
        QString shown;
        const quint64 first = jobs.start("stats", [&](const qs::Progress&) -> std::function<void()> {
            log.add("first");
            return [&] { shown = "first"; };
        });
        jobs.cancel("stats");
        const quint64 second = jobs.start("stats", [&](const qs::Progress&) -> std::function<void()> {
            log.add("second");
            return [&] { shown = "second"; };
        });
        QVERIFY(second != first);
        QCOMPARE(jobs.currentJob("stats"), second);
        gate.set_value();
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, kWait);  // quick + second
        QTRY_COMPARE_WITH_TIMEOUT(cancelled.count(), 1, kWait);
        QCOMPARE(cancelled.at(0).at(1).toULongLong(), first);
        QCOMPARE(log.get(), std::vector<QString>{"second"});
        QCOMPARE(shown, QString("second"));
    }

    void staleResultIsDropped() {
        JobRunner jobs;
        std::promise<void> gate;
        std::shared_future<void> open = gate.get_future().share();
        QString shown;
        QSignalSpy finished(&jobs, &JobRunner::finished);
        jobs.start("view", [open](const qs::Progress&) -> std::function<void()> {
            open.wait();  // superseded while it runs, and it ignores the cancel flag
            return [] {};
        });
        jobs.start("view", [&](const qs::Progress&) -> std::function<void()> { return [&] { shown = "new"; }; });
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kWait);
        gate.set_value();
        QTRY_VERIFY_WITH_TIMEOUT(jobs.idle(), kWait);
        QCOMPARE(finished.count(), 1);  // the old job's result never arrived
        QCOMPARE(shown, QString("new"));
    }

    void failuresAndCancelsArrive() {
        JobRunner jobs;
        QSignalSpy failed(&jobs, &JobRunner::failed);
        QSignalSpy cancelled(&jobs, &JobRunner::cancelled);
        jobs.start(
            "bad",
            [](const qs::Progress&) -> std::function<void()> { throw qs::Error("model.safetensors: truncated"); },
            JobRunner::Priority::Quick);
        jobs.start("stop", [](const qs::Progress& p) -> std::function<void()> {
            for (;;) {
                p.check();
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        });
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, kWait);
        QCOMPARE(failed.at(0).at(2).toString(), QString("model.safetensors: truncated"));
        jobs.cancel("stop");
        QTRY_COMPARE_WITH_TIMEOUT(cancelled.count(), 1, kWait);
        QTRY_VERIFY_WITH_TIMEOUT(jobs.idle(), kWait);
    }
};

QTEST_GUILESS_MAIN(JobRunnerTest)
#include "test_job_runner.moc"
