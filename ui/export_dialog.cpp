#include "export_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

#include <algorithm>

#include <memory>

#include "app_context.h"
#include "ui_util.h"

using ui::qstr;

namespace {

QString writtenText(const qs::ExportReport& r) {
    QString files;
    for (size_t i = 0; i < r.files.size() && i < 3; ++i) files += (i ? ", " : "") + qstr(r.files[i]);
    if (r.files.size() > 3) files += ", …";
    return QString("Exported %1 to %2: %3 files, %4 (%5) in %6 s")
        .arg(qstr(r.format), qstr(r.out_dir))
        .arg(r.files.size())
        .arg(ui::bytesText(static_cast<double>(r.bytes_written)), files)
        .arg(r.seconds, 0, 'f', 2);
}

}  // namespace

ExportDialog::ExportDialog(AppContext* ctx, QWidget* parent) : QDialog(parent), ctx_(ctx) {
    setObjectName("exportDialog");
    setWindowTitle("Export checkpoint");
    resize(640, 0);
    auto* v = new QVBoxLayout(this);
    configuration_ = new QLabel;
    configuration_->setObjectName("exportConfiguration");
    configuration_->setWordWrap(true);
    configuration_->setTextFormat(Qt::RichText);
    v->addWidget(configuration_);

    auto* form = new QFormLayout;
    format_ = new QComboBox;
    format_->setObjectName("exportFormat");
    for (const auto& n : qs::export_format_names())  // the item data is the CLI's --format name
        format_->addItem(n == "compressed-tensors" ? QString("compressed-tensors (pack-quantized)") : qstr(n), qstr(n));
    description_ = new QLabel;
    description_->setObjectName("exportFormatDescription");
    description_->setWordWrap(true);
    description_->setStyleSheet("color:#555");
    folder_ = new QLineEdit;
    folder_->setObjectName("exportFolder");
    folder_->setPlaceholderText("new folder for the exported model");
    choose_ = new QPushButton("Choose…");
    choose_->setObjectName("exportChooseFolder");
    auto* folderRow = new QWidget;
    auto* fr = new QHBoxLayout(folderRow);
    fr->setContentsMargins(0, 0, 0, 0);
    fr->addWidget(folder_, 1);
    fr->addWidget(choose_);
    dtype_ = new QComboBox;
    dtype_->setObjectName("exportDtype");
    dtype_->addItem("source dtype", QString());
    for (const char* d : {"float32", "float16", "bfloat16"}) dtype_->addItem(d, QString(d));
    awqRef_ = new QCheckBox("AWQ reference: weights as the awq-gemm export represents them (float32)");
    awqRef_->setObjectName("exportAwqReference");
    replace_ = new QCheckBox("Replace an existing model folder");
    replace_->setObjectName("exportReplace");
    form->addRow("Format", format_);
    form->addRow("", description_);
    form->addRow("Output folder", folderRow);
    form->addRow("Other tensors", dtype_);
    form->addRow(awqRef_);
    form->addRow(replace_);
    v->addLayout(form);

    check_ = new QLabel;
    check_->setObjectName("exportCheck");
    check_->setWordWrap(true);
    check_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    v->addWidget(check_);
    progress_ = new QProgressBar;
    progress_->setObjectName("exportProgress");
    progress_->setRange(0, 1000);
    progress_->setValue(0);
    v->addWidget(progress_);
    status_ = new QLabel;
    status_->setObjectName("exportStatus");
    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    v->addWidget(status_);
    auto* buttons = new QHBoxLayout;
    export_ = new QPushButton("Export");
    export_->setObjectName("exportStart");
    export_->setDefault(true);
    cancel_ = new QPushButton("Close");
    cancel_->setObjectName("exportCancel");
    buttons->addStretch(1);
    buttons->addWidget(export_);
    buttons->addWidget(cancel_);
    v->addLayout(buttons);

    parentDir_ = QDir::homePath();
    connect(format_, qOverload<int>(&QComboBox::currentIndexChanged), this, &ExportDialog::formatChanged);
    connect(dtype_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        if (format() != qs::ExportFormat::AwqGemm) dtypeChoice_ = dtype_->currentData().toString();
    });
    connect(awqRef_, &QCheckBox::toggled, this, [this] {
        updateButtons();
        startCheck();
    });
    connect(folder_, &QLineEdit::textChanged, this, &ExportDialog::updateButtons);
    connect(choose_, &QPushButton::clicked, this, &ExportDialog::chooseFolder);
    connect(export_, &QPushButton::clicked, this, &ExportDialog::startExport);
    connect(cancel_, &QPushButton::clicked, this, [this] {
        if (running())
            cancelExport();
        else
            reject();
    });
    connect(ctx_, &AppContext::appliedChanged, this, [this] {
        if (isVisible()) refresh();
    });
    connect(ctx_, &AppContext::modelChanged, this, [this] {
        if (isVisible()) refresh();
    });
    connect(ctx_, &AppContext::jobsChanged, this, &ExportDialog::updateButtons);
    connect(ctx_, &AppContext::jobProgress, this, [this](const QString& ch, double f, const QString& m) {
        if (ch != "export") return;
        progress_->setValue(static_cast<int>(f * 1000));
        status_->setText(m);
    });
    connect(ctx_->jobs(), &JobRunner::failed, this, [this](const QString& ch, quint64 id, const QString& msg) {
        if (ch != "export" || id != exportJob_) return;
        progress_->setValue(0);
        status_->setStyleSheet("color:#8a1f11");
        status_->setText("Not exported: " + msg);
        fitTexts();
        updateButtons();
        emit exportFailed(msg);
    });
    connect(ctx_->jobs(), &JobRunner::cancelled, this, [this](const QString& ch, quint64 id) {
        if (ch != "export" || id != exportJob_) return;
        progress_->setValue(0);
        status_->setStyleSheet(QString());
        status_->setText("Cancelled; nothing was written.");
        emit ctx_->statusMessage("Export cancelled; nothing was written");
        updateButtons();
        emit exportCancelled();
    });
    formatChanged();
}

