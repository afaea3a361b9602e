// GUI responsiveness benchmark (issue #5; not a test): drives the real MainWindow.
//
//   quantscope_gui_bench startup [--view activations|weights|error] [--model DIR] [--device D] [--dtype T]
//       Process start (from /proc/self/stat, 10 ms resolution: includes loading libtorch and
//       Qt) to the first replot of a visible plot that holds data, on the bundled model unless
//       --model; and to the last such replot once every job has ended (all the view's plots,
//       e.g. those that need the calibration pass). Prints one JSON object. Run it several
//       times (tools/bench/bench_gui.sh).
//       For the activations view it also reports when the per-channel plot first held calibration
//       statistics (a progressive snapshot or the final ones) and when the final ones were drawn,
//       and the number of calibration blocks used (adapted to the model). --timeout S (120).
//   quantscope_gui_bench redraw --model DIR [--layer NAME] [--changes N] [--calib-samples N] [--device D]
//       [--dtype T]
//       Opens DIR on the error view with the Linear NAME selected, then moves real controls of
//       the methods panel N times each (weight bits, AWQ scale factor slider, SmoothQuant alpha
//       slider) and times each change to the end of the redraw: the 30 ms debounce, the
//       single-layer preview on the worker, every page's slots on previewReady (synchronous
//       replots) and a synchronous repaint of the window. Prints per-control medians (JSON).
//   --device / --dtype choose them in the toolbar before the model opens (default cpu, fp32;
//   tools/gpu_check.sh runs both modes with --device cuda).
#include <QApplication>
#include <QComboBox>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QSlider>
#include <QTimer>
#include <qcustomplot.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "activations_page.h"
#include "app_context.h"
#include "core/process_setup.h"
#include "error_page.h"
#include "main_window.h"
#include "methods_panel.h"
#include "model_session.h"

namespace {

double now_s() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Wall-clock time the process started: boot time + starttime (clock ticks after boot).
double process_start_s() {
    std::ifstream st("/proc/self/stat");
    std::string s((std::istreambuf_iterator<char>(st)), {});
    std::istringstream rest(s.substr(s.rfind(')') + 2));
    std::string f;
    for (int i = 3; i <= 22; ++i) rest >> f;  // field 22: starttime
    const double start_ticks = std::stod(f);
    std::ifstream ps("/proc/stat");
    std::string line;
    double btime = 0;
    while (std::getline(ps, line))
        if (line.rfind("btime ", 0) == 0) btime = std::stod(line.substr(6));
    return btime + start_ticks / sysconf(_SC_CLK_TCK);
}

bool hasData(QCustomPlot* p) {
    for (int i = 0; i < p->plottableCount(); ++i) {
        QCPAbstractPlottable* pl = p->plottable(i);
        if (auto* one = pl->interface1D(); one && one->dataCount() > 0) return true;
        if (auto* cm = qobject_cast<QCPColorMap*>(pl); cm && cm->data()->keySize() > 0) return true;
    }
    return false;
}

std::string arg(int argc, char** argv, const std::string& name, const std::string& def) {
    for (int i = 2; i + 1 < argc; ++i)
        if (argv[i] == "--" + name) return argv[i + 1];
    return def;
}

// Selects --device and --dtype in the toolbar (before the model opens). False, with a message,
// when the window does not offer them here.
bool chooseDevice(MainWindow& w, int argc, char** argv) {
    for (const auto& [name, combo] :
         {std::pair<std::string, const char*>{"device", "deviceCombo"}, {"dtype", "dtypeCombo"}}) {
        const QString want = QString::fromStdString(arg(argc, argv, name, name == "device" ? "cpu" : "fp32"));
        auto* c = w.findChild<QComboBox*>(combo);
        if (!c || c->findText(want) < 0) {
            std::fprintf(stderr, "--%s %s is not offered here (%s)\n", name.c_str(), want.toUtf8().constData(),
                         c ? c->toolTip().toUtf8().constData() : "no combo box");
            return false;
        }
        c->setCurrentText(want);
    }
    return true;
}

// Waits (in an event loop) until no job runs and no debounce timer is pending, twice in a row.
bool waitIdle(AppContext* ctx, int ms = 600000) {
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < ms) {
        if (ctx->isIdle()) {
            QEventLoop l;
            QTimer::singleShot(60, &l, &QEventLoop::quit);
            l.exec();
            if (ctx->isIdle()) return true;
        }
        QEventLoop l;
        QTimer::singleShot(20, &l, &QEventLoop::quit);
        l.exec();
    }
    return false;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string list(const std::vector<double>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]).substr(0, 7);
    return s + "]";
}

