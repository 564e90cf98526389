// The fold rules of SPEC §14: who pays per workspace (and per project/office), the org's linked
// payment customer, auto-refill in bundles. Expected amounts are worked out by hand.
#include <boost/test/unit_test.hpp>

#include <map>
#include <ostream>
#include <optional>
#include <string>

#include "engine/bundle_price.h"
#include "engine/event_factory.h"
#include "engine/fold.h"
#include "engine/limits.h"
#include "engine/memory_ledger.h"
#include "engine/state_codec.h"

namespace tally {
namespace {

constexpr int64_t cr = 1'000'000;

}  // namespace

std::ostream& operator<<(std::ostream& out, Outcome o) { return out << outcome_name(o); }
std::ostream& operator<<(std::ostream& out, RejectReason r) { return out << reject_reason_name(r); }
std::ostream& operator<<(std::ostream& out, Micros m) { return out << m.value() << " µcr"; }
std::ostream& operator<<(std::ostream& out, std::optional<BillingPath> p) {
  return out << (p ? billing_path_name(*p) : "none");
}

namespace {

constexpr int64_t jan15 = 1768435200000;  // 2026-01-15T00:00:00Z

struct Fx {
  MemoryLedger ledger;
  FoldResult r;
  int64_t offset = 0;
  int keys = 0;

  EventHeader header(std::string_view org) {
    key_text = "k" + std::to_string(++keys);
    return EventHeader{key_text, org, jan15 + keys};
  }
  const FoldResult& fold(const std::string& record) {
    // One partition; the log appended every event a day after it happened (no clock skew).
    apply(ledger, RecordContext{LogPosition{PartitionId{0}, Offset{offset++}}, jan15 + keys + 86'400'000, 1}, record, r);
    return r;
  }
  const FoldResult& set(std::string_view org, std::string_view ws, std::string_view project,
                        std::optional<BillingPath> path) {
    return fold(make_workspace_billing_set(header(org), ws, project, path));
  }
  // Usage with a provider-reported cost of `reported` µcr (markup 1× and no BYOK fee before any
  // rate card: credits debit `reported`, byok debits 0).
  const FoldResult& use(std::string_view org, std::string_view ws, std::string_view project, int64_t reported,
                        fb::BillingPath path = fb::BillingPath::unset) {
    UsageFields u;
    u.workspace = ws;
    u.project = project;
    u.billing_path = path;
    u.reported_cost_micros = reported;
    return fold(make_usage(header(org), u));
  }
  OrgState org(std::string_view id) { return ledger.orgs().at(std::string(id)); }

