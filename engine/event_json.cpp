// Canonical JSON <-> FlatBuffers envelope. See event_json.h for the contract.
//
// The bodies are the catalogue's (engine/catalogue.h) through json_table.h; this file adds what is
// the envelope's own: the `type` discriminator, schema_version, the org rule of each body, the
// batch array, and the checks of the buffer it built (validate_envelope, no verification).
#include "engine/event_json.h"

#include <cstdint>
#include <string>
#include <utility>

#include <boost/json.hpp>

#include "engine/catalogue.h"
#include "engine/json_table.h"
#include "engine/strict_json.h"
#include "engine/validate.h"
#include "tally/signals_generated.h"

namespace tally {
namespace {

namespace json = boost::json;
using json_detail::to_json_view;
using json_detail::to_std;

// User text echoed back in an error message is cut to this many bytes.
constexpr std::size_t echo_bytes_max = 64;

// Quotes user text for an error message, cut at a UTF-8 character boundary so the message stays
// valid UTF-8 (it is usually sent back inside a JSON error body).
std::string echo(std::string_view user_text) {
  if (user_text.size() <= echo_bytes_max) return "\"" + std::string(user_text) + "\"";
  std::size_t cut = echo_bytes_max;
  while (cut > 0 && (static_cast<unsigned char>(user_text[cut]) & 0xC0) == 0x80) --cut;
  return "\"" + std::string(user_text.substr(0, cut)) + "…\"";
}

// Bytes from a log or a store may sit at any address. FlatBuffers reads scalars in place with
// plain loads (its verifier only checks alignment relative to the buffer start), so a misaligned
// buffer would mean undefined behaviour: such input is copied to an aligned buffer first.
std::string_view aligned(std::string_view bytes, std::string& copy) {
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::int64_t) == 0) return bytes;
  copy.assign(bytes);
  return copy;
}

Result<const catalogue::BodyDesc*> read_type(const json::object& object, const std::string& path) {
  const json::value* value = object.if_contains("type");
  if (value == nullptr) return Status::invalid(path + "type", "is required (the event type, e.g. \"purchase\")");
  if (!value->is_string()) return Status::invalid(path + "type", "must be a string");
  const std::string_view name = to_std(value->get_string());
  const catalogue::BodyDesc* body = catalogue::find_body(name);
  if (body == nullptr) return Status::invalid(path + "type", "unknown event type " + echo(name));
  return body;
}

// The envelope's schema_version is optional; when given it must be the one this build writes.
Status check_schema_version(const json::object& object, const std::string& path) {
  const json::value* value = object.if_contains("schema_version");
  if (value == nullptr) return Status::ok();
  uint16_t version = 0;
  if (Status s = json_detail::read_integer(*value, path + "schema_version", version); !s.is_ok()) return s;
  if (version != fb::EnvelopeT{}.schema_version) {
    return Status::invalid(path + "schema_version",
                           "unsupported version " + std::to_string(version) + " (this build writes 1)");
  }
  return Status::ok();
}

// `field` under `path` ("[3]." + "credits_micros"); the element itself when there is no field.
std::string prefixed(const std::string& path, const std::string& field) {
  if (field.empty() && !path.empty() && path.back() == '.') return path.substr(0, path.size() - 1);
  return path + field;
}

// Envelope field indices in catalogue::envelope.
enum EnvelopeField : std::size_t { key_field = 0, org_field = 1, occurred_at_field = 2 };

