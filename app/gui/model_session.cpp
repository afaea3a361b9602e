#include "model_session.h"

#include "core/device.h"
#include "core/resources.h"
#include "models/causal_lm.h"

LoadedModel load_model_for_gui(const LoadRequest& req, const qs::Progress& progress) {
    qs::LoadOptions o;
    o.device = qs::parse_device(req.device);
    o.dtype = qs::parse_dtype(req.dtype);
    LoadedModel out;
    out.model = std::shared_ptr<qs::CausalLM>(qs::load_causal_lm(req.dir, o, progress));
    out.summary = qs::summarize(*out.model);
    return out;
}

std::string default_model_path() { return qs::default_model_dir(); }

std::vector<std::string> gui_available_devices() { return qs::available_devices(); }

std::vector<std::string> gui_available_dtypes(const std::string& device) {
    return qs::available_dtypes(qs::parse_device(device));
}

std::string gui_version_text() {
    return std::string("quantscope ") + QS_VERSION + "\n" + qs::torch_runtime_text() + qs::blas_warning();
}
