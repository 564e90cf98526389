// What the ingest mappers (Stripe webhooks, LiteLLM callbacks) produce: an event in the canonical
// JSON form of engine/event_json.h — one flat object with `type` (snake_case body name), the
// envelope fields and the body's fields, snake_case as in schemas/events.fbs — or an explicit
// "ignored" answer for input that is acknowledged but is not a ledger fact.
//
// The mappers do not encode or validate against the schema: the caller passes the JSON on to
// event_from_json() (engine/event_json.h), which is the one place that decides validity, so a
// mapped event and a hand-written one are judged alike.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace tally::connectors {

// The envelope of a mapped event (schemas/events.fbs `Envelope`).
struct EventEnvelope {
  std::string idempotency_key;
  std::string org_id;
  int64_t occurred_at_ms = 0;
  std::string source;          // producing service: "stripe", "litellm"
  std::string correlation_id;  // optional; omitted when empty
};

// Starts a canonical event object: {"type", "idempotency_key", "org_id", "occurred_at_ms",
// "source"[, "correlation_id"]}; the caller appends the body's fields in schema order.
boost::json::object make_event(std::string_view type, const EventEnvelope& envelope);

// The outcome of mapping one inbound payload.
struct MappedEvent {
  // False: `event` holds the canonical event to append. True: the payload is valid but carries no
  // ledger fact (an event type we do not consume, a failed LLM call, an unpaid checkout); the
  // caller acknowledges it (HTTP 200) and appends nothing. `reason` says why, for logs.
  bool ignored = false;
  std::string reason;
  boost::json::object event;

  static MappedEvent of(boost::json::object event) {
    MappedEvent out;
    out.event = std::move(event);
    return out;
  }
  static MappedEvent ignore(std::string reason) {
    MappedEvent out;
    out.ignored = true;
    out.reason = std::move(reason);
    return out;
  }
};

// True if `id` is a valid org or member id: 1..128 bytes of [A-Za-z0-9._@+-] (SPEC §3). The
// mappers check ids they derive from third-party fields so the error names that field.
bool is_valid_ledger_id(std::string_view id);

}  // namespace tally::connectors
