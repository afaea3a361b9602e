// A loaded causal language model (OPT or LLaMA family) as an explicit stack of modules.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/progress.h"
#include "models/model_config.h"
#include "models/modules.h"

namespace qs {

struct LayerKV {
    at::Tensor k, v;  // [B, Hkv, S, D]
};
struct KVCache {
    std::vector<LayerKV> layers;
    int64_t length() const { return layers.empty() || !layers[0].k.defined() ? 0 : layers[0].k.size(2); }
};

struct NamedParam {
    std::string name;  // HF tensor name
    at::Tensor* tensor;
};

class OriginalWeights;

class CausalLM {
  public:
    ModelConfig config;
    std::string source_dir;             // folder it was loaded from
    std::vector<std::string> warnings;  // e.g. unknown extra tensors in the checkpoint
    std::string tensor_prefix;          // "model." (or "" for OPT checkpoints saved without it)

    at::Tensor embed_tokens;         // [vocab, word_embed_proj_dim or hidden]
    at::Tensor embed_positions;      // OPT only: [max_pos + 2, hidden]
    Linear project_in, project_out;  // OPT with word_embed_proj_dim != hidden
    std::vector<DecoderBlock> blocks;
    Norm final_norm;  // OPT final_layer_norm (pre-LN only), LLaMA norm
    Linear lm_head;   // weight shares storage with embed_tokens while tied

    // Where the original weights come from (set by the loader; null for models built in memory).
    std::shared_ptr<const OriginalWeights> originals;
    // What reset_to_originals() restores besides tensors: norm kinds (rotation makes LayerNorms
    // RMS norms) and whether lm_head is tied to the embedding.
    struct Layout {
        std::vector<Norm::Kind> norm_kinds;  // in norms() order
        bool tied = false;
    };
    Layout layout();
    Layout original_layout;
    // Every tensor slot the model has or may get (weights and biases of every Linear and Norm,
    // embeddings), by HF name; undefined slots included. lm_head.weight is listed even when tied.
    void for_each_slot(const std::function<void(const std::string&, at::Tensor&)>& fn);
    // Puts the original weights back in every slot a method changed and clears activation
    // hooks. Slots still holding their original tensor are left alone (nothing is copied); a
    // changed slot is released before its original is fetched, so memory never holds both.
    // Needs `originals`.
    void reset_to_originals();

    // Full forward. ids: [B, T] int64 on any device. Returns logits [B, T, vocab] in the
    // model dtype. With a cache, positions continue after the cached length and the cache grows.
    at::Tensor forward(const at::Tensor& ids, KVCache* cache = nullptr) const;

    // The same forward in three stages, for block-wise algorithms (calibration, AWQ).
    // Checks the ids first (check_token_ids).
    at::Tensor embed(const at::Tensor& ids, int64_t past = 0) const;
    // Throws qs::Error naming config.json when an id lies outside the embedding's rows (a
    // tokenizer of another model; at::embedding would fail with "index out of range in self").
    void check_token_ids(const at::Tensor& ids) const;
    at::Tensor block_forward(size_t i, const at::Tensor& hidden, int64_t past = 0, LayerKV* kv = nullptr) const;
    // The same for a block held outside blocks[] (of the same architecture).
    at::Tensor forward_block(const DecoderBlock& b, const at::Tensor& hidden, int64_t past = 0,
                             LayerKV* kv = nullptr) const;
    at::Tensor head(const at::Tensor& hidden) const;        // final norm (+ project_out) + lm_head
    at::Tensor head_input(const at::Tensor& hidden) const;  // what lm_head is applied to

    // Sub-layers of block b, without norm or residual (AWQ inspects them): the attention
    // from the attention-norm output to the o_proj output, and the MLP from the MLP-norm
    // output to the down_proj output. attention_sublayer runs a full causal window (past 0).
    at::Tensor attention_sublayer(const DecoderBlock& b, const at::Tensor& x_normed, int64_t past = 0,
                                  LayerKV* kv = nullptr) const;
    at::Tensor mlp_sublayer(const DecoderBlock& b, const at::Tensor& x_normed) const;