void ExportDialog::refresh() {
    // A new look at the dialog: no message from an earlier export stays.
    if (!running()) {
        status_->clear();
        status_->setStyleSheet(QString());
        progress_->setValue(0);
    }
    if (!ctx_->hasModel()) {
        configuration_->setText("<i>No model loaded.</i>");
    } else {
        QString text = "Exports the configuration the model carries: <b>" +
                       qstr(ctx_->applied().describe()).toHtmlEscaped() + "</b>";
        if (!ctx_->configApplied())
            text += "<br><span style='color:#a05a00'>The methods panel shows " +
                    qstr(ctx_->config().describe()).toHtmlEscaped() +
                    ", which the model does not carry: Apply first to export that.</span>";
        configuration_->setText(text);
    }
    if (folder_->text().isEmpty() || folder_->text() == autoPath_) {
        autoPath_ = QDir(parentDir_).filePath(suggestedName());
        folder_->setText(autoPath_);
    }
    updateButtons();
    startCheck();
    fitTexts();
}

void ExportDialog::resizeEvent(QResizeEvent* e) {
    QDialog::resizeEvent(e);
    fitTexts();
}

void ExportDialog::fitTexts() {
    for (QLabel* l : {configuration_, description_, check_, status_}) {
        const int h = l->text().isEmpty() ? 0 : l->heightForWidth(std::max(1, l->width()));
        if (l->minimumHeight() != h) l->setMinimumHeight(h);
    }
    if (layout()) layout()->activate();
}

void ExportDialog::setFormat(qs::ExportFormat f) {
    format_->setCurrentIndex(format_->findData(qstr(qs::export_format_name(f))));
}

qs::ExportFormat ExportDialog::format() const {
    return qs::parse_export_format(format_->currentData().toString().toStdString());
}

void ExportDialog::setOutputDir(const QString& dir) { folder_->setText(dir); }

QString ExportDialog::outputDir() const { return folder_->text().trimmed(); }

QString ExportDialog::suggestedName() const {
    QString model = "model";
    if (const auto* s = ctx_->summary()) model = QFileInfo(qstr(s->source_dir)).fileName();
    return model + "-" + format_->currentData().toString();
}

void ExportDialog::chooseFolder() {
    const QString dir =
        ctx_->choosers().folder(this, "Folder to export into (a new model folder is made inside)", parentDir_);
    if (dir.isEmpty()) return;
    parentDir_ = dir;
    autoPath_ = QDir(parentDir_).filePath(suggestedName());
    folder_->setText(autoPath_);
}

void ExportDialog::formatChanged() {
    const qs::ExportFormat f = format();
    description_->setText(qstr(qs::export_format_description(f)));
    const bool awq = f == qs::ExportFormat::AwqGemm;
    dtype_->setEnabled(!awq);
    const bool ct = f == qs::ExportFormat::CompressedTensors;
    dtype_->setToolTip(awq  ? "awq-gemm stores every non-quantized tensor in float16 (AutoAWQ's layout)"
                       : ct ? "compressed-tensors stores weight_scale and every non-quantized tensor in this dtype"
                            : QString());
    // awq-gemm shows its fixed float16; the other formats get the user's own choice back.
    dtype_->setCurrentIndex(dtype_->findData(awq ? QString("float16") : dtypeChoice_));
    awqRef_->setEnabled(f == qs::ExportFormat::Fake);
    if (f != qs::ExportFormat::Fake) awqRef_->setChecked(false);
    if (folder_->text() == autoPath_ && !autoPath_.isEmpty()) {
        autoPath_ = QDir(parentDir_).filePath(suggestedName());
        folder_->setText(autoPath_);
    }
    updateButtons();
    startCheck();
    fitTexts();
}

