// Conversions between the window's results table and the rows of a workspace
// (engine/export/workspace.h, format in docs/formats.md).
#pragma once
#include <QString>

#include "export/workspace.h"
#include "perplexity_page.h"

namespace ui {

// One results-table row as a workspace row; `label` is the row's text in the table.
qs::WorkspaceResult toWorkspaceResult(const PplRow& row, const QString& label);
// A workspace row as a results-table row of the loaded model (sizes kept as stored; the
// running estimate recomputed from the per-window NLL when the row has it).
PplRow fromWorkspaceResult(const qs::WorkspaceResult& r, const qs::ModelSummary& model);

// "" when both configurations are the same (MethodConfig::to_json), else the first key that
// differs, e.g. "awq_factor is 2.345 in the file, the methods panel can only hold 2.35".
QString firstDifference(const qs::MethodConfig& shown, const qs::MethodConfig& wanted);

}  // namespace ui
