#include "main_window.h"

#include "job_status.h"

#include <QAction>
#include <QCloseEvent>
#include <QComboBox>
#include <QDockWidget>
#include <QFile>
#include <QPointer>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenuBar>
#include <QDir>
#include <QFileInfo>
#include <QMessageBox>
#include <QScreen>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

#include <unistd.h>

#include "activations_page.h"
#include "app_context.h"
#include "io/safe_output.h"
#include "plot_export.h"
#include "awq_page.h"
#include "error_page.h"
#include "export_dialog.h"
#include "recipe_export.h"
#include "generate_page.h"
#include "layer_navigator.h"
#include "methods_panel.h"
#include "model_page.h"
#include "model_session.h"
#include "perplexity_page.h"
#include "sensitivity_page.h"
#include "ui_util.h"
#include "weights_page.h"
#include "workspace_actions.h"

namespace {

const QStringList kViews = {"model", "activations", "weights", "error", "awq", "perplexity", "generate", "sensitivity"};

double residentMiB() {
    QFile f("/proc/self/statm");
    if (!f.open(QIODevice::ReadOnly)) return -1;
    const QList<QByteArray> parts = f.readAll().split(' ');
    if (parts.size() < 2) return -1;
    return parts[1].toDouble() * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), ctx_(new AppContext(this)) {
    // Plot exports: never into the open model's folder; temporaries of killed processes at the
    // same place are removed, and the status bar says so (io/safe_output.h).
    QPointer<AppContext> guardCtx = ctx_;
    qs::widgets::setExportGuard([guardCtx](const QString& path) -> QString {
        std::vector<std::string> protect;
        if (guardCtx && guardCtx->summary()) protect.push_back(guardCtx->summary()->source_dir);
        try {
            qs::check_output_file(path.toStdString(), protect);
            for (const auto& note : qs::remove_stale_temporaries(path.toStdString()))
                if (guardCtx) emit guardCtx->statusMessage(QString::fromStdString(note));
        } catch (const std::exception& e) {
            return QString::fromStdString(e.what());
        }
        return {};
    });
    setWindowTitle("QuantScope");
    setObjectName("mainWindow");

    // Centre: error banner above the pages.
    auto* central = new QWidget(this);
    auto* layout = new QVBoxLayout(central);
    layout->setContentsMargins(4, 4, 4, 0);
    banner_ = new QWidget(central);
    banner_->setObjectName("errorBannerBox");
    banner_->setStyleSheet("#errorBannerBox { background: #fde2e1; border: 1px solid #e0a39c; }");
    auto* bl = new QHBoxLayout(banner_);
    bl->setContentsMargins(8, 6, 6, 6);
    bannerText_ = new QLabel(banner_);
    bannerText_->setObjectName("errorBanner");
    bannerText_->setWordWrap(true);
    bannerText_->setStyleSheet("color: #8a1f11;");
    bannerText_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* close = new QToolButton(banner_);
    close->setText("✕");
    close->setAutoRaise(true);
    connect(close, &QToolButton::clicked, banner_, &QWidget::hide);
    bl->addWidget(bannerText_, 1);
    bl->addWidget(close, 0, Qt::AlignTop);
    banner_->hide();
    layout->addWidget(banner_);

    tabs_ = new QTabWidget(central);
    tabs_->setObjectName("pages");
    tabs_->setDocumentMode(true);
    modelPage_ = new ModelPage(ctx_);
    activations_ = new ActivationsPage(ctx_);
    weights_ = new WeightsPage(ctx_);
    error_ = new ErrorPage(ctx_);
    awq_ = new AwqPage(ctx_);
    ppl_ = new PerplexityPage(ctx_);
    generate_ = new GeneratePage(ctx_);
    sens_ = new SensitivityPage(ctx_);
    tabs_->addTab(modelPage_, "Model");
    tabs_->addTab(activations_, "Activations");
    tabs_->addTab(weights_, "Weights");
    tabs_->addTab(error_, "Quantization error");
    tabs_->addTab(awq_, "AWQ search");
    tabs_->addTab(ppl_, "Perplexity");
    tabs_->addTab(generate_, "Generate");
    tabs_->addTab(sens_, "Sensitivity");
    layout->addWidget(tabs_, 1);
    setCentralWidget(central);

    // Left: layers. Right: methods.
    nav_ = new LayerNavigator(ctx_);
    auto* left = new QDockWidget("Layers", this);
    left->setObjectName("layersDock");
    left->setWidget(nav_);
    nav_->setMinimumWidth(200);
    left->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    addDockWidget(Qt::LeftDockWidgetArea, left);
    methods_ = new MethodsPanel(ctx_);
    auto* right = new QDockWidget("Methods", this);
    right->setObjectName("methodsDock");
    right->setWidget(methods_);
    right->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    addDockWidget(Qt::RightDockWidgetArea, right);
    resizeDocks({left, right}, {250, 340}, Qt::Horizontal);

    workspace_ = new WorkspaceActions(this);
    buildToolbar();
    buildStatusBar();

    connect(ctx_, &AppContext::errorOccurred, this, &MainWindow::showError);
    connect(ctx_, &AppContext::statusMessage, status_, &QLabel::setText);
    connect(ctx_, &AppContext::modelChanged, this, [this] {
        attempted_ = true;
        banner_->hide();
        const auto* s = ctx_->summary();
        dir_ = ui::qstr(s->source_dir);
        setWindowTitle("QuantScope — " + dir_);
        status_->setText(
            QString("Loaded %1 (%2 parameters)").arg(ui::qstr(s->architecture), ui::commas(s->parameters)));
        updateDeviceStatus();
        syncDeviceCombos();
        // Screenshot mode: views whose data comes from a button press get it pressed once.
        if (screenshot_ && !screenshotRunDone_) {
            screenshotRunDone_ = true;
            if (currentView() == "perplexity") ppl_->run();
            if (currentView() == "generate") generate_->generate();
            if (currentView() == "sensitivity") sens_->run();
            if (currentView() == "awq") {
                qs::MethodConfig c = AppContext::defaultConfig();
                c.methods = {"awq"};
                methods_->setConfig(c);
                ctx_->applyConfig();
            }
        }
        emit modelChanged();
    });
    connect(ctx_, &AppContext::loadFailed, this, [this] {
        attempted_ = true;
        if (ctx_->hasModel()) syncDeviceCombos();  // back to what the model that stays was loaded with
    });
    connect(ctx_, &AppContext::idle, this, [this] {
        progress_->clear();
        if (!notice_.isEmpty() && noticeClock_.elapsed() < 60000)  // a recent result stays in view
            status_->setText(notice_);
        else if (const auto* s = ctx_->summary())
            status_->setText(
                QString("Ready · %1 · %2 parameters · model carries: %3")
                    .arg(ui::qstr(s->architecture), ui::commas(s->parameters), ui::qstr(ctx_->applied().describe())));
        if (attempted_) emit idle();
    });
    connect(ctx_, &AppContext::notice, this, [this](const QString& m) {
        notice_ = m;
        noticeClock_.start();
        status_->setText(m);
    });
    connect(ctx_, &AppContext::jobProgress, this, [this](const QString& ch, double f, const QString& m) {
        progress_->report(ch, f, m);
        status_->setText(progress_->etaText().isEmpty() ? m : m + " · " + progress_->etaText());
    });
}

MainWindow::~MainWindow() {
    qs::widgets::setExportGuard({});
    ctx_->shutdown();
}

JobRunner* MainWindow::jobs() const { return ctx_->jobs(); }

bool MainWindow::hasModel() const { return ctx_->hasModel(); }

void MainWindow::closeEvent(QCloseEvent* e) {
    ctx_->jobs()->cancelAll();  // closing the window cancels running jobs
    e->accept();
}

QString MainWindow::startDir() const {
    const QFileInfo f(dir_);
    if (!dir_.isEmpty() && f.isDir()) return dir_;
    if (!dir_.isEmpty() && f.isFile()) return f.absolutePath();
    return QDir::homePath();
}

void MainWindow::buildToolbar() {
    QMenu* file = menuBar()->addMenu("&File");
    QAction* open = file->addAction("&Open model folder…");
    open->setShortcut(QKeySequence::Open);
    connect(open, &QAction::triggered, this, [this] {
        const QString dir = ctx_->choosers().folder(
            this, "Open a model folder (Hugging Face, or one holding a .gguf file)", startDir());
        if (!dir.isEmpty()) openModel(dir);
    });
    QAction* openGguf = file->addAction("Open &GGUF file…");  // llama.cpp models, dequantized on load
    openGguf->setObjectName("openGgufAction");
    openGguf->setShortcut(QKeySequence("Ctrl+Shift+O"));
    connect(openGguf, &QAction::triggered, this, [this] {
        const QString f = ctx_->choosers().openFile(this, "Open a llama.cpp GGUF model", startDir(),
                                                    "GGUF models (*.gguf);;All files (*)");
        if (!f.isEmpty()) openModel(f);
    });
    QAction* bundled = file->addAction("Open the &bundled model");
    connect(bundled, &QAction::triggered, this, [this] { openModel(QString::fromStdString(default_model_path())); });
    file->addSeparator();
    workspace_->addActions(file);
    file->addSeparator();
    QAction* exportAct = file->addAction("&Export…");
    exportAct->setObjectName("exportAction");
    exportAct->setShortcut(QKeySequence("Ctrl+E"));
    exportAct->setEnabled(false);
    connect(ctx_, &AppContext::modelChanged, exportAct, [exportAct] { exportAct->setEnabled(true); });
    connect(exportAct, &QAction::triggered, this, &MainWindow::openExportDialog);
    recipe_ = new RecipeExport(ctx_, this);
    QAction* recipeAct = file->addAction("Export llm-compressor &recipe (.yaml)…");
    recipeAct->setObjectName("exportRecipeAction");
    recipeAct->setEnabled(false);
    connect(ctx_, &AppContext::modelChanged, recipeAct, [recipeAct] { recipeAct->setEnabled(true); });
    connect(recipeAct, &QAction::triggered, recipe_, &RecipeExport::exportInteractive);
    file->addSeparator();
    QAction* quit = file->addAction("&Quit");
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);
    QMenu* view = menuBar()->addMenu("&View");
    for (int i = 0; i < kViews.size(); ++i) {
        QAction* a = view->addAction(tabs_->tabText(i));
        a->setShortcut(QKeySequence(QString("Ctrl+%1").arg(i + 1)));
        connect(a, &QAction::triggered, this, [this, i] { tabs_->setCurrentIndex(i); });
    }
    QMenu* help = menuBar()->addMenu("&Help");
    QAction* about = help->addAction("&About QuantScope");
    about->setObjectName("aboutAction");
    connect(about, &QAction::triggered, this, &MainWindow::showAbout);

