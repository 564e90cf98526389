// Compile-time walks over the catalogue (engine/catalogue.h), for the interpreters on the fold's
// hot path: each body gets its own function, with every field's kind, slot and rule known to the
// compiler, so a walk compiles to the code one would write by hand for that body.
// Internal to tally_core and tally_codec.
#pragma once

#include <array>
#include <cstddef>
#include <utility>

#include "engine/catalogue.h"

namespace tally::catalogue {

// Calls visit(std::integral_constant<std::size_t, I>{}) for each field index I of T, in order,
// and stops at the first false. Within `visit`, `T.fields[I]` is a constant expression.
template <const TableDesc& T, class Visit>
[[gnu::always_inline]] inline bool for_each_field(Visit&& visit) {
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return (visit(std::integral_constant<std::size_t, I>{}) && ...);
  }(std::make_index_sequence<T.fields.size()>{});
}

// The same over T.check_order: field indices, and rule_step for the table's rule.
template <const TableDesc& T, class Visit>
[[gnu::always_inline]] inline bool for_each_check_step(Visit&& visit) {
  return [&]<std::size_t... J>(std::index_sequence<J...>) {
    return (visit(std::integral_constant<std::size_t, T.check_order[J]>{}) && ...);
  }(std::make_index_sequence<T.check_order.size()>{});
}

namespace detail {
template <class Fn, template <const TableDesc&> class Op, std::size_t I>
constexpr Fn body_function() {
  if constexpr (I == 0) {  // NONE
    return nullptr;
  } else {
    return &Op<*bodies[I].table>::run;
  }
}
}  // namespace detail

// An array indexed by fb::Body of Op<table>::run for each body's table (nullptr for NONE).
template <class Fn, template <const TableDesc&> class Op>
constexpr std::array<Fn, bodies.size()> per_body_functions() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<Fn, sizeof...(I)>{detail::body_function<Fn, Op, I>()...};
  }(std::make_index_sequence<bodies.size()>{});
}

}  // namespace tally::catalogue
