// Stripe webhook events -> canonical purchase/refund events, on captured-shape fixtures.
#include <boost/test/unit_test.hpp>

#include <boost/json.hpp>

#include "ingest/stripe_events.h"
#include "ingest/test_util.h"

using namespace tally::connectors;
using tally::connectors::test::read_testdata;
using tally::connectors::test::replace_once;
namespace json = boost::json;

namespace {

MappedEvent map_ok(const std::string& payload, const StripeMappingConfig& config = {}) {
  auto r = map_stripe_event(payload, config);
  BOOST_REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return r.value();
}

tally::Status map_error(const std::string& payload, const StripeMappingConfig& config = {}) {
  auto r = map_stripe_event(payload, config);
  BOOST_REQUIRE_MESSAGE(!r.is_ok(), "expected an error");
  return r.status();
}

// Maps `payload` to an event (not ignored) equal, field for field, to the JSON text `expected`.
void check_maps_to(const std::string& payload, std::string_view expected) {
  const MappedEvent mapped = map_ok(payload);
  BOOST_TEST(!mapped.ignored);
  BOOST_TEST(json::serialize(mapped.event) == json::serialize(json::parse(expected)));
}

std::string checkout() { return read_testdata("stripe_checkout_session_completed.json"); }
std::string refund() { return read_testdata("stripe_charge_refunded.json"); }

}  // namespace

BOOST_AUTO_TEST_CASE(checkout_completed_becomes_purchase_keyed_by_event_id) {
  check_maps_to(checkout(), R"({
    "type": "purchase",
    "idempotency_key": "evt_1PqR7sLkdIwHu7ixA2bC3dE4",
    "org_id": "acme-corp",
    "occurred_at_ms": 1732300000000,
    "source": "stripe",
    "correlation_id": "cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ",
    "credits_micros": 200000000,
    "paid_minor": 20000,
    "currency": "usd",
    "fee_minor": 600,
    "bundles": 2,
    "payment_ref": "pi_3PqR7rLkdIwHu7ix1AbCdEfG"
  })");
}

BOOST_AUTO_TEST_CASE(checkout_org_falls_back_to_metadata_org_id) {
  const std::string payload = replace_once(checkout(), R"("client_reference_id": "acme-corp",)", "");
  BOOST_TEST(map_ok(payload).event.at("org_id").as_string() == "acme-corp");
}

// Found by tests/fuzz/stripe_fuzz: a checkout with any currency text was mapped, and the purchase
// then failed in the codec under the bare field name "currency" instead of the payload's path.
BOOST_AUTO_TEST_CASE(a_currency_that_is_not_three_lower_case_letters_is_named_by_its_path) {
  for (const std::string bad : {"usdusd", "us", "USD", "u$d"}) {
    BOOST_TEST_INFO("currency " << bad);
    const std::string payload = replace_once(checkout(), R"("currency": "usd",)", R"("currency": ")" + bad + R"(",)");
    const tally::Status status = map_error(payload);
    BOOST_TEST(status.field() == "data.object.currency");
    BOOST_TEST(status.message().find("3 lower-case letters") != std::string::npos, status.to_string());
  }
}

// Found by tests/fuzz/stripe_fuzz: a purchase_key over 255 bytes was mapped into a refund the codec
// refused; Stripe ids copied into the event (session, charge, payment intent) had no bound either.
BOOST_AUTO_TEST_CASE(ids_and_keys_longer_than_255_bytes_are_named_by_their_path) {
  const std::string long_text(256, 'k');
  const std::string key = R"("purchase_key": "evt_1PqR7sLkdIwHu7ixA2bC3dE4")";
  BOOST_TEST(map_error(replace_once(refund(), key, R"("purchase_key": ")" + long_text + "\"")).field() ==
             "data.object.metadata.purchase_key");
  BOOST_TEST(map_error(replace_once(refund(), R"("id": "ch_3PqR7rLkdIwHu7ix1HiJkLmN")", R"("id": ")" + long_text + "\""))
                 .field() == "data.object.id");
  BOOST_TEST(map_error(replace_once(checkout(), R"("id": "cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ")",
                                    R"("id": ")" + long_text + "\""))
                 .field() == "data.object.id");
  BOOST_TEST(map_error(replace_once(checkout(), R"("payment_intent": "pi_3PqR7rLkdIwHu7ix1AbCdEfG")",
                                    R"("payment_intent": ")" + long_text + "\""))
                 .field() == "data.object.payment_intent");
  // 255 bytes is still a key.
  const std::string longest(255, 'k');
  BOOST_TEST(map_ok(replace_once(refund(), key, R"("purchase_key": ")" + longest + "\"")).event.at("purchase_key").as_string() ==
             longest);
}

