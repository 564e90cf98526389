// An org's statement (SPEC §8): every history entry in a time range with its outcome and running
// balance, and a reconciliation that ties the opening balance, the movements by kind (purchases
// with what was paid and the platform fees, per currency; auto-refills; refunds; signup
// allocations; adjustments; usage by billing path) and the closing balance together.
//
// CAVEATS (read these first)
//   - Streamed: entries are read with ViewReader::for_each_history and written as they come; memory
//     does not grow with the history. The history is read in one read transaction per pass, so the
//     rows and the reconciliation come from one consistent batch even while the projector runs.
//   - The range is on event time (occurred_at_ms), half-open [from_ms, to_ms); entries stay in log
//     order. Producers may stamp an event earlier than one already logged (late usage); such an
//     entry outside the range can sit, in log order, between two entries inside it. Its effect is
//     reported as `other_movements` so the reconciliation still closes exactly.
//   - Balances are those the ledger recorded (balance_after of each entry), never recomputed here:
//     the statement shows what the ledger did, and the tests recompute it to check the ledger.
//   - An org with no history (unknown, or nothing in range) gives an empty statement whose opening
//     and closing balances are the balance before the range (0 for an unknown org).
//   - An org's early rejects (HistoryEntry::early: its first events, rejected before it existed)
//     are listed first, as rejected entries that moved nothing; they are read in a transaction of
//     their own (an org that exists gets no more of them).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>

#include "engine/status.h"
#include "projections/records.h"
#include "projections/views.h"

namespace tally::audit {

// The formats of an export (audit/statement_export.h writes each).
enum class StatementFormat { csv, jsonl, html };
// "csv", "jsonl" or "html". Errors: invalid_argument (field "format").
Result<StatementFormat> parse_statement_format(const std::string& text);

struct StatementOptions {
  std::string org_id;
  int64_t from_ms = INT64_MIN;  // inclusive
  int64_t to_ms = INT64_MAX;    // exclusive
  StatementFormat format = StatementFormat::csv;
  bool summary_only = false;    // only the reconciliation (CSV rows, the JSONL summary line, a short page)
};

// Purchases and auto-refills, per currency: credits granted (µcr), money paid and platform fees
// (minor units of the currency, as the payment provider reported them).
struct PaymentTotals {
  uint64_t count = 0;
  int64_t credits_micros = 0;
  int64_t paid_minor = 0;
  int64_t fee_minor = 0;
};

// Movements of one kind: count and signed effect on the balance (µcr).
struct MovementTotals {
  uint64_t count = 0;
  int64_t amount_micros = 0;
};

// Usage of one billing path: debited from the wallet and priced (tracked) cost.
struct UsageTotals {
  uint64_t count = 0;
  int64_t debited_micros = 0;
  int64_t tracked_cost_micros = 0;
};

// The reconciliation. Only applied entries move money; every entry is counted by outcome.
// Invariant (reconciles()): opening + net_change + other_movements == closing, and net_change is
// the sum of the kinds below (purchases + auto-refills + signup + credit grants + adjustments +
// refunds − usage debited + grant expiries + grant voids + other_kinds), each signed as its effect
// on the balance; and, in the terms of grants (SPEC §12), opening + granted − consumed − expired −
// voided − refunded + other_kinds + other_movements == closing.
struct StatementSummary {
  std::string org_id;
  int64_t from_ms = INT64_MIN;
  int64_t to_ms = INT64_MAX;
  bool org_found = false;
  uint64_t entries = 0;  // in range, any outcome
  uint64_t applied = 0, duplicates = 0, conflicts = 0, rejected = 0;
  uint64_t payment_failures = 0;  // applied PaymentFailed entries (no money moves)
  int64_t opening_balance_micros = 0;
  int64_t closing_balance_micros = 0;
  std::map<std::string, PaymentTotals> purchases;     // by currency
  std::map<std::string, PaymentTotals> auto_refills;  // by currency
  MovementTotals refunds;                             // negative amounts
  MovementTotals signup_allocations;
  MovementTotals adjustments;                         // signed
  MovementTotals credit_grants;                       // SPEC §12: credit_granted entries
  MovementTotals grant_expiries;                      // grant_expired entries (negative): breakage
  MovementTotals grant_voids;                         // grant_voided entries (negative)
  std::map<std::string, UsageTotals> usage;           // "credits", "byok", "invoiced" (always all three)
  MovementTotals other_kinds;                         // any other entry type that moved the balance
  int64_t net_change_micros = 0;                      // sum of applied amounts in range
  int64_t other_movements_micros = 0;                 // out-of-range entries interleaved in log order
  // SPEC §12, the same movements as grants see them (each >= 0): credit granted (signup, purchases,
  // auto-refills, credit grants, positive adjustments) and consumed (usage debited, negative
  // adjustments). Expired, voided and refunded are the grant_expiries, grant_voids and refunds.
  int64_t granted_micros = 0;
  int64_t consumed_micros = 0;
  // Checked in 128-bit arithmetic, so the check itself never overflows.
  bool reconciles() const;
};

// Streams the entries of `org_id` in [from_ms, to_ms) to `row` in log order (stop early by
// returning false) and fills `summary`, early rejects first. History entries with sequence >=
// sequence_end are not read (so that several passes see the same entries). The history is read
// in one transaction.
// Errors: those of ViewReader::org and for_each_history; too_large if a total overflows int64.
Status scan_statement(ViewReader& views, const std::string& org_id, int64_t from_ms, int64_t to_ms,
                      const std::function<bool(const HistoryEntry&)>& row, StatementSummary& summary,
                      uint64_t sequence_end = UINT64_MAX);

// The CSV header line and one row, and the summary rows (a header line then one row per item;
// the caller writes the blank separator line). Each line ends in "\r\n" (RFC 4180).
// Cells are of two kinds, decided per column: numbers (every *_micros, *_minor, count, sequence,
// rate_card_version and occurred_at_ms column, and the decimal credits columns amount and
// balance_after) are written as they are, so that -1.500000 stays a number; every other column is
// text that came from events or the ledger (keys, ids, models, references, notes, details,
// currencies, times) and goes through append_csv_field (audit/text_format.h): control characters
// escaped, a leading = + - @ neutralised with '. The last column, fundings (SPEC §12), is text:
// "grant:micros" per grant a debit took from, ";"-separated, "overdraft:micros" for the rest.
std::string csv_header();
void append_csv_row(std::string& out, const HistoryEntry& entry);
void append_csv_summary(std::string& out, const StatementSummary& summary);
// One JSON object per entry, and the final {"type":"summary",…} object, each ending in "\n".
void append_jsonl_row(std::string& out, const HistoryEntry& entry);
void append_jsonl_summary(std::string& out, const StatementSummary& summary);

}  // namespace tally::audit
