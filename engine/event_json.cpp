// Canonical JSON <-> FlatBuffers envelope. See event_json.h for the contract.
//
// Each table's JSON fields are listed once, as data (`fields_of`), and the same list drives both
// directions: FieldReader fills the flatc object API (`fb::PurchaseT`, …) from JSON and FieldWriter
// renders it back, so the two directions cannot drift apart field by field.
//
// Division of labour with validate.cpp: this file answers JSON-level mistakes (syntax, duplicate or
// unknown keys, wrong JSON types, integers outside the C++ type of the field, bad enum names,
// missing required strings); value ranges (key length, id charset, bundles 1..10, amounts > 0, …)
// are checked once, by validate_event, on the buffer built here.
#include "engine/event_json.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include "engine/limits.h"
#include "engine/validate.h"
#include "tally/events_generated.h"
#include "tally/signals_generated.h"

namespace tally {
namespace {

namespace json = boost::json;

// JSON text longer than this is refused before parsing. An event encodes to at most
// event_bytes_max; its JSON is larger (keys, digits, whitespace) but not 16 times larger, so
// anything beyond is not an event and is not worth the memory of parsing it.
constexpr std::size_t json_bytes_max = 16 * limits::event_bytes_max;

// User text echoed back in an error message is cut to this many bytes.
constexpr std::size_t echo_bytes_max = 64;

// The JSON `type` of each union member, indexed by fb::Body. The static_assert stops the build
// when a body is appended to the schema without a JSON name.
constexpr std::array<std::string_view, 17> body_type_names = {
    "",  // NONE
    "org_opened",
    "billing_mode_changed",
    "signup_allocation",
    "purchase",
    "auto_refill",
    "payment_failed",
    "refund",
    "admin_adjustment",
    "usage",
    "rate_card_published",
    "auto_refill_configured",
    "auto_refill_disabled",
    "low_balance_threshold_set",
    "member_limit_set",
    "member_limit_cleared",
    "tick",
};
static_assert(body_type_names.size() == static_cast<std::size_t>(fb::Body::MAX) + 1,
              "every body in schemas/events.fbs needs a JSON type name");

// Calls f(std::type_identity<fb::XxxT>{}) for the object-API type of `type`; false for NONE or
// a body from a newer schema. No `default:` so that -Wswitch names a body added to the schema.
template <class F>
bool with_body_type(fb::Body type, F&& f) {
  switch (type) {
    case fb::Body::NONE: return false;
    case fb::Body::OrgOpened: f(std::type_identity<fb::OrgOpenedT>{}); return true;
    case fb::Body::BillingModeChanged: f(std::type_identity<fb::BillingModeChangedT>{}); return true;
    case fb::Body::SignupAllocation: f(std::type_identity<fb::SignupAllocationT>{}); return true;
    case fb::Body::Purchase: f(std::type_identity<fb::PurchaseT>{}); return true;
    case fb::Body::AutoRefill: f(std::type_identity<fb::AutoRefillT>{}); return true;
    case fb::Body::PaymentFailed: f(std::type_identity<fb::PaymentFailedT>{}); return true;
    case fb::Body::Refund: f(std::type_identity<fb::RefundT>{}); return true;
    case fb::Body::AdminAdjustment: f(std::type_identity<fb::AdminAdjustmentT>{}); return true;
    case fb::Body::Usage: f(std::type_identity<fb::UsageT>{}); return true;
    case fb::Body::RateCardPublished: f(std::type_identity<fb::RateCardPublishedT>{}); return true;
    case fb::Body::AutoRefillConfigured: f(std::type_identity<fb::AutoRefillConfiguredT>{}); return true;
    case fb::Body::AutoRefillDisabled: f(std::type_identity<fb::AutoRefillDisabledT>{}); return true;
    case fb::Body::LowBalanceThresholdSet: f(std::type_identity<fb::LowBalanceThresholdSetT>{}); return true;
    case fb::Body::MemberLimitSet: f(std::type_identity<fb::MemberLimitSetT>{}); return true;
    case fb::Body::MemberLimitCleared: f(std::type_identity<fb::MemberLimitClearedT>{}); return true;
    case fb::Body::Tick: f(std::type_identity<fb::TickT>{}); return true;
  }
  return false;
}

// ---- Field lists -----------------------------------------------------------------------------

// `required`: the JSON must carry the field, and a string must not be empty. Everything else
// takes the schema default when absent.
enum class Need { optional, required };

template <class Table, class Member>
struct Field {
  std::string_view name;  // JSON name
  Member Table::*member;
  Need need;
};

template <class Table, class Member>
constexpr Field<Table, Member> field(std::string_view name, Member Table::*member) {
  return {name, member, Need::optional};
}
template <class Table, class Member>
constexpr Field<Table, Member> required(std::string_view name, Member Table::*member) {
  return {name, member, Need::required};
}

// Canonical order is schema order. schema_version and the body are handled outside the list.
constexpr auto fields_of(std::type_identity<fb::EnvelopeT>) {
  using T = fb::EnvelopeT;
  return std::tuple(required("idempotency_key", &T::idempotency_key), field("org_id", &T::org_id),
                    required("occurred_at_ms", &T::occurred_at_ms), field("source", &T::source),
                    field("correlation_id", &T::correlation_id));
}
constexpr auto fields_of(std::type_identity<fb::OrgOpenedT>) {
  using T = fb::OrgOpenedT;
  return std::tuple(required("plan", &T::plan), required("billing_mode", &T::billing_mode));
}
constexpr auto fields_of(std::type_identity<fb::BillingModeChangedT>) {
  using T = fb::BillingModeChangedT;
  return std::tuple(field("plan", &T::plan), field("billing_mode", &T::billing_mode));
}
constexpr auto fields_of(std::type_identity<fb::SignupAllocationT>) {
  using T = fb::SignupAllocationT;
  return std::tuple(field("credits_micros", &T::credits_micros));
}
constexpr auto fields_of(std::type_identity<fb::PurchaseT>) {
  using T = fb::PurchaseT;
  return std::tuple(field("credits_micros", &T::credits_micros), field("paid_minor", &T::paid_minor),
                    required("currency", &T::currency), field("fee_minor", &T::fee_minor),
                    field("bundles", &T::bundles), field("payment_ref", &T::payment_ref));
}
constexpr auto fields_of(std::type_identity<fb::AutoRefillT>) {
  using T = fb::AutoRefillT;
  return std::tuple(field("credits_micros", &T::credits_micros), field("paid_minor", &T::paid_minor),
                    required("currency", &T::currency), field("fee_minor", &T::fee_minor),
                    field("bundles", &T::bundles), field("payment_ref", &T::payment_ref),
                    required("signal_id", &T::signal_id));
}
constexpr auto fields_of(std::type_identity<fb::PaymentFailedT>) {
  using T = fb::PaymentFailedT;
  return std::tuple(required("signal_id", &T::signal_id), required("code", &T::code),
                    field("message", &T::message));
}
constexpr auto fields_of(std::type_identity<fb::RefundT>) {
  using T = fb::RefundT;
  return std::tuple(required("purchase_key", &T::purchase_key), field("credits_micros", &T::credits_micros),
                    field("force", &T::force), field("reason", &T::reason));
}
constexpr auto fields_of(std::type_identity<fb::AdminAdjustmentT>) {
  using T = fb::AdminAdjustmentT;
  // An operator correction without who and why cannot be audited.
  return std::tuple(field("credits_micros", &T::credits_micros), required("reason", &T::reason),
                    required("operator", &T::operator_), field("force", &T::force));
}
constexpr auto fields_of(std::type_identity<fb::UsageT>) {
  using T = fb::UsageT;
  return std::tuple(
      field("member_id", &T::member_id), field("workspace", &T::workspace), field("project", &T::project),
      field("agent_id", &T::agent_id), field("session_id", &T::session_id), required("meter", &T::meter),
      field("model", &T::model), field("sandbox_class", &T::sandbox_class), field("provider", &T::provider),
      field("billing_path", &T::billing_path), field("input_tokens", &T::input_tokens),
      field("output_tokens", &T::output_tokens), field("cache_read_tokens", &T::cache_read_tokens),
      field("cache_write_tokens", &T::cache_write_tokens), field("seconds", &T::seconds),
      field("reported_cost_micros", &T::reported_cost_micros));
}
constexpr auto fields_of(std::type_identity<fb::ModelPriceT>) {
  using T = fb::ModelPriceT;
  return std::tuple(required("model", &T::model), field("input_per_mtok_micros", &T::input_per_mtok_micros),
                    field("output_per_mtok_micros", &T::output_per_mtok_micros),
                    field("cache_read_per_mtok_micros", &T::cache_read_per_mtok_micros),
                    field("cache_write_per_mtok_micros", &T::cache_write_per_mtok_micros));
}
constexpr auto fields_of(std::type_identity<fb::SandboxClassPriceT>) {
  using T = fb::SandboxClassPriceT;
  return std::tuple(required("class", &T::sandbox_class), field("per_hour_micros", &T::per_hour_micros));
}
constexpr auto fields_of(std::type_identity<fb::RateCardPublishedT>) {
  using T = fb::RateCardPublishedT;
  return std::tuple(field("version", &T::version), field("markup_bp", &T::markup_bp),
                    field("byok_fee_bp", &T::byok_fee_bp), field("models", &T::models),
                    field("sandbox_classes", &T::sandbox_classes));
}
constexpr auto fields_of(std::type_identity<fb::AutoRefillConfiguredT>) {
  using T = fb::AutoRefillConfiguredT;
  return std::tuple(field("enabled", &T::enabled), field("threshold_micros", &T::threshold_micros),
                    field("refill_credits_micros", &T::refill_credits_micros), field("max_per_day", &T::max_per_day),
                    field("max_per_month", &T::max_per_month), field("payment_customer", &T::payment_customer));
}
constexpr auto fields_of(std::type_identity<fb::AutoRefillDisabledT>) {
  using T = fb::AutoRefillDisabledT;
  return std::tuple(field("reason", &T::reason));
}
constexpr auto fields_of(std::type_identity<fb::LowBalanceThresholdSetT>) {
  using T = fb::LowBalanceThresholdSetT;
  return std::tuple(field("threshold_micros", &T::threshold_micros));
}
constexpr auto fields_of(std::type_identity<fb::MemberLimitSetT>) {
  using T = fb::MemberLimitSetT;
  return std::tuple(required("member_id", &T::member_id), field("monthly_limit_micros", &T::monthly_limit_micros));
}
constexpr auto fields_of(std::type_identity<fb::MemberLimitClearedT>) {
  using T = fb::MemberLimitClearedT;
  return std::tuple(required("member_id", &T::member_id));
}
constexpr auto fields_of(std::type_identity<fb::TickT>) { return std::tuple(); }
constexpr auto fields_of(std::type_identity<fb::SignalT>) {
  using T = fb::SignalT;
  return std::tuple(
      field("signal_id", &T::signal_id), field("kind", &T::kind), field("org_id", &T::org_id),
      field("member_id", &T::member_id), field("partition", &T::partition), field("offset", &T::offset),
      field("occurred_at_ms", &T::occurred_at_ms), field("balance_micros", &T::balance_micros),
      field("threshold_micros", &T::threshold_micros), field("refill_credits_micros", &T::refill_credits_micros),
      field("payment_customer", &T::payment_customer), field("monthly_limit_micros", &T::monthly_limit_micros),
      field("member_used_micros", &T::member_used_micros), field("pause_reason", &T::pause_reason),
      field("cap_period", &T::cap_period));
}

// Calls visit(name, member, need) for each field of `object` in order; stops at the first false.
template <class Table, class Visitor>
bool for_each_field(Table& object, Visitor& visit) {
  return std::apply([&](const auto&... f) { return (visit(f.name, object.*(f.member), f.need) && ...); },
                    fields_of(std::type_identity<std::remove_const_t<Table>>{}));
}

template <class Table>
bool has_field(std::string_view name) {
  return std::apply([&](const auto&... f) { return ((f.name == name) || ...); },
                    fields_of(std::type_identity<Table>{}));
}

// ---- Enums -----------------------------------------------------------------------------------

const char* const* enum_names(fb::Plan) { return fb::EnumNamesPlan(); }
const char* const* enum_names(fb::BillingMode) { return fb::EnumNamesBillingMode(); }
const char* const* enum_names(fb::BillingPath) { return fb::EnumNamesBillingPath(); }
const char* const* enum_names(fb::Meter) { return fb::EnumNamesMeter(); }
const char* const* enum_names(fb::SignalKind) { return fb::EnumNamesSignalKind(); }

template <class E>
concept SchemaEnum = std::is_enum_v<E> && requires(E e) { enum_names(e); };

// `unset` is the schema's "not given"; it is never written in JSON (absent means unset).
constexpr std::string_view enum_unset_name = "unset";

template <SchemaEnum E>
std::string enum_choices() {
  std::string out;
  for (std::size_t i = 0; i <= static_cast<std::size_t>(E::MAX); ++i) {
    std::string_view name = enum_names(E{})[i];
    if (name == enum_unset_name) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

// ---- Small helpers ---------------------------------------------------------------------------

std::string_view to_std(json::string_view s) { return {s.data(), s.size()}; }
json::string_view to_json_view(std::string_view s) { return {s.data(), s.size()}; }

// Quotes user text for an error message, cut at a UTF-8 character boundary so the message stays
// valid UTF-8 (it is usually sent back inside a JSON error body).
std::string echo(std::string_view user_text) {
  if (user_text.size() <= echo_bytes_max) return "\"" + std::string(user_text) + "\"";
  std::size_t cut = echo_bytes_max;
  while (cut > 0 && (static_cast<unsigned char>(user_text[cut]) & 0xC0) == 0x80) --cut;
  return "\"" + std::string(user_text.substr(0, cut)) + "…\"";
}

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
  if (text.size() - at < length) return 0;
  if (byte(at + 1) < second_min || byte(at + 1) > second_max) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) return 0;
  }
  return length;
}

// A FlatBuffers string is bytes; JSON text must be UTF-8. Events built by event_from_json are
// always UTF-8; a record from elsewhere may not be, and its rendering (rejects view, audit export)
// must still be valid JSON, so each ill-formed byte becomes U+FFFD.
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

// Bytes from a log or a store may sit at any address. FlatBuffers reads scalars in place with
// plain loads (its verifier only checks alignment relative to the buffer start), so a misaligned
// buffer would mean undefined behaviour: such input is copied to an aligned buffer first.
std::string_view aligned(std::string_view bytes, std::string& copy) {
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::int64_t) == 0) return bytes;
  copy.assign(bytes);
  return copy;
}

