#include "quant/w8a8_preset.h"

namespace qs {

void set_w8a8(MethodConfig& c) {
    c.weight.bits = 8;
    c.weight.granularity = Granularity::PerChannel;
    c.weight.symmetric = true;
    c.act.bits = 8;
    c.act.per_token = true;
}

}  // namespace qs
