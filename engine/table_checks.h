// Validation of one table as its catalogue descriptor says (engine/catalogue.h): the walk behind
// validate_envelope (engine/validate.cpp), a template so each table compiles to its own checks.
// Internal to tally_core (and its tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/catalogue_dispatch.h"
#include "engine/field_checks.h"
#include "engine/status.h"
#include "engine/ids.h"

namespace tally::catalogue {

// Where a table sits in the event, for a field's name in a message ("models[1].model"); the
// name is built only when a check fails.
struct Where {
  const Where* parent = nullptr;
  std::string_view field;                  // the list or nested table holding this one
  std::size_t index = std::string::npos;   // the element of a list; npos for a nested table
  int64_t occurred_at_ms = 0;              // the envelope's event time (Check::after_event)
};

// "models[1].model": `field` of the table at `where`.
std::string path_of(const Where& where, std::string_view field);

// Sets *fault to `field` (at `where`) and `message`; returns false.
[[gnu::cold, gnu::noinline]] bool fail_at(Status* fault, const Where& where, std::string_view field,
                                          std::string message);

// "must be 1..10"
[[gnu::cold]] std::string range_message(const FieldDesc& f);

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
  } else if constexpr (F.check == Check::after_event) {
    return v == 0 || v > where.occurred_at_ms ||
           fail_at(fault, where, F.name, "must be later than occurred_at_ms (or 0: never)");
  } else {
    static_assert(F.check == Check::none || F.check == Check::by_rule, "not a number rule");
    return true;
  }
}

template <const TableDesc& T, std::size_t I>
[[gnu::always_inline]] inline bool check_text(const flatbuffers::String* s, const Where& where, Status* fault) {
  static constexpr const FieldDesc& F = T.fields[I];
  const std::size_t size = checks::size_of(s);
  if constexpr (F.check == Check::text) {
    if (size > 0 && size <= F.max_bytes) return true;
    if (size == 0) return F.need == Need::optional || fail_at(fault, where, F.name, "is required");
    const std::string message = "longer than " + std::to_string(F.max_bytes) + " bytes";
    return F.bare_name_when_too_long ? checks::fail(fault, std::string(F.name), message)
                                     : fail_at(fault, where, F.name, message);
  } else if constexpr (F.check == Check::id) {
    if (size == 0) return F.need == Need::optional || fail_at(fault, where, F.name, "is required");
    return is_id_text(s->string_view()) ||
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
           fail_at(fault, where, F.name, "must be " + enum_alternatives(*F.enumeration));
  } else {
    static_assert(F.check == Check::by_rule || F.check == Check::none, "not an enum rule");
    return true;
  }
}

template <const TableDesc& T>
bool check_table(const flatbuffers::Table& table, const Where& where, Status* fault);

template <const TableDesc& T, std::size_t I>
[[gnu::always_inline]] inline bool check_field(const flatbuffers::Table& t, const Where& where, Status* fault) {
  static constexpr const FieldDesc& F = T.fields[I];
  if constexpr (F.kind == Kind::text) {
    return check_text<T, I>(t.GetPointer<const flatbuffers::String*>(F.slot), where, fault);
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
    return check_table<*F.table>(*nested, Where{&where, F.name, std::string::npos, where.occurred_at_ms}, fault);
  } else {
    static_assert(F.kind == Kind::table_list);
    const auto* elements = t.GetPointer<const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>*>(F.slot);
    const flatbuffers::uoffset_t count = elements ? elements->size() : 0;
    for (flatbuffers::uoffset_t i = 0; i < count; ++i) {
      if (!check_table<*F.table>(*elements->Get(i), Where{&where, F.name, i, where.occurred_at_ms}, fault)) return false;
    }
    return true;
  }
}

// Checks `table` (described by T) in T's check order; on the first failure sets *fault naming
// the field by its path from `where` and returns false.
template <const TableDesc& T>
bool check_table(const flatbuffers::Table& table, const Where& where, Status* fault) {
  const auto step = [&](auto index) {
    if constexpr (index.value == rule_step) {
      return T.rule(table, fault);
    } else {
      return check_field<T, index.value>(table, where, fault);
    }
  };
  if constexpr (!T.check_order.empty()) {
    return for_each_check_step<T>(step);
  } else {
    return for_each_field<T>(step) && T.rule(table, fault);
  }
}

}  // namespace tally::catalogue
