// Field-level validation of a decoded event envelope, shared by every way in (JSON codec, HTTP,
// Kafka bytes in the fold). A failure names the field ("usage.input_tokens") and the reason.
// Pure; thread-safe.
#pragma once

#include <cstdint>
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

// The same checks on an envelope that is known to be well-formed: verified, or built by this
// process (engine/event_json.h builds and checks its buffers without verifying them). Driven by
// the event catalogue (engine/catalogue.h).
Status validate_envelope(const fb::Envelope& envelope);

// FlatBuffers verification of `bytes` as an envelope (identifier "TLE1", structure), counted.
// REQUIRES: bytes.data() is 8-byte aligned.
bool verify_envelope_buffer(std::string_view bytes);

// How many envelopes verify_envelope_buffer (validate_event included) has verified in this
// process: the fold verifies each record once, and nothing between a producer and the fold
// needs to (benchmarks report verifications per event). Relaxed; for tests and benchmarks.
uint64_t envelope_verifications();

// True if `id` is a valid org or member id: 1..128 bytes of [A-Za-z0-9._@+-].
bool is_valid_id(std::string_view id);

}  // namespace tally
