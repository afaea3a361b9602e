// What each export format can hold (see export.h): export_problems lists, for a session's applied
// configuration, every reason a format cannot carry it (naming the Linear and the setting), and
// check_exportable / describe_export_problems turn them into the error the CLI and GUI show.
#include <string>
#include <vector>

#include "core/error.h"
#include "export/export.h"
#include "export/export_internal.h"
#include "models/causal_lm.h"
#include "quant/quant_session.h"

namespace qs {

namespace {

Norm::Kind native_norm(const CausalLM& m) { return m.config.arch == Arch::OPT ? Norm::Kind::Layer : Norm::Kind::RMS; }

}  // namespace

std::vector<ExportProblem> export_problems(const QuantSession& session, ExportFormat format, bool awq_reference) {
    const CausalLM& m = session.model();
    const MethodConfig& c = exp::config_or_none(session);
    const std::string fname = export_format_name(format);
    std::vector<ExportProblem> out;
    for (const Linear* l : m.linears())
        if (l->packed && !l->weight.defined())
            return {{m.source_dir + " is a quantized checkpoint ('" + l->name + "' is " + l->packed->format() +
                         "); export needs a full-precision model",
                     "", "open the full-precision model"}};
    if (awq_reference && format != ExportFormat::Fake)
        out.push_back({"the AWQ reference option applies to the fake format only", "", "choose the fake format"});
    if (format != ExportFormat::Transformed && session.applied_config() && c.act.bits > 0)
        out.push_back({"activation fake quantization (a" + std::to_string(c.act.bits) +
                           ") cannot be stored in a checkpoint: a " + fname +
                           " export would run activations in full precision",
                       "export with --a-bits 0 (the transformed format ignores activation quantization)",
                       "set Activations to float in the methods panel and Apply (the transformed format ignores "
                       "activation quantization)"});
    const Norm::Kind native = native_norm(m);
    for (const Norm* n : const_cast<CausalLM&>(m).norms())
        if (n->kind != native) {
            if (m.config.arch == Arch::OPT)
                out.push_back({"cannot export a rotated OPT model: rotation turns OPT's LayerNorms into RMS norms ('" +
                                   n->name + "'), which transformers' OPT (and an OPT config.json) cannot express",
                               "rotate a LLaMA-family model, or export this OPT model without --method rotate",
                               "rotate a LLaMA-family model, or set Rotation off and Apply"});
            else
                out.push_back({"cannot export: norm '" + n->name + "' is no longer a " +
                                   (native == Norm::Kind::RMS ? "RMSNorm" : "LayerNorm") + ", which the " +
                                   m.config.model_type + " architecture needs",
                               "", ""});
            break;
        }
    const bool awq = format == ExportFormat::AwqGemm || awq_reference;
    if (format == ExportFormat::AwqGemm || format == ExportFormat::Int8 || awq_reference) {
        const std::string what = awq_reference ? "the AWQ reference (fake with --awq-reference)" : "a " + fname;
        if (!session.applied_config() || !c.quantizes_weights()) {
            out.push_back({what + " export needs quantized weights",
                           awq ? "add --method rtn (or awq) --w-bits 4 --group-size 128"
                               : "add --method rtn --w-bits 8 --w-quant per-channel --symmetric",
                           awq ? "choose 4 bits, group 128, asymmetric (with AWQ off or auto-scale) and Apply"
                               : "choose 8 bits, per channel and \"symmetric\" and Apply"});
            return out;
        }
        if (c.has("awq-keep") || c.has("awq-scale"))
            out.push_back({what +
                               " export cannot hold awq-keep / awq-scale weights (salient input channels kept in full "
                               "precision or scaled per channel are not one quantization of a stored weight)",
                           "use --method awq (its scales are folded into the previous op) or rtn",
                           "set the AWQ mode to off or auto-scale search (its scales fold into the previous op) and "
                           "Apply"});
        if (c.has("gptq"))
            out.push_back({what + " export re-derives the codes by RTN from the pre-quantization weights, which would "
                                  "drop GPTQ's error compensation",
                           "export GPTQ weights with --format fake", "choose the fake format in the export dialog"});
        for (ExportProblem& p : awq ? exp::awq_gemm_spec_problems(c.weight) : exp::int8_spec_problems(c.weight))
            out.push_back(std::move(p));
        // Mixed precision: these formats hold one spec for every converted Linear (AutoAWQ's w_bit and
        // q_group_size; W8A16's int8 per channel); a Linear can only be left out (modules_to_not_convert).
        for (const auto& [name, ov] : c.overrides) {
            if (ov.skip) continue;
            const QuantSpec sp = c.spec_for(name);
            if (sp.bits == c.weight.bits && sp.granularity == c.weight.granularity &&
                (sp.granularity != Granularity::PerGroup || sp.group_size == c.weight.group_size))
                continue;
            out.push_back({"'" + name + "': its override (" + linear_override_text(ov) + ") cannot be held by " + what +
                               " export, which stores one bits / group size for every converted Linear; only "
                               "leaving a Linear unconverted (skip: modules_to_not_convert) is possible",
                           "use --override " + name + "=skip, or export with --format compressed-tensors or fake",
                           "set " + name +
                               " to skip (or clear its override) on the Model page, or choose the "
                               "compressed-tensors or fake format"});
        }
        if (awq && c.include_lm_head)
            out.push_back({"AWQ GEMM checkpoints keep lm_head unquantized (AutoAWQ and transformers never convert it)",
                           "drop --include-lm-head", "untick \"also quantize lm_head\" and Apply"});
        if (awq) {
            std::vector<std::string> problems;
            for (Linear* l : const_cast<CausalLM&>(m).decoder_linears()) {
                if (c.skips(l->name)) continue;
                std::string q = exp::awq_gemm_linear_problem(*l, c.weight.group_size);
                if (!q.empty()) problems.push_back(q);
                // AutoAWQ leaves a module unconverted when any modules_to_not_convert entry is a substring of its
                // name (transformers 5.25: a prefix at a module boundary or a suffix, which this check covers too)
                for (const auto& [name, ov] : c.overrides)
                    if (ov.skip && l->name != name && l->name.find(name) != std::string::npos)
                        out.push_back({"'" + l->name + "' contains the skipped name '" + name +
                                           "': transformers and AutoAWQ match modules_to_not_convert as substrings, so "
                                           "they would leave it unconverted too",
                                       "skip it as well, or export with --format compressed-tensors",
                                       "skip it as well, or choose the compressed-tensors format"});
            }
            if (!problems.empty())
                out.push_back({problems[0] + (problems.size() > 1
                                                  ? "; " + std::to_string(problems.size() - 1) + " more Linear(s) too"
                                                  : std::string()),
                               "use the int8 or fake format for this model",
                               "choose the int8 or fake format for this model"});
        }
    }
    if (format == ExportFormat::CompressedTensors) {
        if (!session.applied_config() || !c.quantizes_weights()) {
            out.push_back({"a compressed-tensors export needs quantized weights",
                           "add --method rtn (or awq, gptq) --w-bits 4 --group-size 128",
                           "choose 4 or 8 bits (group or per channel) and Apply"});
            return out;
        }
        if (c.has("awq-keep") || c.has("awq-scale"))
            out.push_back(
                {"a compressed-tensors export cannot hold awq-keep / awq-scale weights (salient input "
                 "channels kept in full precision or scaled per channel are not one quantization of a "
                 "stored weight)",
                 "use --method awq (its scales are folded into the previous op), rtn or gptq",
                 "set the AWQ mode to off or auto-scale search and Apply"});
        if (c.has("gptq") && c.gptq_act_order && !c.gptq_static_groups)
            out.push_back(
                {"a compressed-tensors export of GPTQ with act-order needs static groups: without them each "
                 "Linear's groups are permuted input columns (the package's weight_g_idx / actorder), "
                 "which QuantScope does not write",
                 "drop --act-order, or add --static-groups", "untick \"GPTQ act-order\" and Apply"});
        for (ExportProblem& p : exp::ct_spec_problems(c.weight)) out.push_back(std::move(p));
        for (const auto& [name, ov] : c.overrides)
            if (!ov.skip)
                for (ExportProblem& p : exp::ct_spec_problems(c.spec_for(name), name)) out.push_back(std::move(p));
        std::vector<std::string> problems;
        std::vector<const Linear*> quantized;
        for (Linear* l : const_cast<CausalLM&>(m).decoder_linears())
            if (l->present() && !c.skips(l->name)) quantized.push_back(l);
        if (c.include_lm_head && !c.skips(m.lm_head.name)) quantized.push_back(&m.lm_head);
        for (const Linear* l : quantized) {
            std::string q = exp::ct_linear_problem(*l, c.spec_for(l->name));
            if (!q.empty()) problems.push_back(q);
        }
        if (!problems.empty())
            out.push_back(
                {problems[0] + (problems.size() > 1 ? "; " + std::to_string(problems.size() - 1) + " more Linear(s) too"
                                                    : std::string()),
                 "use a group size that divides every Linear's input features, or --w-quant per-channel",
                 "choose a group size that divides every Linear's input features, or per channel"});
    }
    return out;
}

void check_exportable(const QuantSession& session, ExportFormat format, bool awq_reference) {
    const std::vector<ExportProblem> p = export_problems(session, format, awq_reference);
    if (p.empty()) return;
    const std::string d = describe_export_problems(p, false);
    throw Error(d.rfind("cannot export", 0) == 0 ? d : "cannot export " + export_format_name(format) + ": " + d);
}

std::string describe_export_problems(const std::vector<ExportProblem>& problems, bool gui) {
    auto one = [gui](const ExportProblem& p) {
        const std::string& fix = gui ? p.gui_fix : p.cli_fix;
        return fix.empty() ? p.problem : p.problem + "; " + fix;
    };
    if (problems.size() == 1) return one(problems[0]);
    std::string s = std::to_string(problems.size()) + " problems:";
    for (size_t i = 0; i < problems.size(); ++i) s += "\n" + std::to_string(i + 1) + ". " + one(problems[i]);
    return s;
}

}  // namespace qs
