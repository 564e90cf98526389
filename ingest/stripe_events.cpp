#include "ingest/stripe_events.h"

#include <algorithm>
#include <limits>

#include "ingest/json_fields.h"

#include "engine/limits.h"

namespace tally::connectors {
namespace json = boost::json;
namespace {

// Event-level fields shared by every mapping.
struct StripeEventHead {
  std::string id;
  std::string type;
  int64_t occurred_at_ms = 0;
};

Result<StripeEventHead> read_head(const FieldReader& event) {
  StripeEventHead head;
  Result<std::string> id = event.required_string("id");
  if (!id.is_ok()) return id.status();
  if (id->size() > limits::idempotency_key_bytes_max) return Status::invalid("id", "longer than 255 bytes");
  head.id = std::move(id.value());
  Result<std::string> type = event.required_string("type");
  if (!type.is_ok()) return type.status();
  head.type = std::move(type.value());
  Result<int64_t> created = event.required_int64("created");
  if (!created.is_ok()) return created.status();
  constexpr int64_t created_s_max = std::numeric_limits<int64_t>::max() / 1000;
  if (created.value() < 0 || created.value() > created_s_max) {
    return Status::invalid("created", "must be a Unix time in seconds");
  }
  head.occurred_at_ms = created.value() * 1000;
  return head;
}

Result<std::string> read_org(const FieldReader& reader, std::string_view key) {
  Result<std::string> org = reader.required_string(key);
  if (!org.is_ok()) return org.status();
  if (!is_valid_ledger_id(org.value())) {
    return Status::invalid(reader.field(key), "must be 1..128 characters of [A-Za-z0-9._@+-]");
  }
  return org;
}

// A Stripe id or key that goes into the event (as a key, a reference or in a reason): at most
// idempotency_key_bytes_max bytes, which keeps every event text within the codec's bounds.
Result<std::string> read_key(const FieldReader& reader, std::string_view key) {
  Result<std::string> text = reader.required_string(key);
  if (!text.is_ok()) return text.status();
  if (text->size() > limits::idempotency_key_bytes_max) {
    return Status::invalid(reader.field(key), "longer than " + std::to_string(limits::idempotency_key_bytes_max) + " bytes");
  }
  return text;
}

// Stripe's currency: an ISO 4217 code in lower case, as the purchase event carries it.
Result<std::string> read_currency(const FieldReader& reader) {
  Result<std::string> currency = reader.required_string("currency");
  if (!currency.is_ok()) return currency.status();
  const std::string& code = currency.value();
  const bool lower_letters = code.size() == 3 && std::all_of(code.begin(), code.end(), [](char c) {
    return c >= 'a' && c <= 'z';
  });
  if (!lower_letters) return Status::invalid(reader.field("currency"), "must be an ISO 4217 code of 3 lower-case letters");
  return currency;
}

// A non-negative integer metadata value (string digits or JSON integer), or `fallback`.
Result<int64_t> metadata_amount(const std::optional<FieldReader>& metadata, std::string_view key,
                                int64_t fallback) {
  if (!metadata) return fallback;
  Result<std::optional<int64_t>> value = metadata->optional_int64_or_digits(key);
  if (!value.is_ok()) return value.status();
  if (!value->has_value()) return fallback;
  if (*value.value() < 0) return Status::invalid(metadata->field(key), "must not be negative");
  return *value.value();
}

// credits bought: metadata.credits_micros, else bundles × per-bundle credits.
Result<int64_t> purchased_credits(const std::optional<FieldReader>& metadata, const std::string& metadata_path,
                                  int64_t bundles, const StripeMappingConfig& config) {
  const std::string credits_field = metadata_path + ".credits_micros";
  Result<int64_t> credits = metadata_amount(metadata, "credits_micros", -1);
  if (!credits.is_ok()) return credits.status();
  if (credits.value() >= 0) {
    if (credits.value() == 0) return Status::invalid(credits_field, "must be greater than 0");
    return credits;
  }
  if (config.credits_per_bundle_micros <= 0) {
    return Status::invalid(credits_field, "missing (and no credits per bundle configured)");
  }
  int64_t total = 0;
  if (__builtin_mul_overflow(bundles, config.credits_per_bundle_micros, &total)) {
    return Status::invalid(metadata_path + ".bundles", "bundles × credits per bundle overflows");
  }
  return total;
}

Result<int64_t> read_bundles(const std::optional<FieldReader>& metadata, const std::string& metadata_path) {
  Result<int64_t> bundles = metadata_amount(metadata, "bundles", 1);
  if (!bundles.is_ok()) return bundles.status();
  if (bundles.value() < 1 || bundles.value() > limits::bundles_max) {
    return Status::invalid(metadata_path + ".bundles", "must be 1..10");
  }
  return bundles;
}

// `payment_intent` is an id string, or an object when the event was expanded.
Result<std::optional<std::string>> read_payment_intent(const FieldReader& object) {
  if (!object.has("payment_intent")) return std::optional<std::string>();
  const json::value& value = object.object().at("payment_intent");
  if (value.is_object()) {
    Result<std::string> id = read_key(FieldReader(value.get_object(), object.field("payment_intent")), "id");
    if (!id.is_ok()) return id.status();
    return std::optional<std::string>(std::move(id.value()));
  }
  Result<std::optional<std::string>> id = object.optional_string("payment_intent");
  if (id.is_ok() && id->has_value() && id->value().size() > limits::idempotency_key_bytes_max) {
    return Status::invalid(object.field("payment_intent"),
                           "longer than " + std::to_string(limits::idempotency_key_bytes_max) + " bytes");
  }
  return id;
}

// What the credits cost (the fee not included). A session whose fee is one of its line items
// (Tally's own checkout, marked by metadata.paid_minor) has it in amount_subtotal too.
Result<int64_t> paid_for_credits(const FieldReader& session, bool fee_is_a_line_item, int64_t fee) {
  Result<std::optional<int64_t>> subtotal = session.optional_int64("amount_subtotal");
  if (!subtotal.is_ok()) return subtotal.status();
  if (subtotal->has_value()) {
    const int64_t paid = *subtotal.value() - (fee_is_a_line_item ? fee : 0);
    if (*subtotal.value() < 0) return Status::invalid(session.field("amount_subtotal"), "must not be negative");
    if (paid < 0) return Status::invalid(session.field("amount_subtotal"), "must be at least metadata.fee_minor");
    return paid;
  }
  Result<int64_t> total = session.required_int64("amount_total");
  if (!total.is_ok()) return Status::invalid(session.field("amount_total"), total.status().message() + " (and no amount_subtotal)");
  const int64_t paid = total.value() - fee;
  if (total.value() < 0 || paid < 0) return Status::invalid(session.field("amount_total"), "must be at least metadata.fee_minor");
  return paid;
}

Result<MappedEvent> map_checkout(const StripeEventHead& head, const FieldReader& session,
                                 const StripeMappingConfig& config) {
  Result<std::optional<std::string>> mode = session.optional_string("mode");
  if (!mode.is_ok()) return mode.status();
  if (mode->has_value() && *mode.value() != "payment") {
    return MappedEvent::ignore("checkout mode '" + *mode.value() + "' is not a credit purchase");
  }
  Result<std::optional<std::string>> payment_status = session.optional_string("payment_status");
  if (!payment_status.is_ok()) return payment_status.status();
  if (payment_status->has_value() && *payment_status.value() == "unpaid") {
    return MappedEvent::ignore("checkout not paid yet; async_payment_succeeded will record the purchase");
  }

  Result<std::string> session_id = read_key(session, "id");
  if (!session_id.is_ok()) return session_id.status();
  Result<std::optional<FieldReader>> metadata = session.optional_object("metadata");
  if (!metadata.is_ok()) return metadata.status();
  const std::string metadata_path = session.field("metadata");

  Result<std::string> org = Status::invalid(session.field("client_reference_id"), "missing (and no metadata.org_id)");
  if (session.has("client_reference_id")) {
    org = read_org(session, "client_reference_id");
  } else if (metadata.value() && metadata.value()->has("org_id")) {
    org = read_org(*metadata.value(), "org_id");
  }
  if (!org.is_ok()) return org.status();

  Result<int64_t> bundles = read_bundles(metadata.value(), metadata_path);
  if (!bundles.is_ok()) return bundles.status();
  Result<int64_t> credits = purchased_credits(metadata.value(), metadata_path, bundles.value(), config);
  if (!credits.is_ok()) return credits.status();
  Result<int64_t> fee = metadata_amount(metadata.value(), "fee_minor", 0);
  if (!fee.is_ok()) return fee.status();

  Result<int64_t> paid = paid_for_credits(session, metadata.value() && metadata.value()->has("paid_minor"), fee.value());
  if (!paid.is_ok()) return paid.status();
  Result<std::string> currency = read_currency(session);
  if (!currency.is_ok()) return currency.status();
  Result<std::optional<std::string>> payment_intent = read_payment_intent(session);
  if (!payment_intent.is_ok()) return payment_intent.status();

  json::object event = make_event("purchase", EventEnvelope{head.id, org.value(), head.occurred_at_ms,
                                                            std::string(stripe_event_source), session_id.value()});
  event["credits_micros"] = credits.value();
  event["paid_minor"] = paid.value();
  event["currency"] = currency.value();
  event["fee_minor"] = fee.value();
  event["bundles"] = bundles.value();
  event["payment_ref"] = payment_intent->value_or(session_id.value());
  return MappedEvent::of(std::move(event));
}

// floor(credits × min(refunded, base) / base), exact in 128 bits.
int64_t proportional_credits(int64_t credits, int64_t refunded, int64_t base) {
  const __int128 clamped = refunded < base ? refunded : base;
  return static_cast<int64_t>(static_cast<__int128>(credits) * clamped / base);
}

// Which purchase a refunded charge paid for: its metadata first, then the configured lookup.
Result<PurchaseRef> refunded_purchase(const FieldReader& charge, const std::string& charge_id,
                                      const std::optional<FieldReader>& metadata, const std::string& metadata_path,
                                      const StripeMappingConfig& config) {
  const bool has_metadata_ref = metadata && metadata->has("purchase_key") && metadata->has("org_id");
  if (has_metadata_ref) {
    Result<std::string> key = read_key(*metadata, "purchase_key");
    if (!key.is_ok()) return key.status();
    Result<std::string> org = read_org(*metadata, "org_id");
    if (!org.is_ok()) return org.status();
    return PurchaseRef{org.value(), key.value()};
  }
  std::optional<PurchaseRef> found;
  if (config.find_purchase) {
    Result<std::optional<std::string>> payment_intent = read_payment_intent(charge);
    if (!payment_intent.is_ok()) return payment_intent.status();
    if (payment_intent->has_value()) found = config.find_purchase(*payment_intent.value());
    if (!found) found = config.find_purchase(charge_id);
  }
  if (!found) {
    const std::string missing = metadata && metadata->has("purchase_key") ? "org_id" : "purchase_key";
    return Status::invalid(metadata_path + "." + missing, "missing, and no purchase found for this payment");
  }
  if (!is_valid_ledger_id(found->org_id)) return Status::invalid(metadata_path + ".org_id", "invalid org id from purchase lookup");
  return std::move(*found);
}

Result<MappedEvent> map_refund(const StripeEventHead& head, const FieldReader& event, const FieldReader& charge,
                               const StripeMappingConfig& config) {
  Result<std::string> charge_id = read_key(charge, "id");
  if (!charge_id.is_ok()) return charge_id.status();
  Result<int64_t> amount = charge.required_int64("amount");
  if (!amount.is_ok()) return amount.status();
  if (amount.value() <= 0) return Status::invalid(charge.field("amount"), "must be greater than 0");
  Result<int64_t> refunded = charge.required_int64("amount_refunded");
  if (!refunded.is_ok()) return refunded.status();
  if (refunded.value() < 0 || refunded.value() > amount.value()) {
    return Status::invalid(charge.field("amount_refunded"), "must be 0..amount");
  }
  int64_t previously_refunded = 0;
  Result<FieldReader> data = event.required_object("data");
  if (!data.is_ok()) return data.status();
  Result<std::optional<FieldReader>> previous = data->optional_object("previous_attributes");
  if (!previous.is_ok()) return previous.status();
  if (previous.value()) {
    Result<std::optional<int64_t>> before = previous.value()->optional_int64("amount_refunded");
    if (!before.is_ok()) return before.status();
    previously_refunded = before->value_or(0);
    if (previously_refunded < 0 || previously_refunded > refunded.value()) {
      return Status::invalid(previous.value()->field("amount_refunded"), "must be 0..data.object.amount_refunded");
    }
  }

  Result<std::optional<FieldReader>> metadata = charge.optional_object("metadata");
  if (!metadata.is_ok()) return metadata.status();
  const std::string metadata_path = charge.field("metadata");
  Result<PurchaseRef> found = refunded_purchase(charge, charge_id.value(), metadata.value(), metadata_path, config);
  if (!found.is_ok()) return found.status();
  const PurchaseRef& ref = found.value();

  // What the purchase bought: the ledger's own record when the lookup found it, else the metadata.
  int64_t credits = ref.credits_micros;
  int64_t fee = ref.fee_minor;
  if (credits <= 0) {
    Result<int64_t> bundles = read_bundles(metadata.value(), metadata_path);
    if (!bundles.is_ok()) return bundles.status();
    Result<int64_t> from_metadata = purchased_credits(metadata.value(), metadata_path, bundles.value(), config);
    if (!from_metadata.is_ok()) return from_metadata.status();
    credits = from_metadata.value();
    Result<int64_t> metadata_fee = metadata_amount(metadata.value(), "fee_minor", 0);
    if (!metadata_fee.is_ok()) return metadata_fee.status();
    fee = metadata_fee.value();
  }
  const int64_t base = amount.value() - fee;
  if (base <= 0) return Status::invalid(metadata_path + ".fee_minor", "must be less than data.object.amount");

  const int64_t refund_credits = proportional_credits(credits, refunded.value(), base) -
                                 proportional_credits(credits, previously_refunded, base);
  if (refund_credits <= 0) return MappedEvent::ignore("refund adds no credits to return (fee only, or nothing new)");

  json::object out = make_event("refund", EventEnvelope{head.id, ref.org_id, head.occurred_at_ms,
                                                        std::string(stripe_event_source), charge_id.value()});
  out["purchase_key"] = ref.purchase_key;
  out["credits_micros"] = refund_credits;
  out["force"] = false;
  out["reason"] = "stripe refund of " + charge_id.value();
  return MappedEvent::of(std::move(out));
}

}  // namespace

Result<MappedEvent> map_stripe_event(const json::value& value, const StripeMappingConfig& config) {
  if (!value.is_object()) return Status::invalid("body", "must be a JSON object (a Stripe event)");
  const FieldReader event(value.get_object(), "");
  Result<StripeEventHead> head = read_head(event);
  if (!head.is_ok()) return head.status();

  const std::string& type = head->type;
  const bool is_checkout =
      type == "checkout.session.completed" || type == "checkout.session.async_payment_succeeded";
  if (!is_checkout && type != "charge.refunded") {
    return MappedEvent::ignore("event type '" + type + "' is not consumed");
  }
  Result<FieldReader> data = event.required_object("data");
  if (!data.is_ok()) return data.status();
  Result<FieldReader> object = data->required_object("object");
  if (!object.is_ok()) return object.status();
  if (is_checkout) return map_checkout(head.value(), object.value(), config);
  return map_refund(head.value(), event, object.value(), config);
}

Result<MappedEvent> map_stripe_event(std::string_view payload, const StripeMappingConfig& config) {
  Result<json::value> value = parse_json(payload, "body");
  if (!value.is_ok()) return value.status();
  return map_stripe_event(value.value(), config);
}

}  // namespace tally::connectors
