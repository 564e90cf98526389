#include "ingest/canonical_event.h"

#include "engine/limits.h"

namespace tally::connectors {

boost::json::object make_event(std::string_view type, const EventEnvelope& envelope) {
  boost::json::object event;
  event["type"] = type;
  event["idempotency_key"] = envelope.idempotency_key;
  event["org_id"] = envelope.org_id;
  event["occurred_at_ms"] = envelope.occurred_at_ms;
  if (!envelope.source.empty()) event["source"] = envelope.source;
  if (!envelope.correlation_id.empty()) event["correlation_id"] = envelope.correlation_id;
  return event;
}

bool is_valid_ledger_id(std::string_view id) {
  if (id.empty() || id.size() > limits::org_id_bytes_max) return false;
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '@' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace tally::connectors
