// The answers of every route that appends (POST /api/v1/events, the ingest routes through
// HttpServer::submit_events, the command routes): positions, and after ?wait=1 the outcome the
// fold gave each event, with the status codes of SPEC §7. Internal to api/. Pure.
//
//   not waited                         202 {"applied":false, positions}
//   waited, not committed in time      202 {"applied":false, …} (what did arrive is shown)
//   waited, committed, outcome no
//     longer held (projections/outcome_board.h: a ring of recent outcomes per partition), or
//     not known in this process       202 {"applied":true, …, "outcome":"unknown"}
//   one event: applied or duplicate    200 {"applied":true,"outcome":"applied"|"duplicate", …}
//              conflict                409 + "error" {"code":"idempotency_conflict"}
//              rejected                422 + "reason", "detail", "error" {"code":"rejected"}
//   a batch (a JSON array, several mapped payloads): 200 with one outcome per event, whatever
//   they are.
// An event's outcome shows "outcome", "reason" and "detail" (rejected, conflict, a duplicate of a
// rejection), "amount"/"balance_after" (µcr and credits). An event of no org (rate card) has one
// position per partition: "positions" and "outcomes" list them; "outcome" is its first one's.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "api/http_types.h"
#include "engine/status.h"
#include "submit/submitter.h"

namespace tally::api {

// Adds the outcome fields of one waited position ("outcome" is "unknown" unless it is ready).
void put_outcome(boost::json::object& out, const OutcomeWait& wait);

// Adds what became of one event: "position" (and "positions" for several), "idempotency_key" and,
// after a wait, its outcome (and "outcomes" for several positions).
void put_event(boost::json::object& out, const submit::SubmittedEvent& event, const std::string& idempotency_key);

// The answer to a submission. `keys` are the events' idempotency keys, in order; `batch` answers
// {"events":[{"index",…}…]}, otherwise the one event's fields at the top level. `render`, if
// given, adds the resulting state to a 200 answer (a command's policy, member, …); its error is
// the answer's.
ApiResponse submission_answer(const submit::Submitted& submitted, const std::vector<std::string>& keys, bool batch,
                              const std::function<Status(boost::json::object&)>& render = {});

}  // namespace tally::api