// Reads one event object into `out`. `path` prefixes every field name ("" or "[3].").
Status read_event(const json::object& object, const std::string& path, const EventParseOptions& options,
                  ParsedEvent& out) {
  Result<const catalogue::BodyDesc*> type = read_type(object, path);
  if (!type.is_ok()) return type.status();
  const catalogue::BodyDesc& body = *type.value();
  Status status = json_detail::reject_unknown_fields(object, path, [&](std::string_view key) {
    return key == "type" || key == "schema_version" || json_detail::has_field(catalogue::envelope, key) ||
           json_detail::has_field(*body.table, key);
  });
  if (!status.is_ok()) return status;
  if (status = check_schema_version(object, path); !status.is_ok()) return status;

  flatbuffers::FlatBufferBuilder builder(1024);
  json_detail::FieldSlots envelope{};
  out.occurred_at_given = object.contains("occurred_at_ms");
  if (options.occurred_at_default_ms) envelope[occurred_at_field] = {true, *options.occurred_at_default_ms, 0};
  status = json_detail::read_fields(object, catalogue::envelope, path, builder, envelope);
  if (!status.is_ok()) return status;
  Result<flatbuffers::uoffset_t> body_table = json_detail::read_table(object, *body.table, path, builder);
  if (!body_table.is_ok()) return body_table.status();
  // org_id is required except for the events that belong to no org (a global rate card, a
  // partition's tick); the rest of the org rules are validate_envelope's.
  if (body.org == catalogue::OrgRule::required && !envelope[org_field].present) {
    return Status::invalid(path + "org_id", "is required");
  }

  // The envelope, in flatc's order (sizes 8, 4, 2, 1; each in reverse field order).
  const flatbuffers::uoffset_t start = builder.StartTable();
  json_detail::add_fields(catalogue::envelope, envelope, 8, builder);
  builder.AddOffset(fb::Envelope::VT_BODY, flatbuffers::Offset<void>(body_table.value()));
  json_detail::add_fields(catalogue::envelope, envelope, 4, builder);
  builder.AddElement<uint16_t>(fb::Envelope::VT_SCHEMA_VERSION, fb::EnvelopeT{}.schema_version, 1);
  builder.AddElement<uint8_t>(fb::Envelope::VT_BODY_TYPE, static_cast<uint8_t>(body.type), 0);
  builder.Finish(flatbuffers::Offset<fb::Envelope>(builder.EndTable(start)), fb::EnvelopeIdentifier());

  if (builder.GetSize() > limits::event_bytes_max) {
    return Status::error(Status::Code::too_large, prefixed(path, ""),
                         "the event encodes to " + std::to_string(builder.GetSize()) + " bytes, more than " +
                             std::to_string(limits::event_bytes_max));
  }
  out.bytes.assign(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
  // This process built the buffer: its structure is known good, only its values need checking.
  const fb::Envelope& built = *fb::GetEnvelope(out.bytes.data());
  if (status = validate_envelope(built); !status.is_ok()) {
    return Status::error(status.code(), prefixed(path, status.field()), status.message());
  }
  out.body_type = body.type;
  out.org_id = built.org_id() ? built.org_id()->str() : std::string();
  out.idempotency_key = built.idempotency_key()->str();
  return Status::ok();
}

Status too_large(std::string message) { return Status::error(Status::Code::too_large, std::move(message)); }

Result<ParsedEvents> parse_events(std::string_view text, const EventParseOptions& options) {
  if (text.size() > options.json_bytes_max) {
    return too_large("event JSON is " + std::to_string(text.size()) + " bytes, more than " +
                     std::to_string(options.json_bytes_max));
  }
  unsigned char arena[4096];
  json::monotonic_resource resource(arena, sizeof arena);
  Result<json::value> parsed = json_detail::parse_strict(text, &resource, event_json_depth_max);
  if (!parsed.is_ok()) return parsed.status();
  ParsedEvents out;
  if (parsed->is_object()) {
    ParsedEvent& event = out.events.emplace_back();
    if (Status s = read_event(parsed->get_object(), "", options, event); !s.is_ok()) return s;
    return out;
  }
  if (!parsed->is_array() || !options.array_allowed) {
    return Status::invalid("", options.array_allowed ? "must be an event object or an array of them"
                                                     : "an event must be a JSON object");
  }
  const json::array& array = parsed->get_array();
  if (array.size() > options.events_max) {
    return too_large(std::to_string(array.size()) + " events, more than " + std::to_string(options.events_max));
  }
  out.batch = true;
  out.events.resize(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    const std::string index = "[" + std::to_string(i) + "]";
    if (!array[i].is_object()) return Status::invalid(index, "must be an event object");
    if (Status s = read_event(array[i].get_object(), index + ".", options, out.events[i]); !s.is_ok()) return s;
  }
  return out;
}

}  // namespace

Result<ParsedEvents> events_from_json(std::string_view text, const EventParseOptions& options) {
  return parse_events(text, options);
}

Result<std::string> event_from_json(std::string_view text) {
  EventParseOptions options;
  options.array_allowed = false;
  Result<ParsedEvents> parsed = parse_events(text, options);
  if (!parsed.is_ok()) return parsed.status();
  return std::move(parsed->events.front().bytes);
}

Result<std::string> event_to_json(std::string_view bytes) {
  std::string copy;
  bytes = aligned(bytes, copy);
  if (bytes.size() >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return Status::error(Status::Code::corruption, "not an event: larger than any FlatBuffer");
  }
  if (!verify_envelope_buffer(bytes)) {
    return Status::error(Status::Code::corruption, "not an event: FlatBuffers verification failed (identifier TLE1)");
  }
  const fb::Envelope& envelope = *fb::GetEnvelope(bytes.data());
  const catalogue::BodyDesc* body = catalogue::find_body(envelope.body_type());
  if (body == nullptr || envelope.body() == nullptr) {
    return Status::error(Status::Code::corruption,
                         "event has no body or an unknown body type " +
                             std::to_string(static_cast<int>(envelope.body_type())));
  }

  unsigned char arena[4096];
  json::monotonic_resource resource(arena, sizeof arena);
  json::object out(&resource);
  out.reserve(24);
  out.emplace("type", to_json_view(body->name));
  // Omitted when it is the version this build writes, so the common form stays short; any other
  // version is shown (the record is then not one this build accepts).
  if (envelope.schema_version() != fb::EnvelopeT{}.schema_version) {
    out.emplace("schema_version", static_cast<int64_t>(envelope.schema_version()));
  }
  const auto& table = *reinterpret_cast<const flatbuffers::Table*>(&envelope);
  json_detail::write_table(table, catalogue::envelope, out);
  json_detail::write_table(*reinterpret_cast<const flatbuffers::Table*>(envelope.body()), *body->table, out);
  return json::serialize(out);
}

Result<std::string> signal_to_json(std::string_view bytes) {
  std::string copy;
  bytes = aligned(bytes, copy);
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  if (bytes.size() >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return Status::error(Status::Code::corruption, "not a signal: larger than any FlatBuffer");
  }
  flatbuffers::Verifier verifier(data, bytes.size());
  if (!fb::VerifySignalBuffer(verifier)) {
    return Status::error(Status::Code::corruption, "not a signal: FlatBuffers verification failed (identifier TLS1)");
  }
  const fb::Signal& signal = *fb::GetSignal(data);

  unsigned char arena[2048];
  json::monotonic_resource resource(arena, sizeof arena);
  json::object out(&resource);
  out.reserve(16);
  if (signal.schema_version() != fb::SignalT{}.schema_version) {
    out.emplace("schema_version", static_cast<int64_t>(signal.schema_version()));
  }
  json_detail::write_table(*reinterpret_cast<const flatbuffers::Table*>(&signal), catalogue::signal, out);
  return json::serialize(out);
}

}  // namespace tally
