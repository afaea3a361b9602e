#include "models/model_summary.h"

#include "core/device.h"
#include "models/causal_lm.h"

namespace qs {

ModelSummary summarize(const CausalLM& m) {
    ModelSummary s;
    const auto& c = m.config;
    s.source_dir = m.source_dir;
    s.architecture = c.architecture;
    s.model_type = c.model_type;
    s.dtype = dtype_name(m.dtype());
    s.device = device_name(m.device());
    s.layers = c.num_layers;
    s.hidden_size = c.hidden_size;
    s.heads = c.num_heads;
    s.kv_heads = c.num_kv_heads;
    s.head_dim = c.head_dim;
    s.intermediate_size = c.intermediate_size;
    s.vocab_size = c.vocab_size;
    s.max_position_embeddings = c.max_position_embeddings;
    s.parameters = m.parameter_count();
    s.tied_embeddings = m.tied();
    s.warnings = m.warnings;
    auto& mm = const_cast<CausalLM&>(m);
    for (size_t bi = 0; bi < mm.blocks.size(); ++bi) {
        auto& b = mm.blocks[bi];
        for (Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down})
            if (l->present())
                s.linears.push_back(
                    {l->name, l->in_features, l->out_features, l->bias.defined(), (int64_t)bi, l->source_type});
    }
    for (Linear* l : {&mm.project_in, &mm.project_out, &mm.lm_head})
        if (l->present())
            s.linears.push_back({l->name, l->in_features, l->out_features, l->bias.defined(), -1, l->source_type});
    for (const auto& l : s.linears)
        if (!l.source_type.empty()) ++s.source_type_counts[l.source_type];
    return s;
}

}  // namespace qs