  std::string key_text;
};

BOOST_AUTO_TEST_CASE(usage_without_a_path_takes_its_project_then_its_workspace_then_the_org_mode) {
  Fx fx;
  fx.fold(make_org_opened(fx.header("acme"), Plan::pro, BillingMode::credits));
  fx.fold(make_signup_allocation(fx.header("acme"), 100 * cr));
  BOOST_TEST(fx.set("acme", "w2", "", BillingPath::byok).outcome == Outcome::applied);
  BOOST_TEST(fx.set("acme", "w2", "o1", BillingPath::credits).outcome == Outcome::applied);

  // Org mode credits: w1 debits the 2 credits.
  BOOST_TEST(fx.use("acme", "w1", "", 2 * cr).debited_micros == Micros{2 * cr});
  // Workspace w2 is byok: nothing debited, the provider cost tracked.
  const FoldResult& byok = fx.use("acme", "w2", "o2", 3 * cr);
  BOOST_TEST(byok.debited_micros == Micros{0});
  BOOST_TEST(byok.tracked_cost_micros == Micros{3 * cr});
  // Office o1 of w2 is credits again.
  BOOST_TEST(fx.use("acme", "w2", "o1", 5 * cr).debited_micros == Micros{5 * cr});
  // An explicit path wins over every setting.
  BOOST_TEST(fx.use("acme", "w2", "o1", 7 * cr, fb::BillingPath::byok).debited_micros == Micros{0});
  BOOST_TEST(fx.use("acme", "w1", "", 11 * cr, fb::BillingPath::byok).debited_micros == Micros{0});
  BOOST_TEST(fx.use("acme", "w2", "o2", 13 * cr, fb::BillingPath::credits).debited_micros == Micros{13 * cr});
  // 100 - 2 - 5 - 13 = 80 credits left.
  BOOST_TEST(fx.org("acme").balance_micros == Micros{80 * cr});
}

BOOST_AUTO_TEST_CASE(a_byok_org_can_bill_one_workspace_to_credits) {
  Fx fx;
  fx.fold(make_org_opened(fx.header("humanik"), Plan::pro, BillingMode::byok));
  fx.fold(make_signup_allocation(fx.header("humanik"), 10 * cr));
  fx.set("humanik", "wallet-ws", "", BillingPath::credits);
  BOOST_TEST(fx.use("humanik", "keys-ws", "", 4 * cr).debited_micros == Micros{0});
  BOOST_TEST(fx.use("humanik", "wallet-ws", "", 4 * cr).debited_micros == Micros{4 * cr});
  BOOST_TEST(fx.org("humanik").balance_micros == Micros{6 * cr});
}

BOOST_AUTO_TEST_CASE(removing_a_setting_falls_back_to_the_next_one) {
  Fx fx;
  fx.fold(make_signup_allocation(fx.header("acme"), 100 * cr));
  fx.set("acme", "w2", "", BillingPath::byok);
  fx.set("acme", "w2", "o1", BillingPath::credits);
  fx.set("acme", "w2", "o1", std::nullopt);  // the office follows its workspace again
  BOOST_TEST(fx.use("acme", "w2", "o1", 5 * cr).debited_micros == Micros{0});
  fx.set("acme", "w2", "", std::nullopt);  // and the workspace the org
  BOOST_TEST(fx.use("acme", "w2", "o1", 5 * cr).debited_micros == Micros{5 * cr});
  BOOST_TEST(fx.org("acme").workspace_billing.empty());
  // Removing what is not there changes nothing and is not an error.
  BOOST_TEST(fx.set("acme", "nowhere", "", std::nullopt).outcome == Outcome::applied);
}

BOOST_AUTO_TEST_CASE(settings_are_bounded_per_org) {
  Fx fx;
  for (std::size_t i = 0; i < limits::workspace_billing_settings_max; ++i) {
    BOOST_REQUIRE(fx.set("acme", "w" + std::to_string(i), "", BillingPath::byok).outcome == Outcome::applied);
  }
  const FoldResult& full = fx.set("acme", "one-more", "", BillingPath::byok);
  BOOST_TEST(full.outcome == Outcome::rejected);
  BOOST_TEST(full.reason == RejectReason::workspace_billing_full);
  // Changing or removing an existing one still works at the limit.
  BOOST_TEST(fx.set("acme", "w0", "", BillingPath::credits).outcome == Outcome::applied);
  BOOST_TEST(fx.set("acme", "w1", "", std::nullopt).outcome == Outcome::applied);
  BOOST_TEST(fx.set("acme", "one-more", "", BillingPath::byok).outcome == Outcome::applied);
  BOOST_TEST(fx.org("acme").workspace_billing.size() == limits::workspace_billing_settings_max);
}

BOOST_AUTO_TEST_CASE(a_refill_request_charges_the_linked_customer_when_the_policy_names_none) {
  Fx fx;
  fx.fold(make_signup_allocation(fx.header("acme"), 10 * cr));
  BOOST_TEST(fx.fold(make_payment_customer_linked(fx.header("acme"), "cus_saved")).outcome == Outcome::applied);
  AutoRefillPolicy policy;
  policy.enabled = true;
  policy.threshold_micros = Micros{20 * cr};
  policy.refill_credits_micros = Micros{200 * cr};
  policy.refill_bundles = 2;
  const FoldResult& configured = fx.fold(make_auto_refill_configured(fx.header("acme"), policy));
  // The balance (10) is below the threshold (20) at once: a request for the saved card.
  bool requested = false;
  for (const Signal& s : configured.signals) {
    if (s.kind != SignalKind::recharge_requested) continue;
    requested = true;
    BOOST_TEST(s.payment_customer == "cus_saved");
    BOOST_TEST(s.refill_credits_micros == Micros{200 * cr});
  }
  BOOST_TEST(requested);
  BOOST_TEST(fx.org("acme").auto_refill.refill_bundles == 2);
  BOOST_TEST(fx.org("acme").payment_customer == "cus_saved");
}

BOOST_AUTO_TEST_CASE(the_policy_customer_wins_over_the_linked_one) {
  Fx fx;
  fx.fold(make_payment_customer_linked(fx.header("acme"), "cus_saved"));
  AutoRefillPolicy policy{true, Micros{20 * cr}, Micros{100 * cr}, 0, 0, "cus_explicit"};
  const FoldResult& configured = fx.fold(make_auto_refill_configured(fx.header("acme"), policy));
  BOOST_REQUIRE(!configured.signals.empty());
  for (const Signal& s : configured.signals) {
    if (s.kind == SignalKind::recharge_requested) BOOST_TEST(s.payment_customer == "cus_explicit");
  }
}

BOOST_AUTO_TEST_CASE(the_commerce_fields_survive_the_store_encoding_and_leave_other_orgs_bytes_alone) {
  Fx fx;
  fx.fold(make_signup_allocation(fx.header("plain"), 10 * cr));
  const std::string plain = encode(fx.org("plain"));
  fx.fold(make_signup_allocation(fx.header("acme"), 10 * cr));
  fx.fold(make_payment_customer_linked(fx.header("acme"), "cus_saved"));
  fx.set("acme", "w2", "", BillingPath::byok);
  fx.set("acme", "w2", "o1", BillingPath::credits);
  const OrgState acme = fx.org("acme");
  OrgState decoded;
  BOOST_REQUIRE(decode(encode(acme), decoded));
  BOOST_TEST((decoded == acme));
  BOOST_TEST(decoded.workspace_billing.resolve("w2", "o1") == std::optional<BillingPath>(BillingPath::credits));
  BOOST_TEST(decoded.workspace_billing.resolve("w2", "o9") == std::optional<BillingPath>(BillingPath::byok));
  // An org without them ends where format 1 ended (its last field is last_occurred_at_ms).
  OrgState plain_decoded;
  BOOST_REQUIRE(decode(plain, plain_decoded));
  BOOST_TEST(plain.size() < encode(acme).size());
  BOOST_TEST(encode(plain_decoded) == plain);
  // A truncated section is corruption, not silently empty.
  const std::string bytes = encode(acme);
  BOOST_TEST(!decode(bytes.substr(0, bytes.size() - 1), decoded));
}

BOOST_AUTO_TEST_CASE(a_copied_org_shares_its_settings_until_one_changes) {
  OrgState a;
  a.workspace_billing.set("w", "", BillingPath::byok, 10);
  OrgState b = a;
  BOOST_TEST((a == b));
  b.workspace_billing.set("w", "", BillingPath::credits, 10);
  BOOST_TEST((a.workspace_billing.find("w", "") == std::optional<BillingPath>(BillingPath::byok)));
  BOOST_TEST(!(a == b));
}

}  // namespace
}  // namespace tally