    QToolBar* tb = addToolBar("Model");
    tb->setObjectName("modelToolbar");
    tb->setMovable(false);
    tb->addAction(open);
    tb->addSeparator();
    tb->addWidget(new QLabel(" Device "));
    device_ = new QComboBox;
    device_->setObjectName("deviceCombo");
    for (const auto& d : gui_available_devices()) device_->addItem(QString::fromStdString(d));
    // Why cuda / mps are missing (or which GPU they use): the version text minus its first line.
    device_->setToolTip(QString::fromStdString(gui_version_text()).section('\n', 1));
    tb->addWidget(device_);
    tb->addWidget(new QLabel("  dtype "));
    dtype_ = new QComboBox;
    dtype_->setObjectName("dtypeCombo");
    tb->addWidget(dtype_);
    fillDtypes();
    auto reload = [this] {
        if (!dir_.isEmpty()) openModel(dir_);
    };
    connect(device_, &QComboBox::currentTextChanged, this, [this, reload] {
        fillDtypes();
        reload();
    });
    connect(dtype_, &QComboBox::currentTextChanged, this, reload);
}

void MainWindow::showAbout() {
    auto* box = findChild<QMessageBox*>("aboutBox");
    if (!box) {
        box = new QMessageBox(this);
        box->setObjectName("aboutBox");
        box->setWindowTitle("About QuantScope");
        box->setStandardButtons(QMessageBox::Ok);
        box->setTextFormat(Qt::RichText);
        const QStringList lines = QString::fromStdString(gui_version_text()).split('\n');
        QString html = QString("<b>%1</b><br>A workbench for looking inside LLM quantization.<br><br>")
                           .arg(lines.value(0).toHtmlEscaped());
        for (int i = 1; i < lines.size(); ++i) html += lines[i].toHtmlEscaped() + "<br>";
        html += QString("Qt %1").arg(qVersion());
        box->setText(html);
    }
    box->open();
}

