#include "recipe_export.h"

#include <QDir>
#include <QFileInfo>

#include <exception>

#include "app_context.h"
#include "io/safe_output.h"
#include "quant/llmc_recipe.h"
#include "ui_util.h"

using ui::qstr;

namespace {
const char* const kWhat = "Could not write the llm-compressor recipe.";
}

RecipeExport::RecipeExport(AppContext* ctx, QWidget* window) : QObject(window), ctx_(ctx), w_(window) {}

void RecipeExport::exportInteractive() {
    if (!ctx_->hasModel()) {
        emit ctx_->errorOccurred(kWhat, "no model is loaded");
        return;
    }
    QString start = lastFile_;
    if (start.isEmpty())
        start = QDir::home().filePath(QFileInfo(qstr(ctx_->summary()->source_dir)).fileName() + "-recipe.yaml");
    QString file =
        ctx_->choosers().saveFile(w_, "Export llm-compressor recipe", start, "llm-compressor recipe (*.yaml *.yml)");
    if (file.isEmpty()) return;
    if (!file.endsWith(".yaml") && !file.endsWith(".yml")) file += ".yaml";
    write(file);
}

bool RecipeExport::write(const QString& file) {
    const qs::ModelSummary* s = ctx_->summary();
    if (!s) {
        emit ctx_->errorOccurred(kWhat, file + ": no model is loaded");
        return false;
    }
    qs::LlmcModel m;
    m.arch = s->model_type == "opt" ? qs::Arch::OPT : qs::Arch::Llama;
    m.hidden_size = s->hidden_size;
    m.name = QFileInfo(qstr(s->source_dir)).fileName().toStdString();
    std::vector<std::string> notes;
    qs::LlmcRecipe r;
    try {
        r = qs::make_llmc_recipe(ctx_->applied(), m);
        notes = qs::write_file_atomic(file.toStdString(), r.yaml, {s->source_dir});
    } catch (const std::exception& e) {
        emit ctx_->errorOccurred(kWhat, file + ": " + qstr(e.what()));
        return false;
    }
    lastFile_ = file;
    QString cleaned;
    for (const auto& n : notes) cleaned += "; " + qstr(n);
    const size_t n = r.not_carried_over.size();
    emit ctx_->notice(
        QString("Wrote llm-compressor recipe %1 (%2; %3)%4")
            .arg(file, qstr(ctx_->applied().describe()),
                 n == 0 ? QString("everything carried over")
                        : QString("%1 item%2 not carried over, listed at its top").arg(n).arg(n == 1 ? "" : "s"),
                 cleaned));
    emit written(file);
    return true;
}
