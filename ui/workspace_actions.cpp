#include "workspace_actions.h"

#include <QAction>
#include <QCheckBox>
#include <QDir>
#include <QFileInfo>
#include <QMenu>
#include <QSpinBox>

#include <exception>

#include "app_context.h"
#include "main_window.h"
#include "methods_panel.h"
#include "perplexity_page.h"
#include "quant/size_estimate.h"
#include "ui_util.h"
#include "workspace_state.h"

using ui::qstr;

namespace {

const char* kFilter = "QuantScope workspaces (*.qscope);;All files (*)";

// Pages whose view is about the selected Linear.
bool showsLinear(const QString& view) { return view == "activations" || view == "weights" || view == "error"; }

}  // namespace

WorkspaceActions::WorkspaceActions(MainWindow* window) : QObject(window), w_(window), ctx_(window->context()) {
    connect(ctx_->jobs(), &JobRunner::finished, this, [this](const QString& ch, quint64 id) {
        if (ch != "load" || id != loadJob_ || !pending_) return;
        const qs::Workspace ws = *pending_;
        pending_.reset();
        restore(ws, pendingFile_);
    });
    connect(ctx_->jobs(), &JobRunner::failed, this, [this](const QString& ch, quint64 id, const QString& msg) {
        if (ch != "load" || id != loadJob_ || !pending_) return;
        const QString dir = qstr(pending_->model_path);
        pending_.reset();
        fail(pendingFile_, pendingFile_ + ": the model folder " + dir + " did not load: " + msg);
    });
    connect(ctx_->jobs(), &JobRunner::cancelled, this, [this](const QString& ch, quint64 id) {
        if (ch != "load" || id != loadJob_ || !pending_) return;
        pending_.reset();
        emit ctx_->statusMessage("Opening " + pendingFile_ + " was cancelled");
        emit workspaceCancelled(pendingFile_);
    });
}

void WorkspaceActions::addActions(QMenu* menu) {
    QAction* open = menu->addAction("Open &Workspace…");
    open->setObjectName("openWorkspaceAction");
    connect(open, &QAction::triggered, this, &WorkspaceActions::openInteractive);
    QAction* save = menu->addAction("&Save Workspace…");
    save->setObjectName("saveWorkspaceAction");
    save->setShortcut(QKeySequence::Save);
    save->setEnabled(false);
    connect(ctx_, &AppContext::modelChanged, save, [save] { save->setEnabled(true); });
    connect(save, &QAction::triggered, this, &WorkspaceActions::saveInteractive);
}

qs::Workspace WorkspaceActions::capture() const {
    qs::Workspace ws;
    const auto* s = ctx_->summary();
    if (!s) return ws;
    ws.model_path = QFileInfo(qstr(s->source_dir)).absoluteFilePath().toStdString();
    ws.device = ctx_->device().toStdString();
    ws.dtype = ctx_->dtype().toStdString();
    ws.config = ctx_->config();
    ws.applied = ctx_->configApplied();
    // The model may carry another configuration than the panel shows (changes not applied).
    if (!ws.applied && !AppContext::sameConfig(ctx_->applied(), AppContext::originalConfig()))
        ws.ui["applied_configuration"] = ctx_->applied().to_json();
    PerplexityPage* ppl = w_->perplexityPage();
    const PplRequest req = ppl->request();
    ws.eval.seqlen = req.seqlen;
    ws.eval.nsamples = req.nsamples;
    ws.eval.batch = req.batch;
    ws.ui["baseline"] = ppl->baselineCheck()->isChecked();
    for (const PplRow& row : ppl->rows())
        ws.results.push_back(ui::toWorkspaceResult(row, PplResultsModel::configurationText(row)));
    const QStringList views = MainWindow::viewNames();
    for (const QString& v : views) {
        qs::WorkspaceView view;
        view.kind = v.toStdString();
        if (showsLinear(v)) view.linear = ctx_->layer().toStdString();
        ws.views.push_back(view);
    }
    ws.selected_view = views.indexOf(w_->currentView());
    ws.selected_linear = ctx_->layer().toStdString();
    return ws;
}

void WorkspaceActions::saveInteractive() {
    if (!ctx_->hasModel()) {
        emit ctx_->errorOccurred("Could not save the workspace.", "no model is loaded");
        return;
    }
    QString start = lastFile_;
    if (start.isEmpty())
        start = QDir::home().filePath(QFileInfo(qstr(ctx_->summary()->source_dir)).fileName() + ".qscope");
    QString file = ctx_->choosers().saveFile(w_, "Save workspace", start, kFilter);
    if (file.isEmpty()) return;
    if (!file.endsWith(".qscope")) file += ".qscope";
    save(file);
}

bool WorkspaceActions::save(const QString& file) {
    if (!ctx_->hasModel()) {
        emit ctx_->errorOccurred("Could not save the workspace.", file + ": no model is loaded");
        return false;
    }
    const qs::Workspace ws = capture();
    std::vector<std::string> notes;
    try {
        notes = qs::save_workspace(ws, file.toStdString());  // atomic; never into the model folder
    } catch (const std::exception& e) {
        emit ctx_->errorOccurred("Could not save the workspace.", qstr(e.what()));
        return false;
    }
    lastFile_ = file;
    QString cleaned;
    for (const auto& n : notes) cleaned += "; " + qstr(n);
    emit ctx_->notice(QString("Saved workspace %1 (%2, %3 result%4)%5")
                          .arg(file, qstr(ws.config.describe()))
                          .arg(ws.results.size())
                          .arg(ws.results.size() == 1 ? "" : "s", cleaned));
    emit workspaceSaved(file);
    return true;
}

