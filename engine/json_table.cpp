// JSON <-> FlatBuffers for one catalogue table. See json_table.h.
#include "engine/json_table.h"

#include <array>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

namespace tally::json_detail {
namespace json = boost::json;

using catalogue::Digest;
using catalogue::EnumDesc;
using catalogue::FieldDesc;
using catalogue::Kind;
using catalogue::Need;
using catalogue::TableDesc;

std::string_view to_std(json::string_view s) { return {s.data(), s.size()}; }
json::string_view to_json_view(std::string_view s) { return {s.data(), s.size()}; }

namespace {

// Length of the well-formed UTF-8 sequence (RFC 3629) at text[at], or 0 if there is none.
std::size_t utf8_sequence_bytes(std::string_view text, std::size_t at) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  if (byte(at + 1) < second_min || byte(at + 1) > second_max) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) return 0;
  }
  return length;
}

// `unset` is the schema's "not given"; it is never written in JSON (absent means unset).
bool is_unset(const EnumDesc& e, int64_t value) { return e.has_unset && value == 0; }

// Bytes of a field in its table, as flatc orders a table's fields (by size, largest first).
std::size_t stored_size(Kind kind) {
  switch (kind) {
    case Kind::int64:
    case Kind::optional_int64: return 8;
    case Kind::int32:
    case Kind::text:
    case Kind::table:
    case Kind::table_list: return 4;
    case Kind::boolean:
    case Kind::enumeration: return 1;
  }
  return 1;
}

class TableReader {
 public:
  TableReader(flatbuffers::FlatBufferBuilder& builder, const std::string& path) : builder_(builder), path_(path) {}

  Status read(const json::object& object, const TableDesc& table, FieldSlots& slots) {
    for (std::size_t i = 0; i < table.fields.size(); ++i) {
      const FieldDesc& field = table.fields[i];
      const json::value* value = object.if_contains(to_json_view(field.name));
      if (value == nullptr) {
        if (field.need == Need::required && !slots[i].present) return fail(field, "is required");
        continue;
      }
      if (Status s = read_field(field, *value, slots[i]); !s.is_ok()) return s;
    }
    return Status::ok();
  }

 private:
  Status fail(const FieldDesc& field, std::string message) const {
    return Status::invalid(path_ + std::string(field.name), std::move(message));
  }

  Status read_field(const FieldDesc& field, const json::value& value, FieldSlot& slot) {
    switch (field.kind) {
      case Kind::text: return read_text(field, value, slot);
      case Kind::int64: return read_number<int64_t>(field, value, slot);
      case Kind::int32: return read_number<int32_t>(field, value, slot);
      case Kind::optional_int64:
        if (value.is_null()) return Status::ok();  // absent or null: not reported, not 0
        return read_number<int64_t>(field, value, slot);
      case Kind::boolean:
        if (!value.is_bool()) return fail(field, "must be true or false");
        slot = FieldSlot{true, value.get_bool() ? 1 : 0, 0};
        return Status::ok();
      case Kind::enumeration: return read_enum(field, value, slot);
      case Kind::table: return read_nested(field, value, slot);
      case Kind::table_list: return read_list(field, value, slot);
    }
    return fail(field, "unsupported field kind");
  }

  Status read_text(const FieldDesc& field, const json::value& value, FieldSlot& slot) {
    if (!value.is_string()) return fail(field, "must be a string");
    const std::string_view text = to_std(value.get_string());
    if (text.empty()) return field.need == Need::required ? fail(field, "must not be empty") : Status::ok();
    slot = FieldSlot{true, 0, builder_.CreateString(text.data(), text.size()).o};
    return Status::ok();
  }

  template <class Integer>
  Status read_number(const FieldDesc& field, const json::value& value, FieldSlot& slot) {
    Integer number = 0;
    if (Status s = read_integer(value, path_ + std::string(field.name), number); !s.is_ok()) return s;
    slot = FieldSlot{true, number, 0};
    return Status::ok();
  }

  Status read_enum(const FieldDesc& field, const json::value& value, FieldSlot& slot) {
    const EnumDesc& e = *field.enumeration;
    if (value.is_string()) {
      const std::string_view text = to_std(value.get_string());
      for (int v = 0; v <= e.max; ++v) {
        if (!is_unset(e, v) && e.names()[v] == text) {
          slot = FieldSlot{true, v, 0};
          return Status::ok();
        }
      }
    }
    return fail(field, "must be one of " + catalogue::enum_choices(e));
  }

