// The configuration of a quantization experiment: which methods, in which order, with which
// parameters. Shared by the CLI (ppl, quantize, sweep), the GUI and workspaces.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "quant/act_quant.h"
#include "quant/quant_spec.h"
#include "quant/rotation_kind.h"

namespace qs {

// Mixed precision: one Linear's departure from the configuration's weight spec (issue #16
// item 5). Symmetry and fp16 scales stay the configuration's.
struct LinearOverride {
    int bits = 0;            // 0 = the configuration's
    int64_t group_size = 0;  // 0 = the configuration's, -1 = per-channel
    bool skip = false;       // not quantized: the Linear keeps its transformed (pre-quant) weight
    bool operator==(const LinearOverride& o) const {
        return bits == o.bits && group_size == o.group_size && skip == o.skip;
    }
    bool operator!=(const LinearOverride& o) const { return !(*this == o); }
    bool empty() const { return bits == 0 && group_size == 0 && !skip; }
    nlohmann::json to_json() const;  // {"bits", "group_size", "skip"}
};

// The CLI's short form: "skip", "w8", "w8:g64", "w4:channel", "g64", "channel". Throws
// qs::Error naming the text and the accepted forms.
LinearOverride parse_linear_override(const std::string& text);
std::string linear_override_text(const LinearOverride& o);  // the inverse ("w8:g64", "skip")
// An override from its JSON object {"bits", "group_size", "skip"} (every key optional);
// `where` names it in errors ("overrides['model.layers.0.mlp.down_proj']").
LinearOverride linear_override_from_json(const nlohmann::json& j, const std::string& where);
// The "overrides" object of a configuration (name -> {"bits", "group_size", "skip"}), or a
// whole configuration / file that holds one under the key "overrides". Throws qs::Error.
std::map<std::string, LinearOverride> overrides_from_json(const nlohmann::json& j, const std::string& where);

struct MethodConfig {
    // Any of: rotate, smoothquant, awq, awq-keep, awq-scale, gptq, rtn. They always run in the
    // stated order: rotate -> smooth -> AWQ scale search -> weight quantization (GPTQ, or RTN)
    // -> activation quantization, whatever order they were given in. gptq replaces RTN as the
    // weight quantizer (also SmoothQuant's W8); it is an alternative to the awq methods.
    std::vector<std::string> methods;

    QuantSpec weight;              // --w-bits, --group-size, --symmetric, --w-quant
    bool include_lm_head = false;  // also quantize lm_head

    double awq_salient = 0.01;  // fraction of salient input channels (awq-keep, awq-scale)
    double awq_factor = 2.0;    // awq-scale factor
    bool awq_clip = false;      // awq: auto-clip
    bool duo_scaling = false;   // awq: AutoAWQ duo scaling
    bool awq_direct_loss =
        false;  // awq: evaluate Linear-only groups by re-running the Linear (slow; see AwqOptions::gram_loss)

    // gptq (quant/gptq.h): act-order, static groups, true-sequential, dampening, block size
    bool gptq_act_order = false;
    bool gptq_static_groups = false;
    bool gptq_true_sequential = true;
    double gptq_damp = 0.01;
    int64_t gptq_block_size = 128;

    double sq_alpha = 0.5;
    ActQuant act{0, true, false};  // activation fake quant: off unless asked (smoothquant sets 8)

    RotationKind rotation = RotationKind::Random;
    uint64_t seed = 0;

    std::string calib_path;  // empty = bundled default
    int64_t calib_samples = 128;
    int64_t calib_seqlen = 512;
    uint64_t calib_seed = 42;

    // Mixed precision: per-Linear overrides of bits / group size / skip, keyed by the Hugging
    // Face Linear name ("model.layers.3.mlp.down_proj", "model.decoder.layers.0.fc1",
    // "lm_head"). Every weight quantizer honours them (RTN, GPTQ, AWQ's search and clip,
    // awq-keep / awq-scale, SmoothQuant's W8); a skipped Linear keeps its transformed weight
    // and full-precision inputs. JSON key "overrides", omitted when empty.
    std::map<std::string, LinearOverride> overrides;

    // The weight spec of one Linear: `weight` with its override applied.
    QuantSpec spec_for(const std::string& linear) const;
    // Whether the Linear is skipped (left unquantized) by an override.
    bool skips(const std::string& linear) const;

    bool has(const std::string& m) const;
    bool needs_calibration() const;
    bool quantizes_weights() const;
    std::string describe() const;  // one line, e.g. "rotate(hadamard) + rtn w4 g128 asym"
    nlohmann::json to_json() const;
    // Throws qs::Error on bad types and on any value validate() refuses.
    static MethodConfig from_json(const nlohmann::json& j);

    // The range rules, shared by the CLI options, sweep grids, the GUI and workspaces. Throws
    // qs::Error naming the key and its CLI option, e.g. "sq_alpha (--sq-alpha) must be a number
    // in [0, 1], found nan": w_bits 2..8, group_size >= 1 (per-group), awq_salient in [0, 1],
    // awq_factor finite and > 0, sq_alpha in [0, 1], a_bits 0 or 2..16, calib_samples
    // 1..1,000,000, calib_seqlen 2..1,048,576; NaN and infinities never pass.
    void validate() const;
    // validate(), and what depends on the model: a calibration block must fit the model's
    // context (calib_seqlen <= max_position_embeddings; a longer one would run attention over
    // 100,000 positions for minutes, or forever).
    void validate_for_model(int64_t max_position_embeddings) const;
    // The override names against the model: every key must be one of `quantized` (the Linears
    // the configuration quantizes: decoder Linears, lm_head with include_lm_head). Throws
    // qs::Error naming the unknown Linear and the closest names, or saying that lm_head needs
    // include_lm_head. No-op without overrides.
    void validate_overrides(const std::vector<std::string>& quantized) const;
};

// Splits "a,b" and checks the method names. Throws qs::Error naming the unknown method.
std::vector<std::string> parse_methods(const std::vector<std::string>& values);

}  // namespace qs
