// Runs the widget test suites. The first argument, if it does not start with '-', selects
// one suite by name (see tests/gui/CMakeLists.txt); remaining arguments go to QTest.

#include <QApplication>
#include <QtTest/QtTest>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

QObject* createHeatmapViewTest();
QObject* createChannelMagnitudeViewTest();
QObject* createErrorMatrixPanelTest();
QObject* createLinePlotTest();
QObject* createHistogramViewTest();
QObject* createPlotExportTest();
QObject* createGalleryTest();
QObject* createSensitivityViewTest();

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    const std::vector<std::pair<const char*, std::function<QObject*()>>> suites = {
        {"heatmap_view", createHeatmapViewTest},
        {"channel_magnitude_view", createChannelMagnitudeViewTest},
        {"error_matrix_panel", createErrorMatrixPanelTest},
        {"line_plot", createLinePlotTest},
        {"histogram_view", createHistogramViewTest},
        {"plot_export", createPlotExportTest},
        {"gallery", createGalleryTest},
        {"sensitivity_view", createSensitivityViewTest},
    };
    const char* only = nullptr;
    std::vector<char*> args(argv, argv + argc);
    if (argc > 1 && argv[1][0] != '-') {
        only = argv[1];
        args.erase(args.begin() + 1);
    }
    bool found = false;
    int status = 0;
    for (const auto& [name, create] : suites) {
        if (only && std::strcmp(only, name) != 0) continue;
        found = true;
        std::unique_ptr<QObject> suite(create());
        status |= QTest::qExec(suite.get(), int(args.size()), args.data());
    }
    if (!found) {
        qCritical("unknown suite %s", only);
        return 2;
    }
    return status;
}