// ---- Strict JSON parsing ---------------------------------------------------------------------

// boost::json::parse keeps the last of duplicate keys without a word. An event carrying
// `credits_micros` twice is ambiguous (another parser in the path may read the first), so this
// handler builds the same value as Boost.JSON's own parser but stops at a duplicate key and
// names it by its path ("models[0].model").
class StrictHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack stack;
  bool duplicate = false;      // parsing stopped at a duplicate key …
  std::string duplicate_path;  // … at this path

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    open_.push_back({false, keys_.size(), 0, {}});
    return true;
  }
  bool on_object_end(std::size_t size, json::error_code& ec) {
    const auto first = keys_.begin() + static_cast<std::ptrdiff_t>(open_.back().key_start);
    std::sort(first, keys_.end());
    if (auto repeated = std::adjacent_find(first, keys_.end()); repeated != keys_.end()) {
      duplicate = true;
      duplicate_path = path_to(*repeated);
      ec = json::error::syntax;
      return false;
    }
    keys_.erase(first, keys_.end());
    open_.pop_back();
    stack.push_object(size);
    return value_done();
  }
  bool on_array_begin(json::error_code&) {
    open_.push_back({true, 0, 0, {}});
    return true;
  }
  bool on_array_end(std::size_t size, json::error_code&) {
    open_.pop_back();
    stack.push_array(size);
    return value_done();
  }
  bool on_key_part(json::string_view part, std::size_t, json::error_code&) {
    stack.push_chars(part);
    key_.append(part.data(), part.size());
    return true;
  }
  bool on_key(json::string_view part, std::size_t, json::error_code&) {
    stack.push_key(part);
    key_.append(part.data(), part.size());
    open_.back().key = key_;
    keys_.push_back(std::move(key_));
    key_.clear();
    return true;
  }
  bool on_string_part(json::string_view part, std::size_t, json::error_code&) {
    stack.push_chars(part);
    return true;
  }
  bool on_string(json::string_view part, std::size_t, json::error_code&) {
    stack.push_string(part);
    return value_done();
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t value, json::string_view, json::error_code&) {
    stack.push_int64(value);
    return value_done();
  }
  bool on_uint64(std::uint64_t value, json::string_view, json::error_code&) {
    stack.push_uint64(value);
    return value_done();
  }
  bool on_double(double value, json::string_view, json::error_code&) {
    stack.push_double(value);
    return value_done();
  }
  bool on_bool(bool value, json::error_code&) {
    stack.push_bool(value);
    return value_done();
  }
  bool on_null(json::error_code&) {
    stack.push_null();
    return value_done();
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct Container {
    bool is_array;
    std::size_t key_start;  // objects: where this object's keys begin in keys_
    std::size_t elements;   // arrays: elements completed so far = index of the one being read
    std::string key;        // objects: the key whose value is being read
  };

  bool value_done() {
    if (!open_.empty() && open_.back().is_array) ++open_.back().elements;
    return true;
  }

  // The path of `key` in the innermost open object.
  std::string path_to(std::string_view key) const {
    std::string path;
    for (std::size_t i = 0; i + 1 < open_.size(); ++i) {
      if (open_[i].is_array) {
        path += "[" + std::to_string(open_[i].elements) + "]";
      } else {
        if (!path.empty()) path += ".";
        path += open_[i].key;
      }
    }
    if (!path.empty()) path += ".";
    path += key;
    return path;
  }

  std::string key_;                // the key being read, across on_key_part calls
  std::vector<std::string> keys_;  // keys of the open objects, innermost last
  std::vector<Container> open_;    // open objects and arrays, innermost last
};

