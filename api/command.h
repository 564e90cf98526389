// The shared path of every command: take or make the idempotency key, append, and either answer
// 202 with the position or (with ?wait=1) wait for the projector and answer with the outcome and
// the resulting state. Internal to api/. Blocking: call from the blocking pool.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "api/api_context.h"
#include "engine/event_factory.h"

namespace tally::api {

// Number of history entries of `org` now (0 for an unknown org): entries of events appended
// after this call have a sequence >= the result.
Result<uint64_t> history_count(ViewReader& views, const std::string& org);

// History entries of `org` whose position is in `positions`, scanning from `from_sequence`.
// Scans at most command_history_scan_max entries; positions not found are left out.
inline constexpr std::size_t command_history_scan_max = 100'000;
Result<std::map<LogPosition, HistoryEntry>> find_entries(ViewReader& views, const std::string& org,
                                                         uint64_t from_sequence, const std::set<LogPosition>& positions);

// Waits until every position is applied, all within one deadline of options.wait_timeout_ms.
bool wait_all(ApiContext& ctx, const std::vector<LogPosition>& positions);

// Adds "outcome" (and "reason", "detail") of an entry.
void put_outcome(boost::json::object& out, const HistoryEntry& entry);

// An org command: `build` makes the encoded event from the header (key, org, time, source);
// `render` adds the resulting state to a 200 answer (after ?wait=1) from a fresh read.
// Answers: 400 (bad Idempotency-Key, bad wait, the built event fails validation — naming the body
// field), 503 (append failed), 202 {"position","idempotency_key","applied":false}, 200 {…,
// "applied":true,"outcome":…} + state, 409 when the outcome is a conflict or a rejection.
ApiResponse run_org_command(ApiContext& ctx, const ApiRequest& request, const std::string& org,
                            const std::function<std::string(const EventHeader&)>& build,
                            const std::function<Status(boost::json::object&)>& render);

}  // namespace tally::api
