// The shared path of every command (PUT/DELETE/POST of an org): take or make the idempotency key,
// build the event, hand it to the submission path (validated once, appended, its outcome awaited
// on ?wait=1) and answer as api/outcome_json.h says. Internal to api/. Blocking: call from the
// blocking pool.
#pragma once

#include <functional>
#include <string>

#include <boost/json/object.hpp>

#include "api/api_context.h"
#include "api/http_types.h"
#include "engine/event_factory.h"

namespace tally::api {

// An org command: `build` makes the encoded event from the header (key, org, time, source);
// `render` adds the resulting state to a 200 answer (after ?wait=1) from a fresh read.
// Answers: 400 (bad Idempotency-Key, bad wait, the built event fails validation — naming the body
// field), 503 (append failed), 202 {"position","idempotency_key","applied":false} (no wait, or the
// projector did not apply it within wait_timeout_ms), 200 {…,"applied":true,"outcome":"applied"|
// "duplicate",…} + state, 409 for a conflict (the key was used for another request), 422 for a
// business rejection ("reason", "detail").
ApiResponse run_org_command(ApiContext& ctx, const ApiRequest& request, const std::string& org,
                            const std::function<std::string(const EventHeader&)>& build,
                            const std::function<Status(boost::json::object&)>& render);

}  // namespace tally::api