Result<json::value> parse_strict(std::string_view text, json::storage_ptr storage) {
  json::basic_parser<StrictHandler> parser(json::parse_options{});
  parser.handler().stack.reset(std::move(storage));
  json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (parser.handler().duplicate) {
    return Status::invalid(parser.handler().duplicate_path, "appears more than once");
  }
  if (ec) {
    return Status::invalid("", "invalid JSON at byte " + std::to_string(used) + ": " + ec.message());
  }
  if (used < text.size()) {
    return Status::invalid("", "invalid JSON at byte " + std::to_string(used) + ": text after the event");
  }
  return parser.handler().stack.release();
}

// ---- JSON -> object API ----------------------------------------------------------------------

template <class Known>
Status reject_unknown_fields(const json::object& object, const std::string& path, Known known) {
  for (const auto& entry : object) {
    if (!known(to_std(entry.key()))) return Status::invalid(path + std::string(to_std(entry.key())), "unknown field");
  }
  return Status::ok();
}

// Reads the fields of one JSON object into an object-API table. `path` prefixes every reported
// field name ("" at top level, "models[1]." inside an array).
class FieldReader {
 public:
  FieldReader(const json::object& object, std::string path) : object_(object), path_(std::move(path)) {}

  const Status& status() const { return status_; }

