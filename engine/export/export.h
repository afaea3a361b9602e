// Checkpoint export of a quantization session's current configuration (docs/formats.md).
//
//   fake         the fake-quantized model (dequantized weights) as a plain Hugging Face
//                checkpoint in the source checkpoint's dtype; transformers loads it as is.
//   awq-gemm     AutoAWQ GEMM int4 (qweight/qzeros/scales, zero point, group 32/64/128),
//                config.json "quantization_config" {"quant_method":"awq","version":"gemm",...};
//                every other tensor fp16, as AutoAWQ stores it.
//   int8         QuantScope W8A16: int8 weights with float32 per-output-channel absmax scales.
//   transformed  the transformed full-precision model (rotated, smoothed and/or AWQ-scaled,
//                before weight quantization), loadable by transformers.
//
// The codes written for awq-gemm and int8 are exactly those of the session's fake-quant
// state: they are re-derived from the pre-quantization state (QuantSession::prequant_state,
// i.e. the transformed weights) with the same quantize() call that produced the fake-quant
// weights, and checked: dequantize(codes) == fake-quant weight, bit for bit, for every Linear.
//
// Every export is atomic (written into "<out>.tmp-<pid>", fsync'ed, renamed), refuses to
// write into or over the source model, checks the free space first, reports progress and
// can be cancelled through Progress; an error or a cancel leaves nothing behind.
// The session's model is never modified (the export may re-apply the configuration once
// with keep_prequant on, which leaves the same fake-quant state).
#pragma once
#include "core/progress.h"
#include "export/export_types.h"
#include "models/causal_lm.h"

namespace qs {

class QuantSession;

// Throws qs::Error with the reason (naming the layer where one is at fault) when the
// session's applied configuration cannot be exported in `format`; writes nothing.
// Checks: activation quantization (not storable), rotated OPT (LayerNorm became RMS norm),
// tensors the architecture cannot hold (e.g. a bias transformers has no slot for), and for
// awq-gemm: RTN weights, 4 bits, asymmetric, per-group 32/64/128, no lm_head, every quantized
// Linear with in % group == 0 and out % 8 == 0; for int8: RTN 8-bit symmetric per-channel.
void check_exportable(const QuantSession& session, ExportFormat format, bool awq_reference = false);
// Every reason check_exportable would give (empty: exportable), each with its CLI and GUI fix.
std::vector<ExportProblem> export_problems(const QuantSession& session, ExportFormat format,
                                           bool awq_reference = false);

// Exports the session's current configuration (the last apply(); the original weights when
// none). See the file comment.
ExportReport export_checkpoint(QuantSession& session, const ExportOptions& opts, const Progress& progress = {});

// The model as an awq-gemm export of the session represents it, as a model state (for
// comparisons; the session's model is unchanged): quantized Linears (q - z) * fp16(s) computed
// exactly in float32 and cast to the model dtype, every other floating tensor rounded through fp16.
// A model restored to this state computes the same logits as the reloaded awq-gemm export.
CausalLM::State awq_reference_state(QuantSession& session, const Progress& progress = {});

}  // namespace qs
