// Shared by the test_workbench_* suites, which drive the whole window.
#pragma once
#include <QElapsedTimer>
#include <QtTest/QtTest>

#include "app_context.h"

namespace qs::gui::test {

constexpr int kLong = 180000;  // ms: calibration and perplexity on a slow, shared CI machine

// Idle twice in a row 50 ms apart, so a debounce timer in flight is not missed.
inline bool waitIdle(AppContext* ctx, int ms = kLong) {
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < ms) {
        if (ctx->isIdle()) {
            QTest::qWait(50);
            if (ctx->isIdle()) return true;
        }
        QTest::qWait(20);
    }
    return false;
}

}  // namespace qs::gui::test