BOOST_AUTO_TEST_CASE(checkout_credits_from_bundles_times_configured_bundle) {
  const std::string payload = replace_once(checkout(), R"("credits_micros": "200000000",)", "");
  StripeMappingConfig config;
  config.credits_per_bundle_micros = 100'000'000;
  BOOST_TEST(map_ok(payload, config).event.at("credits_micros").as_int64() == 200'000'000);
  // Without a configured bundle size the missing field is named.
  const auto status = map_error(payload);
  BOOST_TEST(status.field() == "data.object.metadata.credits_micros");
}

BOOST_AUTO_TEST_CASE(checkout_paid_falls_back_to_total_minus_fee) {
  const std::string payload = replace_once(checkout(), R"("amount_subtotal": 20000,)", "");
  BOOST_TEST(map_ok(payload).event.at("paid_minor").as_int64() == 20000);  // 20600 - 600
}

// SPEC §14: Tally's own checkout puts the fee on its own line item, so the session's subtotal
// holds it too; its metadata says so with paid_minor.
BOOST_AUTO_TEST_CASE(checkout_with_the_fee_as_a_line_item_records_the_credits_part_as_paid) {
  std::string payload = replace_once(checkout(), R"("amount_subtotal": 20000,)", R"("amount_subtotal": 20600,)");
  payload = replace_once(payload, R"("fee_minor": "600")", R"("fee_minor": "600", "paid_minor": "20000")");
  const MappedEvent mapped = map_ok(payload);
  BOOST_TEST(mapped.event.at("paid_minor").as_int64() == 20000);
  BOOST_TEST(mapped.event.at("fee_minor").as_int64() == 600);
  const std::string short_paid = replace_once(payload, R"("amount_subtotal": 20600,)", R"("amount_subtotal": 500,)");
  BOOST_TEST(map_error(short_paid).field() == "data.object.amount_subtotal");
}

BOOST_AUTO_TEST_CASE(checkout_payment_ref_falls_back_to_session_id) {
  const std::string payload =
      replace_once(checkout(), R"("payment_intent": "pi_3PqR7rLkdIwHu7ix1AbCdEfG")", R"("payment_intent": null)");
  BOOST_TEST(map_ok(payload).event.at("payment_ref").as_string() == "cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ");
}

BOOST_AUTO_TEST_CASE(checkout_defaults_fee_zero_and_one_bundle) {
  std::string payload = replace_once(checkout(), R"("bundles": "2",)", "");
  payload = replace_once(payload, R"(,
        "fee_minor": "600")", "");
  const MappedEvent mapped = map_ok(payload);
  BOOST_TEST(mapped.event.at("fee_minor").as_int64() == 0);
  BOOST_TEST(mapped.event.at("bundles").as_int64() == 1);
}

BOOST_AUTO_TEST_CASE(unpaid_checkout_is_ignored_and_async_success_is_a_purchase) {
  const std::string unpaid =
      replace_once(checkout(), R"("payment_status": "paid")", R"("payment_status": "unpaid")");
  const MappedEvent ignored = map_ok(unpaid);
  BOOST_TEST(ignored.ignored);
  BOOST_TEST(ignored.event.empty());
  const std::string settled = replace_once(checkout(), R"("type": "checkout.session.completed")",
                                           R"("type": "checkout.session.async_payment_succeeded")");
  BOOST_TEST(map_ok(settled).event.at("type").as_string() == "purchase");
}

BOOST_AUTO_TEST_CASE(subscription_checkout_is_ignored) {
  const std::string payload = replace_once(checkout(), R"("mode": "payment")", R"("mode": "subscription")");
  BOOST_TEST(map_ok(payload).ignored);
}

