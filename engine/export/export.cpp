// Checkpoint export: the tensor plan of each format, config.json, tokenizer files, free-space
// check and the atomic write (see export.h); what each format can hold: export_checks.cpp.
#include "export/export.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <set>

#include "core/error.h"
#include "core/strings.h"
#include "export/atomic_dir.h"
#include "export/export_internal.h"
#include "io/checkpoint.h"
#include "io/gguf_model.h"
#include "io/mapped_file.h"
#include "models/compressed_tensors_weight.h"
#include "models/packed_linears.h"
#include "quant/quant_session.h"
#include "tokenizers/tokenizer.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace qs {

// ---------------------------------------------------------------- names

ExportFormat parse_export_format(const std::string& s) {
    if (s == "fake") return ExportFormat::Fake;
    if (s == "awq-gemm" || s == "awq") return ExportFormat::AwqGemm;
    if (s == "int8" || s == "w8a16") return ExportFormat::Int8;
    if (s == "transformed") return ExportFormat::Transformed;
    if (s == "compressed-tensors" || s == "ct") return ExportFormat::CompressedTensors;
    throw Error("unknown export format '" + s + "' (fake, awq-gemm, int8, transformed, compressed-tensors)");
}

std::string export_format_name(ExportFormat f) {
    switch (f) {
        case ExportFormat::Fake:
            return "fake";
        case ExportFormat::AwqGemm:
            return "awq-gemm";
        case ExportFormat::Int8:
            return "int8";
        case ExportFormat::CompressedTensors:
            return "compressed-tensors";
        default:
            return "transformed";
    }
}

std::vector<std::string> export_format_names() {
    return {"fake", "awq-gemm", "int8", "transformed", "compressed-tensors"};
}

std::string export_format_description(ExportFormat f) {
    switch (f) {
        case ExportFormat::Fake:
            return "Fake-quantized Hugging Face checkpoint: dequantized weights in the original dtype (loads in "
                   "transformers)";
        case ExportFormat::AwqGemm:
            return "AutoAWQ GEMM int4 checkpoint: qweight/qzeros/scales, group 32/64/128, fp16 (AutoAWQ, transformers, "
                   "vLLM)";
        case ExportFormat::Int8:
            return "W8A16 int8 checkpoint: int8 weights with per-output-channel scales (QuantScope format)";
        case ExportFormat::CompressedTensors:
            return "compressed-tensors (pack-quantized): W4A16 / W8A16, group or channel, sym or asym (llm-compressor, "
                   "transformers, vLLM)";
        default:
            return "Transformed full-precision checkpoint: rotated / smoothed / AWQ-scaled weights before quantization";
    }
}

json ExportReport::to_json() const {
    return {{"format", format},
            {"out_dir", out_dir},
            {"source_dir", source_dir},
            {"configuration", configuration},
            {"configuration_json", configuration_json},
            {"dtype", dtype},
            {"files", files},
            {"bytes_written", bytes_written},
            {"estimated_bytes", estimated_bytes},
            {"quantized_linears", quantized_linears},
            {"notes", notes},
            {"seconds", seconds}};
}

// ---------------------------------------------------------------- helpers

namespace exp {

std::unique_ptr<CausalLM> scratch_model(const CausalLM& like, const CausalLM::State& state) {
    auto m = std::make_unique<CausalLM>();
    m->config = like.config;
    m->source_dir = like.source_dir;
    m->tensor_prefix = like.tensor_prefix;
    m->restore_state(state);
    return m;
}

const Linear* linear_by_name(const CausalLM& m, const std::string& name) {
    for (const Linear* l : m.linears())
        if (l->name == name) return l;
    return nullptr;
}

QuantizedTensor requantize_checked(const Linear& pre, const Linear& cur, const QuantSpec& spec) {
    c10::InferenceMode guard;
    if (!pre.weight.defined() || !cur.weight.defined())
        throw Error("internal error: '" + cur.name + "' has no dense weight to export");
    return check_reproduces(quantize(pre.weight, spec), cur, "quantizing the pre-quantization weight");
}

QuantizedTensor check_reproduces(QuantizedTensor q, const Linear& cur, const std::string& how) {
    c10::InferenceMode guard;
    if (!cur.weight.defined()) throw Error("internal error: '" + cur.name + "' has no dense weight to export");
    at::Tensor fq = dequantize(q).to(cur.weight.scalar_type());
    if (!at::equal(fq.to(cur.weight.device()), cur.weight))
        throw Error("internal error: " + how + " of '" + cur.name +
                    "' does not reproduce the session's fake-quant weight; nothing was exported");
    return q;
}

const MethodConfig& config_or_none(const QuantSession& s) {
    static const MethodConfig none;
    return s.applied_config() ? *s.applied_config() : none;
}

}  // namespace exp