    // Every Linear (decoder layers in order, then lm_head), addressable by HF name.
    std::vector<Linear*> linears();
    std::vector<const Linear*> linears() const;
    std::vector<Linear*> decoder_linears();        // excluding lm_head / project_in / project_out
    Linear* find_linear(const std::string& name);  // nullptr if none
    std::vector<Norm*> norms();
    // All parameter tensors with their HF names; when tied, lm_head.weight is not listed.
    std::vector<NamedParam> parameters();
    bool tied() const;
    void untie();  // give lm_head its own copy of the embedding matrix

    int64_t parameter_count() const;  // tied weights counted once
    c10::Device device() const;
    c10::ScalarType dtype() const;
    void to(c10::Device device, c10::ScalarType dtype);

    // Everything a method may change (tensors, norm kinds, biases, fake-quant hooks), as
    // cheap handle copies: methods assign new tensors, so a saved state stays valid and
    // restore_state() undoes any composition of methods exactly.
    struct State {
        at::Tensor embed_tokens, embed_positions;
        Linear project_in, project_out, lm_head;
        std::vector<DecoderBlock> blocks;
        Norm final_norm;
    };
    State save_state() const;
    void restore_state(const State& s);

    // Block-sequential sessions: blocks[i].loaded is false between passes. set_block puts a
    // materialized block in place (its Linears report to this model's observer); block_loader,
    // when set, materializes an unloaded block for the duration of one block_forward call.
    void set_block(size_t i, DecoderBlock b);
    std::function<DecoderBlock(size_t)> block_loader;
    bool streamed() const;  // some block is not loaded

    void set_observer(LinearObserver obs);  // empty function clears it
    void clear_observer() { set_observer({}); }

  private:
    std::shared_ptr<LinearObserver> observer_ = std::make_shared<LinearObserver>();
    mutable at::Tensor rope_inv_freq_;  // LLaMA: [head_dim/2] float32, on the model device
    void ensure_rope() const;
    at::Tensor opt_block(const DecoderBlock& b, const at::Tensor& h, int64_t past, LayerKV* kv) const;
    at::Tensor llama_block(const DecoderBlock& b, const at::Tensor& h, int64_t past, LayerKV* kv) const;
    friend class ModelLoader;
};

// Holds decoder block i in memory for a scope: a block that is not loaded is materialized
// through model.block_loader and dropped again at the end; a resident block is left alone.
class ScopedBlock {
  public:
    ScopedBlock(CausalLM& model, size_t i);
    ~ScopedBlock();
    ScopedBlock(const ScopedBlock&) = delete;
    ScopedBlock& operator=(const ScopedBlock&) = delete;

  private:
    CausalLM& m_;
    size_t i_;
    bool loaded_here_ = false;
};

// How a model's decoder blocks are held: all in memory, or block-sequentially (loaded one at a
// time from the mapped checkpoint for each pass over them: models larger than memory). Auto picks
// block-sequential when the weights in the compute dtype exceed 80 % of the memory available on
// the device at load time.
enum class HoldMode { Auto, InMemory, BlockSequential };
HoldMode parse_hold_mode(const std::string& s);  // auto | memory | block-sequential

struct LoadOptions {
    c10::Device device = c10::Device(c10::kCPU);
    c10::ScalarType dtype = c10::ScalarType::Float;
    bool check_finite = true;  // reject NaN/Inf weights
    HoldMode mode = HoldMode::Auto;
};

// Loads a local Hugging Face folder. Throws qs::Error naming the file, the tensor and
// what was expected versus found.
std::unique_ptr<CausalLM> load_causal_lm(const std::string& dir, const LoadOptions& opts = {},
                                         const Progress& progress = {});

// Builds the expected tensor list for a config: name -> shape (without any prefix handling).
std::vector<std::pair<std::string, std::vector<int64_t>>> expected_tensors(const ModelConfig& c,
                                                                           const std::string& prefix);

}  // namespace qs
