// The statement as one self-contained HTML page: the reconciliation, a balance-over-time chart as
// inline SVG, and the statement table. No network, no JavaScript, no external style sheet; every
// piece of text from the ledger is escaped. Opens in any browser, prints, attaches to an email.
//
// The page is built in three streamed passes over the history (summary and bounds; chart; table),
// each bounded to the entries the first pass saw, so memory stays flat whatever the history's size:
// the chart keeps at most chart_columns_max columns (first, min, max and last balance of each).
#pragma once

#include <cstddef>
#include <ostream>

#include "audit/statement.h"
#include "engine/status.h"
#include "projections/views.h"

namespace tally::audit {

inline constexpr std::size_t chart_columns_max = 720;  // horizontal resolution of the chart (px)
inline constexpr std::size_t chart_height_px = 240;

// Writes the page for options.org_id in [from_ms, to_ms) to `out`; options.summary_only leaves
// out the table. Errors: those of scan_statement; io_error if `out` fails.
Result<StatementSummary> write_html_report(ViewReader& views, const StatementOptions& options, std::ostream& out);

}  // namespace tally::audit