namespace {

using exp::Plan;
using exp::PlannedTensor;

std::string hf_dtype_name(c10::ScalarType t) {
    if (t == at::kHalf) return "float16";
    if (t == at::kBFloat16) return "bfloat16";
    return "float32";
}

c10::ScalarType parse_out_dtype(const std::string& s) {
    if (s == "float32" || s == "fp32" || s == "F32") return at::kFloat;
    if (s == "float16" || s == "fp16" || s == "half" || s == "F16") return at::kHalf;
    if (s == "bfloat16" || s == "bf16" || s == "BF16") return at::kBFloat16;
    throw Error("unknown output dtype '" + s + "' (float32, float16, bfloat16)");
}

// Everything the plan builders need about the session.
struct Sources {
    std::unique_ptr<CausalLM> cur;  // the fake-quant state
    std::unique_ptr<CausalLM> pre;  // the pre-quantization state (== cur without a configuration)
    MethodConfig cfg;
    std::set<std::string> rtn;                     // Linears quantized by RTN with cfg.weight
    std::set<std::string> quantized;               // Linears whose fake-quant weights the configuration made
    std::shared_ptr<const Experiment> experiment;  // GPTQ: its recorded codes
    std::vector<std::string> notes;
};

Sources gather(QuantSession& session, bool need_pre, const Progress& progress) {
    Sources s;
    s.cfg = exp::config_or_none(session);
    const CausalLM& m = session.model();
    if (m.streamed())
        throw Error(
            "export of a block-sequential session is not supported yet: open the model with --mode memory "
            "on a machine where it fits");
    s.cur = exp::scratch_model(m, m.save_state());
    // The pre-quantization weights are rebuilt from the originals and the experiment's recorded
    // results (rotation, smoothing, AWQ scales and clips): no search runs again.
    s.pre =
        need_pre && session.applied_config() ? session.prequant_model(progress) : exp::scratch_model(m, m.save_state());
    s.rtn.insert(session.rtn_linears().begin(), session.rtn_linears().end());
    s.experiment = session.experiment();
    s.quantized = s.rtn;
    if (session.applied_config() && s.cfg.quantizes_weights() && s.rtn.empty()) {  // awq-keep / awq-scale
        for (const Linear* l : const_cast<CausalLM&>(m).decoder_linears())
            if (!s.cfg.skips(l->name)) s.quantized.insert(l->name);
        if (s.cfg.include_lm_head && !s.cfg.skips(m.lm_head.name)) s.quantized.insert(m.lm_head.name);
    }
    return s;
}

// The reference weight an AWQ GEMM export of `q` dequantizes to, in float32 (exact).
at::Tensor awq_reference_weight(const QuantizedTensor& q) {
    exp::AwqTensors t = exp::awq_gemm_pack(q);
    return awq_gemm_dequantize(t.qweight, t.qzeros, t.scales, q.spec.group_size);
}

// The dense tensors of a state must be exactly what the architecture's checkpoints hold.
void check_tensor_set(CausalLM& m, const std::string& what) {
    ModelConfig ec = m.config;
    ec.tie_word_embeddings = m.tied();
    std::map<std::string, std::vector<int64_t>> want;
    for (const auto& [n, shape] : expected_tensors(ec, "model.")) want[n] = shape;
    if (ec.tie_word_embeddings) want.erase("lm_head.weight");
    std::set<std::string> have;
    for (const NamedParam& p : m.parameters()) {
        have.insert(p.name);
        auto it = want.find(p.name);
        if (it == want.end())
            throw Error("cannot export: the " + what + " model has tensor '" + p.name + "', which a " +
                        m.config.model_type +
                        " checkpoint has no place for (transformers would drop it and compute "
                        "something else)");
        if (p.tensor->sizes().vec() != it->second)
            throw Error("cannot export: tensor '" + p.name + "' has shape " + shape_str(p.tensor->sizes().vec()) +
                        ", a " + m.config.model_type + " checkpoint expects " + shape_str(it->second));
    }
    for (const auto& [n, shape] : want)
        if (!have.count(n))
            throw Error("cannot export: the " + what + " model lacks tensor '" + n + "' that a " + m.config.model_type +
                        " checkpoint needs");
}

}  // namespace

