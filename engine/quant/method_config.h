// The configuration of a quantization experiment: which methods, in which order, with which
// parameters. Shared by the CLI (ppl, quantize, sweep), the GUI and workspaces.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "quant/act_quant.h"
#include "quant/quant_spec.h"
#include "quant/rotation_kind.h"

namespace qs {

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
};

// Splits "a,b" and checks the method names. Throws qs::Error naming the unknown method.
std::vector<std::string> parse_methods(const std::vector<std::string>& values);

}  // namespace qs
