#include "models/causal_lm.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <set>

#include "core/error.h"
#include "models/attention.h"
#include "models/original_weights.h"
#include "models/rope.h"

namespace qs {

void CausalLM::check_token_ids(const at::Tensor& ids) const {
    if (ids.numel() == 0) return;
    const auto mm = at::aminmax(ids.to(at::kLong));
    const int64_t lo = std::get<0>(mm).item<int64_t>(), hi = std::get<1>(mm).item<int64_t>();
    const int64_t rows = embed_tokens.defined() ? embed_tokens.size(0) : config.vocab_size;
    if (lo < 0 || hi >= rows)
        throw Error("token id " + std::to_string(lo < 0 ? lo : hi) + " is outside the model's vocabulary [0, " +
                    std::to_string(rows) + ") (vocab_size in " + source_dir +
                    "/config.json): the tokenizer does not belong to this model");
}

at::Tensor CausalLM::embed(const at::Tensor& ids, int64_t past) const {
    c10::InferenceMode guard;
    if (past + ids.size(1) > config.max_position_embeddings && config.arch == Arch::OPT)
        throw Error("sequence of " + std::to_string(past + ids.size(1)) + " tokens exceeds the model's " +
                    std::to_string(config.max_position_embeddings) + " learned positions");
    check_token_ids(ids);
    at::Tensor x = at::embedding(embed_tokens, ids.to(embed_tokens.device(), at::kLong));
    if (config.arch == Arch::OPT) {
        if (project_in.present()) x = project_in.forward(x);
        const int64_t T = ids.size(1);
        at::Tensor pos = at::arange(past + 2, past + 2 + T, at::TensorOptions().dtype(at::kLong).device(x.device()));
        x = x + at::embedding(embed_positions, pos).unsqueeze(0);
    }
    return x;
}

at::Tensor CausalLM::block_forward(size_t i, const at::Tensor& hidden, int64_t past, LayerKV* kv) const {
    c10::InferenceMode guard;
    if (i >= blocks.size()) throw Error("block index " + std::to_string(i) + " out of range");
    if (!blocks[i].loaded) {
        if (!block_loader) throw Error("internal error: decoder block " + std::to_string(i) + " is not in memory");
        DecoderBlock b = block_loader(i);
        for (Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down}) l->observer = observer_.get();
        return forward_block(b, hidden, past, kv);
    }
    return forward_block(blocks[i], hidden, past, kv);
}

at::Tensor CausalLM::forward_block(const DecoderBlock& b, const at::Tensor& hidden, int64_t past, LayerKV* kv) const {
    c10::InferenceMode guard;
    return config.arch == Arch::OPT ? opt_block(b, hidden, past, kv) : llama_block(b, hidden, past, kv);
}

void CausalLM::set_block(size_t i, DecoderBlock b) {
    for (Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down}) l->observer = observer_.get();
    b.loaded = true;
    blocks.at(i) = std::move(b);
}

ScopedBlock::ScopedBlock(CausalLM& m, size_t i) : m_(m), i_(i) {
    if (m_.blocks.at(i).loaded) return;
    if (!m_.block_loader) throw Error("internal error: decoder block " + std::to_string(i) + " is not in memory");
    m_.set_block(i, m_.block_loader(i));
    loaded_here_ = true;
}

ScopedBlock::~ScopedBlock() {
    if (!loaded_here_) return;
    m_.blocks[i_].unload();
    // Views of the mapped checkpoint leave the process's RSS with the block (the page cache
    // keeps them for the next pass as far as memory allows).
    if (m_.originals) m_.originals->release_all();
}

bool CausalLM::streamed() const {
    for (const auto& b : blocks)
        if (!b.loaded) return true;
    return false;
}

at::Tensor CausalLM::attention_sublayer(const DecoderBlock& b, const at::Tensor& h, int64_t past, LayerKV* kv) const {
    c10::InferenceMode guard;
    const auto& c = config;
    const int64_t B = h.size(0), T = h.size(1), H = c.num_heads, Hkv = c.num_kv_heads, D = c.head_dim;
    if (c.arch == Arch::OPT) {
        const double scaling = 1.0 / std::sqrt(static_cast<double>(D));
        at::Tensor q = (b.q.forward(h) * scaling).view({B, T, H, D}).transpose(1, 2);
        at::Tensor k = b.k.forward(h).view({B, T, H, D}).transpose(1, 2);
        at::Tensor v = b.v.forward(h).view({B, T, H, D}).transpose(1, 2);
        if (kv) append_kv(kv->k, kv->v, k, v);
        at::Tensor a = causal_attention(q, k, v, 1.0);
        return b.o.forward(a.transpose(1, 2).reshape({B, T, H * D}));
    }
    ensure_rope();
    at::Tensor q = b.q.forward(h).view({B, T, H, D}).transpose(1, 2);
    at::Tensor k = b.k.forward(h).view({B, T, Hkv, D}).transpose(1, 2);
    at::Tensor v = b.v.forward(h).view({B, T, Hkv, D}).transpose(1, 2);
    auto cs = rope_cos_sin(rope_inv_freq_, past, T, q.scalar_type());
    q = apply_rope(q, cs.first, cs.second);
    k = apply_rope(k, cs.first, cs.second);
    if (kv) append_kv(kv->k, kv->v, k, v);
    at::Tensor a = causal_attention(q, k, v, 1.0 / std::sqrt(static_cast<double>(D)), c.sliding_window);
    return b.o.forward(a.transpose(1, 2).reshape({B, T, H * D}));
}

