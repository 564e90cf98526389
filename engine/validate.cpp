#include "validate.h"

#include <array>
#include <string>
#include <utility>

#include "catalogue_dispatch.h"
#include "ids.h"
#include "field_checks.h"
#include "table_checks.h"
#include "limits.h"
#include "tally/events_generated.h"

namespace tally {

bool checks::fail(Status* fault, std::string field, std::string message) {
  *fault = Status::invalid(std::move(field), std::move(message));
  return false;
}

std::string catalogue::path_of(const Where& where, std::string_view field) {
  if (where.parent == nullptr) return std::string(field);
  std::string path = path_of(*where.parent, where.field);
  if (where.index != std::string::npos) path += "[" + std::to_string(where.index) + "]";
  return path + "." + std::string(field);
}

bool catalogue::fail_at(Status* fault, const Where& where, std::string_view field, std::string message) {
  return checks::fail(fault, path_of(where, field), std::move(message));
}

std::string catalogue::range_message(const FieldDesc& f) {
  return "must be " + std::to_string(f.min) + ".." + std::to_string(f.max);
}

namespace {

using catalogue::check_number;
using catalogue::check_table;
using catalogue::check_text;
using catalogue::TableDesc;
using catalogue::Where;
using checks::fail;
using checks::size_of;


template <const TableDesc& T>
struct BodyCheck {
  // One body's checks, its rule included, as one function.
  [[gnu::flatten]] static bool run(const flatbuffers::Table& body, int64_t occurred_at_ms, Status* fault) {
    return check_table<T>(body, Where{nullptr, {}, std::string::npos, occurred_at_ms}, fault);
  }
};

using BodyChecker = bool (*)(const flatbuffers::Table&, int64_t, Status*);
constexpr auto body_checkers = catalogue::per_body_functions<BodyChecker, BodyCheck>();

bool check_body(const fb::Envelope& e, Status* fault) {
  const auto type = static_cast<std::size_t>(e.body_type());
  if (type >= body_checkers.size() || body_checkers[type] == nullptr) {
    return fail(fault, "type", "unknown event type");
  }
  return body_checkers[type](*reinterpret_cast<const flatbuffers::Table*>(e.body()), e.occurred_at_ms(), fault);
}

// Bit b of a mask: body type b has the org rule (one test on the hot path, not a table walk).
constexpr uint64_t org_rule_mask(catalogue::OrgRule rule) {
  uint64_t mask = 0;
  for (const catalogue::BodyDesc& body : catalogue::bodies) {
    if (body.type != fb::Body::NONE && body.org == rule) mask |= uint64_t{1} << static_cast<unsigned>(body.type);
  }
  return mask;
}
static_assert(catalogue::bodies.size() <= 64, "org_rule_mask holds 64 body types");

bool has_org_rule(std::size_t type, catalogue::OrgRule rule) {
  constexpr uint64_t none = org_rule_mask(catalogue::OrgRule::none);
  constexpr uint64_t optional = org_rule_mask(catalogue::OrgRule::optional);
  const uint64_t mask = rule == catalogue::OrgRule::none ? none : optional;
  return type < 64 && ((mask >> type) & 1) != 0;
}

bool check_envelope(const fb::Envelope& e, Status* fault) {
  if (e.schema_version() != 1) {
    return fail(fault, "schema_version", "unsupported version " + std::to_string(e.schema_version()));
  }
  if (!check_text<catalogue::envelope, 0>(e.idempotency_key(), Where{}, fault)) return false;
  if (e.body_type() == fb::Body::NONE || e.body() == nullptr) return fail(fault, "type", "missing event body");
  const auto type = static_cast<std::size_t>(e.body_type());
  if (size_of(e.org_id()) != 0) {
    if (has_org_rule(type, catalogue::OrgRule::none)) {
      return fail(fault, "org_id", "must be empty for " + std::string(catalogue::bodies[type].name) + " (a global event)");
    }
    if (!is_valid_id(e.org_id()->string_view())) return fail(fault, "org_id", "must be 1..128 bytes of [A-Za-z0-9._@+-]");
  } else if (!has_org_rule(type, catalogue::OrgRule::none) && !has_org_rule(type, catalogue::OrgRule::optional)) {
    return fail(fault, "org_id", "is required");  // a body of a newer schema too: check_body refuses it next
  }
  return check_number<catalogue::envelope, 2>(e.occurred_at_ms(), Where{}, fault) &&
         check_text<catalogue::envelope, 3>(e.source(), Where{}, fault) &&
         check_text<catalogue::envelope, 4>(e.correlation_id(), Where{}, fault) && check_body(e, fault);
}

}  // namespace

bool is_valid_id(std::string_view id) { return is_id_text(id); }

Status validate_envelope(const fb::Envelope& e) {
  Status fault;
  if (check_envelope(e, &fault)) return Status::ok();
  return fault;
}

Status validate_event(std::string_view bytes, const fb::Envelope** envelope) {
  if (bytes.size() > limits::event_bytes_max) {
    return Status::error(Status::Code::too_large, "record larger than 64 KiB");
  }
  if (bytes.size() < 8 || !fb::EnvelopeBufferHasIdentifier(bytes.data())) {
    return Status::error(Status::Code::corruption, "not a Tally event (file identifier TLE1 missing)");
  }
  if (!verify_envelope_buffer(bytes)) {
    return Status::error(Status::Code::corruption, "malformed or truncated FlatBuffers event");
  }
  const fb::Envelope* e = fb::GetEnvelope(bytes.data());
  if (envelope) *envelope = e;
  return validate_envelope(*e);
}

}  // namespace tally