void MainWindow::fillDtypes() {
    const QString keep = dtype_->currentText();
    dtype_->blockSignals(true);
    dtype_->clear();
    for (const auto& t : gui_available_dtypes(device_->currentText().toStdString()))
        dtype_->addItem(QString::fromStdString(t));
    const int i = dtype_->findText(keep.isEmpty() ? "fp32" : keep);
    dtype_->setCurrentIndex(i >= 0 ? i : 0);
    dtype_->blockSignals(false);
}

void MainWindow::syncDeviceCombos() {
    if (device_->currentText() != ctx_->device() && device_->findText(ctx_->device()) >= 0) {
        device_->blockSignals(true);
        device_->setCurrentText(ctx_->device());
        device_->blockSignals(false);
        fillDtypes();
    }
    if (dtype_->findText(ctx_->dtype()) >= 0) {
        dtype_->blockSignals(true);
        dtype_->setCurrentText(ctx_->dtype());
        dtype_->blockSignals(false);
    }
}

ExportDialog* MainWindow::exportDialog() {
    if (!export_) export_ = new ExportDialog(ctx_, this);
    return export_;
}

void MainWindow::openExportDialog() {
    ExportDialog* d = exportDialog();
    d->refresh();
    d->show();
    d->raise();
    d->activateWindow();
}

