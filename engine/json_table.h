// JSON <-> FlatBuffers for one table described by the catalogue (engine/catalogue.h). The event
// codec (engine/event_json.cpp) is built on it; internal to tally_codec.
//
// JSON -> FlatBuffers lays the table out exactly as flatc's object API would (strings and vectors
// first in field order, then the fields by size, largest first, each size in reverse field
// order; defaults elided), so the same event always has the same bytes whichever way it came.
// It answers JSON-level mistakes (unknown or missing fields, wrong JSON types, integers outside
// the field's type, unknown enum names); value ranges are validate_envelope's.
//
// FlatBuffers -> JSON: fields in schema order; empty strings, unset enums, absent optional numbers
// and absent nested tables are left out (absent in JSON means exactly those); numbers, bools and
// lists always appear, so a reader never has to know a default.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include "engine/catalogue.h"
#include "engine/status.h"
#include "flatbuffers/flatbuffers.h"

namespace tally::json_detail {

std::string_view to_std(boost::json::string_view s);
boost::json::string_view to_json_view(std::string_view s);

// `text` as a JSON string: valid UTF-8 is kept, each ill-formed byte becomes U+FFFD (a record from
// elsewhere may hold any bytes; its rendering must still be JSON).
boost::json::string json_text(std::string_view text, boost::json::storage_ptr storage);

// Refuses a key of `object` that `known` does not accept: "<path><key>: unknown field".
template <class Known>
Status reject_unknown_fields(const boost::json::object& object, const std::string& path, Known known) {
  for (const auto& entry : object) {
    const std::string_view key = to_std(entry.key());
    if (!known(key)) return Status::invalid(path + std::string(key), "unknown field");
  }
  return Status::ok();
}

// True if `table` describes a field named `name`.
bool has_field(const catalogue::TableDesc& table, std::string_view name);

// The value read for one field, until its table is built.
struct FieldSlot {
  bool present = false;
  int64_t number = 0;                  // scalars
  flatbuffers::uoffset_t offset = 0;   // text, tables, lists
};
using FieldSlots = std::array<FieldSlot, catalogue::fields_per_table_max>;

// Reads the fields of `object` as `table` describes them into `slots` (strings, lists and nested
// tables are built in `builder` as they are read, in field order). A slot the caller already set
// present is the default of an absent field (a required field then may be absent). `path`
// prefixes every field name in an error ("" at top level, "models[1]." in a list). Keys the table
// does not describe are the caller's to refuse (reject_unknown_fields); those of nested tables
// are refused here. On error the builder holds garbage: discard it.
Status read_fields(const boost::json::object& object, const catalogue::TableDesc& table, const std::string& path,
                   flatbuffers::FlatBufferBuilder& builder, FieldSlots& slots);

// Adds to the table being built the fields of `slots` stored in `size` bytes, in reverse field
// order: called for sizes 8, 4, 2, 1 this is flatc's order.
void add_fields(const catalogue::TableDesc& table, const FieldSlots& slots, std::size_t size,
                flatbuffers::FlatBufferBuilder& builder);

// read_fields, then the table. Returns its offset.
Result<flatbuffers::uoffset_t> read_table(const boost::json::object& object, const catalogue::TableDesc& table,
                                          const std::string& path, flatbuffers::FlatBufferBuilder& builder);

// Reads one integer field the way read_table does (for the envelope's own fields).
template <class Integer>
Status read_integer(const boost::json::value& value, const std::string& name, Integer& out);

// Appends the fields of `table` (a verified table described by `desc`) to `out`.
void write_table(const flatbuffers::Table& table, const catalogue::TableDesc& desc, boost::json::object& out);

}  // namespace tally::json_detail
