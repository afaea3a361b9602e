// The perplexity results table as a model: one row per evaluation (configuration, protocol,
// perplexity, sizes, time, device / dtype, KL divergence against the original), with the
// configuration's JSON and the protocol as tooltips; CSV of the same rows.
#pragma once
#include <QAbstractTableModel>
#include <QString>

#include <vector>

#include "ui_util.h"
#include "workbench.h"

struct PplRow {
    qs::MethodConfig config;
    PplData data;
    ui::ModelSizes sizes;
    QString source;  // "run" or "sweep: <parameter>"
};

class PplResultsModel : public QAbstractTableModel {
    Q_OBJECT
  public:
    enum Column { Configuration, Protocol, Perplexity, SeedSize, PackedSize, Time, Device, Kl, ColumnCount };

    using QAbstractTableModel::QAbstractTableModel;

    int rowCount(const QModelIndex& parent = QModelIndex()) const override;
    int columnCount(const QModelIndex& parent = QModelIndex()) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void addRow(const PplRow& row);
    void clear();
    const std::vector<PplRow>& rows() const { return rows_; }
    // What the Configuration column shows for a row ("<describe>  [<source>]" for sweeps).
    static QString configurationText(const PplRow& row);
    // What the KL column shows: "mean / median / 99.9% · top-1%" ("—" for the original weights).
    static QString klText(const PplData& d);
    // Header line + one line per row.
    QString csv() const;

  private:
    std::vector<PplRow> rows_;
};