at::Tensor CausalLM::mlp_sublayer(const DecoderBlock& b, const at::Tensor& h) const {
    c10::InferenceMode guard;
    if (config.arch == Arch::OPT) {
        at::Tensor f = b.up.forward(h);
        f = config.activation == "relu" ? at::relu(f) : at::gelu(f);
        return b.down.forward(f);
    }
    return b.down.forward(at::silu(b.gate.forward(h)) * b.up.forward(h));
}

at::Tensor CausalLM::opt_block(const DecoderBlock& b, const at::Tensor& hin, int64_t past, LayerKV* kv) const {
    const bool pre = config.do_layer_norm_before;
    at::Tensor h = hin + attention_sublayer(b, pre ? b.attn_norm.forward(hin) : hin, past, kv);
    if (!pre) h = b.attn_norm.forward(h);
    h = h + mlp_sublayer(b, pre ? b.mlp_norm.forward(h) : h);
    if (!pre) h = b.mlp_norm.forward(h);
    return h;
}

at::Tensor CausalLM::llama_block(const DecoderBlock& b, const at::Tensor& hin, int64_t past, LayerKV* kv) const {
    at::Tensor h = hin + attention_sublayer(b, b.attn_norm.forward(hin), past, kv);
    return h + mlp_sublayer(b, b.mlp_norm.forward(h));
}

void CausalLM::ensure_rope() const {
    if (!rope_inv_freq_.defined() || rope_inv_freq_.device() != embed_tokens.device())
        rope_inv_freq_ = rope_inv_freq(config).to(embed_tokens.device());
}

at::Tensor CausalLM::head_input(const at::Tensor& hidden) const {
    c10::InferenceMode guard;
    at::Tensor h = hidden;
    if (final_norm.present()) h = final_norm.forward(h);
    if (project_out.present()) h = project_out.forward(h);
    return h;
}

at::Tensor CausalLM::head(const at::Tensor& hidden) const { return lm_head.forward(head_input(hidden)); }

at::Tensor CausalLM::forward(const at::Tensor& ids, KVCache* cache) const {
    c10::InferenceMode guard;
    if (ids.dim() != 2) throw Error("forward expects token ids of shape [batch, seq]");
    const int64_t past = cache ? cache->length() : 0;
    if (cache && cache->layers.size() != blocks.size()) cache->layers.resize(blocks.size());
    at::Tensor h = embed(ids, past);
    for (size_t i = 0; i < blocks.size(); ++i) h = block_forward(i, h, past, cache ? &cache->layers[i] : nullptr);
    return head(h);
}

std::vector<Linear*> CausalLM::decoder_linears() {
    std::vector<Linear*> out;
    for (auto& b : blocks)
        for (Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down})
            if (l->present()) out.push_back(l);
    return out;
}

std::vector<Linear*> CausalLM::linears() {
    std::vector<Linear*> out;
    if (project_in.present()) out.push_back(&project_in);
    for (Linear* l : decoder_linears()) out.push_back(l);
    if (project_out.present()) out.push_back(&project_out);
    out.push_back(&lm_head);
    return out;
}

std::vector<const Linear*> CausalLM::linears() const {
    std::vector<const Linear*> out;
    for (Linear* l : const_cast<CausalLM*>(this)->linears()) out.push_back(l);
    return out;
}

Linear* CausalLM::find_linear(const std::string& name) {
    for (Linear* l : linears())
        if (l->name == name) return l;
    return nullptr;
}

std::vector<Norm*> CausalLM::norms() {
    std::vector<Norm*> out;
    for (auto& b : blocks) {
        out.push_back(&b.attn_norm);
        out.push_back(&b.mlp_norm);
    }
    if (final_norm.present()) out.push_back(&final_norm);
    return out;
}

bool CausalLM::tied() const { return lm_head.weight.defined() && lm_head.weight.is_same(embed_tokens); }

void CausalLM::untie() {
    c10::InferenceMode guard;
    if (tied()) lm_head.weight = embed_tokens.clone();
}

