#include "layer_navigator.h"

#include <QHeaderView>

#include <map>

#include "app_context.h"
#include "ui_util.h"

LayerNavigator::LayerNavigator(AppContext* ctx, QWidget* parent) : QTreeWidget(parent), ctx_(ctx) {
    setObjectName("layerTree");
    setHeaderLabels({"Linear", "Shape [out, in]"});
    header()->setSectionResizeMode(0, QHeaderView::Stretch);
    header()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    header()->setStretchLastSection(false);
    setUniformRowHeights(true);
    setAlternatingRowColors(true);
    connect(ctx_, &AppContext::modelChanged, this, &LayerNavigator::rebuild);
    connect(ctx_, &AppContext::layerChanged, this, [this](const QString& n) { selectLinear(n); });
    connect(this, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem* item, QTreeWidgetItem*) {
        if (syncing_ || !item) return;
        const QString name = item->data(0, Qt::UserRole).toString();
        if (!name.isEmpty()) ctx_->setLayer(name);
    });
}

void LayerNavigator::rebuild() {
    syncing_ = true;
    clear();
    const auto* s = ctx_->summary();
    if (s) {
        std::map<long long, QTreeWidgetItem*> blocks;
        for (const auto& l : s->linears) {
            const QString name = ui::qstr(l.name);
            QTreeWidgetItem* item;
            if (l.block >= 0) {
                auto it = blocks.find(l.block);
                if (it == blocks.end())
                    it = blocks.emplace(l.block, new QTreeWidgetItem(this, {QString("block %1").arg(l.block)})).first;
                item = new QTreeWidgetItem(it->second, {ui::op_name(l.name)});  // full name in the tooltip
            } else {
                item = new QTreeWidgetItem(this, {name});
            }
            item->setText(1, QString("%1 × %2").arg(l.out_features).arg(l.in_features));
            item->setData(0, Qt::UserRole, name);
            item->setToolTip(0, name);
        }
        expandAll();
    }
    syncing_ = false;
    selectLinear(ctx_->layer());
}

bool LayerNavigator::selectLinear(const QString& name) {
    for (QTreeWidgetItemIterator it(this); *it; ++it)
        if ((*it)->data(0, Qt::UserRole).toString() == name) {
            if (currentItem() != *it) {
                syncing_ = true;
                setCurrentItem(*it);
                scrollToItem(*it);
                syncing_ = false;
            }
            return true;
        }
    return false;
}
