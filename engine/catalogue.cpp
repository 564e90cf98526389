// The catalogue's lookups. See catalogue.h.
#include "engine/catalogue.h"

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

namespace tally::catalogue {

const BodyDesc* find_body(fb::Body type) {
  const auto index = static_cast<std::size_t>(type);
  if (index == 0 || index >= bodies.size()) return nullptr;
  return &bodies[index];
}

const BodyDesc* find_body(std::string_view name) {
  if (name.empty()) return nullptr;
  for (const BodyDesc& body : bodies) {
    if (body.name == name) return &body;
  }
  return nullptr;
}

std::string_view body_type_name(fb::Body type) {
  const BodyDesc* body = find_body(type);
  return body ? body->name : std::string_view();
}

namespace {
// The names a producer may write, in value order.
template <class Join>
std::string join_names(const EnumDesc& e, Join join) {
  std::string out;
  const int first = e.has_unset ? 1 : 0;
  for (int value = first; value <= e.max; ++value) {
    if (value > first) out += join(value == e.max);
    out += e.names()[value];
  }
  return out;
}
}  // namespace

std::string enum_choices(const EnumDesc& e) {
  return join_names(e, [](bool) { return ", "; });
}

std::string enum_alternatives(const EnumDesc& e) {
  return join_names(e, [](bool last) { return last ? " or " : ", "; });
}

}  // namespace tally::catalogue

// ---- The catalogue against the schema (flatc --cpp-static-reflection): a field added to a body
// in schemas/events.fbs and not described here, or described with another name, kind or slot,
// stops the build.

