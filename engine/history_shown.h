// HistoryText: what an event's own fields show in its history entry (filled by
// engine/history_text.h's history_text(), as the catalogue says). A header of its own so that the
// catalogue's rules can fill it without depending on the catalogue walk.
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

}  // namespace tally
