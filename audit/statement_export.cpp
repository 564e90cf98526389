#include "audit/statement_export.h"

#include <string>

#include "audit/html_report.h"
#include "audit/text_format.h"

namespace tally::audit {

Result<StatementSummary> write_statement(ViewReader& views, const StatementOptions& options, std::ostream& out) {
  if (options.format == StatementFormat::html) return write_html_report(views, options, out);
  ChunkedOutput writer(out);
  std::string& buffer = writer.buffer();
  const bool csv = options.format == StatementFormat::csv;
  if (csv && !options.summary_only) buffer += csv_header();
  StatementSummary summary;
  Status status = scan_statement(
      views, options.org_id, options.from_ms, options.to_ms,
      [&](const HistoryEntry& e) {
        if (options.summary_only) return true;
        if (csv) append_csv_row(buffer, e);
        else append_jsonl_row(buffer, e);
        writer.maybe_flush();
        return writer.ok();
      },
      summary);
  if (!status.is_ok()) return status;
  if (csv) {
    if (!options.summary_only) buffer += "\r\n";  // a blank line, then the reconciliation
    append_csv_summary(buffer, summary);
  } else {
    append_jsonl_summary(buffer, summary);
  }
  writer.flush();
  out.flush();
  if (!writer.ok()) return Status::error(Status::Code::io_error, "writing the statement failed");
  return summary;
}

}  // namespace tally::audit