  template <class Member>
  bool operator()(std::string_view name, Member& out, Need need) {
    const json::value* value = object_.if_contains(to_json_view(name));
    if (value == nullptr) return need == Need::optional || fail(name, "is required");
    if (!read(name, *value, out)) return false;
    if constexpr (std::is_same_v<Member, std::string>) {
      if (need == Need::required && out.empty()) return fail(name, "must not be empty");
    }
    return true;
  }

 private:
  bool fail(std::string_view name, std::string message) {
    status_ = Status::invalid(path_ + std::string(name), std::move(message));
    return false;
  }

  bool read(std::string_view name, const json::value& value, std::string& out) {
    if (!value.is_string()) return fail(name, "must be a string");
    out.assign(to_std(value.get_string()));
    return true;
  }

  bool read(std::string_view name, const json::value& value, bool& out) {
    if (!value.is_bool()) return fail(name, "must be true or false");
    out = value.get_bool();
    return true;
  }

  template <std::integral Integer>
    requires(!std::is_same_v<Integer, bool>)
  bool read(std::string_view name, const json::value& value, Integer& out) {
    if (value.is_double()) {
      return fail(name, "must be an integer, written without fraction or exponent, within 64 bits "
                        "(amounts are never floating point)");
    }
    if (value.is_int64() && std::in_range<Integer>(value.get_int64())) {
      out = static_cast<Integer>(value.get_int64());
      return true;
    }
    if (value.is_uint64() && std::in_range<Integer>(value.get_uint64())) {
      out = static_cast<Integer>(value.get_uint64());
      return true;
    }
    if (!value.is_int64() && !value.is_uint64()) return fail(name, "must be an integer");
    using Limits = std::numeric_limits<Integer>;
    return fail(name, "out of range " + std::to_string(Limits::min()) + ".." + std::to_string(Limits::max()));
  }

