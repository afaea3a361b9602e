#include "model_page.h"

#include <QCheckBox>
#include <QComboBox>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QPushButton>
#include <QResizeEvent>
#include <QSplitter>
#include <QTextBrowser>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <map>

#include "app_context.h"
#include "quant/size_estimate.h"
#include "ui_util.h"

using ui::qstr;

ModelPage::ModelPage(AppContext* ctx, QWidget* parent) : QWidget(parent), ctx_(ctx) {
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(4, 4, 4, 4);
    auto* split = split_ = new QSplitter(Qt::Horizontal, this);
    auto* left = new QWidget(split);
    auto* lv = new QVBoxLayout(left);
    lv->setContentsMargins(0, 0, 0, 0);
    tree_ = new QTreeWidget(left);
    tree_->setObjectName("modelTree");
    tree_->setHeaderLabels(
        {"Module (Hugging Face name)", "Shape [out, in]", "Parameters", "Method applied", "Stored as"});
    tree_->headerItem()->setToolTip(kMethodColumn,
                                    "What the model carries for each Linear (bold: a mixed-precision override); "
                                    "\"→ draft ...\" is an override set below or from the context menu that Apply "
                                    "has not used yet");
    tree_->headerItem()->setToolTip(4,
                                    "How the source file stores the weight (GGUF: the ggml type, e.g. Q4_K; "
                                    "methods start from its dequantized values)");
    tree_->setContextMenuPolicy(Qt::CustomContextMenu);
    lv->addWidget(tree_, 1);

    // Mixed precision: the selected Linear's override, and the whole model's average bits / size.
    overrideBox_ = new QGroupBox("Mixed precision: override of the selected Linear", left);
    overrideBox_->setObjectName("overrideBox");
    auto* ov = new QVBoxLayout(overrideBox_);
    overrideName_ = new QLabel(overrideBox_);
    overrideName_->setObjectName("overrideLinear");
    overrideName_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    ov->addWidget(overrideName_);
    auto* row = new QHBoxLayout;
    bits_ = new QComboBox(overrideBox_);
    bits_->setObjectName("overrideBits");
    bits_->setToolTip("Weight bits of this Linear (the configuration's unless overridden)");
    bits_->addItem("panel's bits", 0);
    for (int b = 2; b <= 8; ++b) bits_->addItem(QString("%1 bits").arg(b), b);
    group_ = new QComboBox(overrideBox_);
    group_->setObjectName("overrideGroup");
    group_->setToolTip("Group size along the input dimension of this Linear");
    group_->addItem("panel's group", 0);
    group_->addItem("per channel", -1);
    for (int g : {32, 64, 128, 256}) group_->addItem(QString("group %1").arg(g), g);
    skip_ = new QCheckBox("skip (keep in full precision)", overrideBox_);
    skip_->setObjectName("overrideSkip");
    skip_->setToolTip(
        "Leave this Linear unquantized: its transformed weight and float inputs (llm-compressor's "
        "ignore, AutoAWQ's modules_to_not_convert)");
    clear_ = new QPushButton("Clear override", overrideBox_);
    clear_->setObjectName("overrideClear");
    clearAll_ = new QPushButton("Clear all", overrideBox_);
    clearAll_->setObjectName("overrideClearAll");
    row->addWidget(bits_);
    row->addWidget(group_);
    row->addWidget(skip_);
    row->addStretch(1);
    row->addWidget(clear_);
    row->addWidget(clearAll_);
    ov->addLayout(row);
    mixed_ = new QLabel(overrideBox_);
    mixed_->setObjectName("mixedSummary");
    mixed_->setWordWrap(true);
    ov->addWidget(mixed_);
    lv->addWidget(overrideBox_);
    tree_->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
    tree_->setAlternatingRowColors(true);
    tree_->setUniformRowHeights(true);
    summary_ = new QTextBrowser(split);
    summary_->setObjectName("modelSummary");
    summary_->setOpenLinks(false);
    split->addWidget(left);
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
    connect(ctx_, &AppContext::configChanged, this, [this] {
        updateMethods();
        updateSummary();
        updateOverrideEditor();
    });
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
        updateOverrideEditor();
        if (syncing_ || !item) return;
        const QString n = item->data(0, Qt::UserRole).toString();
        if (!n.isEmpty()) ctx_->setLayer(n);
    });
    connect(tree_, &QTreeWidget::customContextMenuRequested, this, &ModelPage::showContextMenu);
    connect(bits_, &QComboBox::currentIndexChanged, this, &ModelPage::editOverride);
    connect(group_, &QComboBox::currentIndexChanged, this, &ModelPage::editOverride);
    connect(skip_, &QCheckBox::toggled, this, &ModelPage::editOverride);
    connect(clear_, &QPushButton::clicked, this, [this] {
        const std::string l = selectedLinear();
        if (!l.empty()) ctx_->setOverride(l, {});
    });
    connect(clearAll_, &QPushButton::clicked, ctx_, &AppContext::clearOverrides);
    updateSummary();
    updateOverrideEditor();
}