  Status read_nested(const FieldDesc& field, const json::value& value, FieldSlot& slot) {
    if (!value.is_object()) return fail(field, "must be an object");
    const std::string path = path_ + std::string(field.name) + ".";
    Result<flatbuffers::uoffset_t> nested = read_element(value.get_object(), *field.table, path);
    if (!nested.is_ok()) return nested.status();
    slot = FieldSlot{true, 0, nested.value()};
    return Status::ok();
  }

  Status read_list(const FieldDesc& field, const json::value& value, FieldSlot& slot) {
    if (!value.is_array()) return fail(field, "must be an array");
    const json::array& array = value.get_array();
    std::vector<flatbuffers::Offset<void>> elements;
    elements.reserve(array.size());
    for (std::size_t i = 0; i < array.size(); ++i) {
      const std::string element_path = path_ + std::string(field.name) + "[" + std::to_string(i) + "]";
      if (!array[i].is_object()) return Status::invalid(element_path, "must be an object");
      Result<flatbuffers::uoffset_t> element = read_element(array[i].get_object(), *field.table, element_path + ".");
      if (!element.is_ok()) return element.status();
      elements.emplace_back(element.value());
    }
    // An empty list is stored as no list, as the object API does.
    if (!elements.empty()) slot = FieldSlot{true, 0, builder_.CreateVector(elements).o};
    return Status::ok();
  }

  Result<flatbuffers::uoffset_t> read_element(const json::object& object, const TableDesc& table,
                                              const std::string& path) {
    if (Status s = reject_unknown_fields(object, path, [&](std::string_view key) { return has_field(table, key); });
        !s.is_ok()) {
      return s;
    }
    return read_table(object, table, path, builder_);
  }

  flatbuffers::FlatBufferBuilder& builder_;
  const std::string& path_;
};

}  // namespace

json::string json_text(std::string_view text, json::storage_ptr storage) {
  std::string repaired;
  bool clean = true;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = utf8_sequence_bytes(text, at);
    if (length == 0 && clean) {
      clean = false;
      repaired.assign(text.substr(0, at));
    }
    if (length == 0) {
      repaired += "\xEF\xBF\xBD";
      at += 1;
      continue;
    }
    if (!clean) repaired.append(text.substr(at, length));
    at += length;
  }
  return json::string(to_json_view(clean ? text : std::string_view(repaired)), std::move(storage));
}

bool has_field(const TableDesc& table, std::string_view name) {
  for (const FieldDesc& field : table.fields) {
    if (field.name == name) return true;
  }
  return false;
}

template <class Integer>
Status read_integer(const json::value& value, const std::string& name, Integer& out) {
  if (value.is_double()) {
    return Status::invalid(name, "must be an integer, written without fraction or exponent, within 64 bits "
                                 "(amounts are never floating point)");
  }
  if (value.is_int64() && std::in_range<Integer>(value.get_int64())) {
    out = static_cast<Integer>(value.get_int64());
    return Status::ok();
  }
  if (value.is_uint64() && std::in_range<Integer>(value.get_uint64())) {
    out = static_cast<Integer>(value.get_uint64());
    return Status::ok();
  }
  if (!value.is_int64() && !value.is_uint64()) return Status::invalid(name, "must be an integer");
  using Limits = std::numeric_limits<Integer>;
  return Status::invalid(name, "out of range " + std::to_string(Limits::min()) + ".." + std::to_string(Limits::max()));
}
template Status read_integer(const json::value&, const std::string&, int64_t&);
template Status read_integer(const json::value&, const std::string&, int32_t&);
template Status read_integer(const json::value&, const std::string&, uint16_t&);

Status read_fields(const json::object& object, const TableDesc& table, const std::string& path,
                   flatbuffers::FlatBufferBuilder& builder, FieldSlots& slots) {
  return TableReader(builder, path).read(object, table, slots);
}