// ---------------------------------------------------------------- plans

namespace {

struct Built {
    Plan plan;
    json config;
    c10::ScalarType dtype;
    int64_t quantized = 0;
    CausalLM* written = nullptr;  // the state whose dense tensors are written
};

Built build_plan(Sources& s, const ExportOptions& o, const json& src_config, c10::ScalarType default_dtype) {
    Built b;
    const ExportFormat f = o.format;
    CausalLM& w = f == ExportFormat::Transformed ? *s.pre : *s.cur;
    b.written = &w;
    check_tensor_set(w, f == ExportFormat::Transformed ? "transformed" : "fake-quantized");
    if (f == ExportFormat::AwqGemm) {
        if (!o.dtype.empty() && parse_out_dtype(o.dtype) != at::kHalf)
            throw Error("awq-gemm stores every non-quantized tensor in fp16 (AutoAWQ's layout); --out-dtype " +
                        o.dtype + " does not apply");
        b.dtype = at::kHalf;
    } else if (!o.dtype.empty()) {
        b.dtype = parse_out_dtype(o.dtype);
    } else {
        b.dtype = o.awq_reference ? at::kFloat : default_dtype;
    }
    const c10::ScalarType dt = b.dtype;
    const bool awq = f == ExportFormat::AwqGemm, int8 = f == ExportFormat::Int8, ref = o.awq_reference;
    const bool ct = f == ExportFormat::CompressedTensors;
    const GptqResult* gptq =
        ct && s.cfg.has("gptq") && s.experiment && s.experiment->gptq ? &*s.experiment->gptq : nullptr;
    if (ct && s.cfg.has("gptq") && !gptq) throw Error("internal error: the session recorded no GPTQ codes to export");
    for (const NamedParam& p : w.parameters()) {
        const at::Tensor t = *p.tensor;
        const std::string lin = ends_with(p.name, ".weight") ? p.name.substr(0, p.name.size() - 7) : std::string();
        const bool quantized =
            !lin.empty() && (ct ? s.quantized.count(lin) > 0 : s.rtn.count(lin) && (awq || int8 || ref));
        if (!quantized && f == ExportFormat::Fake && !lin.empty() && s.quantized.count(lin)) ++b.quantized;
        if (!quantized) {
            if (awq || ref)
                b.plan.push_back({p.name, dt, t.sizes().vec(), [t, dt] { return t.to(at::kHalf).to(dt); }});
            else
                b.plan.push_back({p.name, dt, t.sizes().vec(), [t, dt] { return t.to(dt); }});
            continue;
        }
        ++b.quantized;
        const QuantSpec spec = s.cfg.spec_for(lin);  // mixed precision: the Linear's own spec
        const Linear* lc = exp::linear_by_name(*s.cur, lin);
        const Linear* lp = exp::linear_by_name(*s.pre, lin);
        if (!lc || !lp) throw Error("internal error: Linear '" + lin + "' not found in the session states");
        const int64_t in = lc->in_features, out = lc->out_features;
        if (ref) {
            b.plan.push_back({p.name, dt, {out, in}, [lc, lp, spec, dt] {
                                  return awq_reference_weight(exp::requantize_checked(*lp, *lc, spec)).to(dt);
                              }});
        } else if (awq) {
            const int64_t g = spec.group_size;
            auto memo = std::make_shared<std::optional<exp::AwqTensors>>();
            auto get = [memo, lc, lp, spec]() -> exp::AwqTensors& {
                if (!*memo) *memo = exp::awq_gemm_pack(exp::requantize_checked(*lp, *lc, spec));
                return **memo;
            };
            b.plan.push_back({lin + ".qweight", at::kInt, {in, out / 8}, [get] { return get().qweight; }});
            b.plan.push_back({lin + ".qzeros", at::kInt, {in / g, out / 8}, [get] { return get().qzeros; }});
            b.plan.push_back({lin + ".scales", at::kHalf, {in / g, out}, [get, memo] {
                                  at::Tensor r = get().scales;
                                  memo->reset();
                                  return r;
                              }});
        } else if (ct) {
            const GptqLinear* g = gptq ? gptq->find(lin) : nullptr;
            if (gptq && !g) throw Error("internal error: no GPTQ codes recorded for '" + lin + "'");
            const int bits = spec.bits;
            const int64_t ng = spec.granularity == Granularity::PerGroup ? in / spec.group_size : 1;
            auto memo = std::make_shared<std::optional<exp::CtTensors>>();
            auto get = [memo, lc, lp, spec, g, dt]() -> exp::CtTensors& {
                if (!*memo)
                    *memo = exp::ct_pack(
                        g ? exp::check_reproduces(exp::gptq_quantized(*g, spec), *lc, "the recorded GPTQ codes")
                          : exp::requantize_checked(*lp, *lc, spec),
                        dt);
                return **memo;
            };
            b.plan.push_back(
                {lin + ".weight_packed", at::kInt, {out, ct_packed_words(in, bits)}, [get] { return get().packed; }});
            b.plan.push_back({lin + ".weight_scale", dt, {out, ng}, [get] { return get().scale; }});
            if (!spec.symmetric)
                b.plan.push_back({lin + ".weight_zero_point", at::kInt, {ct_packed_words(out, bits), ng}, [get] {
                                      return get().zero_point;
                                  }});
            b.plan.push_back({lin + ".weight_shape", at::kLong, {2}, [get, memo] {
                                  at::Tensor r = get().shape;
                                  memo->reset();
                                  return r;
                              }});
        } else {
            auto memo = std::make_shared<std::optional<exp::Int8Tensors>>();
            auto get = [memo, lc, lp, spec]() -> exp::Int8Tensors& {
                if (!*memo) *memo = exp::int8_pack(exp::requantize_checked(*lp, *lc, spec));
                return **memo;
            };
            b.plan.push_back({lin + ".weight", at::kChar, {out, in}, [get] { return get().weight; }});
            b.plan.push_back({lin + ".weight_scale", at::kFloat, {out}, [get, memo] {
                                  at::Tensor r = get().scale;
                                  memo->reset();
                                  return r;
                              }});
        }
    }

    json c = src_config;
    c.erase("quantization_config");
    c["torch_dtype"] = hf_dtype_name(dt);
    c["tie_word_embeddings"] = w.tied();
    if (awq) {
        // Skipped Linears (mixed precision) stay dense fp16 and are named in modules_to_not_convert, which
        // transformers and AutoAWQ match as substrings of module names (export_problems refuses clashes).
        json not_converted = nullptr;
        for (const Linear* l : w.linears())
            if (l->present() && l != &w.lm_head && s.cfg.skips(l->name) && s.cfg.quantizes_weights()) {
                if (not_converted.is_null()) not_converted = json::array();
                not_converted.push_back(l->name);
            }
        c["quantization_config"] = {
            {"quant_method", "awq"}, {"bits", 4},         {"group_size", s.cfg.weight.group_size},
            {"zero_point", true},    {"version", "gemm"}, {"modules_to_not_convert", not_converted}};
    } else if (int8) {
        json not_converted = json::array();
        for (const Linear* l : w.linears())
            if (l->present() && !s.rtn.count(l->name)) not_converted.push_back(l->name);
        c["quantization_config"] = {{"quant_method", "quantscope_w8a16"},
                                    {"format_version", 1},
                                    {"bits", 8},
                                    {"weight_dtype", "int8"},
                                    {"scale_dtype", "float32"},
                                    {"granularity", "per-output-channel"},
                                    {"symmetric", true},
                                    {"dequantize", "W = weight * weight_scale[:, None]"},
                                    {"activations", "not quantized"},
                                    {"modules_to_not_convert", not_converted}};
    }
    if (ct) {
        // One config group per distinct spec, numbered by its first Linear in module order (as the package's
        // QuantizationConfig.from_pretrained numbers them): the configuration's spec targets "Linear", an
        // override's spec the exact Linear names (exact names win over the class name in the package's
        // matching); skipped and unquantized Linears are in `ignore`.
        std::vector<exp::CtGroup> groups;
        auto same = [](const QuantSpec& a, const QuantSpec& b2) { return a.describe() == b2.describe(); };
        for (const Linear* l : w.linears()) {
            if (!s.quantized.count(l->name)) continue;
            const QuantSpec sp = s.cfg.spec_for(l->name);
            const bool own = !same(sp, s.cfg.weight);
            auto it = std::find_if(groups.begin(), groups.end(), [&](const exp::CtGroup& g) {
                return same(g.spec, sp) && (g.targets == std::vector<std::string>{"Linear"}) == !own;
            });
            if (it == groups.end()) {
                groups.push_back({sp, own ? std::vector<std::string>{} : std::vector<std::string>{"Linear"}});
                it = groups.end() - 1;
            }
            if (own) it->targets.push_back(l->name);
        }
        std::vector<std::string> ignore;
        for (const Linear* l : w.linears())
            if ((l->present() || l == &w.lm_head) && !s.quantized.count(l->name)) ignore.push_back(l->name);
        c["quantization_config"] = exp::ct_quantization_config(groups, ignore);
    }
    b.config = c;
    return b;
}

const char* kCopiedFiles[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",    "vocab.json",
    "merges.txt",     "added_tokens.json",     "generation_config.json",  "chat_template.json", "chat_template.jinja"};

}  // namespace

