// load_causal_lm: config -> expected tensors -> validated, converted, placed on the device.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "core/device.h"
#include "core/memory_info.h"
#include "core/strings.h"
#include "core/error.h"
#include "io/checkpoint.h"
#include "io/gguf_model.h"
#include "models/causal_lm.h"
#include "models/original_weights.h"
#include "models/packed_linears.h"

namespace qs {

using Shape = std::vector<int64_t>;

std::vector<std::pair<std::string, Shape>> expected_tensors(const ModelConfig& c, const std::string& prefix) {
    std::vector<std::pair<std::string, Shape>> out;
    const int64_t Hd = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
    auto lin = [&](const std::string& n, int64_t in, int64_t outf, bool bias) {
        out.push_back({n + ".weight", {outf, in}});
        if (bias) out.push_back({n + ".bias", {outf}});
    };
    auto norm = [&](const std::string& n, bool bias) {
        out.push_back({n + ".weight", {Hd}});
        if (bias) out.push_back({n + ".bias", {Hd}});
    };
    if (c.arch == Arch::OPT) {
        const std::string d = prefix + "decoder.";
        const int64_t E = c.word_embed_proj_dim;
        out.push_back({d + "embed_tokens.weight", {V, E}});
        out.push_back({d + "embed_positions.weight", {c.max_position_embeddings + 2, Hd}});
        if (E != Hd) {
            lin(d + "project_in", E, Hd, false);
            lin(d + "project_out", Hd, E, false);
        }
        for (int64_t i = 0; i < c.num_layers; ++i) {
            const std::string l = d + "layers." + std::to_string(i) + ".";
            for (const char* p : {"q_proj", "k_proj", "v_proj", "out_proj"})
                lin(l + "self_attn." + p, Hd, Hd, c.enable_bias);
            if (c.ln_affine) norm(l + "self_attn_layer_norm", true);
            lin(l + "fc1", Hd, I, c.enable_bias);
            lin(l + "fc2", I, Hd, c.enable_bias);
            if (c.ln_affine) norm(l + "final_layer_norm", true);
        }
        if (c.has_final_layer_norm && c.ln_affine) norm(d + "final_layer_norm", true);
        out.push_back({"lm_head.weight", {V, E}});
    } else {
        const int64_t qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim;
        out.push_back({prefix + "embed_tokens.weight", {V, Hd}});
        for (int64_t i = 0; i < c.num_layers; ++i) {
            const std::string l = prefix + "layers." + std::to_string(i) + ".";
            lin(l + "self_attn.q_proj", Hd, qd, c.qkv_bias);
            lin(l + "self_attn.k_proj", Hd, kvd, c.qkv_bias);
            lin(l + "self_attn.v_proj", Hd, kvd, c.qkv_bias);
            lin(l + "self_attn.o_proj", qd, Hd, c.o_bias);
            lin(l + "mlp.gate_proj", Hd, I, c.mlp_bias);
            lin(l + "mlp.up_proj", Hd, I, c.mlp_bias);
            lin(l + "mlp.down_proj", I, Hd, c.mlp_bias);
            norm(l + "input_layernorm", false);
            norm(l + "post_attention_layernorm", false);
        }
        norm(prefix + "norm", false);
        out.push_back({"lm_head.weight", {V, Hd}});
    }
    return out;
}

namespace {

bool ignorable(const std::string& name) {
    // Buffers some older checkpoints carry; transformers ignores them too.
    return name.find("rotary_emb.inv_freq") != std::string::npos || name.find(".attn.bias") != std::string::npos ||
           name.find("masked_bias") != std::string::npos;
}

// True when every element is finite. A min/max reduction allocates nothing tensor-sized;
// at::isfinite(t) would allocate an abs() copy plus bool masks (~1.75x an fp32 tensor),
// which raised the peak RSS of loading and left the heap fragmented.
bool all_finite(const at::Tensor& t) {
    if (t.numel() == 0) return true;
    if (t.scalar_type() == at::kHalf) {  // libtorch 1.13 has no CPU aminmax for Half: go by slices
        const at::Tensor flat = t.reshape({-1});
        const int64_t n = flat.numel(), step = int64_t(1) << 20;
        for (int64_t i = 0; i < n; i += step)
            if (!at::isfinite(flat.slice(0, i, std::min(i + step, n))).all().item<bool>()) return false;
        return true;
    }
    auto mm = at::aminmax(t);  // NaN propagates to both
    return std::isfinite(std::get<0>(mm).item<double>()) && std::isfinite(std::get<1>(mm).item<double>());
}

// " (2 NaN, 1 Inf; first at [5, 1])" for a tensor that is not all finite.
std::string non_finite_summary(const at::Tensor& t) {
    const int64_t nan = at::isnan(t).sum().item<int64_t>();
    const int64_t inf = at::isinf(t).sum().item<int64_t>();
    int64_t flat = at::logical_not(at::isfinite(t)).reshape({-1}).nonzero()[0][0].item<int64_t>();
    std::vector<int64_t> idx(t.dim());
    for (int64_t d = t.dim() - 1; d >= 0; --d) {
        idx[d] = flat % t.size(d);
        flat /= t.size(d);
    }
    return " (" + std::to_string(nan) + " NaN, " + std::to_string(inf) + " Inf; first at " + shape_str(idx) + ")";
}

}  // namespace

std::unique_ptr<CausalLM> load_causal_lm(const std::string& dir, const LoadOptions& opts, const Progress& progress) {
    c10::InferenceMode guard;
    check_device_dtype(opts.device, opts.dtype);
    auto m = std::make_unique<CausalLM>();
    // A GGUF file (llama.cpp), or a folder holding one, is read through io/gguf_model.h: the
    // config and every tensor by its HF name, dequantized and in HF layout. Otherwise a
    // Hugging Face folder (safetensors), whose tensors stay memory-mapped.
    std::shared_ptr<const GgufModel> gguf;
    std::shared_ptr<Checkpoint> ckp;
    std::shared_ptr<OriginalWeights> originals;
    if (const std::string gguf_path = find_gguf(dir); !gguf_path.empty()) {
        gguf = std::make_shared<const GgufModel>(gguf_path);
        m->config = parse_model_config(gguf->hf_config(), gguf_path);
        m->warnings = gguf->warnings;
        originals = std::make_shared<OriginalWeights>(gguf, opts.device, opts.dtype);
    } else {
        ckp = std::make_shared<Checkpoint>(dir);
        m->config = parse_model_config(ckp->config(), ckp->config_path());
        check_layers_present(m->config, ckp->config_path(), ckp->tensor_names());  // before allocating
        originals = std::make_shared<OriginalWeights>(ckp, opts.device, opts.dtype);
    }
    const Checkpoint* ck = ckp.get();
    m->source_dir = dir;
    const ModelConfig& c = m->config;

    // OPT checkpoints converted from fairseq may store "decoder.*" without "model.".
    std::string prefix = "model.";
    if (ck && c.arch == Arch::OPT && !ck->has("model.decoder.embed_tokens.weight") &&
        ck->has("decoder.embed_tokens.weight"))
        prefix = "";
    m->tensor_prefix = prefix;
    auto stored = [&](const std::string& canonical) {
        return canonical.rfind("model.", 0) == 0 ? prefix + canonical.substr(6) : canonical;
    };

    // Quantized checkpoints (AutoAWQ GEMM, QuantScope W8A16, compressed-tensors pack-quantized): their packed Linears
    // are read through the quantization_config and dequantized on the fly (models/packed_linears.h).
    const std::unique_ptr<PackedCheckpointFormat> packed_fmt = ck ? detect_packed_format(*ck) : nullptr;
    std::map<std::string, std::string> packed_linears;  // canonical Linear name -> stored name

    auto expected = expected_tensors(c, "model.");
    bool streamed = opts.mode == HoldMode::BlockSequential;
    if (opts.mode == HoldMode::Auto) {
        uint64_t need = 0;
        for (const auto& e : expected) {
            uint64_t n = at::elementSize(opts.dtype);
            for (int64_t d : e.second) n *= static_cast<uint64_t>(d);
            need += n;
        }
        const std::optional<uint64_t> avail = device_available_bytes(opts.device);
        streamed = avail && double(need) > 0.8 * double(*avail);
    }
    const std::string embed_name =
        c.arch == Arch::OPT ? "model.decoder.embed_tokens.weight" : "model.embed_tokens.weight";
    std::set<std::string> used;
    std::map<std::string, at::Tensor> loaded;
    std::map<std::string, std::string> source_types;  // HF tensor name -> storage type in the file
    size_t done = 0;
    for (const auto& [name, shape] : expected) {
        progress.check();
        std::string sname = stored(name);
        bool optional_tied = false;
        if (c.tie_word_embeddings && (name == "lm_head.weight" || name == embed_name)) optional_tied = true;
        const bool block_tensor = streamed && name.find(".layers.") != std::string::npos;
        if (gguf) {
            if (!gguf->has(name)) {
                if (optional_tied) continue;
                throw Error(gguf->path() + ": required tensor for '" + name + "' (shape " + shape_str(shape) +
                            ") is missing");
            }
            const GgufModelTensor& gt = gguf->info(name);
            if (gt.shape != shape)
                throw Error(gguf->path() + ": tensor '" + gt.gguf_name + "' ('" + name + "') has shape " +
                            shape_str(gt.shape) + ", expected " + shape_str(shape));
            originals->add(name, name);
            at::Tensor t = block_tensor ? gguf->load(name, opts.dtype) : originals->get(name);
            if (opts.check_finite && !all_finite(t))
                throw Error(gguf->path() + ": tensor '" + gt.gguf_name + "' contains NaN or Inf values" +
                            non_finite_summary(t.cpu()));
            if (!block_tensor) loaded[name] = t;  // block-sequential: validated, loaded per pass
            source_types[name] = gt.type_name();
            progress(double(++done) / expected.size(), "loading " + gt.gguf_name + " (" + gt.type_name() + ")");
            continue;
        }
        if (packed_fmt && name.size() > 7 && ends_with(name, ".weight") &&
            is_packed_linear(*ck, *packed_fmt, sname.substr(0, sname.size() - 7))) {
            const std::string lin = sname.substr(0, sname.size() - 7);
            for (const auto& t : packed_tensor_names(*packed_fmt, lin)) used.insert(t);
            packed_linears[name.substr(0, name.size() - 7)] = lin;
            const std::string how = packed_fmt->for_linear(lin).describe();  // mixed precision: its own scheme
            source_types[name] = how;
            progress(double(++done) / expected.size(), "loading " + lin + " (" + how + ")");
            continue;
        }
        if (!ck->has(sname)) {
            if (optional_tied) continue;
            throw Error(dir + ": required tensor '" + sname + "' (shape " + shape_str(shape) +
                        ") is missing from the checkpoint");
        }
        const TensorInfo& ti = ck->info(sname);
        if (ti.shape != shape)
            throw Error(ck->file_of(sname) + ": tensor '" + sname + "' has shape " + shape_str(ti.shape) +
                        ", expected " + shape_str(shape));
        if (ti.dtype != "F32" && ti.dtype != "F16" && ti.dtype != "BF16" && ti.dtype != "F64")
            throw Error(ck->file_of(sname) + ": tensor '" + sname + "' has dtype " + ti.dtype +
                        ", expected a floating type (F32, F16, BF16); quantized checkpoints are opened through "
                        "their quantization_config");
        // The model's tensors are the originals themselves: zero-copy views of the mapped file
        // when the dtype matches on the CPU, else one converted copy (models/original_weights.h).
        originals->add(name, sname);
        source_types[name] = ti.dtype;
        if (block_tensor) {
            // Block-sequential: decoder blocks are validated here and loaded per pass later.
            at::Tensor v = ck->view(sname);
            if (!v.defined()) v = ck->load(sname);
            if (opts.check_finite && !all_finite(v))
                throw Error(ck->file_of(sname) + ": tensor '" + sname + "' contains NaN or Inf values" +
                            non_finite_summary(v));
            ck->release(v);
            used.insert(sname);
            progress(double(++done) / expected.size(), "checking " + sname);
            continue;
        }
        at::Tensor t = originals->get(name);
        if (opts.check_finite && !all_finite(t))
            throw Error(ck->file_of(sname) + ": tensor '" + sname + "' contains NaN or Inf values" +
                        non_finite_summary(t.cpu()));
        originals->release(t);  // validated: its pages need not stay resident
        loaded[name] = t;
        used.insert(sname);
        progress(double(++done) / expected.size(), "loading " + sname);
    }
    for (const auto& n : ck ? ck->tensor_names() : std::vector<std::string>())
        if (!used.count(n) && !ignorable(n))
            m->warnings.push_back(ck->file_of(n) + ": unknown extra tensor '" + n + "' (shape " +
                                  shape_str(ck->info(n).shape) + ") ignored");

    if (c.tie_word_embeddings) {
        if (loaded.count(embed_name)) {
            if (loaded.count("lm_head.weight") && !at::equal(loaded["lm_head.weight"], loaded[embed_name]))
                m->warnings.push_back(dir + ": tie_word_embeddings is true but lm_head.weight differs from " +
                                      embed_name + "; the embedding is used for both, as transformers does");
            loaded["lm_head.weight"] = loaded[embed_name];
            source_types["lm_head.weight"] = source_types[embed_name];
            originals->add("lm_head.weight", originals->stored_name(embed_name));
        } else if (loaded.count("lm_head.weight")) {
            loaded[embed_name] = loaded["lm_head.weight"];
            source_types[embed_name] = source_types["lm_head.weight"];
            originals->add(embed_name, originals->stored_name("lm_head.weight"));
        } else {
            throw Error(dir + ": neither '" + stored(embed_name) + "' nor 'lm_head.weight' is in the checkpoint");
        }
    }

    auto take = [&](const std::string& n) -> at::Tensor {
        auto it = loaded.find(n);
        return it == loaded.end() ? at::Tensor() : it->second;
    };
    auto mk_linear = [&](const std::string& n, int64_t in, int64_t out) {
        Linear l;
        l.name = n;
        l.weight = take(n + ".weight");
        l.bias = take(n + ".bias");
        l.in_features = in;
        l.out_features = out;
        l.exists = true;
        if (auto st = source_types.find(n + ".weight"); st != source_types.end()) l.source_type = st->second;
        auto pk = packed_linears.find(n);
        if (pk != packed_linears.end())
            l.packed = load_packed_linear(*ck, *packed_fmt, pk->second, in, out, opts.device);
        return l;
    };
    auto mk_norm = [&](const std::string& n, Norm::Kind kind, double eps) {
        Norm x;
        x.kind = kind;
        x.name = n;
        x.weight = take(n + ".weight");
        x.bias = take(n + ".bias");
        x.eps = eps;
        x.dim = c.hidden_size;
        return x;
    };
    const int64_t Hd = c.hidden_size, I = c.intermediate_size;
    m->embed_tokens = take(embed_name);
    if (c.arch == Arch::OPT) {
        const std::string d = "model.decoder.";
        m->embed_positions = take(d + "embed_positions.weight");
        if (c.word_embed_proj_dim != Hd) {
            m->project_in = mk_linear(d + "project_in", c.word_embed_proj_dim, Hd);
            m->project_out = mk_linear(d + "project_out", Hd, c.word_embed_proj_dim);
        }
        for (int64_t i = 0; i < c.num_layers; ++i) {
            const std::string l = d + "layers." + std::to_string(i) + ".";
            DecoderBlock b;
            b.attn_norm = mk_norm(l + "self_attn_layer_norm", Norm::Kind::Layer, c.layer_norm_eps);
            b.mlp_norm = mk_norm(l + "final_layer_norm", Norm::Kind::Layer, c.layer_norm_eps);
            b.q = mk_linear(l + "self_attn.q_proj", Hd, Hd);
            b.k = mk_linear(l + "self_attn.k_proj", Hd, Hd);
            b.v = mk_linear(l + "self_attn.v_proj", Hd, Hd);
            b.o = mk_linear(l + "self_attn.out_proj", Hd, Hd);
            b.up = mk_linear(l + "fc1", Hd, I);
            b.down = mk_linear(l + "fc2", I, Hd);
            m->blocks.push_back(std::move(b));
        }
        if (c.has_final_layer_norm)
            m->final_norm = mk_norm(d + "final_layer_norm", Norm::Kind::Layer, c.layer_norm_eps);
        m->lm_head = mk_linear("lm_head", c.word_embed_proj_dim, c.vocab_size);
    } else {
        const int64_t qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim;
        for (int64_t i = 0; i < c.num_layers; ++i) {
            const std::string l = "model.layers." + std::to_string(i) + ".";
            DecoderBlock b;
            b.attn_norm = mk_norm(l + "input_layernorm", Norm::Kind::RMS, c.rms_norm_eps);
            b.mlp_norm = mk_norm(l + "post_attention_layernorm", Norm::Kind::RMS, c.rms_norm_eps);
            b.q = mk_linear(l + "self_attn.q_proj", Hd, qd);
            b.k = mk_linear(l + "self_attn.k_proj", Hd, kvd);
            b.v = mk_linear(l + "self_attn.v_proj", Hd, kvd);
            b.o = mk_linear(l + "self_attn.o_proj", qd, Hd);
            b.gate = mk_linear(l + "mlp.gate_proj", Hd, I);
            b.up = mk_linear(l + "mlp.up_proj", Hd, I);
            b.down = mk_linear(l + "mlp.down_proj", I, Hd);
            m->blocks.push_back(std::move(b));
        }
        m->final_norm = mk_norm("model.norm", Norm::Kind::RMS, c.rms_norm_eps);
        m->lm_head = mk_linear("lm_head", Hd, c.vocab_size);
    }
    if (streamed)
        for (auto& b : m->blocks) b.loaded = false;
    m->set_observer({});
    for (const auto& [name, t] : loaded) originals->remember(name, t);
    m->originals = originals;
    m->original_layout = m->layout();
    // A weight file truncated or rewritten while it was read (io/map_guard.h).
    if (ck) ck->check_intact();
    if (gguf) gguf->file().check_intact();
    progress(1.0, "loaded");
    return m;
}

HoldMode parse_hold_mode(const std::string& s) {
    if (s == "auto") return HoldMode::Auto;
    if (s == "memory" || s == "in-memory") return HoldMode::InMemory;
    if (s == "block-sequential" || s == "block") return HoldMode::BlockSequential;
    throw Error("unknown mode '" + s + "' (auto, memory, block-sequential)");
}

}  // namespace qs
