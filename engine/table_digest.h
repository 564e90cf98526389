// The payload digest of one table as its catalogue descriptor says (engine/catalogue.h): the walk
// behind digest_body (engine/payload_digest.h), a template so each table compiles to its own
// code. Internal to tally_core (and its tests).
//
// Framing (it is in every ledger's idempotency index, so it never changes for existing fields):
// each digested field in field order — text as add(bytes); numbers, bools and enums as
// add_int(value as int64); Digest::presence_and_value as add_int(present), add_int(value or 0);
// a list as add_int(count) then each element's fields, the elements in the order of the element
// table's sort keys (std::sort on those keys, compared in turn); a nested table as
// add_int(present) then its fields; Digest::when_present as add_int(slot) then the value, only
// when the field is present (a non-empty text, a present optional or table, a non-default value).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/catalogue_dispatch.h"
#include "engine/digest.h"

namespace tally::catalogue {
namespace digest_detail {

using flatbuffers::String;
using flatbuffers::Table;

inline std::string_view view(const String* s) { return s ? s->string_view() : std::string_view(); }

}  // namespace digest_detail

template <const TableDesc& T>
void digest_table(FieldDigest& d, const flatbuffers::Table& table);

namespace digest_detail {

// Compares two list elements by T's sort keys (text or int64 fields).
template <const TableDesc& T>
bool sorts_before(const Table* a, const Table* b) {
  for (uint8_t k = 0; k < T.sort_key_count; ++k) {
    const FieldDesc& key = T.fields[T.sort_keys[k]];
    if (key.kind == Kind::text) {
      const std::string_view x = view(a->GetPointer<const String*>(key.slot));
      const std::string_view y = view(b->GetPointer<const String*>(key.slot));
      if (x != y) return x < y;
    } else {
      const int64_t x = a->GetField<int64_t>(key.slot, key.default_value);
      const int64_t y = b->GetField<int64_t>(key.slot, key.default_value);
      if (x != y) return x < y;
    }
  }
  return false;
}

template <const TableDesc& T, std::size_t I>
void digest_list(FieldDigest& d, const Table& t) {
  static constexpr const FieldDesc& F = T.fields[I];
  const auto* elements = t.GetPointer<const flatbuffers::Vector<flatbuffers::Offset<Table>>*>(F.slot);
  std::vector<const Table*> sorted;
  if (elements) {
    sorted.reserve(elements->size());
    for (const Table* element : *elements) sorted.push_back(element);
  }
  // std::sort, not stable_sort: the digests of rate cards with equal names depend on it.
  if constexpr (F.table->sort_key_count > 0) std::sort(sorted.begin(), sorted.end(), sorts_before<*F.table>);
  d.add_int(static_cast<int64_t>(sorted.size()));
  for (const Table* element : sorted) digest_table<*F.table>(d, *element);
}

// The value of a scalar field as the digest takes it.
template <const TableDesc& T, std::size_t I>
[[gnu::always_inline]] inline int64_t scalar(const Table& t) {
  static constexpr const FieldDesc& F = T.fields[I];
  if constexpr (F.kind == Kind::int64) {
    return t.GetField<int64_t>(F.slot, F.default_value);
  } else if constexpr (F.kind == Kind::int32) {
    return t.GetField<int32_t>(F.slot, static_cast<int32_t>(F.default_value));
  } else if constexpr (F.kind == Kind::boolean) {
    return t.GetField<uint8_t>(F.slot, static_cast<uint8_t>(F.default_value)) != 0;
  } else if constexpr (F.kind == Kind::enumeration) {
    return t.GetField<int8_t>(F.slot, static_cast<int8_t>(F.default_value));
  } else {
    static_assert(F.kind == Kind::optional_int64, "not a scalar");
    return t.GetOptional<int64_t, int64_t>(F.slot).value_or(0);
  }
}

// Whether a field is present, for Digest::when_present.
template <const TableDesc& T, std::size_t I>
[[gnu::always_inline]] inline bool present(const Table& t) {
  static constexpr const FieldDesc& F = T.fields[I];
  if constexpr (F.kind == Kind::text) {
    return !view(t.GetPointer<const String*>(F.slot)).empty();
  } else if constexpr (F.kind == Kind::optional_int64) {
    return t.GetOptional<int64_t, int64_t>(F.slot).has_value();
  } else if constexpr (F.kind == Kind::table || F.kind == Kind::table_list) {
    return t.GetPointer<const void*>(F.slot) != nullptr;
  } else {
    return scalar<T, I>(t) != F.default_value;
  }
}

template <const TableDesc& T, std::size_t I>
[[gnu::always_inline]] inline void digest_value(FieldDigest& d, const Table& t) {
  static constexpr const FieldDesc& F = T.fields[I];
  if constexpr (F.kind == Kind::text) {
    d.add(view(t.GetPointer<const String*>(F.slot)));
  } else if constexpr (F.kind == Kind::table_list) {
    digest_list<T, I>(d, t);
  } else if constexpr (F.kind == Kind::table) {
    const auto* nested = t.GetPointer<const Table*>(F.slot);
    d.add_int(nested != nullptr);
    if (nested) digest_table<*F.table>(d, *nested);
  } else {
    d.add_int(scalar<T, I>(t));
  }
}

template <const TableDesc& T, std::size_t I>
[[gnu::always_inline]] inline void digest_field(FieldDigest& d, const Table& t) {
  static constexpr const FieldDesc& F = T.fields[I];
  if constexpr (F.digest == Digest::value) {
    digest_value<T, I>(d, t);
  } else if constexpr (F.digest == Digest::presence_and_value) {
    static_assert(F.kind == Kind::optional_int64, "presence_and_value is for optional numbers");
    const auto v = t.GetOptional<int64_t, int64_t>(F.slot);
    d.add_int(v.has_value()).add_int(v.value_or(0));
  } else if constexpr (F.digest == Digest::when_present) {
    if (present<T, I>(t)) {
      d.add_int(F.slot);
      digest_value<T, I>(d, t);
    }
  }
}

}  // namespace digest_detail

// Adds the digested fields of `table` (described by T) to `d`, in field order.
template <const TableDesc& T>
void digest_table(FieldDigest& d, const flatbuffers::Table& table) {
  for_each_field<T>([&](auto index) {
    digest_detail::digest_field<T, index.value>(d, table);
    return true;
  });
}

}  // namespace tally::catalogue
