// The canonical JSON form of an event (SPEC §3; used by the CLI, HTTP ingest and docs) and its
// conversion to and from the FlatBuffers envelope (schemas/events.fbs), driven by the event
// catalogue (engine/catalogue.h).
//
// JSON: one object, `type` discriminator in snake_case ("purchase", "usage", …), snake_case
// fields named as in the schema (SandboxClassPrice.sandbox_class is "class" in JSON).
// Conversion is exact both ways: to_json(from_json(x)) is x in canonical field order, and
// from_json(to_json(b)) decodes to the same fields as b. The bytes are those flatc's object API
// would build for the same fields.
//
// Parsing is strict: a key repeated anywhere (an array element's, a nested object's) is refused,
// not "last one wins". Errors name the field: unknown `type`, unknown field, wrong JSON type,
// missing required field, duplicate key, out-of-range value (negative tokens, bundles outside
// 1..10, bad org id characters, …) — every field is validated (validate_envelope) on the buffer
// built here, without a FlatBuffers verification: the fold's is the only one a record needs.
// Thread safety: free functions, no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/limits.h"
#include "engine/status.h"
#include "tally/events_generated.h"

namespace tally {

// JSON text of one event longer than this is refused before parsing. An event encodes to at most
// event_bytes_max; its JSON is larger (keys, digits, whitespace) but not 16 times larger.
inline constexpr std::size_t event_json_bytes_max = 16 * limits::event_bytes_max;
// Nesting of event JSON: a batch array, an event, a list, its element, a nested table. Deeper
// input is not an event and is refused before it costs stack.
inline constexpr std::size_t event_json_depth_max = 16;

// Parses one canonical JSON event (occurred_at_ms required) and returns the encoded FlatBuffers
// envelope (with file identifier "TLE1"). REQUIRES nothing; any bytes are accepted and answered.
// Errors: invalid_argument naming the field; too_large for text over event_json_bytes_max or an
// event over event_bytes_max.
Result<std::string> event_from_json(std::string_view json);

// One event of events_from_json, encoded and valid.
struct ParsedEvent {
  std::string bytes;              // the FlatBuffers envelope ("TLE1"), passed validate_envelope
  std::string org_id;             // empty: an event of no org (a global rate card, a partition tick)
  std::string idempotency_key;
  fb::Body body_type = fb::Body::NONE;
  bool occurred_at_given = true;  // false: the JSON had no occurred_at_ms, options' default used
};

struct EventParseOptions {
  // An event without occurred_at_ms is refused when this is empty; otherwise it gets this time
  // (the caller's clock) and ParsedEvent::occurred_at_given is false. REQUIRES: >= 0.
  std::optional<int64_t> occurred_at_default_ms;
  bool array_allowed = true;                       // a JSON array of events (a batch)
  std::size_t events_max = 10'000;                 // events in an array, at most
  std::size_t json_bytes_max = event_json_bytes_max;  // the whole text, at most
};

struct ParsedEvents {
  bool batch = false;               // the text was an array: errors and answers index the events
  std::vector<ParsedEvent> events;  // in the order of the text; empty for an empty array
};

// Parses a request body once: one JSON event object, or (if allowed) an array of them. All or
// nothing: the first bad event fails the call. In a batch, error fields are prefixed by the
// event's index ("[3].credits_micros"; "[3]" for the element itself).
// Errors: invalid_argument naming the field (a duplicate key: "<path>: duplicate key");
// too_large for text over json_bytes_max, more than events_max events, or an event over
// event_bytes_max.
Result<ParsedEvents> events_from_json(std::string_view json, const EventParseOptions& options);

// Renders an encoded envelope as canonical JSON (fields in schema order, defaults that are
// meaningful included). Errors: corruption when `bytes` is not a valid envelope.
Result<std::string> event_to_json(std::string_view bytes);

// Renders an encoded signal (schemas/signals.fbs) as JSON with the same conventions.
Result<std::string> signal_to_json(std::string_view bytes);

}  // namespace tally
