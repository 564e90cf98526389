// What an event's own fields show in its history entry (projections/records.h HistoryFields), as
// its catalogue entry says (engine/catalogue.h: Shown). The fold's numbers (amount, balance,
// costs) are not here: they come from the FoldResult.
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "tally/events_generated.h"

namespace tally {

struct HistoryText {
  std::string_view label;        // usage: the model, or the sandbox class for sandbox_seconds
  std::string_view member_id;
  std::string_view workspace;
  std::string_view payment_ref;  // purchase, auto_refill: the payment; refund: the purchase key
  int64_t paid_minor = 0;
  int64_t fee_minor = 0;
  std::string_view currency;
  std::string_view reason_text;  // reasons, a failed payment's code, an auto-refill's signal id
  // Bodies that are paid for (usage): the path asked for (unset: the org's mode decides).
  std::optional<fb::BillingPath> billing_path;
};

// Fills `out` (left as it is where the body shows nothing) with views into the envelope's buffer.
// A record without a body, or with a body type of a newer schema, shows nothing.
// REQUIRES: `envelope` passed FlatBuffers verification (its fields need not be valid).
void history_text(const fb::Envelope& envelope, HistoryText& out);

}  // namespace tally
