#include "model_page.h"

#include <QHeaderView>
#include <QResizeEvent>
#include <QSplitter>
#include <QTextBrowser>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <map>

#include "app_context.h"
#include "ui_util.h"

using ui::qstr;

ModelPage::ModelPage(AppContext* ctx, QWidget* parent) : QWidget(parent), ctx_(ctx) {
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(4, 4, 4, 4);
    auto* split = split_ = new QSplitter(Qt::Horizontal, this);
    tree_ = new QTreeWidget(split);
    tree_->setObjectName("modelTree");
    tree_->setHeaderLabels(
        {"Module (Hugging Face name)", "Shape [out, in]", "Parameters", "Method applied", "Stored as"});
    tree_->headerItem()->setToolTip(4,
                                    "How the source file stores the weight (GGUF: the ggml type, e.g. Q4_K; "
                                    "methods start from its dequantized values)");
    tree_->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
    tree_->setAlternatingRowColors(true);
    tree_->setUniformRowHeights(true);
    summary_ = new QTextBrowser(split);
    summary_->setObjectName("modelSummary");
    summary_->setOpenLinks(false);
    split->addWidget(tree_);
    split->addWidget(summary_);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setSizes({580, 400});
    v->addWidget(split);

    connect(ctx_, &AppContext::modelChanged, this, [this] {
        rebuildTree();
        updateSummary();
    });
    connect(ctx_, &AppContext::appliedChanged, this, [this] {
        updateMethods();
        updateSummary();
    });
    connect(ctx_, &AppContext::configChanged, this, &ModelPage::updateSummary);
    connect(ctx_, &AppContext::calibrationChanged, this, &ModelPage::updateSummary);
    connect(ctx_, &AppContext::layerChanged, this, [this](const QString& name) {
        for (QTreeWidgetItemIterator it(tree_); *it; ++it)
            if ((*it)->data(0, Qt::UserRole).toString() == name) {
                syncing_ = true;
                tree_->setCurrentItem(*it);
                syncing_ = false;
            }
    });
    connect(tree_, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem* item, QTreeWidgetItem*) {
        if (syncing_ || !item) return;
        const QString n = item->data(0, Qt::UserRole).toString();
        if (!n.isEmpty()) ctx_->setLayer(n);
    });
    updateSummary();
}

void ModelPage::resizeEvent(QResizeEvent* e) {
    QWidget::resizeEvent(e);
    // The tree's columns need about 1000 px beside the summary (1280 x 720 screens: stacked).
    const Qt::Orientation o = width() >= 1000 ? Qt::Horizontal : Qt::Vertical;
    if (split_->orientation() != o) {
        split_->setOrientation(o);
        split_->setSizes(o == Qt::Horizontal ? QList<int>{580, 400} : QList<int>{360, 300});
    }
}

void ModelPage::rebuildTree() {
    tree_->clear();
    const auto* s = ctx_->summary();
    if (!s) return;
    std::map<long long, QTreeWidgetItem*> blocks;
    std::map<long long, long long> blockParams;
    for (const auto& l : s->linears) {
        const long long params = l.out_features * l.in_features + (l.bias ? l.out_features : 0);
        QStringList cols = {qstr(l.name), QString("[%1, %2]").arg(l.out_features).arg(l.in_features),
                            ui::commas(params), "", qstr(l.source_type)};
        QTreeWidgetItem* item;
        if (l.block >= 0) {
            auto it = blocks.find(l.block);
            if (it == blocks.end())
                it = blocks.emplace(l.block, new QTreeWidgetItem(tree_, {QString("Block %1").arg(l.block)})).first;
            item = new QTreeWidgetItem(it->second, cols);
            blockParams[l.block] += params;
        } else {
            item = new QTreeWidgetItem(tree_, cols);
        }
        item->setData(0, Qt::UserRole, qstr(l.name));
        item->setTextAlignment(2, Qt::AlignRight | Qt::AlignVCenter);
    }
    for (auto& [b, item] : blocks) {
        item->setText(2, ui::commas(blockParams[b]));
        item->setToolTip(2, "parameters in the block's Linear layers");
        item->setTextAlignment(2, Qt::AlignRight | Qt::AlignVCenter);
    }
    tree_->expandAll();
    updateMethods();
}

