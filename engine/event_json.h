// The canonical JSON form of an event (SPEC §3; used by the CLI, HTTP ingest and docs) and its
// conversion to and from the FlatBuffers envelope (schemas/events.fbs).
//
// JSON: one object, `type` discriminator in snake_case ("purchase", "usage", …), snake_case
// fields named as in the schema (SandboxClassPrice.sandbox_class is "class" in JSON).
// Conversion is exact both ways: to_json(from_json(x)) is x in canonical field order, and
// from_json(to_json(b)) decodes to the same fields as b.
//
// Errors name the field: unknown `type`, unknown field, wrong JSON type, missing required field,
// out-of-range value (negative tokens, bundles outside 1..10, bad org id characters, …).
// Thread safety: free functions, no shared state.
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"

namespace tally {

// Parses one canonical JSON event and returns the encoded FlatBuffers envelope (with file
// identifier "TLE1"). REQUIRES nothing; any bytes are accepted and answered.
Result<std::string> event_from_json(std::string_view json);

// Renders an encoded envelope as canonical JSON (fields in schema order, defaults that are
// meaningful included). Errors: corruption when `bytes` is not a valid envelope.
Result<std::string> event_to_json(std::string_view bytes);

// Renders an encoded signal (schemas/signals.fbs) as JSON with the same conventions.
Result<std::string> signal_to_json(std::string_view bytes);

}  // namespace tally