std::string ModelPage::selectedLinear() const {
    const QTreeWidgetItem* item = tree_->currentItem();
    return item ? item->data(0, Qt::UserRole).toString().toStdString() : std::string();
}

void ModelPage::updateOverrideEditor() {
    const auto* s = ctx_->summary();
    const qs::MethodConfig& cfg = ctx_->config();
    const std::string name = selectedLinear();
    const qs::LinearSummary* l = nullptr;
    if (s)
        for (const auto& x : s->linears)
            if (x.name == name) l = &x;
    const bool editable = l && qs::targets_linear(*l, cfg);
    editing_ = true;
    const auto it = cfg.overrides.find(name);
    const qs::LinearOverride o = it == cfg.overrides.end() ? qs::LinearOverride{} : it->second;
    if (bits_->findData(o.bits) < 0) bits_->addItem(QString("%1 bits").arg(o.bits), o.bits);
    bits_->setCurrentIndex(bits_->findData(o.bits));
    if (group_->findData(static_cast<int>(o.group_size)) < 0)
        group_->addItem(QString("group %1").arg(o.group_size), static_cast<int>(o.group_size));
    group_->setCurrentIndex(group_->findData(static_cast<int>(o.group_size)));
    bits_->setItemText(0, QString("panel's bits (%1)").arg(cfg.weight.bits));
    group_->setItemText(0, cfg.weight.granularity == qs::Granularity::PerGroup
                               ? QString("panel's group (%1)").arg(cfg.weight.group_size)
                               : QString("panel's (%1)").arg(ui::qstr(qs::granularity_name(cfg.weight.granularity))));
    skip_->setChecked(o.skip);
    bits_->setEnabled(editable && !o.skip);
    group_->setEnabled(editable && !o.skip);
    skip_->setEnabled(editable);
    clear_->setEnabled(editable && !o.empty());
    clearAll_->setEnabled(!cfg.overrides.empty());
    clearAll_->setText(cfg.overrides.empty() ? "Clear all" : QString("Clear all (%1)").arg(cfg.overrides.size()));
    editing_ = false;
    if (!l)
        overrideName_->setText("Select a Linear in the tree to give it its own bits, group size or skip it.");
    else if (!cfg.quantizes_weights())
        overrideName_->setText(ui::qstr(name) + ": the panel quantizes no weights; overrides apply once it does.");
    else if (!editable)
        overrideName_->setText(ui::qstr(name) + ": not quantized by the configuration (" +
                               (name == "lm_head" ? "tick \"also quantize lm_head\"" : "never quantized") + ").");
    else
        overrideName_->setText(
            ui::qstr(name) + ": " +
            (o.skip ? QString("skipped (full precision)")
                    : ui::qstr(cfg.spec_for(name).describe()) + (o.empty() ? " (the panel's)" : " (override)")));
    // The whole model with every override of the draft.
    if (!s) {
        mixed_->clear();
        return;
    }
    const ui::ModelSizes q = ui::model_sizes(*s, cfg);
    if (!cfg.quantizes_weights()) {
        mixed_->setText("Weights not quantized by the panel's setting: 16 bits.");
        return;
    }
    mixed_->setText(QString("Whole model: %1 bits per weight on average (%2 without scales) · %3 packed, %4 by the "
                            "seed formula · %5 quantized Linears, %6 skipped, %7 override%8")
                        .arg(q.average_bits, 0, 'f', 4)
                        .arg(q.average_bits_without_scales, 0, 'f', 4)
                        .arg(ui::mib(q.packed_mib), ui::mib(q.seed_mib))
                        .arg(q.quantized_linears)
                        .arg(q.skipped_linears)
                        .arg(cfg.overrides.size())
                        .arg(cfg.overrides.size() == 1 ? "" : "s"));
}