// ---------------------------------------------------------------- export

ExportReport export_checkpoint(QuantSession& session, const ExportOptions& o, const Progress& progress) {
    c10::InferenceMode guard;
    const auto t0 = std::chrono::steady_clock::now();
    const ExportFormat f = o.format;
    check_exportable(session, f, o.awq_reference);
    const std::string source = session.model().source_dir;
    check_output_not_source(o.out_dir, source);
    if (fs::exists(o.out_dir) && !o.force)
        throw Error(o.out_dir + ": already exists; choose a new folder or pass --force to replace it");
    if (!o.dtype.empty()) (void)parse_out_dtype(o.dtype);
    // config.json and the storage dtype of the source. A GGUF source (io/gguf_model.h) gives
    // its HF config; its dequantized values are exact in float32, the default output dtype;
    // its tokenizer is written as Hugging Face files made from the GGUF metadata.
    json src_config;
    c10::ScalarType src_dtype = at::kFloat;
    std::vector<std::pair<std::string, std::string>> generated;  // (file name, content)
    std::vector<std::string> early_notes;
    if (const std::string gguf = find_gguf(source); !gguf.empty()) {
        src_config = GgufModel(gguf).hf_config();
        if (o.copy_tokenizer) {
            try {
                generated = gguf_tokenizer_files(gguf);
            } catch (const Error& e) {
                early_notes.push_back(std::string("the GGUF tokenizer was not exported: ") + e.what());
            }
        }
    } else {
        Checkpoint ck(source);
        src_config = ck.config();
        src_dtype = safetensors_to_scalar(ck.storage_dtype());
    }
    progress.check();

    const bool need_pre = f != ExportFormat::Fake || o.awq_reference;
    Sources s = gather(session, need_pre, progress.sub(0.0, 0.4));
    progress.check();
    Built b = build_plan(s, o, src_config, src_dtype);

    ExportReport rep;
    rep.format = export_format_name(f) + (o.awq_reference ? " (AWQ reference)" : "");
    rep.out_dir = fs::absolute(o.out_dir).lexically_normal().string();
    rep.source_dir = source;
    rep.configuration = s.cfg.describe();
    rep.configuration_json = s.cfg.to_json();
    rep.dtype = hf_dtype_name(b.dtype);
    rep.quantized_linears = b.quantized;
    rep.notes = s.notes;
    rep.notes.insert(rep.notes.end(), early_notes.begin(), early_notes.end());
    if (f == ExportFormat::AwqGemm)
        rep.notes.push_back(
            "non-quantized tensors (embeddings, norms, biases, lm_head) stored as fp16, as AutoAWQ does");
    if (f == ExportFormat::CompressedTensors && b.dtype != at::kFloat)
        rep.notes.push_back("weight_scale stored in " + rep.dtype +
                            " (the model dtype, as compressed-tensors does): the reopened weights differ from the "
                            "session's float32-scale fake-quant weights by that rounding");
    if (f == ExportFormat::Transformed && !session.applied_config())
        rep.notes.push_back("no configuration applied: the checkpoint holds the original weights");
    if (f == ExportFormat::Transformed && s.cfg.quantizes_weights())
        rep.notes.push_back("weights are the transformed full-precision ones, before " + s.cfg.weight.describe() +
                            " quantization");

    // free space
    std::vector<std::string> copies;
    uint64_t estimate = 16384;
    for (const auto& t : b.plan) estimate += t.bytes() + t.name.size() + 96;
    for (const auto& [n, content] : generated) estimate += content.size();
    if (o.copy_tokenizer && fs::is_directory(source))
        for (const char* n : kCopiedFiles)
            if (fs::is_regular_file(fs::path(source) / n)) {
                copies.push_back(n);
                estimate += fs::file_size(fs::path(source) / n);
            }
    rep.estimated_bytes = estimate;
    const uint64_t margin = uint64_t(8) << 20;
    const fs::path parent = fs::absolute(o.out_dir).lexically_normal().parent_path();
    const uint64_t free = o.test_free_bytes >= 0 ? uint64_t(o.test_free_bytes) : free_bytes_at(parent.string());
    if (free < estimate + margin)
        throw Error(o.out_dir + ": not enough free space: the export needs about " +
                    std::to_string((estimate + margin) / (1024 * 1024) + 1) + " MiB, " +
                    std::to_string(free / (1024 * 1024)) + " MiB are free there; nothing was written");

    AtomicDir dir(o.out_dir, o.force);
    rep.notes.insert(rep.notes.end(), dir.notes().begin(), dir.notes().end());
    exp::WriteCounter counter;
    counter.fail_after = o.test_fail_after_bytes;
    const std::map<std::string, std::string> meta = {
        {"format", "pt"}, {"quantscope_export", export_format_name(f)}, {"quantscope_configuration", s.cfg.describe()}};
    std::vector<std::string> files =
        exp::write_plan(dir.temp_path(), b.plan, o.max_shard_bytes, meta, counter, progress.sub(0.4, 0.96));
    progress.check();
    exp::write_text_file((fs::path(dir.temp_path()) / "config.json").string(), b.config.dump(2) + "\n", counter);
    files.push_back("config.json");
    for (const auto& n : copies) {
        progress.check();
        exp::copy_file_counted((fs::path(source) / n).string(), (fs::path(dir.temp_path()) / n).string(), counter);
        files.push_back(n);
    }
    for (const auto& [n, content] : generated) {
        exp::write_text_file((fs::path(dir.temp_path()) / n).string(), content, counter);
        files.push_back(n);
        copies.push_back(n);
    }
    if (o.copy_tokenizer && copies.end() == std::find_if(copies.begin(), copies.end(), [](const std::string& n) {
                                return n.rfind("tokenizer", 0) == 0 || n == "vocab.json";
                            }))
        rep.notes.push_back("the source folder has no tokenizer files to copy");
    json prov = {{"quantscope_version", QS_VERSION},
                 {"format", rep.format},
                 {"source", source},
                 {"configuration", rep.configuration_json},
                 {"dtype", rep.dtype},
                 {"quantized_linears", rep.quantized_linears},
                 {"notes", rep.notes}};
    exp::write_text_file((fs::path(dir.temp_path()) / "quantscope_export.json").string(), prov.dump(2) + "\n", counter);
    files.push_back("quantscope_export.json");
    progress.check();
    MappedFile::check_all_intact();  // weights read through a map changed meanwhile (io/map_guard.h)
    progress(0.97, "syncing and renaming into place");
    dir.commit();
    rep.files = files;
    rep.bytes_written = counter.written;
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress(1.0, "exported " + rep.out_dir);
    return rep;
}

CausalLM::State awq_reference_state(QuantSession& session, const Progress& progress) {
    c10::InferenceMode guard;
    check_exportable(session, ExportFormat::Fake, true);
    Sources s = gather(session, true, progress);
    CausalLM& m = *s.cur;
    const c10::ScalarType dt = m.dtype();
    const bool was_tied = m.tied();
    for (const NamedParam& p : m.parameters()) {
        const std::string lin = ends_with(p.name, ".weight") ? p.name.substr(0, p.name.size() - 7) : std::string();
        if (!lin.empty() && s.rtn.count(lin)) {
            const Linear* lc = exp::linear_by_name(*s.cur, lin);
            const Linear* lp = exp::linear_by_name(*s.pre, lin);
            *p.tensor = awq_reference_weight(exp::requantize_checked(*lp, *lc, s.cfg.spec_for(lin)))
                            .to(p.tensor->scalar_type());
        } else {
            *p.tensor = p.tensor->to(at::kHalf).to(p.tensor->scalar_type());
        }
    }
    if (was_tied) m.lm_head.weight = m.embed_tokens;
    (void)dt;
    return m.save_state();
}

}  // namespace qs