  // Optional scalar: absent or null means "not reported", which is not the same as 0.
  bool read(std::string_view name, const json::value& value, flatbuffers::Optional<std::int64_t>& out) {
    if (value.is_null()) {
      out = flatbuffers::nullopt;
      return true;
    }
    std::int64_t number = 0;
    if (!read(name, value, number)) return false;
    out = number;
    return true;
  }

  template <SchemaEnum E>
  bool read(std::string_view name, const json::value& value, E& out) {
    if (value.is_string()) {
      const std::string_view text = to_std(value.get_string());
      for (std::size_t i = 0; i <= static_cast<std::size_t>(E::MAX); ++i) {
        const std::string_view candidate = enum_names(E{})[i];
        if (candidate != enum_unset_name && candidate == text) {
          out = static_cast<E>(i);
          return true;
        }
      }
    }
    return fail(name, "must be one of " + enum_choices<E>());
  }

  template <class Element>
  bool read(std::string_view name, const json::value& value, std::vector<std::unique_ptr<Element>>& out) {
    if (!value.is_array()) return fail(name, "must be an array");
    const json::array& array = value.get_array();
    out.clear();
    out.reserve(array.size());
    for (std::size_t i = 0; i < array.size(); ++i) {
      const std::string element_path = path_ + std::string(name) + "[" + std::to_string(i) + "]";
      if (!array[i].is_object()) {
        status_ = Status::invalid(element_path, "must be an object");
        return false;
      }
      const json::object& object = array[i].get_object();
      status_ = reject_unknown_fields(object, element_path + ".",
                                      [](std::string_view key) { return has_field<Element>(key); });
      if (!status_.is_ok()) return false;
      auto element = std::make_unique<Element>();
      FieldReader reader(object, element_path + ".");
      if (!for_each_field(*element, reader)) {
        status_ = reader.status();
        return false;
      }
      out.push_back(std::move(element));
    }
    return true;
  }

