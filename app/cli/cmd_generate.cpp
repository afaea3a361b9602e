// quantscope-cli generate: greedy or sampled continuation with a KV cache.
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "core/device.h"
#include "core/error.h"
#include "model_options.h"
#include "models/generate.h"
#include "tokenizers/tokenizer.h"

namespace qs::cli {

using json = nlohmann::json;

static std::vector<int64_t> parse_ids(const std::string& s) {
    std::vector<int64_t> ids;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        char* end = nullptr;
        errno = 0;
        long long v = std::strtoll(item.c_str(), &end, 10);
        if (item.empty() || *end || errno == ERANGE)
            throw Error("--prompt-ids: '" + item + "' is not a token id (expected e.g. 1,2,3)");
        ids.push_back(v);
    }
    if (ids.empty()) throw Error("--prompt-ids is empty");
    return ids;
}

int cmd_generate(const Args& a) {
    a.check_known({"model", "prompt", "prompt-ids", "max-new-tokens", "device", "dtype", "mode", "sample", "temperature",
                   "top-k", "top-p", "seed", "json", "stop-at-eos"},
                  "generate");
    if (a.has("prompt") == a.has("prompt-ids")) throw Error("give exactly one of --prompt TEXT or --prompt-ids 1,2,3");
    GenerateOptions o;
    o.max_new_tokens = a.get_int("max-new-tokens", 32);
    o.sample = a.has("sample");
    o.temperature = a.get_double("temperature", 1.0);
    o.top_k = a.get_int("top-k", 0);
    o.top_p = a.get_double("top-p", 1.0);
    o.seed = static_cast<uint64_t>(a.get_int("seed", 0));
    check_generate_options(o);  // before loading anything
    auto model = load_model(a);
    std::unique_ptr<Tokenizer> tok;
    std::vector<int64_t> prompt;
    if (a.has("prompt")) {
        tok = load_tokenizer(model->source_dir);
        prompt = tok->encode(a.get("prompt"), true);
    } else {
        prompt = parse_ids(a.get("prompt-ids"));
    }
    if (a.get("stop-at-eos", "1") != "0") o.stop_token = model->config.eos_token_id;
    const bool as_json = a.has("json");
    const bool stream = !as_json && tok;
    if (stream) std::cout << a.get("prompt") << std::flush;
    std::vector<int64_t> sofar;
    std::string printed;
    auto t0 = std::chrono::steady_clock::now();
    auto ids = generate(*model, prompt, o, {}, [&](int64_t id) {
        if (!stream) return;
        sofar.push_back(id);
        std::string text = tok->decode(sofar, true);
        if (text.size() > printed.size() && text.compare(0, printed.size(), printed) == 0) {
            std::cout << text.substr(printed.size()) << std::flush;
            printed = text;
        }
    });
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (as_json) {
        json j = {{"prompt_ids", prompt},
                  {"ids", ids},
                  {"seconds", secs},
                  {"tokens_per_second", ids.empty() ? 0.0 : ids.size() / secs},
                  {"mode", o.sample ? "sample" : "greedy"},
                  {"device", device_name(model->device())},
                  {"dtype", dtype_name(model->dtype())}};
        if (tok) j["text"] = tok->decode(ids, true);
        std::cout << j.dump() << std::endl;
    } else if (stream) {
        std::cout << std::endl;
    } else {
        for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? "," : "") << ids[i];
        std::cout << std::endl;
    }
    return 0;
}

}  // namespace qs::cli
