// The JSON shapes of views in API responses (and of the CLI's --json). Money appears twice: "<name>_micros" (integer µcr)
// and "<name>" (decimal string of credits). Internal to api/. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "engine/status.h"
#include "projections/views.h"

namespace tally::api {

// True for orgs whose balance drives signals (pro plan, credits mode: SPEC §4).
bool uses_wallet(const OrgState& state);

// The warning level: the LowBalanceThresholdSet one, else an enabled auto-refill's, else 0 (none).
int64_t warning_threshold_micros(const OrgState& state);

// SPEC §11: what the org can still reserve or spend: balance - held, never below 0.
int64_t available_micros(const OrgState& state);
// One active hold: id, member, workspace, granted, remaining, placed and expiry times.
boost::json::object hold_json(std::string_view hold_id, const Hold& hold);

// GET /credits: balance, held, available, flags, plan, totals; `as_of` as "partition:next offset".
boost::json::object credits_json(const OrgView& org, const std::optional<LogPosition>& as_of);
// The auto-refill policy and the refills counted today and this month (UTC periods of `now_ms`)
// against the caps: the billing page's "auto-refills used this month" (seed 004).
boost::json::object auto_refill_json(const OrgState& state, int64_t now_ms);
boost::json::object member_json(const MemberView& member);
// An entry of transactions or statements; an early reject (HistoryEntry::early) has no "sequence"
// and says "early": true.
boost::json::object history_json(const HistoryEntry& entry);
// A reject of GET …/rejects and `tally rejects`: position, placement, and what could be read of
// the record (type, key, occurred_at_ms, org_id), reason and detail.
boost::json::object reject_json(const OrgReject& reject, std::string_view org_id);
// A signal of GET …/signals: its outbox sequence, id and fields (engine/event_json.h
// signal_to_json). Errors: corruption (bytes that are not a signal).
Result<boost::json::object> signal_json(const OutboxEntry& entry);

// "p:o" (LogPosition::to_string) back to a position. Errors: invalid_argument naming `field`.
Result<LogPosition> position_from_text(std::string_view text, std::string_view field);

// The cursor of an org's transactions (HTTP next_cursor, `tally txns --cursor`): a history
// sequence ("17"), or a position in the org's early rejects ("early:0:12"); none: the first page
// (early rejects first). Sets the query's after_sequence or early_from.
Status apply_transactions_cursor(std::optional<std::string_view> cursor, HistoryQuery& query);
// The cursor of the page after `page`; nullopt at the end.
std::optional<std::string> next_transactions_cursor(const HistoryPage& page);

}  // namespace tally::api