BOOST_AUTO_TEST_CASE(unknown_event_type_is_ignored_not_an_error) {
  const std::string payload =
      replace_once(checkout(), R"("type": "checkout.session.completed")", R"("type": "customer.created")");
  const MappedEvent mapped = map_ok(payload);
  BOOST_TEST(mapped.ignored);
  BOOST_TEST(mapped.reason.find("customer.created") != std::string::npos);
  // Even without a data object: the type alone decides.
  BOOST_TEST(map_ok(R"({"id":"evt_x","type":"invoice.paid","created":1})").ignored);
}

BOOST_AUTO_TEST_CASE(missing_fields_are_named) {
  BOOST_TEST(map_error(replace_once(checkout(), R"("currency": "usd",)", "")).field() == "data.object.currency");
  BOOST_TEST(map_error(replace_once(checkout(), R"("id": "evt_1PqR7sLkdIwHu7ixA2bC3dE4",)", "")).field() == "id");
  BOOST_TEST(map_error(replace_once(checkout(), R"("created": 1732300000,)", "")).field() == "created");
  std::string no_org = replace_once(checkout(), R"("client_reference_id": "acme-corp",)", "");
  no_org = replace_once(no_org, R"("org_id": "acme-corp",)", "");
  BOOST_TEST(map_error(no_org).field() == "data.object.client_reference_id");
  BOOST_TEST(map_error(R"({"id":"evt_x","type":"checkout.session.completed","created":1})").field() == "data");
}

BOOST_AUTO_TEST_CASE(bad_values_are_named) {
  BOOST_TEST(map_error(replace_once(checkout(), R"("bundles": "2")", R"("bundles": "11")")).field() ==
             "data.object.metadata.bundles");
  BOOST_TEST(map_error(replace_once(checkout(), R"("credits_micros": "200000000")", R"("credits_micros": "2e8")"))
                 .field() == "data.object.metadata.credits_micros");
  BOOST_TEST(map_error(replace_once(checkout(), R"("client_reference_id": "acme-corp")",
                                    R"("client_reference_id": "acme:corp")"))
                 .field() == "data.object.client_reference_id");
  BOOST_TEST(map_error(replace_once(checkout(), R"("amount_subtotal": 20000)", R"("amount_subtotal": "20000")"))
                 .field() == "data.object.amount_subtotal");
  BOOST_TEST(map_error("{not json").field() == "body");
  BOOST_TEST(map_error("[]").field() == "body");
}

BOOST_AUTO_TEST_CASE(charge_refunded_becomes_refund_of_the_newly_refunded_share) {
  check_maps_to(refund(), R"({
    "type": "refund",
    "idempotency_key": "evt_3PqS9tLkdIwHu7ix0ZyXwVuT",
    "org_id": "acme-corp",
    "occurred_at_ms": 1732400000000,
    "source": "stripe",
    "correlation_id": "ch_3PqR7rLkdIwHu7ix1HiJkLmN",
    "purchase_key": "evt_1PqR7sLkdIwHu7ixA2bC3dE4",
    "credits_micros": 100000000,
    "force": false,
    "reason": "stripe refund of ch_3PqR7rLkdIwHu7ix1HiJkLmN"
  })");
}

BOOST_AUTO_TEST_CASE(partial_refunds_sum_to_exactly_the_purchase) {
  // Refunds of 3333, 3334 and 13333 (credit part 20000; fee 600 refunded last) of a purchase
  // whose credits do not divide evenly: floors of cumulative shares still sum to the whole.
  const std::string odd_credits = replace_once(refund(), R"("credits_micros": "200000000")",
                                               R"("credits_micros": "199999999")");
  const int64_t steps[][2] = {{0, 3333}, {3333, 6667}, {6667, 20000}, {20000, 20600}};
  int64_t total = 0;
  for (const auto& step : steps) {
    std::string payload = replace_once(odd_credits, R"("amount_refunded": 10000)",
                                       R"("amount_refunded": )" + std::to_string(step[1]));
    payload = replace_once(payload, R"("amount_refunded": 0)", R"("amount_refunded": )" + std::to_string(step[0]));
    const MappedEvent mapped = map_ok(payload);
    if (step[0] == 20000) {
      BOOST_TEST(mapped.ignored);  // the fee alone returns no credits
      continue;
    }
    const int64_t credits = mapped.event.at("credits_micros").as_int64();
    BOOST_TEST(credits > 0);
    total += credits;
  }
  BOOST_TEST(total == 199'999'999);
}

