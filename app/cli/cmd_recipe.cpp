// quantscope-cli recipe: the method options as an llm-compressor recipe (YAML), printed or
// written atomically to --out; --json gives {"recipe": ..., "not_carried_over": [...]}. Reads
// only the model's architecture (its module names), never its weights.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "io/safe_output.h"
#include "method_options.h"
#include "model_options.h"
#include "quant/llmc_recipe.h"

namespace qs::cli {

namespace {

struct RecipeArgs {
    ModelOptions model;
    std::string out;
    bool json = false;
    MethodConfig method;
};

int run_recipe(const RecipeArgs& a) {
    const ModelConfig mc = a.model.config();
    LlmcModel m;
    m.arch = mc.arch;
    m.hidden_size = mc.hidden_size;
    m.linears = llmc_linear_names(mc);  // --override names are checked against the model
    m.name = std::filesystem::path(a.model.dir()).filename().string();
    if (m.name.empty()) m.name = std::filesystem::path(a.model.dir()).parent_path().filename().string();
    const LlmcRecipe r = make_llmc_recipe(a.method, m);
    if (!a.out.empty()) {
        for (const auto& n : write_file_atomic(a.out, r.yaml, {a.model.dir()}))
            std::fprintf(stderr, "note: %s\n", n.c_str());
    }
    if (a.json) {
        nlohmann::json j = r.to_json();
        j["configuration"] = a.method.to_json();
        j["model"] = {
            {"name", m.name}, {"arch", m.arch == Arch::OPT ? "opt" : "llama"}, {"hidden_size", m.hidden_size}};
        if (!a.out.empty()) j["out"] = a.out;
        std::cout << j.dump(2) << std::endl;
    } else if (a.out.empty()) {
        std::cout << r.yaml;
    } else {
        std::printf("written        %s\n", a.out.c_str());
        std::printf("configuration  %s\n", a.method.describe().c_str());
        std::printf("not carried    %zu (listed at the top of the file)\n", r.not_carried_over.size());
    }
    return 0;
}

}  // namespace

Run add_recipe(CLI::App& cli) {
    auto* app =
        cli.add_subcommand("recipe",
                           "The method options as an llm-compressor recipe (YAML: SpinQuant / SmoothQuant / AWQ /\n"
                           "GPTQ / Quantization modifiers with their arguments; docs/formats.md has the mapping),\n"
                           "to run the same quantization at scale with llm-compressor's oneshot. What has no\n"
                           "llm-compressor counterpart is listed in a comment block at the top. Reads only the\n"
                           "model's config (its module names). Prints the YAML, or writes it to --out (atomic:\n"
                           "temporary file, fsync, rename; never into the model's folder).");
    auto a = std::make_shared<RecipeArgs>();
    add_model_options(*app, a->model, /*loading=*/false);
    app->add_option("--out", a->out, "write the recipe to FILE (e.g. recipe.yaml) instead of printing it")
        ->type_name("FILE");
    app->add_flag("--json", a->json,
                  "print {\"recipe\": YAML, \"not_carried_over\": [...], \"configuration\",\n\"model\"} as JSON");
    add_method_options(*app, a->method);
    return [a] { return run_recipe(*a); };
}

}  // namespace qs::cli