int startup(int argc, char** argv) {
    const double t_proc = process_start_s(), t_main = now_s();
    QApplication app(argc, argv);
    const QString view = QString::fromStdString(arg(argc, argv, "view", "activations"));
    const std::string model = arg(argc, argv, "model", default_model_path());
    MainWindow w;
    if (!w.showView(view) || !chooseDevice(w, argc, argv)) return 2;
    w.setInitialSelection(view, {});
    // First plot: the first replot of a visible plot holding data. All plots: the last such
    // replot before every job has ended (the view complete, calibration pass included).
    double t_plot = 0, t_last = 0;
    QString which;
    for (QCustomPlot* p : w.findChildren<QCustomPlot*>())
        QObject::connect(p, &QCustomPlot::afterReplot, &w, [&, p] {
            if (!p->isVisible() || !hasData(p)) return;
            t_last = now_s();
            if (t_plot > 0) return;
            t_plot = t_last;
            which = p->objectName().isEmpty() ? p->parentWidget()->metaObject()->className() : p->objectName();
        });
    double t_channels = 0, t_channels_final = 0;
    if (auto* act = w.findChild<ActivationsPage*>()) {
        QObject::connect(act, &ActivationsPage::partialShown, &w, [&](int, int) {
            if (t_channels == 0) t_channels = now_s();
        });
        QObject::connect(act, &ActivationsPage::channelsShown, &w, [&] {
            t_channels_final = now_s();
            if (t_channels == 0) t_channels = t_channels_final;
        });
    }
    QObject::connect(w.context(), &AppContext::idle, &app, [&] {
        if (t_plot > 0 && w.context()->hasModel()) QApplication::exit(0);
    });
    if (qEnvironmentVariableIsSet("QS_BENCH_TRACE")) {  // when each job ends, to stderr
        QObject::connect(w.context()->jobs(), &JobRunner::finished, &w, [&](const QString& ch, quint64 id) {
            std::fprintf(stderr, "[%.3f s] job %llu on '%s' finished\n", now_s() - t_main,
                         static_cast<unsigned long long>(id), ch.toUtf8().constData());
        });
        auto last = std::make_shared<QString>();
        QObject::connect(w.context()->jobs(), &JobRunner::progress, &w,
                         [&, last](const QString& ch, quint64, double f, const QString& msg) {
                             const QString line = ch + ": " + msg;
                             if (line == *last) return;
                             *last = line;
                             std::fprintf(stderr, "[%.3f s] %s (%.0f %%)\n", now_s() - t_main,
                                          line.toUtf8().constData(), 100 * f);
                         });
    }
    const int timeout_s = std::stoi(arg(argc, argv, "timeout", "120"));
    QTimer::singleShot(timeout_s * 1000, &app, [] { QApplication::exit(1); });
    w.resize(1600, 1000);
    w.show();
    w.openModel(QString::fromStdString(model));
    const int rc = app.exec();
    if (rc != 0 || t_plot == 0) {
        std::fprintf(stderr, "no plot with data within %d s (%s)\n", timeout_s,
                     w.errorText().toLocal8Bit().constData());
        return 1;
    }
    auto since = [&](double t) { return t > 0 ? t - t_proc : -1.0; };
    std::printf(
        "{\"device\": \"%s\", \"dtype\": \"%s\", \"view\": \"%s\", \"plot\": \"%s\", \"process_to_main_s\": %.3f, "
        "\"main_to_first_plot_s\": %.3f, \"process_to_first_plot_s\": %.3f, \"process_to_all_plots_s\": %.3f, "
        "\"process_to_channels_s\": %.3f, \"process_to_channels_final_s\": %.3f, \"calib_samples\": %lld, "
        "\"calibration\": \"%s\"}\n",
        w.context()->device().toUtf8().constData(), w.context()->dtype().toUtf8().constData(),
        view.toUtf8().constData(), which.toUtf8().constData(), t_main - t_proc, t_plot - t_main, t_plot - t_proc,
        t_last - t_proc, since(t_channels), since(t_channels_final),
        static_cast<long long>(w.context()->config().calib_samples),
        w.context()->calibrationNote().toUtf8().constData());
    return 0;
}

