#include "workspace_state.h"

#include <cmath>

namespace ui {

QString firstDifference(const qs::MethodConfig& shown, const qs::MethodConfig& wanted) {
    const nlohmann::json a = shown.to_json(), b = wanted.to_json();
    for (auto it = b.begin(); it != b.end(); ++it) {
        if (it.key() == "description") continue;
        const auto other = a.find(it.key());
        if (other == a.end() || *other != *it)
            return QString::fromStdString(it.key() + " is " + it->dump() +
                                          " in the file, the methods panel can only hold " +
                                          (other == a.end() ? std::string("no such value") : other->dump()));
    }
    return {};
}

qs::WorkspaceResult toWorkspaceResult(const PplRow& row, const QString& label) {
    const PplData& d = row.data;
    qs::WorkspaceResult r;
    r.label = label.toStdString();
    r.config = row.config;
    r.ppl = d.ppl;
    r.size_mib_seed = row.sizes.seed_mib;
    r.size_mib_packed = row.sizes.packed_mib;
    r.dataset = d.dataset;
    r.protocol = d.protocol;
    r.device = d.device;
    r.dtype = d.dtype;
    r.seqlen = d.seqlen;
    r.nsamples = d.nsamples;
    r.seconds = d.seconds;
    r.extra = {{"source", row.source.toStdString()},
               {"configuration_text", d.configuration},
               {"tokens", d.tokens},
               {"tokens_per_second", d.tokens_per_second},
               {"window_nll", d.window_nll}};
    if (d.has_kl)
        r.extra["kl"] = {{"mean", d.kl_mean},
                         {"median", d.kl_median},
                         {"p99_9", d.kl_p99_9},
                         {"max", d.kl_max},
                         {"top1_agreement", d.top1}};
    return r;
}

PplRow fromWorkspaceResult(const qs::WorkspaceResult& r, const qs::ModelSummary& model) {
    PplRow row;
    row.config = r.config;
    PplData& d = row.data;
    d.ppl = r.ppl;
    d.seconds = r.seconds;
    d.seqlen = r.seqlen;
    d.nsamples = r.nsamples;
    d.dataset = r.dataset;
    d.protocol = r.protocol;
    d.device = r.device;
    d.dtype = r.dtype;
    const nlohmann::json& x = r.extra;
    auto str = [&](const char* k, const std::string& def) {
        return x.contains(k) && x[k].is_string() ? x[k].get<std::string>() : def;
    };
    d.configuration = str("configuration_text", r.config.describe());
    row.source = QString::fromStdString(str("source", "run"));
    if (x.contains("tokens") && x["tokens"].is_number_integer()) d.tokens = x["tokens"].get<int64_t>();
    if (x.contains("tokens_per_second") && x["tokens_per_second"].is_number())
        d.tokens_per_second = x["tokens_per_second"].get<double>();
    if (x.contains("kl") && x["kl"].is_object()) {
        const auto& k = x["kl"];
        auto num = [&](const char* key) { return k.contains(key) && k[key].is_number() ? k[key].get<double>() : 0.0; };
        d.has_kl = true;
        d.kl_mean = num("mean");
        d.kl_median = num("median");
        d.kl_p99_9 = num("p99_9");
        d.kl_max = num("max");
        d.top1 = num("top1_agreement");
    }
    if (x.contains("window_nll") && x["window_nll"].is_array()) {
        double sum = 0;
        for (const auto& v : x["window_nll"]) {
            if (!v.is_number()) break;
            d.window_nll.push_back(v.get<double>());
            sum += d.window_nll.back();
            d.running.push_back(std::exp(sum / static_cast<double>(d.window_nll.size())));
        }
    }
    row.sizes = model_sizes(model, r.config);
    if (r.size_mib_seed >= 0) row.sizes.seed_mib = r.size_mib_seed;
    if (r.size_mib_packed >= 0) row.sizes.packed_mib = r.size_mib_packed;
    return row;
}

}  // namespace ui
