#include "submit/events.h"

#include "engine/catalogue.h"
#include "engine/event_json.h"
#include "engine/validate.h"
#include "tally/events_generated.h"

namespace tally::submit {
namespace {

std::string indexed(bool batch, std::size_t index, const std::string& field) {
  if (!batch) return field;
  return "[" + std::to_string(index) + "]" + (field.empty() ? "" : "." + field);
}

std::string text(const flatbuffers::String* s) { return s != nullptr ? s->str() : std::string(); }

// The envelope of bytes this process built or validated: read in place, never verified again.
const fb::Envelope& trusted_envelope(const std::string& bytes) { return *fb::GetEnvelope(bytes.data()); }

}  // namespace

Result<PreparedEvents> prepare_json(std::string_view json, const JsonOptions& options) {
  EventParseOptions parse;
  parse.occurred_at_default_ms = options.stamp_time_ms;
  parse.array_allowed = options.array_allowed;
  parse.events_max = options.events_max;
  Result<ParsedEvents> parsed = events_from_json(json, parse);
  if (!parsed.is_ok()) return parsed.status();
  PreparedEvents out;
  out.batch = parsed->batch;
  out.events.reserve(parsed->events.size());
  for (ParsedEvent& event : parsed->events) {
    PreparedEvent& prepared = out.events.emplace_back();
    prepared.occurred_at_ms = trusted_envelope(event.bytes).occurred_at_ms();
    prepared.bytes = std::move(event.bytes);
    prepared.org_id = std::move(event.org_id);
    prepared.idempotency_key = std::move(event.idempotency_key);
    prepared.type = std::string(catalogue::body_type_name(event.body_type));
    prepared.occurred_at_given = event.occurred_at_given;
  }
  return out;
}

Result<PreparedEvents> prepare_built(std::vector<std::string> encoded) {
  if (encoded.size() > submit_events_max) {
    return Status::error(Status::Code::too_large, "body", std::to_string(encoded.size()) + " events, more than " +
                                                              std::to_string(submit_events_max));
  }
  PreparedEvents out;
  out.batch = encoded.size() > 1;
  out.events.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    std::string& bytes = encoded[i];
    // Cheap guards against a caller that hands over something no builder made (no verification).
    if (bytes.size() < 8 || !fb::EnvelopeBufferHasIdentifier(bytes.data())) {
      return Status::invalid(indexed(out.batch, i, ""), "not an encoded event (no TLE1 envelope)");
    }
    const fb::Envelope& envelope = trusted_envelope(bytes);
    if (Status status = validate_envelope(envelope); !status.is_ok()) {
      return Status::invalid(indexed(out.batch, i, status.field()), status.message());
    }
    PreparedEvent& prepared = out.events.emplace_back();
    prepared.org_id = text(envelope.org_id());
    prepared.idempotency_key = text(envelope.idempotency_key());
    prepared.type = std::string(catalogue::body_type_name(envelope.body_type()));
    prepared.occurred_at_ms = envelope.occurred_at_ms();
    prepared.bytes = std::move(bytes);
  }
  return out;
}

}  // namespace tally::submit