void WorkspaceActions::openInteractive() {
    const QString start = lastFile_.isEmpty() ? QDir::homePath() : QFileInfo(lastFile_).absolutePath();
    const QString file = ctx_->choosers().openFile(w_, "Open workspace", start, kFilter);
    if (!file.isEmpty()) open(file);
}

void WorkspaceActions::fail(const QString& file, const QString& message) {
    emit ctx_->errorOccurred("Could not open the workspace.", message);
    emit workspaceFailed(file, message);
}

void WorkspaceActions::open(const QString& file) {
    qs::Workspace ws;
    try {
        ws = qs::load_workspace(file.toStdString());
    } catch (const std::exception& e) {
        fail(file, qstr(e.what()));  // the engine's message names the file and the key at fault
        return;
    }
    const qs::ModelLocation loc = qs::check_model_location(ws);
    if (loc.status != qs::ModelLocationStatus::Ok) {
        emit ctx_->statusMessage(qstr(loc.message));
        const QFileInfo old(qstr(ws.model_path));
        const QString start = old.dir().exists() ? old.absolutePath() : QFileInfo(file).absolutePath();
        const QString dir =
            ctx_->choosers().folder(w_, "The model folder moved: choose the new location of " + old.fileName(), start);
        if (dir.isEmpty()) {
            emit ctx_->statusMessage("Opening " + file + " was cancelled: " + qstr(loc.message));
            emit workspaceCancelled(file);
            return;
        }
        try {
            qs::relocate_model(ws, dir.toStdString());  // the same model (fingerprint), or an error
        } catch (const std::exception& e) {
            fail(file, file + ": " + qstr(e.what()));
            return;
        }
    }
    pending_ = ws;
    pendingFile_ = file;
    loadJob_ = ctx_->openModel(qstr(ws.model_path), qstr(ws.device), qstr(ws.dtype));
}

void WorkspaceActions::restore(const qs::Workspace& ws, const QString& file) {
    // What depends on the model: refused, never clamped by the controls' ranges.
    const int64_t context = ctx_->summary()->max_position_embeddings;
    try {
        ws.config.validate_for_model(context);
        std::vector<std::string> targeted;  // mixed precision: override names must be Linears of this model
        for (const auto& l : ctx_->summary()->linears)
            if (qs::targets_linear(l, ws.config)) targeted.push_back(l.name);
        ws.config.validate_overrides(targeted);
        if (ws.eval.seqlen > context)
            throw qs::Error("'evaluation.seqlen' " + std::to_string(ws.eval.seqlen) +
                            " is longer than the model's context (max_position_embeddings " + std::to_string(context) +
                            ")");
    } catch (const std::exception& e) {
        fail(file, file + ": " + qstr(e.what()));
        return;
    }
    const qs::MethodConfig before = ctx_->config();
    w_->methodsPanel()->setConfig(ws.config);
    const QString differs = ui::firstDifference(ctx_->config(), ws.config);
    if (!differs.isEmpty()) {  // the panel cannot hold it exactly (e.g. awq_factor 2.345, steps of 0.01)
        w_->methodsPanel()->setConfig(before);
        fail(file, file + ": 'configuration': " + differs + "; the workspace was not applied");
        return;
    }
    PerplexityPage* ppl = w_->perplexityPage();
    if (ws.eval.seqlen > 0) ppl->seqlenSpin()->setValue(static_cast<int>(ws.eval.seqlen));
    ppl->windowsSpin()->setValue(ws.eval.nsamples < 0 ? 0 : static_cast<int>(ws.eval.nsamples));
    if (ws.ui.contains("baseline") && ws.ui["baseline"].is_boolean())
        ppl->baselineCheck()->setChecked(ws.ui["baseline"].get<bool>());
    ppl->clearResults();
    for (const auto& r : ws.results) ppl->addRow(ui::fromWorkspaceResult(r, *ctx_->summary()));

    // Re-apply what the model carried: the panel's configuration, or the one kept aside.
    std::optional<qs::MethodConfig> carried;
    if (ws.applied) {
        carried = ctx_->config();
    } else if (ws.ui.contains("applied_configuration")) {
        try {
            carried = qs::MethodConfig::from_json(ws.ui["applied_configuration"]);
        } catch (const std::exception& e) {
            emit ctx_->errorOccurred("Could not restore the applied configuration.",
                                     file + ": 'ui.applied_configuration': " + qstr(e.what()));
        }
    }
    if (carried && !AppContext::sameConfig(*carried, AppContext::originalConfig())) ctx_->applyConfiguration(*carried);

    const QString layer = qstr(ws.selected_linear);
    for (const auto& l : ctx_->summary()->linears)
        if (qstr(l.name) == layer) ctx_->setLayer(layer);
    if (ws.selected_view >= 0 && ws.selected_view < static_cast<int64_t>(ws.views.size()))
        w_->showView(qstr(ws.views[static_cast<size_t>(ws.selected_view)].kind));
    lastFile_ = file;
    emit ctx_->notice(QString("Opened workspace %1 (%2, %3 result%4)")
                          .arg(file, qstr(ws.config.describe()))
                          .arg(ws.results.size())
                          .arg(ws.results.size() == 1 ? "" : "s"));
    emit workspaceOpened(file);
}
