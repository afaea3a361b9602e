#include "data/eval_text.h"

#include <filesystem>
#include <vector>

#include "core/error.h"
#include "data/text_source.h"
#include "data/wikitext.h"

namespace qs {

static std::string file_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

EvalText load_eval_text(const std::string& path, const Progress& progress) {
    EvalText out;
    out.source = path;
    const std::string name = file_name(path);
    switch (dataset_format(path)) {
        case DatasetFormat::WikitextRaw: {
            const auto rows = wikitext_rows(path, progress);
            int64_t blank = 0;
            for (const auto& r : rows) blank += r.empty();
            out.text = join_rows(rows);
            out.description = name + ": WikiText raw, " + count_of(static_cast<int64_t>(rows.size()), "row") +
                              " (\"\" for " + count_of(blank, "blank line") +
                              ") joined with \"\\n\\n\" (HF datasets / llm-awq protocol)";
            break;
        }
        case DatasetFormat::Text:
            out.text = read_text_file(path, progress);
            out.description =
                name + ": whole file as is (" + count_of(static_cast<int64_t>(out.text.size()), "byte") + ")";
            break;
        case DatasetFormat::JsonLines: {
            std::vector<std::string> texts;
            uint64_t bytes = 0;
            for_each_jsonl_text(
                path,
                [&](std::string&& t, int64_t) {
                    bytes += t.size() + 2;
                    if (bytes > kMaxTextBytes) throw Error(text_too_large(path));
                    texts.push_back(std::move(t));
                },
                progress);
            out.text = join_rows(texts);
            out.description = name + ": " + count_of(static_cast<int64_t>(texts.size()), "\"text\" record") +
                              " joined with \"\\n\\n\"";
            break;
        }
    }
    if (out.text.empty()) throw Error(path + ": no text to evaluate (the file is empty)");
    return out;
}

EvalText default_eval_text(const Progress& progress) { return load_eval_text(wikitext2_default_path(), progress); }

}  // namespace qs
