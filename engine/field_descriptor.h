// The vocabulary of the event catalogue (engine/catalogue.h): how one field of a FlatBuffers table
// is described — its JSON name, kind, range, unit, what the payload digest takes of it and what a
// history entry shows of it. Pure data, usable in constant expressions: the interpreters
// (engine/validate.cpp, engine/payload_digest.cpp, engine/history_text.cpp, engine/event_json.cpp)
// are templates over these descriptors, so each body compiles to straight-line code.
//
// A descriptor is built with the helpers at the bottom and refined with modifiers:
//   int64("credits_micros", fb::Purchase::VT_CREDITS_MICROS, Unit::micros).positive()
// Pure; no state.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "engine/limits.h"
#include "engine/status.h"

namespace flatbuffers { class Table; }

namespace tally {
struct HistoryText;  // engine/history_shown.h
}

namespace tally::catalogue {

// How the field is stored (the FlatBuffers type of its slot).
enum class Kind : uint8_t {
  text,            // string
  int64,           // long
  int32,           // int
  boolean,         // bool
  enumeration,     // byte enum of the schema
  optional_int64,  // `long = null`: absent is not the same as 0
  table,           // one nested table
  table_list,      // [Table]
};

// Required fields must appear in JSON (a required text must also be non-empty).
enum class Need : uint8_t { optional, required };

// The range rule of a field, checked by validate_envelope. Messages are fixed by the rule
// ("must be > 0", "must be 1..10", "longer than 1024 bytes", …): a rejected record's detail is
// kept in the views, so they never change for an existing rule.
enum class Check : uint8_t {
  none,
  positive,      // > 0
  non_negative,  // >= 0 (an optional field: when present)
  nonzero,       // != 0
  range,         // min..max
  text,          // at most max_bytes; non-empty when required
  id,            // an org or member id: 1..128 bytes of [A-Za-z0-9._@+-]; may be empty unless required
  currency,      // ISO 4217, 3 lower-case letters
  known,         // enum: a value of this build's schema (unset allowed)
  chosen,        // enum: a value of this build's schema other than unset
  by_rule,       // the table's rule checks it (its validity depends on other fields)
  after_event,   // a time: 0 (none), or later than the envelope's occurred_at_ms (SPEC §12 expiry)
};

// What a number counts. Documentation, and the suffix of its JSON name (catalogue_test).
enum class Unit : uint8_t { none, micros, minor, basis_points, tokens, seconds, unix_ms, count, version };

// What the payload digest (idempotency: same key, same payload?) takes of a field, in field order.
enum class Digest : uint8_t {
  skip,                // not covered
  value,               // text: add(bytes); numbers, bools and enums: add_int(value as int64)
  presence_and_value,  // add_int(present), add_int(value or 0)
  when_present,        // only when present (non-default): add_int(slot), then the value. For a
                       // field appended to a body after ledgers hold it: their digests stay.
};

// Which history-entry field (projections/records.h HistoryFields) shows the value.
enum class Shown : uint8_t {
  no,
  label,         // usage: the model or sandbox class priced
  member_id,
  workspace,
  payment_ref,   // purchases: the payment; refunds: the purchase refunded
  paid_minor,
  fee_minor,
  currency,
  reason_text,
  billing_path,  // usage: the path asked for (resolved against the org by the projector)
};

// A byte enum of the schema.
struct EnumDesc {
  const char* const* (*names)();  // flatc's EnumNamesX(), indexed by value
  int8_t max;                     // X::MAX
  bool has_unset;                 // value 0 is named "unset": not given, never written in JSON
};

struct TableDesc;

struct FieldDesc {
  std::string_view name;   // JSON name (the schema's unless schema_name says otherwise)
  uint16_t slot = 0;       // vtable slot: fb::Table::VT_… of the generated code
  Kind kind = Kind::int64;
  Need need = Need::optional;
  Check check = Check::none;
  int64_t min = 0;  // Check::range
  int64_t max = 0;
  std::size_t max_bytes = limits::text_field_bytes_max;  // Kind::text
  int64_t default_value = 0;                              // the schema's default of a scalar
  Unit unit = Unit::none;
  Digest digest = Digest::value;
  Shown shown = Shown::no;
  const EnumDesc* enumeration = nullptr;  // Kind::enumeration
  const TableDesc* table = nullptr;       // Kind::table, Kind::table_list
  // Legacy: a too long value is reported under the bare field name, not its path. Existing
  // ledgers keep that text in their rejects view; see ModelPrice.model.
  bool bare_name_when_too_long = false;
  std::string_view schema_name = {};  // the schema's name when the JSON name differs

 private:
  // Defined before its callers: clang 14 treats a member template defined further down the class
  // as undefined in a constant expression.
  template <class F>
  constexpr FieldDesc with(F change) const {
    FieldDesc copy = *this;
    change(copy);
    return copy;
  }