BOOST_AUTO_TEST_CASE(refund_without_previous_attributes_counts_from_zero) {
  const std::string payload = replace_once(refund(), R"(,
    "previous_attributes": {
      "amount_refunded": 0
    })", "");
  BOOST_TEST(map_ok(payload).event.at("credits_micros").as_int64() == 100'000'000);
}

BOOST_AUTO_TEST_CASE(refund_purchase_found_through_lookup_when_metadata_lacks_it) {
  std::string payload = replace_once(refund(), R"("purchase_key": "evt_1PqR7sLkdIwHu7ixA2bC3dE4",)", "");
  payload = replace_once(payload, R"("org_id": "acme-corp",)", "");
  BOOST_TEST(map_error(payload).field() == "data.object.metadata.purchase_key");

  StripeMappingConfig config;
  std::string asked;
  config.find_purchase = [&](std::string_view ref) -> std::optional<PurchaseRef> {
    asked += std::string(ref) + ";";
    if (ref == "pi_3PqR7rLkdIwHu7ix1AbCdEfG") return PurchaseRef{"acme-corp", "evt_purchase"};
    return std::nullopt;
  };
  const MappedEvent mapped = map_ok(payload, config);
  BOOST_TEST(mapped.event.at("purchase_key").as_string() == "evt_purchase");
  BOOST_TEST(mapped.event.at("org_id").as_string() == "acme-corp");
  BOOST_TEST(asked == "pi_3PqR7rLkdIwHu7ix1AbCdEfG;");
}

BOOST_AUTO_TEST_CASE(refund_of_a_checkout_charge_without_metadata_takes_credits_and_fee_from_the_ledger) {
  // A Checkout Session's metadata stays on the session: the charge Stripe refunds carries none.
  const std::string payload = replace_once(refund(), R"("metadata": {
        "org_id": "acme-corp",
        "purchase_key": "evt_1PqR7sLkdIwHu7ixA2bC3dE4",
        "credits_micros": "200000000",
        "fee_minor": "600"
      },)", R"("metadata": {},)");
  BOOST_TEST(map_error(payload).field() == "data.object.metadata.purchase_key");  // no lookup configured

  StripeMappingConfig config;
  config.find_purchase = [](std::string_view ref) -> std::optional<PurchaseRef> {
    if (ref != "pi_3PqR7rLkdIwHu7ix1AbCdEfG") return std::nullopt;
    PurchaseRef found{"acme-corp", "evt_checkout"};
    found.credits_micros = 300'000'000;  // what the ledger credited for the 20000 + 600 fee charge
    found.fee_minor = 600;
    return found;
  };
  const MappedEvent mapped = map_ok(payload, config);
  BOOST_TEST(mapped.event.at("org_id").as_string() == "acme-corp");
  BOOST_TEST(mapped.event.at("purchase_key").as_string() == "evt_checkout");
  BOOST_TEST(mapped.event.at("credits_micros").as_int64() == 150'000'000);  // 10000 of 20000: half
}

BOOST_AUTO_TEST_CASE(refund_missing_fields_are_named) {
  BOOST_TEST(map_error(replace_once(refund(), R"("amount": 20600,)", "")).field() == "data.object.amount");
  BOOST_TEST(map_error(replace_once(refund(), R"("amount_refunded": 10000,)", "")).field() ==
             "data.object.amount_refunded");
  BOOST_TEST(map_error(replace_once(refund(), R"("credits_micros": "200000000",)", "")).field() ==
             "data.object.metadata.credits_micros");
  BOOST_TEST(map_error(replace_once(refund(), R"("amount_refunded": 10000)", R"("amount_refunded": 30000)"))
                 .field() == "data.object.amount_refunded");
}