namespace tally {
namespace {

BOOST_AUTO_TEST_CASE(a_purchase_of_bundles_costs_the_bundles_plus_the_fee_on_top) {
  // Seed 002: $100 buys 100 credits; seed 001: the fee is added on top (here 2.9% + 30 cents).
  const BundleOffer offer{Micros{100 * cr}, 10'000, "usd", 290, 30};
  const BundleQuote one = quote(offer, 1).value();
  BOOST_TEST(one.credits == Micros{100 * cr});
  BOOST_TEST(one.paid_minor == 10'000);
  BOOST_TEST(one.fee_minor == 290 + 30);  // 10000 × 2.9% = 290 exactly
  BOOST_TEST(one.total_minor == 10'320);
  const BundleQuote three = quote(offer, 3).value();
  BOOST_TEST(three.credits == Micros{300 * cr});
  BOOST_TEST(three.fee_minor == 870 + 30);
  // The percent rounds up to the cent: 1 bundle of 999 cents at 2.9% is 28.971 -> 29.
  BOOST_TEST(quote(BundleOffer{Micros{cr}, 999, "usd", 290, 0}, 1).value().fee_minor == 29);
  BOOST_TEST(quote(offer, 0).status().field() == "quantity");
  BOOST_TEST(quote(offer, 11).status().field() == "quantity");
  BOOST_TEST(quote(BundleOffer{Micros{cr}, 100, "USD", 0, 0}, 1).status().field() == "currency");
  BOOST_TEST(quote(BundleOffer{Micros{cr}, 100, "usd", 10'001, 0}, 1).status().field() == "fee_bp");
  BOOST_TEST((quote(BundleOffer{Micros{INT64_MAX / 2}, 100, "usd", 0, 0}, 10).status().code() == Status::Code::too_large));
}

}  // namespace
}  // namespace tally