std::vector<NamedParam> CausalLM::parameters() {
    std::vector<NamedParam> out;
    const std::string base = config.arch == Arch::OPT ? "model.decoder." : "model.";
    out.push_back({base + "embed_tokens.weight", &embed_tokens});
    if (embed_positions.defined()) out.push_back({base + "embed_positions.weight", &embed_positions});
    auto add_linear = [&](Linear& l) {
        if (!l.present() || !l.weight.defined()) return;
        if (&l == &lm_head && tied()) return;
        out.push_back({l.name + ".weight", &l.weight});
        if (l.bias.defined()) out.push_back({l.name + ".bias", &l.bias});
    };
    auto add_norm = [&](Norm& n) {
        if (!n.present()) return;
        if (n.weight.defined()) out.push_back({n.name + ".weight", &n.weight});
        if (n.bias.defined()) out.push_back({n.name + ".bias", &n.bias});
    };
    add_linear(project_in);
    for (auto& b : blocks) {
        add_linear(b.q);
        add_linear(b.k);
        add_linear(b.v);
        add_linear(b.o);
        add_norm(b.attn_norm);
        add_linear(b.gate);
        add_linear(b.up);
        add_linear(b.down);
        add_norm(b.mlp_norm);
    }
    add_norm(final_norm);
    add_linear(project_out);
    add_linear(lm_head);
    return out;
}

int64_t CausalLM::parameter_count() const {
    int64_t n = 0;
    if (streamed() && originals) return originals->parameter_count();
    for (const auto& p : const_cast<CausalLM*>(this)->parameters()) n += p.tensor->numel();
    for (const Linear* l : linears())
        if (!l->weight.defined() && l->packed)
            n += l->in_features * l->out_features + (l->bias.defined() ? l->bias.numel() : 0);
    return n;
}

c10::Device CausalLM::device() const { return embed_tokens.device(); }
c10::ScalarType CausalLM::dtype() const { return embed_tokens.scalar_type(); }

void CausalLM::to(c10::Device device, c10::ScalarType dtype) {
    c10::InferenceMode guard;
    const bool was_tied = tied();
    for (auto& p : parameters()) *p.tensor = p.tensor->to(device, dtype);
    if (was_tied) lm_head.weight = embed_tokens;
    rope_inv_freq_ = at::Tensor();
}

CausalLM::State CausalLM::save_state() const {
    return State{embed_tokens, embed_positions, project_in, project_out, lm_head, blocks, final_norm};
}

void CausalLM::restore_state(const State& s) {
    embed_tokens = s.embed_tokens;
    embed_positions = s.embed_positions;
    project_in = s.project_in;
    project_out = s.project_out;
    lm_head = s.lm_head;
    blocks = s.blocks;
    final_norm = s.final_norm;
    set_observer(*observer_);
}

CausalLM::Layout CausalLM::layout() {
    Layout l;
    for (Norm* n : norms()) l.norm_kinds.push_back(n->kind);
    l.tied = tied();
    return l;
}

void CausalLM::for_each_slot(const std::function<void(const std::string&, at::Tensor&)>& fn) {
    const std::string base = config.arch == Arch::OPT ? "model.decoder." : "model.";
    fn(base + "embed_tokens.weight", embed_tokens);
    if (config.arch == Arch::OPT) fn(base + "embed_positions.weight", embed_positions);
    auto lin = [&](Linear& l) {
        if (!l.present() || !l.weight.defined()) return;  // absent, or packed (methods never touch those)
        fn(l.name + ".weight", l.weight);
        fn(l.name + ".bias", l.bias);
    };
    auto norm = [&](Norm& n) {
        if (!n.present()) return;
        fn(n.name + ".weight", n.weight);
        fn(n.name + ".bias", n.bias);
    };
    lin(project_in);
    for (auto& b : blocks) {
        if (!b.loaded) continue;
        norm(b.attn_norm);
        for (Linear* l : {&b.q, &b.k, &b.v, &b.o}) lin(*l);
        norm(b.mlp_norm);
        for (Linear* l : {&b.gate, &b.up, &b.down}) lin(*l);
    }
    norm(final_norm);
    lin(project_out);
    lin(lm_head);
}

void CausalLM::reset_to_originals() {
    c10::InferenceMode guard;
    if (!originals) throw Error("internal error: this model has no original weights to reset to");
    for_each_slot([&](const std::string& name, at::Tensor& slot) {
        if (original_layout.tied && &slot == &lm_head.weight) {
            slot = at::Tensor();  // tied again below
            return;
        }
        if (!originals->has(name)) {
            slot = at::Tensor();
            return;
        }
        if (originals->is_original(name, slot)) return;
        slot = at::Tensor();  // free the changed tensor first
        slot = originals->get(name);
        originals->remember(name, slot);
    });
    std::vector<Norm*> ns = norms();
    for (size_t i = 0; i < ns.size() && i < original_layout.norm_kinds.size(); ++i)
        ns[i]->kind = original_layout.norm_kinds[i];
    if (original_layout.tied) lm_head.weight = embed_tokens;
    for (Linear* l : linears()) {
        l->input_fn = nullptr;
        l->output_fn = nullptr;
    }
    set_observer(*observer_);
}

void CausalLM::set_observer(LinearObserver obs) {
    *observer_ = std::move(obs);
    for (Linear* l : linears()) l->observer = observer_.get();
}

}  // namespace qs
