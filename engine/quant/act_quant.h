// Activation fake-quantization settings (SmoothQuant W8A8). Torch-free, so that
// method_config.h (and through it the GUI) does not pull in libtorch.
#pragma once

namespace qs {

struct ActQuant {
    int bits = 8;               // 0 = activations not quantized
    bool per_token = true;      // else per-tensor
    bool quantize_bmm = false;  // also quantize q/k/v outputs
};

}  // namespace qs
