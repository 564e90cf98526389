// What an event's own fields show in its history entry (projections/records.h HistoryFields), as
// its catalogue entry says (engine/catalogue.h: Shown). The fold's numbers (amount, balance,
// costs) are not here: they come from the FoldResult.
// Pure; thread-safe.
#pragma once

#include "engine/history_shown.h"
#include "tally/events_generated.h"

namespace tally {

// Fills `out` (left as it is where the body shows nothing) with views into the envelope's buffer.
// A record without a body, or with a body type of a newer schema, shows nothing.
// REQUIRES: `envelope` passed FlatBuffers verification (its fields need not be valid).
void history_text(const fb::Envelope& envelope, HistoryText& out);

}  // namespace tally
