#include "ppl_results_model.h"

#include <QTextStream>

namespace {

using ui::qstr;

QString csvField(const QString& s) {
    if (s.contains(',') || s.contains('"') || s.contains('\n')) return '"' + QString(s).replace("\"", "\"\"") + '"';
    return s;
}

QString shortProtocol(const PplData& d) {
    return QString("%1 · %2 × %3 tokens").arg(qstr(d.dataset).section(':', 0, 0)).arg(d.nsamples).arg(d.seqlen);
}

}  // namespace

int PplResultsModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int PplResultsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QString PplResultsModel::configurationText(const PplRow& row) {
    QString cfg = qstr(row.config.describe());
    if (row.source != "run") cfg += "  [" + row.source + "]";
    return cfg;
}

QString PplResultsModel::klText(const PplData& d) {
    if (!d.has_kl) return QString::fromUtf8("—");
    return QString("%1 / %2 / %3 · %4%")
        .arg(d.kl_mean, 0, 'g', 4)
        .arg(d.kl_median, 0, 'g', 4)
        .arg(d.kl_p99_9, 0, 'g', 4)
        .arg(100 * d.top1, 0, 'f', 2);
}

QVariant PplResultsModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
    const PplRow& r = rows_[static_cast<size_t>(index.row())];
    const PplData& d = r.data;
    const int c = index.column();
    if (role == Qt::DisplayRole) {
        switch (c) {
            case Configuration:
                return configurationText(r);
            case Protocol:
                return shortProtocol(d);
            case Perplexity:
                return QString::number(d.ppl, 'f', d.ppl < 1000 ? 3 : 1);
            case SeedSize:
                return ui::mib(r.sizes.seed_mib);
            case PackedSize:
                return ui::mib(r.sizes.packed_mib);
            case Time:
                return ui::duration(d.seconds);
            case Device:
                return qstr(d.device + " / " + d.dtype);
            case Kl:
                return klText(d);
        }
    }
    if (role == Qt::ToolTipRole) {
        if (c == Configuration) return qstr(r.config.to_json().dump(2));
        if (c == Protocol) return qstr(d.dataset) + "\n" + qstr(d.protocol);
        if (c == Time) return QString("%1 tokens/s").arg(d.tokens_per_second, 0, 'f', 0);
        if (c == Kl)
            return d.has_kl ? QString(
                                  "KL(original || quantized) of the next-token distributions over the %1 scored "
                                  "tokens (llama.cpp --kl-divergence): mean / median / 99.9th percentile, max %2 "
                                  "nats; top-1: same most likely token")
                                  .arg(d.nsamples * (d.seqlen - 1))
                                  .arg(d.kl_max, 0, 'g', 4)
                            : QString("the original weights are the reference");
    }
    if (role == Qt::TextAlignmentRole && ((c >= Perplexity && c <= Time) || c == Kl))
        return QVariant::fromValue(Qt::Alignment(Qt::AlignRight | Qt::AlignVCenter));
    return {};
}

QVariant PplResultsModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (role != Qt::DisplayRole) return {};
    if (orientation == Qt::Vertical) return section + 1;
    static const char* names[] = {
        "Configuration", "Protocol", "Perplexity",     "Size (seed formula)",
        "Packed size",   "Time",     "Device / dtype", "KL vs original: mean / median / 99.9% · top-1"};
    return section >= 0 && section < ColumnCount ? QString(names[section]) : QVariant();
}

void PplResultsModel::addRow(const PplRow& row) {
    const int r = rowCount();
    beginInsertRows(QModelIndex(), r, r);
    rows_.push_back(row);
    endInsertRows();
}

void PplResultsModel::clear() {
    if (rows_.empty()) return;
    beginResetModel();
    rows_.clear();
    endResetModel();
}

QString PplResultsModel::csv() const {
    QString out;
    QTextStream s(&out);
    s << "configuration,protocol,dataset,ppl,seed_size_mib,packed_size_mib,seconds,tokens_per_second,seqlen,nsamples,"
         "device,dtype,source,kl_mean,kl_median,kl_p99_9,kl_max,top1_agreement\n";
    for (const auto& r : rows_) {
        const PplData& d = r.data;
        s << csvField(qstr(r.config.describe())) << ',' << csvField(qstr(d.protocol)) << ','
          << csvField(qstr(d.dataset)) << ',' << QString::number(d.ppl, 'g', 10) << ','
          << QString::number(r.sizes.seed_mib, 'g', 8) << ',' << QString::number(r.sizes.packed_mib, 'g', 8) << ','
          << QString::number(d.seconds, 'g', 6) << ',' << QString::number(d.tokens_per_second, 'g', 6) << ','
          << d.seqlen << ',' << d.nsamples << ',' << csvField(qstr(d.device)) << ',' << csvField(qstr(d.dtype)) << ','
          << csvField(r.source);
        if (d.has_kl)
            s << ',' << QString::number(d.kl_mean, 'g', 8) << ',' << QString::number(d.kl_median, 'g', 8) << ','
              << QString::number(d.kl_p99_9, 'g', 8) << ',' << QString::number(d.kl_max, 'g', 8) << ','
              << QString::number(d.top1, 'g', 8);
        else
            s << ",,,,,";
        s << '\n';
    }
    return out;
}
