// quantscope-cli generate: greedy or sampled continuation with a KV cache.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "core/device.h"
#include "core/error.h"
#include "model_options.h"
#include "options.h"
#include "models/generate.h"
#include "tokenizers/tokenizer.h"

namespace qs::cli {

using json = nlohmann::json;

namespace {

struct GenerateArgs {
    ModelOptions model;
    std::string prompt;
    std::vector<int64_t> prompt_ids;
    GenerateOptions gen;
    std::string stop_at_eos = "1";
    bool json = false;
    CLI::Option* prompt_opt = nullptr;
    CLI::Option* ids_opt = nullptr;
};

int run_generate(const GenerateArgs& a) {
    const bool has_prompt = a.prompt_opt->count() > 0;
    if (has_prompt == (a.ids_opt->count() > 0)) throw Error("give exactly one of --prompt TEXT or --prompt-ids 1,2,3");
    GenerateOptions o = a.gen;
    check_generate_options(o);  // before loading anything
    auto model = a.model.load();
    std::unique_ptr<Tokenizer> tok;
    std::vector<int64_t> prompt;
    if (has_prompt) {
        tok = load_tokenizer(model->source_dir);
        prompt = tok->encode(a.prompt, true);
    } else {
        prompt = a.prompt_ids;
    }
    if (a.stop_at_eos != "0") o.stop_token = model->config.eos_token_id;
    const bool as_json = a.json;
    const bool stream = !as_json && tok;
    if (stream) std::cout << a.prompt << std::flush;
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

}  // namespace

Run add_generate(CLI::App& cli) {
    auto* app = cli.add_subcommand("generate", "Continue a prompt, greedy or sampled, with a KV cache.");
    auto a = std::make_shared<GenerateArgs>();
    add_model_options(*app, a->model);
    a->prompt_opt = app->add_option("--prompt", a->prompt, "the prompt text (or --prompt-ids)")->type_name("TEXT");
    a->ids_opt = app->add_option("--prompt-ids", a->prompt_ids, "the prompt as token ids, e.g. 1,2,3")
                     ->type_name("1,2,3")
                     ->delimiter(',')
                     ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                     ->expected(1)
                     ->allow_extra_args(false)
                     ->check(number_rule<int64_t>("prompt-ids"));
    add_number(*app, "max-new-tokens", a->gen.max_new_tokens, "tokens to generate, 0..1048576");
    app->add_flag("--sample", a->gen.sample, "sample instead of the greedy argmax");
    add_number(*app, "temperature", a->gen.temperature, "sampling temperature, > 0");
    add_number(*app, "top-k", a->gen.top_k, "sample from the k most likely tokens (0 = off)");
    add_number(*app, "top-p", a->gen.top_p, "nucleus sampling, in (0, 1] (1 = off)");
    add_number<int64_t>(
        *app, "seed", [a](const int64_t& s) { a->gen.seed = static_cast<uint64_t>(s); }, "sampling seed")
        ->default_str(std::to_string(a->gen.seed));
    app->add_option("--stop-at-eos", a->stop_at_eos, "stop after the end-of-sequence token")
        ->check(zero_or_one_rule("stop-at-eos"))
        ->type_name("0|1")
        ->capture_default_str();
    app->add_flag("--json", a->json, "one JSON object (prompt_ids, ids, text, seconds, tokens_per_second, mode, ...)");
    return [a] { return run_generate(*a); };
}

}  // namespace qs::cli