  const json::object& object_;
  std::string path_;
  Status status_;
};

Result<fb::Body> read_type(const json::object& object) {
  const json::value* value = object.if_contains("type");
  if (value == nullptr) return Status::invalid("type", "is required (the event type, e.g. \"purchase\")");
  if (!value->is_string()) return Status::invalid("type", "must be a string");
  const std::string_view name = to_std(value->get_string());
  for (std::size_t i = 1; i < body_type_names.size(); ++i) {
    if (body_type_names[i] == name) return static_cast<fb::Body>(i);
  }
  return Status::invalid("type", "unknown event type " + echo(name));
}

// The envelope's schema_version is optional; when given it must be the one this build writes.
Status read_schema_version(const json::object& object, fb::EnvelopeT& envelope) {
  if (!object.contains("schema_version")) return Status::ok();
  FieldReader reader(object, "");
  std::uint16_t version = 0;
  if (!reader("schema_version", version, Need::required)) return reader.status();
  if (version != fb::EnvelopeT{}.schema_version) {
    return Status::invalid("schema_version", "unsupported version " + std::to_string(version) + " (this build writes 1)");
  }
  envelope.schema_version = version;
  return Status::ok();
}

// org_id is required except for the two kinds of event that belong to no org: a rate card
// (global, written to every partition) and a tick (a partition's time marker). Whether a global
// event may carry one, and the conditional rules (model unless a cost is reported, …), are range
// rules: validate_event's.
Status check_org(const fb::EnvelopeT& envelope, fb::Body type) {
  const bool org_less = type == fb::Body::RateCardPublished || type == fb::Body::Tick;
  if (!org_less && envelope.org_id.empty()) return Status::invalid("org_id", "is required");
  return Status::ok();
}

