#include "main_window.h"

#include <QAction>
#include <QCloseEvent>
#include <QFileDialog>
#include <QHeaderView>
#include <QLabel>
#include <QMenuBar>
#include <QProgressBar>
#include <QScreen>
#include <QSplitter>
#include <QStatusBar>
#include <QTextBrowser>
#include <QTreeWidget>
#include <QVBoxLayout>

#include "job_runner.h"

static QString commas(long long n) { return QLocale(QLocale::English).toString(n); }

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), jobs_(new JobRunner(this)) {
    setWindowTitle("QuantScope");
    auto* central = new QWidget(this);
    auto* layout = new QVBoxLayout(central);
    error_ = new QLabel(central);
    error_->setObjectName("errorBanner");
    error_->setWordWrap(true);
    error_->setStyleSheet("QLabel { background: #fde2e1; color: #8a1f11; padding: 8px; border: 1px solid #e0a39c; }");
    error_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    error_->hide();
    layout->addWidget(error_);
    auto* split = new QSplitter(Qt::Horizontal, central);
    tree_ = new QTreeWidget(split);
    tree_->setObjectName("modelTree");
    tree_->setHeaderLabels({"Module (Hugging Face name)", "Shape [out, in]", "Parameters"});
    tree_->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    summary_ = new QTextBrowser(split);
    summary_->setObjectName("modelSummary");
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    layout->addWidget(split, 1);
    setCentralWidget(central);

    status_ = new QLabel(this);
    progress_ = new QProgressBar(this);
    progress_->setMaximumWidth(240);
    progress_->setRange(0, 1000);
    progress_->hide();
    statusBar()->addWidget(status_, 1);
    statusBar()->addPermanentWidget(progress_);
    buildMenus();

    connect(jobs_, &JobRunner::progress, this, [this](const QString&, quint64, double f, const QString& m) {
        progress_->show();
        progress_->setValue(static_cast<int>(f * 1000));
        status_->setText(m);
    });
    auto done = [this](const QString&, quint64) {
        progress_->hide();
        emit idle();
    };
    connect(jobs_, &JobRunner::finished, this, done);
    connect(jobs_, &JobRunner::cancelled, this, done);
    connect(jobs_, &JobRunner::failed, this, [this](const QString&, quint64, const QString& msg) {
        progress_->hide();
        showError(msg);
        emit idle();
    });
}

MainWindow::~MainWindow() { jobs_->cancelAll(); }

void MainWindow::closeEvent(QCloseEvent* e) {
    jobs_->cancelAll();
    e->accept();
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu("&File");
    QAction* open = file->addAction("&Open model folder…");
    open->setShortcut(QKeySequence::Open);
    connect(open, &QAction::triggered, this, [this] {
        QString dir = QFileDialog::getExistingDirectory(this, "Open a Hugging Face model folder");
        if (!dir.isEmpty()) openModel(dir);
    });
    file->addSeparator();
    QAction* quit = file->addAction("&Quit");
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);
}

void MainWindow::setInitialSelection(const QString& view, const QString& layer) {
    initialView_ = view;
    initialLayer_ = layer;
}

void MainWindow::openModel(const QString& dir) {
    status_->setText("Loading " + dir + " …");
    LoadRequest req;
    req.dir = dir.toStdString();
    jobs_->start("load", [this, req](const qs::Progress& p) -> std::function<void()> {
        auto loaded = std::make_shared<LoadedModel>(load_model_for_gui(req, p));
        return [this, loaded] {
            loaded_ = std::make_unique<LoadedModel>(std::move(*loaded));
            error_->hide();
            showSummary();
            emit modelChanged();
        };
    });
}

QString MainWindow::errorText() const { return error_->isVisible() || !error_->isHidden() ? error_->text() : QString(); }

void MainWindow::showError(const QString& message) {
    error_->setText("<b>Could not open the model.</b> " + message.toHtmlEscaped() +
                    (loaded_ ? "<br>The previous model stays loaded." : ""));
    error_->show();
    status_->setText("Error");
}

void MainWindow::showSummary() {
    const auto& s = loaded_->summary;
    setWindowTitle("QuantScope — " + QString::fromStdString(s.source_dir));
    QString html = "<h2>" + QString::fromStdString(s.architecture) + "</h2><table cellspacing=6>";
    auto row = [&](const QString& k, const QString& v) { html += "<tr><td><b>" + k + "</b></td><td>" + v + "</td></tr>"; };
    row("Folder", QString::fromStdString(s.source_dir).toHtmlEscaped());
    row("Layers", QString::number(s.layers));
    row("Hidden size", QString::number(s.hidden_size));
    row("Attention heads", QString("%1 (KV heads %2, head dim %3)").arg(s.heads).arg(s.kv_heads).arg(s.head_dim));
    row("Intermediate size", QString::number(s.intermediate_size));
    row("Vocabulary", QString::number(s.vocab_size));
    row("Context", QString::number(s.max_position_embeddings));
    row("Parameters", commas(s.parameters) + (s.tied_embeddings ? " (tied embeddings counted once)" : ""));
    row("Device / dtype", QString::fromStdString(s.device + " / " + s.dtype));
    html += "</table>";
    for (const auto& w : s.warnings) html += "<p style='color:#8a5a00'>" + QString::fromStdString(w).toHtmlEscaped() + "</p>";
    summary_->setHtml(html);

    tree_->clear();
    std::map<long long, QTreeWidgetItem*> blocks;
    for (const auto& l : s.linears) {
        QTreeWidgetItem* parent = nullptr;
        if (l.block >= 0) {
            auto it = blocks.find(l.block);
            if (it == blocks.end()) {
                auto* b = new QTreeWidgetItem(tree_, {QString("Block %1").arg(l.block)});
                it = blocks.emplace(l.block, b).first;
            }
            parent = it->second;
        }
        QStringList cols = {QString::fromStdString(l.name), QString("[%1, %2]").arg(l.out_features).arg(l.in_features),
                            commas(l.out_features * l.in_features + (l.bias ? l.out_features : 0))};
        auto* item = parent ? new QTreeWidgetItem(parent, cols) : new QTreeWidgetItem(tree_, cols);
        if (QString::fromStdString(l.name) == initialLayer_) tree_->setCurrentItem(item);
    }
    tree_->expandToDepth(0);
    status_->setText(QString("%1 · %2 · %3 parameters")
                         .arg(QString::fromStdString(s.device), QString::fromStdString(s.dtype), commas(s.parameters)));
}

bool MainWindow::saveScreenshot(const QString& file) { return grab().save(file); }
