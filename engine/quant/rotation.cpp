#include "quant/rotation.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <initializer_list>
#include <vector>

#include "core/device.h"
#include "core/error.h"

namespace qs {

namespace {

std::string model_label(const CausalLM& m) {
    std::string s = m.source_dir;
    while (!s.empty() && (s.back() == '/' || s.back() == '\\')) s.pop_back();
    const auto slash = s.find_last_of("/\\");
    if (slash != std::string::npos) s = s.substr(slash + 1);
    if (!s.empty()) return s;
    if (!m.config.model_type.empty()) return "this " + m.config.model_type + " model";
    return "this model";
}

bool has_layer_norm(CausalLM& m) {
    for (Norm* n : m.norms())
        if (n->kind == Norm::Kind::Layer) return true;
    return false;
}

void validate(CausalLM& m) {
    const std::string name = model_label(m);
    if (m.config.arch == Arch::OPT && !m.config.do_layer_norm_before)
        throw Error("rotation needs a pre-LN model; " + name +
                    " is post-LN (do_layer_norm_before=false): its LayerNorms act on the residual stream "
                    "itself, so they cannot be fused into the next Linears");
    if (m.blocks.empty()) throw Error("rotation: " + name + " has no decoder layers");
    const int64_t hidden = m.config.hidden_size;
    for (const Linear* l : m.linears()) {
        if (!l->weight.defined() && l->packed)
            throw Error("rotation needs dense weights; " + l->name + " is packed (" + l->packed->format() +
                        "): rotate before quantizing");
    }
    for (Norm* n : m.norms())
        if (n->dim != hidden)
            throw Error("rotation: norm " + n->name + " has size " + std::to_string(n->dim) +
                        ", expected hidden size " + std::to_string(hidden));
    if (!m.final_norm.present() && has_layer_norm(m))
        throw Error("rotation: " + name +
                    " has LayerNorms but no final norm, so its residual stream cannot be mean-centred exactly");
    if (!m.project_in.present() && m.embed_tokens.size(1) != hidden)
        throw Error("rotation: embedding width " + std::to_string(m.embed_tokens.size(1)) + " != hidden size " +
                    std::to_string(hidden));
}

// Computes new tensors (in the work precision, cast back to the slot's dtype) and assigns them
// on commit(). rotate_model commits once at the end, so an error or a cancel leaves the model
// untouched; a session commits block by block (peak memory: one block more than the model).
class Rewriter {
  public:
    Rewriter(CausalLM& m, const RotationPlan& plan) : m_(m), plan_(plan) {
        if (plan_.r.defined() && (plan_.r.device() != plan_.device || plan_.r.scalar_type() != plan_.work))
            r_ = plan_.r.to(plan_.work).to(plan_.device);  // cast on the CPU (R is built there in float64)
        else
            r_ = plan_.r;
    }

    // Residual-stream inputs: token (and OPT position) embeddings, or project_in.
    void inputs() {
        if (m_.project_in.present()) {
            writer(m_.project_in);
        } else {
            at::Tensor e = work(m_.embed_tokens);
            if (plan_.centre) e = e - e.mean(-1, true);
            set(&m_.embed_tokens, rows(e), m_.embed_tokens.scalar_type());
        }
        if (m_.embed_positions.defined()) {
            at::Tensor p = work(m_.embed_positions);
            if (plan_.centre) p = p - p.mean(-1, true);
            set(&m_.embed_positions, rows(p), m_.embed_positions.scalar_type());
        }
    }

    void block(DecoderBlock& b) {
        reader(b.attn_norm, {&b.q, &b.k, &b.v});
        writer(b.o);
        reader(b.mlp_norm, {&b.gate, &b.up});
        writer(b.down);
    }

    void head() {
        Linear& head_in = m_.project_out.present() ? m_.project_out : m_.lm_head;
        if (m_.final_norm.present()) {
            reader(m_.final_norm, {&head_in});
        } else {
            set(&head_in.weight, cols(work(head_in.weight)), head_in.weight.scalar_type());
        }
    }

    void commit() {
        const bool was_tied = m_.tied();
        bool head_set = false, embed_set = false;
        for (const auto& a : assigns_) {
            head_set = head_set || a.slot == &m_.lm_head.weight;
            embed_set = embed_set || a.slot == &m_.embed_tokens;
        }
        // Untie: lm_head keeps the original embedding handle when only the embedding changes.
        if (was_tied && embed_set && !head_set) assigns_.push_back({&m_.lm_head.weight, m_.lm_head.weight});
        for (auto& a : assigns_) *a.slot = a.value;
        for (auto& n : norm_assigns_) {
            n.norm->kind = Norm::Kind::RMS;
            n.norm->weight = n.weight;
            n.norm->bias = at::Tensor();
        }
        assigns_.clear();
        norm_assigns_.clear();
    }

