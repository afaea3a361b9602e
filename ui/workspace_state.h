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

}  // namespace ui
