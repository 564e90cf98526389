#include "validate.h"

#include <array>
#include <string>
#include <utility>

#include "catalogue_dispatch.h"
#include "field_checks.h"
#include "limits.h"
#include "tally/events_generated.h"

namespace tally {

bool checks::fail(Status* fault, std::string field, std::string message) {
  *fault = Status::invalid(std::move(field), std::move(message));
  return false;
}

namespace {

using catalogue::Check;
using catalogue::FieldDesc;
using catalogue::Kind;
using catalogue::Need;
using catalogue::TableDesc;
using checks::fail;
using checks::size_of;
using flatbuffers::String;


// Where a table sits in the event, for a field's name in a message ("models[1].model"); the
// name is built only when a check fails.
struct Where {
  const Where* parent = nullptr;
  std::string_view field;                  // the list or nested table holding this one
  std::size_t index = std::string::npos;   // the element of a list; npos for a nested table
};

[[gnu::cold]] std::string path_of(const Where& where, std::string_view field) {
  if (where.parent == nullptr) return std::string(field);
  std::string path = path_of(*where.parent, where.field);
  if (where.index != std::string::npos) path += "[" + std::to_string(where.index) + "]";
  return path + "." + std::string(field);
}

[[gnu::cold, gnu::noinline]] bool fail_at(Status* fault, const Where& where, std::string_view field,
                                          std::string message) {
  return fail(fault, path_of(where, field), std::move(message));
}

[[gnu::cold]] std::string range_message(const FieldDesc& f) {
  return "must be " + std::to_string(f.min) + ".." + std::to_string(f.max);
}

template <const TableDesc& T, std::size_t I>
[[gnu::always_inline]] inline bool check_number(int64_t v, const Where& where, Status* fault) {
  static constexpr const FieldDesc& F = T.fields[I];
  if constexpr (F.check == Check::positive) {
    return v > 0 || fail_at(fault, where, F.name, "must be > 0");
  } else if constexpr (F.check == Check::non_negative) {
    return v >= 0 || fail_at(fault, where, F.name, "must be >= 0");
  } else if constexpr (F.check == Check::nonzero) {
    return v != 0 || fail_at(fault, where, F.name, "must not be 0");
  } else if constexpr (F.check == Check::range) {
    return (v >= F.min && v <= F.max) || fail_at(fault, where, F.name, range_message(F));
  } else {
    static_assert(F.check == Check::none || F.check == Check::by_rule, "not a number rule");
    return true;
  }
}

template <const TableDesc& T, std::size_t I>
[[gnu::always_inline]] inline bool check_text(const String* s, const Where& where, Status* fault) {
  static constexpr const FieldDesc& F = T.fields[I];
  const std::size_t size = size_of(s);
  if constexpr (F.check == Check::text) {
    if (size > 0 && size <= F.max_bytes) return true;
    if (size == 0) return F.need == Need::optional || fail_at(fault, where, F.name, "is required");
    const std::string message = "longer than " + std::to_string(F.max_bytes) + " bytes";
    return F.bare_name_when_too_long ? fail(fault, std::string(F.name), message)
                                     : fail_at(fault, where, F.name, message);
  } else if constexpr (F.check == Check::id) {
    if (size == 0) return F.need == Need::optional || fail_at(fault, where, F.name, "is required");
    return is_valid_id(s->string_view()) ||
           fail_at(fault, where, F.name, "must be 1..128 bytes of [A-Za-z0-9._@+-]");
  } else if constexpr (F.check == Check::currency) {
    if (size != 3) return fail_at(fault, where, F.name, "must be a 3-letter ISO 4217 code");
    for (char c : s->string_view()) {
      if (c < 'a' || c > 'z') return fail_at(fault, where, F.name, "must be lower case letters");
    }
    return true;
  } else {
    static_assert(F.check == Check::by_rule, "not a text rule");
    return true;
  }
}

template <const TableDesc& T, std::size_t I>
[[gnu::always_inline]] inline bool check_enum(int8_t v, const Where& where, Status* fault) {
  static constexpr const FieldDesc& F = T.fields[I];
  const bool known = v >= 0 && v <= F.enumeration->max;
  if constexpr (F.check == Check::known) {
    return known || fail_at(fault, where, F.name, "unknown value");
  } else if constexpr (F.check == Check::chosen) {
    return (known && v != 0) ||
           fail_at(fault, where, F.name, "must be " + catalogue::enum_alternatives(*F.enumeration));
  } else {
    static_assert(F.check == Check::by_rule || F.check == Check::none, "not an enum rule");
    return true;
  }
}

template <const TableDesc& T>
bool check_table(const flatbuffers::Table& table, const Where& where, Status* fault);

template <const TableDesc& T, std::size_t I>
bool check_field(const flatbuffers::Table& t, const Where& where, Status* fault) {
  static constexpr const FieldDesc& F = T.fields[I];
  if constexpr (F.kind == Kind::text) {
    return check_text<T, I>(t.GetPointer<const String*>(F.slot), where, fault);
  } else if constexpr (F.kind == Kind::int64) {
    return check_number<T, I>(t.GetField<int64_t>(F.slot, F.default_value), where, fault);
  } else if constexpr (F.kind == Kind::int32) {
    return check_number<T, I>(t.GetField<int32_t>(F.slot, static_cast<int32_t>(F.default_value)), where, fault);
  } else if constexpr (F.kind == Kind::optional_int64) {
    const auto v = t.GetOptional<int64_t, int64_t>(F.slot);
    return !v.has_value() || check_number<T, I>(*v, where, fault);
  } else if constexpr (F.kind == Kind::enumeration) {
    return check_enum<T, I>(t.GetField<int8_t>(F.slot, static_cast<int8_t>(F.default_value)), where, fault);
  } else if constexpr (F.kind == Kind::boolean) {
    return true;
  } else if constexpr (F.kind == Kind::table) {
    const auto* nested = t.GetPointer<const flatbuffers::Table*>(F.slot);
    if (nested == nullptr) return F.need == Need::optional || fail_at(fault, where, F.name, "is required");
    return check_table<*F.table>(*nested, Where{&where, F.name}, fault);
  } else {
    static_assert(F.kind == Kind::table_list);
    const auto* elements = t.GetPointer<const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>*>(F.slot);
    const flatbuffers::uoffset_t count = elements ? elements->size() : 0;
    for (flatbuffers::uoffset_t i = 0; i < count; ++i) {
      if (!check_table<*F.table>(*elements->Get(i), Where{&where, F.name, i}, fault)) return false;
    }
    return true;
  }
}

template <const TableDesc& T>
bool check_table(const flatbuffers::Table& table, const Where& where, Status* fault) {
  const auto step = [&](auto index) {
    if constexpr (index.value == catalogue::rule_step) {
      return T.rule(table, fault);
    } else {
      return check_field<T, index.value>(table, where, fault);
    }
  };
  if constexpr (!T.check_order.empty()) {
    return catalogue::for_each_check_step<T>(step);
  } else if constexpr (T.rule != nullptr) {
    return catalogue::for_each_field<T>(step) && T.rule(table, fault);
  } else {
    return catalogue::for_each_field<T>(step);
  }
}

template <const TableDesc& T>
struct BodyCheck {
  // One body's checks, its rule included, as one function.
  [[gnu::flatten]] static bool run(const flatbuffers::Table& body, Status* fault) {
    return check_table<T>(body, Where{}, fault);
  }
};

using BodyChecker = bool (*)(const flatbuffers::Table&, Status*);
constexpr auto body_checkers = catalogue::per_body_functions<BodyChecker, BodyCheck>();

bool check_body(const fb::Envelope& e, Status* fault) {
  const auto type = static_cast<std::size_t>(e.body_type());
  if (type >= body_checkers.size() || body_checkers[type] == nullptr) {
    return fail(fault, "type", "unknown event type");
  }
  return body_checkers[type](*reinterpret_cast<const flatbuffers::Table*>(e.body()), fault);
}

// Bit b of a mask: body type b has the org rule (one test on the hot path, not a table walk).
constexpr uint64_t org_rule_mask(catalogue::OrgRule rule) {
  uint64_t mask = 0;
  for (const catalogue::BodyDesc& body : catalogue::bodies) {
    if (body.table != nullptr && body.org == rule) mask |= uint64_t{1} << static_cast<unsigned>(body.type);
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

// The bytes of an org or member id: [A-Za-z0-9._@+-].
constexpr std::array<bool, 256> id_bytes = [] {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = '0'; c <= '9'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("._@+-")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

}  // namespace

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > limits::org_id_bytes_max) return false;
  for (char c : id) {
    if (!id_bytes[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

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