  private:
    struct Assign {
        at::Tensor* slot;
        at::Tensor value;
    };
    struct NormAssign {
        Norm* norm;
        at::Tensor weight;
    };

    CausalLM& m_;
    const RotationPlan& plan_;
    at::Tensor r_;  // undefined: fuse only
    std::vector<Assign> assigns_;
    std::vector<NormAssign> norm_assigns_;

    at::Tensor work(const at::Tensor& t) const { return t.to(plan_.device, plan_.work); }
    // x R for row vectors x (embeddings, writer biases).
    at::Tensor rows(const at::Tensor& x) const { return r_.defined() ? at::matmul(x, r_) : x; }
    // W R for a reader's weight [out, hidden].
    at::Tensor cols(const at::Tensor& w) const { return r_.defined() ? at::matmul(w, r_) : w; }
    void set(at::Tensor* slot, const at::Tensor& value, c10::ScalarType dtype) {
        assigns_.push_back({slot, value.to(dtype).contiguous()});
    }

    // A norm feeding `linears`: W' = W diag(g) R, b' = b + W beta; the norm becomes a unit RMS norm.
    void reader(Norm& norm, std::initializer_list<Linear*> linears) {
        at::Tensor g = norm.weight.defined() ? work(norm.weight) : at::Tensor();
        at::Tensor beta;
        if (norm.bias.defined() && norm.kind == Norm::Kind::Layer) {
            beta = work(norm.bias);
            if (beta.abs().max().item<double>() == 0.0) beta = at::Tensor();  // nothing to fold
        }
        for (Linear* l : linears) {
            if (!l->present()) continue;
            const auto dt = l->weight.scalar_type();
            at::Tensor w = work(l->weight);
            if (beta.defined()) {
                at::Tensor b0 = l->bias.defined() ? work(l->bias) : at::zeros({w.size(0)}, w.options());
                set(&l->bias, b0 + at::matmul(w, beta), l->bias.defined() ? l->bias.scalar_type() : dt);
            }
            if (g.defined()) w = w * g.unsqueeze(0);
            set(&l->weight, cols(w), dt);
        }
        const auto ndt = norm.weight.defined() ? norm.weight.scalar_type() : plan_.dtype;
        norm_assigns_.push_back({&norm, at::ones({norm.dim}, at::TensorOptions().dtype(ndt).device(plan_.device))});
    }