qs::ExportOptions ExportDialog::options() const {
    qs::ExportOptions o;
    o.format = format();
    o.out_dir = outputDir().toStdString();
    o.force = replace_->isChecked();
    o.dtype = o.format == qs::ExportFormat::AwqGemm ? std::string() : dtype_->currentData().toString().toStdString();
    o.awq_reference = o.format == qs::ExportFormat::Fake && awqRef_->isChecked();
    return o;
}

bool ExportDialog::checking() const { return ctx_->jobs()->busy("export-check"); }

void ExportDialog::startCheck() {
    if (!ctx_->hasModel()) {
        problem_ = "No model is loaded.";
        check_->setText(problem_);
        updateButtons();
        return;
    }
    auto wb = ctx_->workbench();
    const qs::ExportFormat f = format();
    const bool ref = f == qs::ExportFormat::Fake && awqRef_->isChecked();
    check_->setStyleSheet("color:#555");
    check_->setText("Checking the configuration…");
    QPointer<ExportDialog> self(this);
    checkJob_ = ctx_->run("export-check", [self, wb, f, ref](const qs::Progress&) -> std::function<void()> {
        const QString problem = qstr(wb->export_problem(f, ref));
        return [self, wb, f, problem] {
            if (!self || wb != self->ctx_->workbench()) return;
            self->problem_ = problem;
            if (problem.isEmpty()) {
                self->check_->setStyleSheet("color:#1d6b2a");
                self->check_->setText("✓ The configuration can be exported as " + qstr(qs::export_format_name(f)) +
                                      ".");
            } else {
                self->check_->setStyleSheet("color:#8a1f11");
                self->check_->setText(problem);
            }
            self->fitTexts();
            self->updateButtons();
            emit self->checked(problem);
        };
    });
}

bool ExportDialog::running() const { return exportJob_ != 0 && ctx_->jobs()->currentJob("export") == exportJob_; }

void ExportDialog::updateButtons() {
    const bool busy = running();
    export_->setEnabled(ctx_->hasModel() && !ctx_->modelBusy() && !busy && !outputDir().isEmpty() &&
                        problem_.isEmpty() && !checking());
    cancel_->setText(busy ? "Cancel" : "Close");
    for (QWidget* w : std::initializer_list<QWidget*>{format_, folder_, choose_, replace_}) w->setEnabled(!busy);
    dtype_->setEnabled(!busy && format() != qs::ExportFormat::AwqGemm);
    awqRef_->setEnabled(!busy && format() == qs::ExportFormat::Fake);
}

bool ExportDialog::startExport() {
    if (!ctx_->hasModel() || ctx_->modelBusy() || running()) return false;
    const qs::ExportOptions o = options();
    status_->setStyleSheet(QString());
    if (o.out_dir.empty()) {
        status_->setText("Choose an output folder.");
        return false;
    }
    if (QFileInfo::exists(outputDir()) && !o.force) {
        const QString msg =
            outputDir() + ": already exists; choose another folder or tick \"Replace an existing model folder\"";
        status_->setStyleSheet("color:#8a1f11");
        status_->setText("Not exported: " + msg);
        fitTexts();
        emit ctx_->errorOccurred("Could not export the model.", msg);
        emit exportFailed(msg);
        return false;
    }
    auto wb = ctx_->workbench();
    auto hook = hook_;
    QPointer<ExportDialog> self(this);
    progress_->setValue(0);
    status_->setText("Exporting…");
    exportJob_ = ctx_->run("export", [self, wb, o, hook](const qs::Progress& p) -> std::function<void()> {
        qs::Progress q = p;
        if (hook)
            q.report = [p, hook](double f, const std::string& m) {
                p(f, m);
                hook(f, m);
            };
        auto rep = std::make_shared<const qs::ExportReport>(wb->export_checkpoint(o, q));
        return [self, rep] {
            if (!self) return;
            const QString text = writtenText(*rep);
            self->progress_->setValue(1000);
            self->status_->setText(text);
            emit self->ctx_->notice(text);
            emit self->exportFinished(qstr(rep->out_dir));
            self->accept();
        };
    });
    updateButtons();
    return true;
}

void ExportDialog::cancelExport() {
    if (!running()) return;
    ctx_->jobs()->cancel("export");
    status_->setText("Cancelling…");
}

void ExportDialog::reject() {
    cancelExport();
    QDialog::reject();
}