void MainWindow::buildStatusBar() {
    status_ = new QLabel(this);
    status_->setObjectName("statusMessage");
    status_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    progress_ = new JobStatus(ctx_->jobs(), this);
    deviceStatus_ = new QLabel(this);
    deviceStatus_->setObjectName("deviceStatus");
    statusBar()->addWidget(status_, 1);
    statusBar()->addPermanentWidget(progress_);
    statusBar()->addPermanentWidget(deviceStatus_);
    auto* timer = new QTimer(this);
    connect(timer, &QTimer::timeout, this, &MainWindow::updateDeviceStatus);
    timer->start(2000);
    updateDeviceStatus();
}

void MainWindow::updateDeviceStatus() {
    const auto* s = ctx_->summary();
    const double rss = residentMiB();
    QString text = s ? QString("device %1 · %2").arg(ui::qstr(s->device), ui::qstr(s->dtype)) : QString("no model");
    if (rss > 0) text += QString(" · memory %1 MiB").arg(rss, 0, 'f', 0);
    deviceStatus_->setText(text);
}

void MainWindow::openModel(const QString& dir) { ctx_->openModel(dir, device_->currentText(), dtype_->currentText()); }

void MainWindow::setInitialSelection(const QString& view, const QString& layer) {
    initialView_ = view;
    if (!view.isEmpty()) showView(view);
    if (!layer.isEmpty()) ctx_->setLayer(layer);
}

bool MainWindow::showView(const QString& name) {
    const int i = kViews.indexOf(name.toLower());
    if (i < 0) return false;
    tabs_->setCurrentIndex(i);
    return true;
}

QString MainWindow::currentView() const { return kViews.value(tabs_->currentIndex()); }

QStringList MainWindow::viewNames() { return kViews; }

QString MainWindow::statusText() const { return status_->text(); }

QString MainWindow::errorText() const { return banner_->isHidden() ? QString() : bannerText_->text(); }

void MainWindow::showError(const QString& what, const QString& message) {
    QString text = "<b>" + what.toHtmlEscaped() + "</b> " + message.toHtmlEscaped();
    if (what.startsWith("Could not open") && ctx_->hasModel())
        text += "<br>The previous model (" + dir_.toHtmlEscaped() + ") stays loaded.";
    bannerText_->setText(text);
    banner_->show();
    status_->setText(what);
}

bool MainWindow::saveScreenshot(const QString& file) { return grab().save(file); }

void MainWindow::placeOnScreen() {
    const QRect avail = screen()->availableGeometry();
    // Window decorations (none before the first show, or offscreen).
    const QSize frame = isVisible() ? frameGeometry().size() - geometry().size() : QSize(0, 0);
    QSize size = QSize(1600, 1000).boundedTo(avail.size() - frame);
    size = size.expandedTo(minimumSizeHint()).boundedTo(avail.size() - frame);
    resize(size);
    move(avail.x() + (avail.width() - size.width() - frame.width()) / 2,
         avail.y() + (avail.height() - size.height() - frame.height()) / 2);
}
