// SmoothQuant's W8A8 setting, written once for the CLI and the GUI.
#pragma once
#include "quant/method_config.h"

namespace qs {

// 8-bit symmetric (absmax) weights per output channel, 8-bit per-token activations. The CLI's
// defaults for --method smoothquant and the GUI's W8A8 preset (which also turns on SmoothQuant
// at alpha 0.5 and the quantization of the attention matmul inputs).
void set_w8a8(MethodConfig& c);

}  // namespace qs