template <class Body>
Status read_event(const json::object& object, fb::Body type, fb::EnvelopeT& envelope) {
  Status status = reject_unknown_fields(object, "", [](std::string_view key) {
    return key == "type" || key == "schema_version" || has_field<fb::EnvelopeT>(key) || has_field<Body>(key);
  });
  if (!status.is_ok()) return status;
  if (status = read_schema_version(object, envelope); !status.is_ok()) return status;
  FieldReader reader(object, "");
  if (!for_each_field(envelope, reader)) return reader.status();
  Body body;
  if (!for_each_field(body, reader)) return reader.status();
  if (status = check_org(envelope, type); !status.is_ok()) return status;
  envelope.body.Set(std::move(body));
  return Status::ok();
}

std::string encode(const fb::EnvelopeT& envelope) {
  flatbuffers::FlatBufferBuilder builder(1024);
  builder.Finish(fb::Envelope::Pack(builder, &envelope), fb::EnvelopeIdentifier());
  return std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
}

// ---- object API -> JSON ----------------------------------------------------------------------

// Appends fields to a JSON object in the order visited. Empty strings, unset enums and null
// optional scalars are left out (absent in JSON means exactly those); numbers and bools always
// appear, so a reader never has to know a default.
class FieldWriter {
 public:
  explicit FieldWriter(json::object& out) : out_(out) {}

  bool operator()(std::string_view name, const std::string& value, Need) {
    if (!value.empty()) put(name, json_text(value, out_.storage()));
    return true;
  }
  bool operator()(std::string_view name, bool value, Need) {
    put(name, value);
    return true;
  }
  template <std::integral Integer>
    requires(!std::is_same_v<Integer, bool>)
  bool operator()(std::string_view name, Integer value, Need) {
    static_assert(std::in_range<std::int64_t>(std::numeric_limits<Integer>::max()));
    put(name, static_cast<std::int64_t>(value));
    return true;
  }
  bool operator()(std::string_view name, const flatbuffers::Optional<std::int64_t>& value, Need) {
    if (value.has_value()) put(name, value.value());
    return true;
  }
  template <SchemaEnum E>
  bool operator()(std::string_view name, E value, Need) {
    const auto number = static_cast<std::int64_t>(value);
    if (number < 0 || number > static_cast<std::int64_t>(E::MAX)) {
      put(name, number);  // a value from a newer schema: show it rather than hide it
      return true;
    }
    const std::string_view text = enum_names(E{})[number];
    if (text != enum_unset_name) put(name, json::string(to_json_view(text), out_.storage()));
    return true;
  }
  template <class Element>
  bool operator()(std::string_view name, const std::vector<std::unique_ptr<Element>>& elements, Need) {
    json::array array(out_.storage());
    array.reserve(elements.size());
    for (const auto& element : elements) {
      json::object object(out_.storage());
      FieldWriter writer(object);
      for_each_field(static_cast<const Element&>(*element), writer);
      array.emplace_back(std::move(object));
    }
    put(name, std::move(array));
    return true;
  }

