// SensitivityView (widgets/sensitivity_view.h) on plain data: one bar series per group with its
// legend entry, model order or sorted by value, selection, and bars that arrive one by one with
// more groups than the legend's row holds (the legend wraps: it once dereferenced an empty cell).
#include <qcustomplot.h>

#include <QtTest/QtTest>

#include "sensitivity_view.h"

using namespace qs::widgets;

class TestSensitivityView : public QObject {
    Q_OBJECT
  private slots:
    void barsGroupsAndOrder() {
        SensitivityView v;
        QVector<SensitivityBar> bars = {{"l0.q", "q_proj", 0, 0.1},
                                        {"l0.down", "down_proj", 0, 0.5},
                                        {"l1.q", "q_proj", 1, 0.3},
                                        {"l1.down", "down_proj", 1, 0.2}};
        v.setBars(bars, "KL (nats/token)");
        QCOMPARE(v.barCount(), 4);
        QCOMPARE(v.plot()->legend->itemCount(), 2);
        QCOMPARE(v.barAt(1).name, QString("l0.down"));
        v.setSortByValue(true);
        QCOMPARE(v.barAt(0).name, QString("l0.down"));
        QCOMPARE(v.barAt(3).name, QString("l0.q"));
        v.setSelected("l1.q");
        QCOMPARE(v.selected(), QString("l1.q"));
        QVERIFY(v.selectionText().contains("rank 2 of 4"));
    }

    // Eleven groups (more than one legend row of 7), the bars arriving one by one, as the
    // Sensitivity page adds rows while the map is measured.
    void manyGroupsArrivingOneByOne() {
        SensitivityView v;
        v.resize(900, 400);
        v.show();
        QVERIFY(QTest::qWaitForWindowExposed(&v));
        QVector<SensitivityBar> bars;
        for (int i = 0; i < 22; ++i) {
            bars.push_back(
                {QString("b%1.r%2").arg(i / 11).arg(i % 11), QString("role_%1").arg(i % 11), i / 11, 0.01 * (i + 1)});
            v.setBars(bars, "KL (nats/token)");
            v.plot()->replot();
            QCOMPARE(v.barCount(), i + 1);
        }
        int entries = 0;
        for (int i = 0; i < v.plot()->legend->itemCount(); ++i) entries += v.plot()->legend->item(i) != nullptr;
        QCOMPARE(entries, 11);
        v.setSortByValue(true);
        QCOMPARE(v.barAt(0).name, QString("b1.r10"));
    }
};

QObject* createSensitivityViewTest() { return new TestSensitivityView; }

#include "test_sensitivity_view.moc"
