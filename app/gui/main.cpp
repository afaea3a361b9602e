// quantscope: the workbench GUI. Opens on the bundled model (unless --model) with the activations
// view (per-channel mean/max |x|, outliers) on screen (unless --view).
//   quantscope [--model DIR|FILE.gguf] [--screenshot FILE.png [--view NAME] [--layer NAME]] [--version]
#include <QApplication>
#include <QCommandLineParser>
#include <QTextDocumentFragment>
#include <QTimer>

#include <cstdio>

#include "core/process_setup.h"
#include "model_session.h"
#include "main_window.h"

int main(int argc, char** argv) {
    qs::prepare_process();  // threads, heap
    for (int i = 1; i < argc; ++i)
        if (std::string(argv[i]) == "--version") {
            std::printf("%s\n", gui_version_text().c_str());
            return 0;
        }
    bool screenshot = false;
    for (int i = 1; i < argc; ++i)
        if (std::string(argv[i]) == "--screenshot") screenshot = true;
    if (screenshot && !qEnvironmentVariableIsSet("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");

    QApplication app(argc, argv);
    QApplication::setApplicationName("QuantScope");
    QApplication::setApplicationVersion(QS_VERSION);
    QCommandLineParser parser;
    parser.setApplicationDescription("QuantScope: a workbench for looking inside LLM quantization");
    parser.addHelpOption();
    QCommandLineOption modelOpt(
        "model", "Hugging Face model folder or llama.cpp GGUF file to open (default: the bundled model).", "PATH");
    QCommandLineOption shotOpt("screenshot", "Render the window offscreen at 1600x1000 to FILE and exit.", "FILE");
    QCommandLineOption viewOpt(
        "view", "View to show: model, activations, weights, error, awq, perplexity, generate, sensitivity.", "NAME",
        "activations");
    QCommandLineOption layerOpt("layer", "Linear layer to select (HF name).", "NAME");
    QCommandLineOption versionOpt("version", "Print the version, the libtorch version and devices.");
    parser.addOptions({modelOpt, shotOpt, viewOpt, layerOpt, versionOpt});
    parser.process(app);

    MainWindow w;
    if (!w.showView(parser.value(viewOpt))) {
        std::fprintf(stderr,
                     "quantscope: unknown view '%s' (model, activations, weights, error, awq, perplexity, generate, "
                     "sensitivity)\n",
                     parser.value(viewOpt).toLocal8Bit().constData());
        return 2;
    }
    w.setInitialSelection(parser.value(viewOpt), parser.value(layerOpt));
    w.setScreenshotMode(parser.isSet(shotOpt));
    const QString model =
        parser.isSet(modelOpt) ? parser.value(modelOpt) : QString::fromStdString(default_model_path());
    if (parser.isSet(shotOpt)) {
        const QString file = parser.value(shotOpt);
        w.resize(1600, 1000);
        w.show();
        QObject::connect(&w, &MainWindow::idle, &app, [&w, file] {
            const bool ok = w.saveScreenshot(file);
            std::fprintf(ok ? stdout : stderr, "%s %s\n", ok ? "screenshot written to" : "cannot write screenshot",
                         file.toLocal8Bit().constData());
            // The window (with its error banner) is saved either way; a model that did not
            // load still fails the command.
            const QString err = w.errorText();
            if (!err.isEmpty())
                std::fprintf(stderr, "%s\n",
                             QTextDocumentFragment::fromHtml(err).toPlainText().toLocal8Bit().constData());
            QApplication::exit(ok && w.hasModel() ? 0 : 1);
        });
        w.openModel(model);
        return app.exec();
    }
    w.placeOnScreen();  // inside the screen's available area (a 1280 x 720 projector too)
    w.show();
    w.openModel(model);
    return app.exec();
}