    // A Linear writing into the residual stream: W' = R^T (W - mean_rows W), b' = (b - mean b) R.
    void writer(Linear& l) {
        if (!l.present()) return;
        at::Tensor w = work(l.weight);
        if (plan_.centre) w = w - w.mean(0, true);
        set(&l.weight, r_.defined() ? at::matmul(r_.t(), w) : w, l.weight.scalar_type());
        if (l.bias.defined()) {
            at::Tensor b = work(l.bias);
            if (plan_.centre) b = b - b.mean();
            set(&l.bias, rows(b), l.bias.scalar_type());
        }
    }
};

void rewrite_all(CausalLM& model, const RotationPlan& plan, const Progress& progress) {
    Rewriter rw(model, plan);
    progress(0.0, "fusing norms");
    rw.inputs();
    const size_t nb = model.blocks.size();
    for (size_t i = 0; i < nb; ++i) {
        progress.check();
        rw.block(model.blocks[i]);
        progress(static_cast<double>(i + 1) / static_cast<double>(nb + 1),
                 "block " + std::to_string(i + 1) + "/" + std::to_string(nb));
    }
    progress.check();
    rw.head();
    progress.check();
    rw.commit();
    progress(1.0, "done");
}

}  // namespace

RotationPlan plan_rotation(CausalLM& model, RotationKind kind, uint64_t seed, bool rotate, RotationInfo* info) {
    c10::InferenceMode guard;
    validate(model);
    RotationPlan plan;
    plan.device = model.device();
    plan.dtype = model.dtype();
    plan.work = accumulation_dtype(plan.device);  // float64; float32 on MPS
    // LayerNorm -> RMS is exact only on a mean-zero residual stream. A model whose norms are
    // all RMS already (LLaMA, or an OPT that was fused before) must not be centred again.
    plan.centre = has_layer_norm(model);
    if (!rotate) return plan;
    const int64_t n = model.config.hidden_size;
    RotationInfo local;
    RotationInfo& in = info ? *info : local;
    in.size = n;
    const std::string s = "seed " + std::to_string(seed);
    const bool hadamard = kind == RotationKind::Hadamard || kind == RotationKind::PlainHadamard;
    if (hadamard && hadamard_available(n)) {
        in.hadamard = true;
        in.construction = hadamard_construction(n);
        if (kind == RotationKind::Hadamard) {
            plan.r = randomized_hadamard(n, seed);
            in.kind_used = "randomized Hadamard " + hadamard_shape(n) + " (" + s + ")";
        } else {
            plan.r = normalized_hadamard(n);
            in.kind_used = "plain Hadamard " + hadamard_shape(n);
        }
    } else {
        plan.r = random_orthogonal(n, seed);
        in.kind_used =
            hadamard ? "random orthogonal (" + s + "; no Hadamard construction for size " + std::to_string(n) + ")"
                     : "random orthogonal (" + s + ")";
    }
    plan.r = plan.r.to(plan.work).to(plan.device);  // cast on the CPU (R is built there in float64)
    if (auto note = precision_note(plan.device, "norm fusion and rotation"); !note.empty()) in.kind_used += "; " + note;
    return plan;
}

void rotate_inputs(CausalLM& model, const RotationPlan& plan) {
    c10::InferenceMode guard;
    Rewriter rw(model, plan);
    rw.inputs();
    rw.commit();
}

void rotate_block(CausalLM& model, DecoderBlock& block, const RotationPlan& plan) {
    c10::InferenceMode guard;
    Rewriter rw(model, plan);
    rw.block(block);
    rw.commit();
}

void rotate_head(CausalLM& model, const RotationPlan& plan) {
    c10::InferenceMode guard;
    Rewriter rw(model, plan);
    rw.head();
    rw.commit();
}

void fuse_norms(CausalLM& model) {
    c10::InferenceMode guard;
    RotationPlan plan = plan_rotation(model, RotationKind::Random, 0, /*rotate=*/false);
    rewrite_all(model, plan, Progress{});
}

RotationInfo rotate_model(CausalLM& model, RotationKind kind, uint64_t seed, const Progress& progress) {
    c10::InferenceMode guard;
    progress(0.0, "building the rotation matrix");
    RotationInfo info;
    RotationPlan plan = plan_rotation(model, kind, seed, /*rotate=*/true, &info);
    progress.check();
    rewrite_all(model, plan, progress.sub(0.1, 1.0));
    progress(1.0, "rotated: " + info.kind_used);
    return info;
}

at::Tensor hidden_state_mean_abs(const CausalLM& model, const at::Tensor& ids, int64_t layer, int64_t skip) {
    c10::InferenceMode guard;
    at::Tensor x = ids.dim() == 1 ? ids.unsqueeze(0) : ids;
    if (x.dim() != 2 || x.size(0) != 1) throw Error("hidden_state_mean_abs expects token ids of shape [1, T] or [T]");
    const int64_t nl = static_cast<int64_t>(model.blocks.size());
    if (layer < 0 || layer > nl)
        throw Error("hidden state index " + std::to_string(layer) + " out of range [0, " + std::to_string(nl) + "]");
    const int64_t t = x.size(1);
    if (skip < 0 || skip >= t)
        throw Error("skip " + std::to_string(skip) + " leaves no tokens of the " + std::to_string(t));
    if (model.config.arch == Arch::OPT && t > model.config.max_position_embeddings)
        throw Error("sequence of " + std::to_string(t) + " tokens exceeds the model's " +
                    std::to_string(model.config.max_position_embeddings) + " learned positions");
    at::Tensor h = model.embed(x);
    for (int64_t i = 0; i < layer; ++i) h = model.block_forward(static_cast<size_t>(i), h);
    return h.select(0, 0).slice(0, skip).to(at::kFloat).abs().mean(0).to(at::kCPU).contiguous();
}

double outlier_ratio(const at::Tensor& per_channel) {
    c10::InferenceMode guard;
    at::Tensor v = per_channel.to(at::kDouble);
    const double mean = v.mean().item<double>();
    return mean > 0 ? v.max().item<double>() / mean : 0.0;
}

}  // namespace qs
