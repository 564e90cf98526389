// Events on their way into the log: every producer's events become a PreparedEvents here, parsed
// and validated exactly once, before anything is appended (submit/submitter.h appends them).
//
// Two ways in, one check:
//   - prepare_json(): canonical JSON (engine/event_json.h), one object or an array: one strict
//     parse (a key repeated anywhere is refused) that builds and validates every event;
//   - prepare_built(): envelopes built by Tally's own code (engine/event_factory.h: the recharge
//     connector's AutoRefill/PaymentFailed, the API's commands, the ticker): validated field by
//     field (validate_envelope).
// Neither runs the FlatBuffers verifier: the bytes were built by this process. The fold verifies
// every record once when it reads it from the log (envelope_verifications() counts it), whoever
// wrote it.
// Thread safety: free functions over values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace tally::submit {

// Events in one submission, at most (HTTP: one request's body).
inline constexpr std::size_t submit_events_max = 10'000;

// One event ready to append.
struct PreparedEvent {
  std::string bytes;               // the FlatBuffers envelope ("TLE1"), validated
  std::string org_id;              // empty: an event of no org (rate card, tick): to every partition
  std::string idempotency_key;
  std::string type;                // canonical JSON type ("usage", "purchase", …)
  int64_t occurred_at_ms = 0;
  bool occurred_at_given = true;   // false: the JSON had none and JsonOptions::stamp_time_ms was used
};

struct PreparedEvents {
  bool batch = false;  // several events or a JSON array: errors and answers index them ("[2].field")
  std::vector<PreparedEvent> events;
};

struct JsonOptions {
  // Set: an event without occurred_at_ms gets this time (the caller's clock) and
  // occurred_at_given = false. Unset: an event without it is refused. REQUIRES: >= 0.
  std::optional<int64_t> stamp_time_ms;
  bool array_allowed = true;
  std::size_t events_max = submit_events_max;
};

// Parses canonical JSON once: one event object, or (if allowed) an array of them. All or nothing.
// Errors: invalid_argument naming the field ("credits_micros"; "[3].credits_micros" in an array;
// a key given twice: its path); too_large (more than events_max events, an event or text too big).
Result<PreparedEvents> prepare_json(std::string_view json, const JsonOptions& options);

// Envelopes built by this process (engine/event_factory.h), validated field by field; batch when
// there are several. REQUIRES: each was built by a FlatBuffers builder (it is not verified).
// Errors: invalid_argument naming the field ("[1].credits_micros" when several), or "" for bytes
// that are not an envelope at all; too_large (more than submit_events_max events).
Result<PreparedEvents> prepare_built(std::vector<std::string> encoded);

}  // namespace tally::submit