int redraw(int argc, char** argv) {
    QApplication app(argc, argv);
    const std::string model = arg(argc, argv, "model", "");
    const QString layer = QString::fromStdString(arg(argc, argv, "layer", "model.decoder.layers.0.fc2"));
    const int n = std::stoi(arg(argc, argv, "changes", "15"));
    const int calib = std::stoi(arg(argc, argv, "calib-samples", "16"));
    if (model.empty()) {
        std::fprintf(stderr, "redraw needs --model DIR\n");
        return 2;
    }
    MainWindow w;
    if (!chooseDevice(w, argc, argv)) return 2;
    w.resize(1600, 1000);
    w.show();
    AppContext* ctx = w.context();
    QEventLoop loaded;
    QObject::connect(&w, &MainWindow::modelChanged, &loaded, &QEventLoop::quit);
    w.openModel(QString::fromStdString(model));
    loaded.exec();
    if (!ctx->hasModel() || !waitIdle(ctx)) {
        std::fprintf(stderr, "model did not load: %s\n", w.errorText().toLocal8Bit().constData());
        return 1;
    }
    w.showView("error");
    ctx->setLayer(layer);
    MethodsPanel* panel = w.methodsPanel();
    qs::MethodConfig cfg = AppContext::defaultConfig();
    cfg.calib_samples = calib;
    panel->setConfig(cfg);
    if (!waitIdle(ctx) || !w.errorPage()->shown()) {
        std::fprintf(stderr, "no preview for %s: %s\n", layer.toLocal8Bit().constData(),
                     w.errorText().toLocal8Bit().constData());
        return 1;
    }
    const int64_t rows = w.errorPage()->shown()->original.rows, cols = w.errorPage()->shown()->original.cols;
    // One timed change: from the control's new value to the end of the redraw.
    auto timed = [&](const std::function<void()>& change) {
        waitIdle(ctx);
        QEventLoop shown;
        auto c = QObject::connect(w.errorPage(), &ErrorPage::previewShown, &shown, &QEventLoop::quit);
        QElapsedTimer t;
        t.start();
        change();
        shown.exec();
        QCoreApplication::sendPostedEvents();  // queued replots
        w.repaint();
        const double ms = t.nsecsElapsed() / 1e6;
        QObject::disconnect(c);
        return ms;
    };
    auto* bits = panel->findChild<QComboBox*>("bitsCombo");
    std::vector<double> tb, ta, ts;
    for (int i = 0; i < n; ++i) tb.push_back(timed([&] { bits->setCurrentIndex(bits->findData(i % 2 ? 4 : 3)); }));
    // AWQ: scale the salient channels by the slider's factor (needs the calibration statistics:
    // collected once, untimed).
    panel->awqModeCombo()->setCurrentIndex(panel->awqModeCombo()->findData("awq-scale"));
    waitIdle(ctx);
    for (int i = 0; i < n; ++i) ta.push_back(timed([&] { panel->awqFactorSlider()->setValue(110 + 20 * i); }));
    panel->awqModeCombo()->setCurrentIndex(panel->awqModeCombo()->findData(""));
    panel->smoothQuantCheck()->setChecked(true);
    waitIdle(ctx);
    for (int i = 0; i < n; ++i) ts.push_back(timed([&] { panel->sqAlphaSlider()->setValue(5 + 6 * i); }));
    // The engine's share: the same single-layer preview called directly (no GUI, no debounce).
    std::vector<double> te;
    for (int i = 0; i < n; ++i) {
        QElapsedTimer t;
        t.start();
        ctx->workbench()->preview(layer.toStdString(), ctx->config(), {});
        te.push_back(t.nsecsElapsed() / 1e6);
    }
    std::printf("{\"device\": \"%s\", \"dtype\": \"%s\", \"engine_preview_median_ms\": %.1f, ",
                ctx->device().toUtf8().constData(), ctx->dtype().toUtf8().constData(), median(te));
    std::printf(
        "\"layer\": \"%s\", \"shape\": [%lld, %lld], \"changes_per_control\": %d, "
        "\"median_ms\": {\"bits\": %.1f, \"awq_factor\": %.1f, \"sq_alpha\": %.1f, \"all\": %.1f}, "
        "\"ms\": {\"bits\": %s, \"awq_factor\": %s, \"sq_alpha\": %s}}\n",
        layer.toUtf8().constData(), static_cast<long long>(rows), static_cast<long long>(cols), n, median(tb),
        median(ta), median(ts),
        [&] {
            std::vector<double> all = tb;
            all.insert(all.end(), ta.begin(), ta.end());
            all.insert(all.end(), ts.begin(), ts.end());
            return median(all);
        }(),
        list(tb).c_str(), list(ta).c_str(), list(ts).c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    qs::prepare_process();  // as the product's main() does (its time counts: process start is the origin)
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "startup") return startup(argc, argv);
    if (mode == "redraw") return redraw(argc, argv);
    std::fprintf(stderr,
                 "usage: quantscope_gui_bench startup [--view V] [--model DIR] [--device D] [--dtype T] | "
                 "redraw --model DIR [--layer NAME] [--changes N] [--calib-samples N] [--device D] [--dtype T]\n");
    return 2;
}