namespace tally::catalogue {
namespace {

template <class T>
struct is_table_list : std::false_type {};
template <class Element>
struct is_table_list<const flatbuffers::Vector<flatbuffers::Offset<Element>>*> : std::true_type {};

// Not a kind the catalogue describes (the envelope's own schema_version, body_type, body).
constexpr auto unsupported_kind = static_cast<Kind>(0xff);

// The kind of a field whose generated getter returns `Getter`.
template <class Getter>
constexpr Kind kind_of() {
  using T = std::remove_cvref_t<Getter>;
  if constexpr (std::is_same_v<T, int64_t>) {
    return Kind::int64;
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return Kind::int32;
  } else if constexpr (std::is_same_v<T, bool>) {
    return Kind::boolean;
  } else if constexpr (std::is_enum_v<T>) {
    // The catalogue reads enums as signed bytes (the union's type is unsigned: not a field here).
    return std::is_same_v<std::underlying_type_t<T>, int8_t> ? Kind::enumeration : unsupported_kind;
  } else if constexpr (std::is_same_v<T, flatbuffers::Optional<int64_t>>) {
    return Kind::optional_int64;
  } else if constexpr (std::is_same_v<T, const flatbuffers::String*>) {
    return Kind::text;
  } else if constexpr (is_table_list<T>::value) {
    return Kind::table_list;
  } else if constexpr (std::is_pointer_v<T> && std::is_class_v<std::remove_cvref_t<std::remove_pointer_t<T>>>) {
    return Kind::table;
  } else {
    return unsupported_kind;
  }
}

// flatc's name of a field whose name is a C++ keyword ("operator" is "operator_").
constexpr bool same_name(std::string_view ours, std::string_view generated) {
  return ours == generated || (generated.size() == ours.size() + 1 && generated.substr(0, ours.size()) == ours &&
                               generated.back() == '_');
}

// `desc` describes schema fields [first, first + desc.fields.size()) of `Generated`, in order;
// a field at schema index i sits in vtable slot 4 + 2i (tables without unions before it).
template <class Generated>
constexpr bool describes(const TableDesc& desc, std::size_t first = 0) {
  using Traits = typename Generated::Traits;
  if (first + desc.fields.size() > Traits::fields_number) return false;
  if (first == 0 && desc.fields.size() != Traits::fields_number) return false;
  if constexpr (Traits::fields_number == 0) {
    return true;
  } else {
    bool same = true;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      const auto check = [&](std::size_t index, Kind kind) {
        if (index < first || index >= first + desc.fields.size()) return true;
        const FieldDesc& f = desc.fields[index - first];
        const std::string_view name = f.schema_name.empty() ? f.name : f.schema_name;
        return same_name(name, Traits::field_names[index]) && f.kind == kind && f.slot == 4 + 2 * index;
      };
      ((same = same && check(I, kind_of<typename Traits::template FieldType<I>>())), ...);
    }(std::make_index_sequence<Traits::fields_number>{});
    return same;
  }
}

static_assert(describes<fb::OrgOpened>(org_opened));
static_assert(describes<fb::BillingModeChanged>(billing_mode_changed));
static_assert(describes<fb::SignupAllocation>(signup_allocation));
static_assert(describes<fb::Purchase>(purchase));
static_assert(describes<fb::AutoRefill>(auto_refill));
static_assert(describes<fb::PaymentFailed>(payment_failed));
static_assert(describes<fb::Refund>(refund));
static_assert(describes<fb::AdminAdjustment>(admin_adjustment));
static_assert(describes<fb::Usage>(usage));
static_assert(describes<fb::ModelPrice>(model_price));
static_assert(describes<fb::SandboxClassPrice>(sandbox_class_price));
static_assert(describes<fb::RateCardPublished>(rate_card_published));
static_assert(describes<fb::AutoRefillConfigured>(auto_refill_configured));
static_assert(describes<fb::AutoRefillDisabled>(auto_refill_disabled));
static_assert(describes<fb::LowBalanceThresholdSet>(low_balance_threshold_set));
static_assert(describes<fb::MemberLimitSet>(member_limit_set));
static_assert(describes<fb::MemberLimitCleared>(member_limit_cleared));
static_assert(describes<fb::Tick>(tick));
static_assert(describes<fb::CreditGranted>(credit_granted));
static_assert(describes<fb::GrantVoided>(grant_voided));
// The envelope's fields between schema_version and the body; the signal's after schema_version.
static_assert(describes<fb::Envelope>(envelope, 1) && envelope.fields.size() == 5);
static_assert(describes<fb::Signal>(signal, 1) && signal.fields.size() + 1 == fb::Signal::Traits::fields_number);

// Each body's entry is the one of its generated table.
template <class Generated>
constexpr bool entry_of(const TableDesc& desc) {
  // Tables compared by name: an address comparison is no constant expression in the sanitizer build.
  return bodies[static_cast<std::size_t>(fb::BodyTraits<Generated>::enum_value)].table->name == desc.name;
}
static_assert(entry_of<fb::OrgOpened>(org_opened) && entry_of<fb::BillingModeChanged>(billing_mode_changed) &&
              entry_of<fb::SignupAllocation>(signup_allocation) && entry_of<fb::Purchase>(purchase) &&
              entry_of<fb::AutoRefill>(auto_refill) && entry_of<fb::PaymentFailed>(payment_failed) &&
              entry_of<fb::Refund>(refund) && entry_of<fb::AdminAdjustment>(admin_adjustment) &&
              entry_of<fb::Usage>(usage) && entry_of<fb::RateCardPublished>(rate_card_published) &&
              entry_of<fb::AutoRefillConfigured>(auto_refill_configured) &&
              entry_of<fb::AutoRefillDisabled>(auto_refill_disabled) &&
              entry_of<fb::LowBalanceThresholdSet>(low_balance_threshold_set) &&
              entry_of<fb::MemberLimitSet>(member_limit_set) && entry_of<fb::MemberLimitCleared>(member_limit_cleared) &&
              entry_of<fb::Tick>(tick) && entry_of<fb::CreditGranted>(credit_granted) &&
              entry_of<fb::GrantVoided>(grant_voided));

}  // namespace
}  // namespace tally::catalogue
