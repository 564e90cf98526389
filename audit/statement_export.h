// `tally audit export`: an org's statement (audit/statement.h) written in the format asked for —
// CSV or JSONL rows and their reconciliation, or the HTML report (audit/html_report.h). Above
// both, so that neither includes the other.
#pragma once

#include <ostream>

#include "audit/statement.h"
#include "engine/status.h"
#include "projections/views.h"

namespace tally::audit {

// Writes the statement in options.format to `out` and returns its summary.
// Errors: those of scan_statement; io_error if `out` fails.
Result<StatementSummary> write_statement(ViewReader& views, const StatementOptions& options, std::ostream& out);

}  // namespace tally::audit