 public:
  constexpr FieldDesc required() const { return with([](FieldDesc& f) { f.need = Need::required; }); }
  constexpr FieldDesc positive() const { return with([](FieldDesc& f) { f.check = Check::positive; }); }
  constexpr FieldDesc non_negative() const { return with([](FieldDesc& f) { f.check = Check::non_negative; }); }
  constexpr FieldDesc nonzero() const { return with([](FieldDesc& f) { f.check = Check::nonzero; }); }
  constexpr FieldDesc range(int64_t low, int64_t high) const {
    return with([&](FieldDesc& f) { f.check = Check::range; f.min = low; f.max = high; });
  }
  constexpr FieldDesc bytes_max(std::size_t bytes) const { return with([&](FieldDesc& f) { f.max_bytes = bytes; }); }
  constexpr FieldDesc currency() const { return with([](FieldDesc& f) { f.check = Check::currency; }); }
  constexpr FieldDesc known() const { return with([](FieldDesc& f) { f.check = Check::known; }); }
  constexpr FieldDesc chosen() const { return with([](FieldDesc& f) { f.check = Check::chosen; }); }
  constexpr FieldDesc by_rule() const { return with([](FieldDesc& f) { f.check = Check::by_rule; }); }
  constexpr FieldDesc after_event() const { return with([](FieldDesc& f) { f.check = Check::after_event; }); }
  constexpr FieldDesc digest_as(Digest d) const { return with([&](FieldDesc& f) { f.digest = d; }); }
  constexpr FieldDesc shown_as(Shown s) const { return with([&](FieldDesc& f) { f.shown = s; }); }
  constexpr FieldDesc defaults_to(int64_t v) const { return with([&](FieldDesc& f) { f.default_value = v; }); }
  constexpr FieldDesc named_in_schema(std::string_view name_in_schema) const {
    return with([&](FieldDesc& f) { f.schema_name = name_in_schema; });
  }
  constexpr FieldDesc bare_name_in_length_error() const {
    return with([](FieldDesc& f) { f.bare_name_when_too_long = true; });
  }

};

// The rule of a table without cross-field rules, and the history of a body whose fields say it
// all. (Defaults rather than null pointers: the walks call them unconditionally, and a null
// check of an address is no constant expression under -fno-delete-null-pointer-checks, which
// the sanitizer build implies.)
inline bool no_rule(const flatbuffers::Table& /*table*/, Status* /*fault*/) { return true; }
inline void no_history(const flatbuffers::Table& /*table*/, HistoryText& /*out*/) {}

// Fields of one table, at most (the codec keeps one slot per field on the stack).
inline constexpr std::size_t fields_per_table_max = 32;

// Step of a table's validation order that runs the table's rule instead of a field's check.
inline constexpr uint8_t rule_step = 0xff;

struct TableDesc {
  std::string_view name;              // the schema's table name
  std::span<const FieldDesc> fields;  // schema order: canonical JSON order and payload digest order
  // Validation order (field indices, and rule_step for the rule: listed once), when it is not the
  // fields in order followed by the rule. The first failing check names a rejected record's
  // detail, which the views keep: an existing table's order never changes.
  std::span<const uint8_t> check_order = {};
  // Cross-field rules; errors name a field of this table by its bare name.
  bool (*rule)(const flatbuffers::Table& table, Status* fault) = no_rule;
  // A list of these tables is digested in the order of these fields (a rate card's listing order
  // does not change its digest), compared in turn.
  std::array<uint8_t, 2> sort_keys = {0, 0};
  uint8_t sort_key_count = 0;
  // History text that no single field gives (usage: model or sandbox class, by meter).
  void (*history)(const flatbuffers::Table& table, HistoryText& out) = no_history;
};

// ---- Builders ---------------------------------------------------------------------------------

constexpr FieldDesc text(std::string_view name, uint16_t slot) {
  return FieldDesc{.name = name, .slot = slot, .kind = Kind::text, .check = Check::text};
}
constexpr FieldDesc id(std::string_view name, uint16_t slot) {
  return FieldDesc{.name = name, .slot = slot, .kind = Kind::text, .check = Check::id};
}
constexpr FieldDesc int64(std::string_view name, uint16_t slot, Unit unit) {
  return FieldDesc{.name = name, .slot = slot, .kind = Kind::int64, .unit = unit};
}
constexpr FieldDesc int32(std::string_view name, uint16_t slot, Unit unit) {
  return FieldDesc{.name = name, .slot = slot, .kind = Kind::int32, .unit = unit};
}
constexpr FieldDesc optional_int64(std::string_view name, uint16_t slot, Unit unit) {
  return FieldDesc{.name = name, .slot = slot, .kind = Kind::optional_int64, .unit = unit};
}
constexpr FieldDesc boolean(std::string_view name, uint16_t slot) {
  return FieldDesc{.name = name, .slot = slot, .kind = Kind::boolean};
}
constexpr FieldDesc enumeration(std::string_view name, uint16_t slot, const EnumDesc& e) {
  return FieldDesc{.name = name, .slot = slot, .kind = Kind::enumeration, .check = Check::known, .enumeration = &e};
}
constexpr FieldDesc nested(std::string_view name, uint16_t slot, const TableDesc& table) {
  return FieldDesc{.name = name, .slot = slot, .kind = Kind::table, .table = &table};
}
constexpr FieldDesc list(std::string_view name, uint16_t slot, const TableDesc& element) {
  return FieldDesc{.name = name, .slot = slot, .kind = Kind::table_list, .table = &element};
}

}  // namespace tally::catalogue
