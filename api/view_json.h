// The JSON shapes of views in API responses. Money appears twice: "<name>_micros" (integer µcr)
// and "<name>" (decimal string of credits). Internal to api/. Pure.
#pragma once

#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "projections/views.h"

namespace tally::api {

// True for orgs whose balance drives signals (pro plan, credits mode: SPEC §4).
bool uses_wallet(const OrgState& state);

// The warning level: the LowBalanceThresholdSet one, else an enabled auto-refill's, else 0 (none).
int64_t warning_threshold_micros(const OrgState& state);

// GET /credits: balance, available, flags, plan, totals; `as_of` as "partition:next offset".
boost::json::object credits_json(const OrgView& org, const std::optional<LogPosition>& as_of);
// The auto-refill policy and the refills counted today and this month (UTC periods of `now_ms`)
// against the caps: the billing page's "auto-refills used this month" (seed 004).
boost::json::object auto_refill_json(const OrgState& state, int64_t now_ms);
boost::json::object member_json(const MemberView& member);
boost::json::object history_json(const HistoryEntry& entry);

}  // namespace tally::api
