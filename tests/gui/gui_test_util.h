#pragma once
// Helpers shared by the widget test suites.

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QString>
#include <QWidget>
#include <QtTest/QtTest>
#include <cstdint>
#include <vector>

namespace qs::widgets::test {

// Folder for rendered screenshots and exported files ($QS_GUI_TEST_OUTPUT overrides).
inline QString outputDir() {
    QString dir = qEnvironmentVariable("QS_GUI_TEST_OUTPUT");
#ifdef QS_GUI_TEST_OUTPUT_DIR
    if (dir.isEmpty()) dir = QStringLiteral(QS_GUI_TEST_OUTPUT_DIR);
#endif
    if (dir.isEmpty()) dir = QDir::temp().filePath(QStringLiteral("quantscope-gui-tests"));
    QDir().mkpath(dir);
    return dir;
}

inline QString outputPath(const QString& name) { return QDir(outputDir()).filePath(name); }

inline QByteArray fileHead(const QString& path, int n) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.read(n);
}

inline QByteArray fileAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

// Shows a top-level widget at `size` on the offscreen platform and waits until it is laid out.
inline bool showAt(QWidget* w, const QSize& size) {
    w->resize(size);
    w->show();
    if (!QTest::qWaitForWindowExposed(w)) return false;
    QCoreApplication::processEvents();
    return true;
}

// Deterministic pseudo-random values in [-1, 1) (independent of the library under test).
class Lcg {
  public:
    explicit Lcg(std::uint64_t seed) : s_(seed) {}
    float next() {
        s_ = s_ * 6364136223846793005ULL + 1442695040888963407ULL;
        return float(double(s_ >> 11) / double(1ULL << 53) * 2.0 - 1.0);
    }

  private:
    std::uint64_t s_;
};

inline std::vector<float> randomMatrix(int rows, int cols, std::uint64_t seed) {
    Lcg g(seed);
    std::vector<float> v(std::size_t(rows) * cols);
    for (float& x : v) x = g.next();
    return v;
}

}  // namespace qs::widgets::test
