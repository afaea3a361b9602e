// WikiText-2 (raw) test text, built exactly like the HF `wikitext` dataset rows that
// llm-awq / AutoAWQ / GPTQ join for perplexity (docs/notes.md §6).
#pragma once
#include <string>
#include <vector>

#include "core/progress.h"

namespace qs {

// The bundled test split: resource "data/wikitext-2-raw-v1/wiki.test.raw.zst".
// Throws qs::Error if the resources cannot be found.
std::string wikitext2_default_path();

// The HF rows of a WikiText raw file (plain or .zst): one row per line, read like Python's
// text mode (universal newlines: "\r\n" and a lone "\r" end a line and become "\n"); a line
// that is only whitespace (Python str.strip() == "") becomes "", every other line keeps its
// trailing "\n". Throws qs::Error naming the file, the line and the byte offset for non-UTF-8.
std::vector<std::string> wikitext_rows(const std::string& path, const Progress& progress = {});

// "\n\n".join(rows).
std::string join_rows(const std::vector<std::string>& rows, const std::string& separator = "\n\n");

// The perplexity text: "\n\n".join(wikitext_rows(path)). For the bundled file this is
// 4,358 rows (1,467 of them empty) and 1,296,370 bytes.
std::string wikitext2_test_text(const std::string& path_to_raw_or_zst, const Progress& progress = {});

}  // namespace qs