void ModelPage::editOverride() {
    if (editing_) return;
    const std::string l = selectedLinear();
    if (l.empty()) return;
    qs::LinearOverride o;
    o.skip = skip_->isChecked();
    if (!o.skip) {
        o.bits = bits_->currentData().toInt();
        o.group_size = group_->currentData().toInt();
    }
    ctx_->setOverride(l, o);
}

void ModelPage::showContextMenu(const QPoint& pos) {
    QTreeWidgetItem* item = tree_->itemAt(pos);
    const auto* s = ctx_->summary();
    if (!item || !s) return;
    const std::string name = item->data(0, Qt::UserRole).toString().toStdString();
    const qs::LinearSummary* l = nullptr;
    for (const auto& x : s->linears)
        if (x.name == name) l = &x;
    if (!l || !qs::targets_linear(*l, ctx_->config())) return;
    QMenu menu(this);
    auto add = [&](const QString& text, const qs::LinearOverride& o) {
        menu.addAction(text, this, [this, name, o] { ctx_->setOverride(name, o); });
    };
    qs::LinearOverride w8, skip;
    w8.bits = 8;
    skip.skip = true;
    add("Keep at 8 bits", w8);
    add("Skip (full precision)", skip);
    QAction* clear = menu.addAction("Clear override", this, [this, name] { ctx_->setOverride(name, {}); });
    clear->setEnabled(ctx_->config().overrides.count(name) > 0);
    menu.exec(tree_->viewport()->mapToGlobal(pos));
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
    const qs::MethodConfig& draft = ctx_->config();
    for (QTreeWidgetItemIterator it(tree_); *it; ++it) {
        auto f = byName.find((*it)->data(0, Qt::UserRole).toString());
        if (f == byName.end()) continue;
        const qs::LinearSummary& l = *f->second;
        const qs::MethodConfig& applied = ctx_->applied();
        QString text = ui::method_short(l, applied, s->dtype);
        // The draft's override of this Linear, when the model does not carry it yet (the column
        // stays as narrow as before until an override exists: every column fits 1280 x 720).
        auto spec_of = [&](const qs::MethodConfig& c) -> std::string {
            if (qs::quantizes_linear(l, c)) return c.spec_for(l.name).describe();
            return qs::targets_linear(l, c) ? "skip (full precision)" : "";
        };
        const bool overridden = draft.overrides.count(l.name) > 0;
        const bool pending = (overridden || applied.overrides.count(l.name)) && spec_of(draft) != spec_of(applied);
        if (pending) text += " → draft " + qstr(spec_of(draft));
        (*it)->setText(kMethodColumn, text);
        (*it)->setToolTip(kMethodColumn, overridden
                                             ? "override: " + qstr(qs::linear_override_text(draft.overrides.at(l.name)))
                                             : QString());
        QFont font = (*it)->font(kMethodColumn);
        font.setBold(applied.overrides.count(l.name) > 0 || overridden);
        (*it)->setFont(kMethodColumn, font);
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
        const QString spec =
            qstr(cfg.weight.describe()).toHtmlEscaped() +
            (cfg.overrides.empty()
                 ? QString()
                 : QString(" + %1 override%2").arg(cfg.overrides.size()).arg(cfg.overrides.size() == 1 ? "" : "s"));
        row("Seed formula at " + spec,
            ui::mib(q.seed_mib) + QString(" &nbsp;(%1 bits + 20/group per weight)").arg(cfg.weight.bits));
        row("Packed at " + spec, ui::mib(q.packed_mib) + QString(" &nbsp;(%1 weights in %2 Linears; rest fp16)")
                                                             .arg(ui::commas(q.quantized_weights))
                                                             .arg(std::count_if(s->linears.begin(), s->linears.end(),
                                                                                [&](const qs::LinearSummary& l) {
                                                                                    return ui::quantizes_linear(l, cfg);
                                                                                })));
        row("Average bits", QString("%1 per weight of the targeted Linears (%2 without scales)")
                                .arg(q.average_bits, 0, 'f', 4)
                                .arg(q.average_bits_without_scales, 0, 'f', 4));
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
