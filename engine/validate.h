// Field-level validation of a decoded event envelope, shared by every way in (JSON codec, HTTP,
// Kafka bytes in the fold). A failure names the field ("usage.input_tokens") and the reason.
// Pure; thread-safe.
#pragma once

#include <string_view>

#include "engine/status.h"

namespace tally {
namespace fb { struct Envelope; }

// Verifies `bytes` as a FlatBuffers envelope (file identifier "TLE1", size, structure) and then
// every field: key 1..255 bytes, org id 1..128 bytes of [A-Za-z0-9._@+-] (empty only for
// rate_card_published), occurred_at_ms >= 0, and the body's own ranges (amounts > 0 where a
// zero is meaningless, tokens >= 0, bundles 1..10, basis points in range, known enum values, …).
// On success *envelope (if given) points into `bytes`.
Status validate_event(std::string_view bytes, const fb::Envelope** envelope = nullptr);

// The same checks on an already verified envelope.
Status validate_envelope(const fb::Envelope& envelope);

// True if `id` is a valid org or member id: 1..128 bytes of [A-Za-z0-9._@+-].
bool is_valid_id(std::string_view id);

}  // namespace tally
