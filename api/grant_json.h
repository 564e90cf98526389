// SPEC §12: credit grants in JSON — GET .../credits/grants, the grant lines of GET .../credits,
// the fundings of a transaction, `tally grants ORG --json`. Money appears twice, as elsewhere:
// "<name>_micros" and "<name>" (credits). Internal to api/.
#pragma once

#include <cstddef>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "engine/status.h"
#include "projections/views.h"

namespace tally::api {

// The consumptions listed per grant: its latest (older ones are counted in its totals only).
inline constexpr std::size_t grant_consumptions_max = 100;

// One grant: id, what made it (its event type), category, priority, effective and expiry times,
// status (active or closed), original and where it went (remaining, consumed, expired, voided,
// refunded), and the cost basis of a paid purchase (paid minor units and currency; null otherwise).
boost::json::object grant_json(const Grant& grant, bool active);

// The org's credit by category ("by_category": paid and promotional remaining) and its next expiry
// ("next_expiry": {at_ms, micros} of the soonest grant expiry, all the grants expiring then; null
// when none expires), added to GET .../credits.
void put_grant_summary(boost::json::object& out, const OrgState& state);

// The fundings of a history entry: [{grant_id, micros, credits}], the overdraft as
// {overdraft: true, micros, credits}.
boost::json::array fundings_json(const std::vector<HistoryEntry::Funding>& fundings);

// Every grant of the org (the active ones in draw-down order, then the closed ones in the order
// they were made), each with its consumptions when `consumptions` is set: the history entries that
// took from it (fundings: usage, adjustments, refunds, voids, the overdraft it repaid) and its
// expiry, the latest grant_consumptions_max. Reads the org's whole history for them: blocking.
// Errors: those of the views.
Result<boost::json::object> grants_json(ViewReader& views, const OrgView& org, bool consumptions);

}  // namespace tally::api