 private:
  template <class Value>
  void put(std::string_view name, Value&& value) {
    out_.emplace(to_json_view(name), std::forward<Value>(value));
  }

  json::object& out_;
};

// Omitted when it is the version this build writes, so the common form stays short; any other
// version is shown (the record is then not one this build accepts).
void write_schema_version(std::uint16_t version, std::uint16_t current, json::object& out) {
  if (version != current) out.emplace("schema_version", static_cast<std::int64_t>(version));
}

}  // namespace

Result<std::string> event_from_json(std::string_view text) {
  if (text.size() > json_bytes_max) {
    return Status::error(Status::Code::too_large,
                         "event JSON is " + std::to_string(text.size()) + " bytes, more than " +
                             std::to_string(json_bytes_max));
  }
  unsigned char arena[4096];
  json::monotonic_resource resource(arena, sizeof arena);
  Result<json::value> parsed = parse_strict(text, &resource);
  if (!parsed.is_ok()) return parsed.status();
  if (!parsed->is_object()) return Status::invalid("", "an event must be a JSON object");
  const json::object& object = parsed->get_object();

  Result<fb::Body> type = read_type(object);
  if (!type.is_ok()) return type.status();
  fb::EnvelopeT envelope;
  Status status;
  const bool known = with_body_type(type.value(), [&]<class Body>(std::type_identity<Body>) {
    status = read_event<Body>(object, type.value(), envelope);
  });
  assert(known);  // read_type only answers names from body_type_names
  if (!status.is_ok()) return status;

  std::string bytes = encode(envelope);
  if (status = validate_event(bytes); !status.is_ok()) return status;
  return bytes;
}

Result<std::string> event_to_json(std::string_view bytes) {
  std::string copy;
  bytes = aligned(bytes, copy);
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  if (bytes.size() >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return Status::error(Status::Code::corruption, "not an event: larger than any FlatBuffer");
  }
  flatbuffers::Verifier verifier(data, bytes.size());
  if (!fb::VerifyEnvelopeBuffer(verifier)) {
    return Status::error(Status::Code::corruption, "not an event: FlatBuffers verification failed (identifier TLE1)");
  }
  fb::EnvelopeT envelope;
  fb::GetEnvelope(data)->UnPackTo(&envelope);
  if (envelope.body.value == nullptr) {
    return Status::error(Status::Code::corruption,
                         "event has no body or an unknown body type " +
                             std::to_string(static_cast<int>(envelope.body.type)));
  }

  unsigned char arena[4096];
  json::monotonic_resource resource(arena, sizeof arena);
  json::object out(&resource);
  out.reserve(24);
  const auto type_index = static_cast<std::size_t>(envelope.body.type);
  out.emplace("type", to_json_view(body_type_names[type_index]));
  write_schema_version(envelope.schema_version, fb::EnvelopeT{}.schema_version, out);
  FieldWriter writer(out);
  for_each_field(static_cast<const fb::EnvelopeT&>(envelope), writer);
  with_body_type(envelope.body.type, [&]<class Body>(std::type_identity<Body>) {
    for_each_field(*static_cast<const Body*>(envelope.body.value), writer);
  });
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
  fb::SignalT signal;
  fb::GetSignal(data)->UnPackTo(&signal);

  unsigned char arena[2048];
  json::monotonic_resource resource(arena, sizeof arena);
  json::object out(&resource);
  out.reserve(16);
  write_schema_version(signal.schema_version, fb::SignalT{}.schema_version, out);
  FieldWriter writer(out);
  for_each_field(static_cast<const fb::SignalT&>(signal), writer);
  return json::serialize(out);
}

}  // namespace tally