void add_fields(const TableDesc& table, const FieldSlots& slots, std::size_t size, flatbuffers::FlatBufferBuilder& builder) {
  for (std::size_t i = table.fields.size(); i-- > 0;) {
    const FieldDesc& f = table.fields[i];
    const FieldSlot& slot = slots[i];
    if (!slot.present || stored_size(f.kind) != size) continue;
    switch (f.kind) {
      case Kind::int64: builder.AddElement<int64_t>(f.slot, slot.number, f.default_value); break;
      case Kind::optional_int64: builder.AddElement<int64_t>(f.slot, slot.number); break;
      case Kind::int32:
        builder.AddElement<int32_t>(f.slot, static_cast<int32_t>(slot.number), static_cast<int32_t>(f.default_value));
        break;
      case Kind::boolean:
        builder.AddElement<uint8_t>(f.slot, static_cast<uint8_t>(slot.number), static_cast<uint8_t>(f.default_value));
        break;
      case Kind::enumeration:
        builder.AddElement<int8_t>(f.slot, static_cast<int8_t>(slot.number), static_cast<int8_t>(f.default_value));
        break;
      case Kind::text:
      case Kind::table:
      case Kind::table_list: builder.AddOffset(f.slot, flatbuffers::Offset<void>(slot.offset)); break;
    }
  }
}

Result<flatbuffers::uoffset_t> read_table(const json::object& object, const TableDesc& table, const std::string& path,
                                          flatbuffers::FlatBufferBuilder& builder) {
  FieldSlots slots{};
  if (Status s = read_fields(object, table, path, builder, slots); !s.is_ok()) return s;
  const flatbuffers::uoffset_t start = builder.StartTable();
  for (std::size_t size : {std::size_t{8}, std::size_t{4}, std::size_t{2}, std::size_t{1}}) {
    add_fields(table, slots, size, builder);
  }
  return builder.EndTable(start);
}

void write_table(const flatbuffers::Table& t, const TableDesc& desc, json::object& out) {
  const auto put = [&](const FieldDesc& f, auto&& value) { out.emplace(to_json_view(f.name), std::move(value)); };
  for (const FieldDesc& f : desc.fields) {
    // A field appended to a body after ledgers held it is left out when absent, as its digest
    // leaves it out: the canonical JSON of those events stays what it was.
    if (f.digest == Digest::when_present && !t.CheckField(f.slot)) continue;
    switch (f.kind) {
      case Kind::text: {
        const auto* s = t.GetPointer<const flatbuffers::String*>(f.slot);
        if (s != nullptr && s->size() > 0) put(f, json_text(s->string_view(), out.storage()));
        break;
      }
      case Kind::int64: put(f, t.GetField<int64_t>(f.slot, f.default_value)); break;
      case Kind::int32: put(f, static_cast<int64_t>(t.GetField<int32_t>(f.slot, static_cast<int32_t>(f.default_value)))); break;
      case Kind::boolean: put(f, t.GetField<uint8_t>(f.slot, static_cast<uint8_t>(f.default_value)) != 0); break;
      case Kind::optional_int64: {
        const auto v = t.GetOptional<int64_t, int64_t>(f.slot);
        if (v.has_value()) put(f, *v);
        break;
      }
      case Kind::enumeration: {
        const int64_t v = t.GetField<int8_t>(f.slot, static_cast<int8_t>(f.default_value));
        if (v < 0 || v > f.enumeration->max) {
          put(f, v);  // a value from a newer schema: show it rather than hide it
        } else if (!is_unset(*f.enumeration, v)) {
          put(f, json::string(f.enumeration->names()[v], out.storage()));
        }
        break;
      }
      case Kind::table: {
        if (const auto* nested = t.GetPointer<const flatbuffers::Table*>(f.slot)) {
          json::object object(out.storage());
          write_table(*nested, *f.table, object);
          put(f, std::move(object));
        }
        break;
      }
      case Kind::table_list: {
        const auto* elements = t.GetPointer<const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>*>(f.slot);
        json::array array(out.storage());
        if (elements != nullptr) {
          array.reserve(elements->size());
          for (const flatbuffers::Table* element : *elements) {
            json::object object(out.storage());
            write_table(*element, *f.table, object);
            array.emplace_back(std::move(object));
          }
        }
        put(f, std::move(array));
        break;
      }
    }
  }
}

}  // namespace tally::json_detail
