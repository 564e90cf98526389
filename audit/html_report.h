// The statement as one self-contained HTML page: the reconciliation, a balance-over-time chart as
// inline SVG (its y-axis fitted to the balances) with the usage per day as bars under it, and the
// statement table. No network, no JavaScript, no external style sheet; every
// piece of text from the ledger is escaped. Opens in any browser, prints, attaches to an email.
//
// The page is built in three streamed passes over the history (summary and bounds; chart; table),
// each bounded to the entries the first pass saw, so memory stays flat whatever the history's size:
// the chart keeps at most chart_columns_max columns (first, min, max and last balance of each).
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>

#include "audit/statement.h"
#include "engine/status.h"
#include "projections/views.h"

namespace tally::audit {

inline constexpr std::size_t chart_columns_max = 720;  // horizontal resolution of the chart (px)
inline constexpr std::size_t chart_height_px = 240;
inline constexpr std::size_t chart_usage_height_px = 120;  // the usage-per-day bars under the balance
inline constexpr int64_t chart_y_ticks_max = 5;             // about this many labelled lines on the y-axis

// The balance chart's y-axis: [low, high] in micros, labelled every `step`.
struct AxisRange {
  int64_t low = 0;
  int64_t high = 0;
  int64_t step = 1;
};

// The axis for balances between `low` and `high` (micros): the range plus a margin, rounded to a
// 1-2-5 step, so a 25,000-credit wallet that moves by 50 credits fills the chart instead of being
// a flat line at the top of an axis from zero. Not below zero when `low` is not. REQUIRES: low <= high.
AxisRange fit_balance_axis(int64_t low, int64_t high);

// Writes the page for options.org_id in [from_ms, to_ms) to `out`; options.summary_only leaves
// out the table. Errors: those of scan_statement; io_error if `out` fails.
Result<StatementSummary> write_html_report(ViewReader& views, const StatementOptions& options, std::ostream& out);

}  // namespace tally::audit