void ModelPage::updateMethods() {
    const auto* s = ctx_->summary();
    if (!s) return;
    std::map<QString, const qs::LinearSummary*> byName;
    for (const auto& l : s->linears) byName[qstr(l.name)] = &l;
    for (QTreeWidgetItemIterator it(tree_); *it; ++it) {
        auto f = byName.find((*it)->data(0, Qt::UserRole).toString());
        if (f != byName.end()) (*it)->setText(3, ui::method_short(*f->second, ctx_->applied(), s->dtype));
    }
    for (int c = 0; c < tree_->columnCount(); ++c) tree_->resizeColumnToContents(c);
}

void ModelPage::updateSummary() {
    const auto* s = ctx_->summary();
    if (!s) {
        summary_->setHtml("<p>No model loaded.</p>");
        return;
    }
    QString h = "<h2 style='margin-bottom:2px'>" + qstr(s->architecture) + "</h2>";
    h += "<p style='color:#555;margin-top:0'>" + qstr(s->source_dir).toHtmlEscaped() + "</p><table cellspacing=4>";
    auto row = [&](const QString& k, const QString& v) { h += "<tr><td><b>" + k + "</b></td><td>" + v + "</td></tr>"; };
    row("Model type", qstr(s->model_type));
    row("Layers", QString::number(s->layers));
    row("Hidden size", QString::number(s->hidden_size));
    row("Attention heads", QString("%1 (KV heads %2, head dim %3)").arg(s->heads).arg(s->kv_heads).arg(s->head_dim));
    row("Intermediate size", QString::number(s->intermediate_size));
    row("Vocabulary / context", QString("%1 / %2").arg(s->vocab_size).arg(s->max_position_embeddings));
    row("Parameters", ui::commas(s->parameters) + (s->tied_embeddings ? " (tied embeddings counted once)" : ""));
    row("Linear layers", QString::number(s->linears.size()));
    row("Device / dtype", qstr(s->device + " / " + s->dtype));
    QStringList stored;
    for (const auto& [type, n] : s->source_type_counts) stored << QString("%1 × %2").arg(qstr(type)).arg(n);
    if (!stored.isEmpty()) row("Linears stored as", stored.join(", "));
    row("Calibration set",
        ctx_->calibrationText().isEmpty() ? "<i>reading…</i>" : ctx_->calibrationText().toHtmlEscaped());
    h += "</table>";

    const qs::MethodConfig& cfg = ctx_->config();
    const ui::ModelSizes fp = ui::model_sizes(*s, qs::MethodConfig());
    const ui::ModelSizes q = ui::model_sizes(*s, cfg);
    h += "<h3>Size</h3><table cellspacing=4>";
    row("16-bit weights", ui::mib(fp.fp16_mib));
    if (cfg.quantizes_weights()) {
        const QString spec = qstr(cfg.weight.describe()).toHtmlEscaped();
        row("Seed formula at " + spec,
            ui::mib(q.seed_mib) + QString(" &nbsp;(%1 bits + 20/group per weight)").arg(cfg.weight.bits));
        row("Packed at " + spec, ui::mib(q.packed_mib) + QString(" &nbsp;(%1 weights in %2 Linears; rest fp16)")
                                                             .arg(ui::commas(q.quantized_weights))
                                                             .arg(std::count_if(s->linears.begin(), s->linears.end(),
                                                                                [&](const qs::LinearSummary& l) {
                                                                                    return ui::quantizes_linear(l, cfg);
                                                                                })));
        row("Compression", QString("%1× vs 16-bit").arg(fp.fp16_mib / std::max(1e-12, q.packed_mib), 0, 'f', 2));
    } else {
        row("Weights", "not quantized by the panel's setting");
    }
    h += "</table>";

    h += "<h3>Methods</h3><table cellspacing=4>";
    row("Panel", qstr(cfg.describe()).toHtmlEscaped());
    row("Model carries", qstr(ctx_->applied().describe()).toHtmlEscaped());
    h += "</table>";
    if (const ApplyData* a = ctx_->lastApply()) {
        h += "<ol style='margin-top:2px'>";
        for (const auto& st : a->steps) h += "<li>" + qstr(st).toHtmlEscaped() + "</li>";
        h += QString("</ol><p>Applied in %1 s.</p>").arg(a->seconds, 0, 'f', 2);
    }
    for (const auto& w : s->warnings) h += "<p style='color:#8a5a00'>" + qstr(w).toHtmlEscaped() + "</p>";
    summary_->setHtml(h);
}
