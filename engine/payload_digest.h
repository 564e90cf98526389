// The payload digest of an event (SPEC §4, idempotency): the same key with the same payload is a
// duplicate, with another payload a conflict. It covers the org, the key, the body type and the
// body's fields as the event catalogue says (engine/catalogue.h: Digest), decoded — never the raw
// bytes, the event time, the source or the correlation id. Stable across builds: ledgers store it.
// Pure; thread-safe.
#pragma once

#include "engine/digest.h"
#include "tally/events_generated.h"

namespace tally {

// Adds the body type and the body's digested fields to `digest`.
// REQUIRES: `envelope` passed validate_envelope.
void digest_body(FieldDigest& digest, const fb::Envelope& envelope);

}  // namespace tally
