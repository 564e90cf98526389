// The fold, rule by rule (SPEC §2–§5): pricing, who pays, outcomes, every rejection reason, org
// lifecycle and every signal with its hysteresis. Expected µcr values are worked out by hand in
// the comments; they are not read back from the code.
#include <boost/test/unit_test.hpp>

#include <array>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/event_factory.h"
#include "engine/fold.h"
#include "engine/limits.h"
#include "engine/memory_ledger.h"
#include "engine/state_codec.h"
#include "tally/events_generated.h"

namespace tally {
namespace {

constexpr int64_t cr = 1'000'000;  // µcr per credit
constexpr int64_t int64_max = std::numeric_limits<int64_t>::max();
constexpr int64_t day_ms = 86'400'000;
constexpr int64_t jan15 = 1768435200000;  // 2026-01-15T00:00:00Z
constexpr int64_t jan30 = 1769731200000;  // 2026-01-30T00:00:00Z
constexpr int64_t jan31 = 1769817600000;  // 2026-01-31T00:00:00Z
constexpr int64_t feb1 = 1769904000000;   // 2026-02-01T00:00:00Z
constexpr int64_t mar1 = 1772323200000;   // 2026-03-01T00:00:00Z

// ---- Event builders (explicit key, org, time).

std::string purchase_event(std::string_view key, std::string_view org, int64_t credits, int64_t t = jan15) {
  return make_purchase(EventHeader{key, org, t}, PaymentFields{credits, credits / 10'000, "usd", 0, 1, "ch_1"});
}

// Usage with a provider-reported cost (no model needed): bills reported × markup (1× before any card).
std::string spend_event(std::string_view key, std::string_view org, int64_t reported, int64_t t = jan15,
                        std::string_view member = {}, fb::BillingPath path = fb::BillingPath::unset) {
  UsageFields u;
  u.member_id = member;
  u.billing_path = path;
  u.reported_cost_micros = reported;
  return make_usage(EventHeader{key, org, t}, u);
}

RateCardFields standard_card(int64_t version = 1, int32_t markup_bp = 15000, int32_t byok_fee_bp = 1000) {
  RateCardFields card;
  card.version = version;
  card.markup_bp = markup_bp;
  card.byok_fee_bp = byok_fee_bp;
  // µcr per 1M tokens: input, output, cache read, cache write.
  card.models = {{"m1", ModelPrice{75'000, 300'000, 7'500, 93'750}}};
  card.sandbox_classes = {{"small", 360'000}, {"odd", 1'000'000}};  // µcr per hour
  return card;
}

AutoRefillPolicy policy(int64_t threshold, int64_t refill, int32_t per_day = 0, int32_t per_month = 0) {
  return AutoRefillPolicy{true, Micros{threshold}, Micros{refill}, per_day, per_month, "cus_1"};
}

// The event time of a record, if it decodes.
std::optional<int64_t> occurred_at_of(const std::string& record) {
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(record.data()), record.size());
  if (record.size() < 8 || !fb::EnvelopeBufferHasIdentifier(record.data()) || !fb::VerifyEnvelopeBuffer(verifier)) {
    return std::nullopt;
  }
  return fb::GetEnvelope(record.data())->occurred_at_ms();
}

// ---- A ledger plus a log: folds records at increasing offsets per partition.
struct Fx {
  MemoryLedger ledger;
  FoldResult r;
  std::map<int32_t, int64_t> next_offset;
  LogPosition last;
  int32_t partition = 0;
  // The log's partition count: an org lives in partition_for_key(org, partitions). With 4:
  // acme, beta 0; zeta, kappa 1; gamma, delta 2; pz 3.
  int32_t partitions = 1;
  // The log's append time: the latest event time so far (a log never behind its events), unless
  // a test sets the time the log appends the next records at.
  int64_t log_ms = 0;
  std::optional<int64_t> appended_at;
  int64_t now = jan15;
  int keys = 0;

  std::string key() { return "k" + std::to_string(++keys); }

  const FoldResult& fold(const std::string& record, std::optional<int32_t> on = std::nullopt) {
    const int32_t p = on.value_or(partition);
    last = LogPosition{PartitionId{p}, Offset{next_offset[p]++}};
    log_ms = appended_at.value_or(std::max(log_ms, occurred_at_of(record).value_or(log_ms)));
    apply(ledger, RecordContext{last, log_ms, partitions}, record, r);
    return r;
  }

  const FoldResult& open(std::string_view org, Plan plan, BillingMode mode) {
    return fold(make_org_opened(EventHeader{key(), org, now}, plan, mode));
  }
  const FoldResult& change(std::string_view org, std::optional<Plan> plan, std::optional<BillingMode> mode) {
    return fold(make_billing_mode_changed(EventHeader{key(), org, now}, plan, mode));
  }
  const FoldResult& purchase(std::string_view org, int64_t credits) {
    return fold(purchase_event(key(), org, credits, now));
  }
  const FoldResult& spend(std::string_view org, int64_t reported, std::string_view member = {},
                          fb::BillingPath path = fb::BillingPath::unset) {
    return fold(spend_event(key(), org, reported, now, member, path));
  }
  const FoldResult& low(std::string_view org, int64_t threshold) {
    return fold(make_low_balance_threshold_set(EventHeader{key(), org, now}, threshold));
  }
  const FoldResult& configure(std::string_view org, const AutoRefillPolicy& p) {
    return fold(make_auto_refill_configured(EventHeader{key(), org, now}, p));
  }
  const FoldResult& disable(std::string_view org) {
    return fold(make_auto_refill_disabled(EventHeader{key(), org, now}, "user"));
  }
  const FoldResult& refill(std::string_view org, std::string_view signal_id, int64_t credits) {
    return fold(make_auto_refill(EventHeader{key(), org, now}, PaymentFields{credits, credits / 10'000, "usd", 0, 1, "ch_r"},
                                 signal_id));
  }
  const FoldResult& failed(std::string_view org, std::string_view signal_id) {
    return fold(make_payment_failed(EventHeader{key(), org, now}, signal_id, "card_declined", "declined"));
  }
  const FoldResult& limit(std::string_view org, std::string_view member, int64_t monthly) {
    return fold(make_member_limit_set(EventHeader{key(), org, now}, member, monthly));
  }
  const FoldResult& unlimit(std::string_view org, std::string_view member) {
    return fold(make_member_limit_cleared(EventHeader{key(), org, now}, member));
  }
  const FoldResult& tick() { return fold(make_tick(EventHeader{key(), {}, now})); }
  const FoldResult& card(const RateCardFields& c) { return fold(make_rate_card(EventHeader{key(), {}, now}, c)); }

  OrgState& org(std::string_view id) {
    OrgState* o = ledger.find_org(OrgIdView::make(id).value());
    BOOST_REQUIRE(o != nullptr);
    return *o;
  }
  int64_t balance(std::string_view id) { return org(id).balance_micros.value(); }

  // "kind,kind,…" of the last result.
  std::string kinds() const {
    std::string out;
    for (const Signal& s : r.signals) out += (out.empty() ? "" : ",") + std::string(signal_kind_name(s.kind));
    return out;
  }
  std::string ids() const {
    std::string out;
    for (const Signal& s : r.signals) out += (out.empty() ? "" : ",") + s.id();
    return out;
  }
  // The id a signal of the last folded event must carry.
  std::string id(std::string_view kind, std::string_view org, std::string_view member = {}) const {
    std::string out = last.to_string() + ":" + std::string(kind) + ":" + std::string(org);
    if (!member.empty()) out += ":" + std::string(member);
    return out;
  }
  const Signal& signal(SignalKind kind) const {
    for (const Signal& s : r.signals) {
      if (s.kind == kind) return s;
    }
    BOOST_FAIL("no signal " << signal_kind_name(kind));
    return r.signals.front();
  }
};

// Statement macros: the folded expression is evaluated exactly once.
#define CHECK_APPLIED(expr)                                                \
  do {                                                                     \
    const FoldResult& checked_ = (expr);                                   \
    BOOST_TEST(outcome_name(checked_.outcome) == std::string("applied"), checked_.detail); \
  } while (0)
#define CHECK_REJECTED(expr, why)                                          \
  do {                                                                     \
    const FoldResult& checked_ = (expr);                                   \
    BOOST_TEST(outcome_name(checked_.outcome) == std::string("rejected")); \
    BOOST_TEST(reject_reason_name(checked_.reason) == std::string(why), checked_.detail); \
  } while (0)

// ============================================================================================
// Pricing: provider cost, markup, one rounding up. Card: markup 1.5×, m1 = 75,000 / 300,000 /
// 7,500 / 93,750 µcr per 1M input / output / cache-read / cache-write tokens; sandbox "small"
// 360,000 µcr/h, "odd" 1,000,000 µcr/h.

struct PriceCase {
  const char* what;
  UsageFields usage;
  int64_t provider;  // ceil(exact provider cost)
  int64_t billable;  // ceil(exact provider × 1.5)
};

UsageFields tokens(int64_t in, int64_t out, int64_t read, int64_t write) {
  UsageFields u;
  u.model = "m1";
  u.input_tokens = in;
  u.output_tokens = out;
  u.cache_read_tokens = read;
  u.cache_write_tokens = write;
  return u;
}
UsageFields sandbox(std::string_view cls, int64_t seconds) {
  UsageFields u;
  u.meter = fb::Meter::sandbox_seconds;
  u.sandbox_class = cls;
  u.seconds = seconds;
  return u;
}
UsageFields reported(UsageFields u, int64_t cost) {
  u.reported_cost_micros = cost;
  return u;
}

BOOST_AUTO_TEST_CASE(usage_pricing_table) {
  const PriceCase cases[] = {
      // 1234 × 75,000 / 1e6 = 92.55 µcr; × 1.5 = 138.825 → 139.
      {"1234 input tokens", tokens(1234, 0, 0, 0), 93, 139},
      // 1000 × 300,000 / 1e6 = 300; × 1.5 = 450 exactly (no rounding up of an exact value).
      {"1000 output tokens", tokens(0, 1000, 0, 0), 300, 450},
      // 1e6 × 7,500 / 1e6 = 7,500; × 1.5 = 11,250.
      {"1M cache-read tokens", tokens(0, 0, 1'000'000, 0), 7'500, 11'250},
      // 3 × 93,750 / 1e6 = 0.28125; × 1.5 = 0.421875 → 1.
      {"3 cache-write tokens", tokens(0, 0, 0, 3), 1, 1},
      // (75,000 + 300,000 + 7,500 + 93,750) / 1e6 = 0.47625; × 1.5 = 0.714375 → 1. Rounding each
      // term would give 4, rounding the provider cost first ceil(0.47625)=1 × 1.5 → 2.
      {"one token of each kind: rounded once", tokens(1, 1, 1, 1), 1, 1},
      // 150,000 + 300,000 + 3,750 + 9,375 = 463,125; × 1.5 = 694,687.5 → 694,688.
      {"mixed tokens", tokens(2'000'000, 1'000'000, 500'000, 100'000), 463'125, 694'688},
      {"zero tokens", tokens(0, 0, 0, 0), 0, 0},
      // 10 s × 360,000 / 3600 = 1,000; × 1.5 = 1,500.
      {"10 sandbox seconds", sandbox("small", 10), 1'000, 1'500},
      // 7 × 1,000,000 / 3600 = 1944.44… → provider 1945; × 1.5 = 2916.67 → 2917 (not 1945 × 1.5 → 2918).
      {"7 odd sandbox seconds", sandbox("odd", 7), 1'945, 2'917},
      // 1 h = 360,000; × 1.5 = 540,000.
      {"one sandbox hour", sandbox("small", 3600), 360'000, 540'000},
      // Reported cost wins over tokens: 1001 × 1.5 = 1501.5 → 1502.
      {"reported cost with tokens", reported(tokens(1234, 0, 0, 0), 1001), 1001, 1502},
      {"reported cost of an unknown model", reported(UsageFields{.model = "mystery"}, 1001), 1001, 1502},
      {"reported cost of an unknown sandbox class", reported(sandbox("huge", 60), 2000), 2000, 3000},
      {"reported cost 0", reported(UsageFields{}, 0), 0, 0},
  };
  for (const PriceCase& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      Fx fx;
      CHECK_APPLIED(fx.card(standard_card()));
      CHECK_APPLIED(fx.purchase("acme", 100 * cr));
      const FoldResult& r = fx.fold(make_usage(EventHeader{"u1", "acme", jan15}, c.usage));
      CHECK_APPLIED(r);
      BOOST_TEST(r.provider_cost_micros == Micros{c.provider});
      BOOST_TEST(r.tracked_cost_micros == Micros{c.billable});
      BOOST_TEST(r.debited_micros == Micros{c.billable});
      BOOST_TEST(r.amount_micros == Micros{-c.billable});
      BOOST_TEST(r.rate_card_version == 1);
      BOOST_TEST(r.balance_after_micros == Micros{100 * cr - c.billable});
      BOOST_TEST(fx.balance("acme") == 100 * cr - c.billable);
      BOOST_TEST(fx.org("acme").totals.used_micros == Micros{c.billable});
      BOOST_TEST(fx.org("acme").totals.tracked_cost_micros == Micros{c.billable});
    }
  }
}

BOOST_AUTO_TEST_CASE(reported_cost_before_any_rate_card_bills_at_one_times) {
  Fx fx;
  fx.purchase("acme", 10 * cr);
  const FoldResult& r = fx.fold(make_usage(EventHeader{"u1", "acme", jan15}, reported(tokens(1234, 0, 0, 0), 1001)));
  CHECK_APPLIED(r);
  BOOST_TEST(r.debited_micros == Micros{1001});
  BOOST_TEST(r.provider_cost_micros == Micros{1001});
  BOOST_TEST(r.rate_card_version == 0);
  BOOST_TEST(fx.balance("acme") == 10 * cr - 1001);
}

BOOST_AUTO_TEST_CASE(usage_is_priced_with_the_highest_card_and_records_its_version) {
  Fx fx;
  fx.card(standard_card(1));
  fx.card(standard_card(2, 20000));  // 2×
  fx.purchase("acme", 10 * cr);
  // 1234 input tokens: 92.55 × 2 = 185.1 → 186.
  const FoldResult& r = fx.fold(make_usage(EventHeader{"u1", "acme", jan15}, tokens(1234, 0, 0, 0)));
  CHECK_APPLIED(r);
  BOOST_TEST(r.debited_micros == Micros{186});
  BOOST_TEST(r.rate_card_version == 2);
}

BOOST_AUTO_TEST_CASE(rate_cards_are_per_partition) {
  Fx fx;
  fx.partitions = 4;
  fx.card(standard_card(1));  // partition 0 only
  fx.fold(purchase_event("p", "zeta", cr), 1);
  CHECK_REJECTED(fx.fold(make_usage(EventHeader{"u1", "zeta", jan15}, tokens(1234, 0, 0, 0)), 1), "unpriced");
}

// ============================================================================================
// Who pays. 1234 input tokens of m1: provider 92.55 µcr (tracked as 93), billable 139,
// BYOK fee 10% = ceil(9.255) = 10.

struct PayCase {
  const char* what;
  Plan plan;
  BillingMode mode;
  fb::BillingPath path;
  int64_t debited;
  int64_t tracked;
};

BOOST_AUTO_TEST_CASE(billing_paths_table) {
  using P = fb::BillingPath;
  const PayCase cases[] = {
      {"credits org, path absent", Plan::pro, BillingMode::credits, P::unset, 139, 139},
      {"credits org, path credits", Plan::pro, BillingMode::credits, P::credits, 139, 139},
      {"credits org, path byok", Plan::pro, BillingMode::credits, P::byok, 10, 93},
      {"byok org, path absent", Plan::pro, BillingMode::byok, P::unset, 10, 93},
      {"byok org, path credits", Plan::pro, BillingMode::byok, P::credits, 139, 139},
      {"deferred org, path absent", Plan::pro, BillingMode::deferred, P::unset, 0, 139},
      {"deferred org, path credits", Plan::pro, BillingMode::deferred, P::credits, 0, 139},
      {"enterprise credits org", Plan::enterprise, BillingMode::credits, P::unset, 0, 139},
      {"enterprise byok org, path byok", Plan::enterprise, BillingMode::byok, P::byok, 0, 139},
  };
  for (const PayCase& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      Fx fx;
      fx.card(standard_card());
      CHECK_APPLIED(fx.open("acme", c.plan, c.mode));
      fx.purchase("acme", 5 * cr);
      UsageFields u = tokens(1234, 0, 0, 0);
      u.billing_path = c.path;
      const FoldResult& r = fx.fold(make_usage(EventHeader{"u1", "acme", jan15}, u));
      CHECK_APPLIED(r);
      BOOST_TEST(r.debited_micros == Micros{c.debited});
      BOOST_TEST(r.amount_micros == Micros{-c.debited});
      BOOST_TEST(r.tracked_cost_micros == Micros{c.tracked});
      BOOST_TEST(r.provider_cost_micros == Micros{93});
      BOOST_TEST(fx.balance("acme") == 5 * cr - c.debited);
      BOOST_TEST(fx.org("acme").totals.used_micros == Micros{c.debited});
      BOOST_TEST(fx.org("acme").totals.tracked_cost_micros == Micros{c.tracked});
    }
  }
}

BOOST_AUTO_TEST_CASE(byok_fee_defaults_to_zero) {
  Fx fx;
  fx.card(standard_card(1, 15000, 0));
  fx.open("acme", Plan::pro, BillingMode::byok);
  const FoldResult& r = fx.fold(make_usage(EventHeader{"u1", "acme", jan15}, tokens(0, 1000, 0, 0)));
  CHECK_APPLIED(r);
  BOOST_TEST(r.debited_micros == Micros{0});
  BOOST_TEST(r.tracked_cost_micros == Micros{300});  // provider cost, not marked up
  BOOST_TEST(fx.balance("acme") == 0);
  BOOST_TEST(fx.r.signals.empty());
}

// ============================================================================================
// Outcomes.

BOOST_AUTO_TEST_CASE(duplicate_is_same_key_and_payload_whatever_the_time_source_or_correlation) {
  Fx fx;
  const std::string first = make_purchase(EventHeader{"pay-1", "acme", jan15, "checkout", "corr-1"},
                                          PaymentFields{10 * cr, 1000, "usd", 30, 1, "ch_1"});
  CHECK_APPLIED(fx.fold(first));
  BOOST_TEST(fx.kinds() == "balance_restored");
  const std::size_t keys = fx.ledger.key_count();

  BOOST_TEST(outcome_name(fx.fold(first).outcome) == std::string("duplicate"));  // identical bytes
  BOOST_TEST(fx.r.signals.empty());
  BOOST_TEST(fx.r.amount_micros == Micros{0});
  const std::string retried = make_purchase(EventHeader{"pay-1", "acme", jan15 + day_ms, "stripe-webhook", "corr-2"},
                                            PaymentFields{10 * cr, 1000, "usd", 30, 1, "ch_1"});
  BOOST_TEST(outcome_name(fx.fold(retried).outcome) == std::string("duplicate"));
  BOOST_TEST(fx.balance("acme") == 10 * cr);
  BOOST_TEST(fx.ledger.key_count() == keys);
  // A duplicate does not move the partition clock: a later-stamped retry is not an applied event.
  BOOST_TEST(fx.ledger.partition(PartitionId{0}).clock_ms == jan15);
}

BOOST_AUTO_TEST_CASE(conflict_is_same_key_different_payload) {
  Fx fx;
  CHECK_APPLIED(fx.fold(purchase_event("pay-1", "acme", 10 * cr)));
  const FoldResult& r = fx.fold(purchase_event("pay-1", "acme", 11 * cr));
  BOOST_TEST(outcome_name(r.outcome) == std::string("conflict"));
  BOOST_TEST(!r.detail.empty());
  BOOST_TEST(r.signals.empty());
  // Another body under the same key is a conflict too.
  BOOST_TEST(outcome_name(fx.fold(spend_event("pay-1", "acme", 5)).outcome) == std::string("conflict"));
  BOOST_TEST(fx.balance("acme") == 10 * cr);
  // Keys are scoped by org: the same key in another org is a new event.
  CHECK_APPLIED(fx.fold(purchase_event("pay-1", "beta", 11 * cr)));
  BOOST_TEST(fx.balance("beta") == 11 * cr);
}

BOOST_AUTO_TEST_CASE(global_events_have_their_own_key_scope_per_partition) {
  Fx fx;
  fx.partitions = 4;
  const std::string card = make_rate_card(EventHeader{"card-1", {}, jan15}, standard_card(1));
  CHECK_APPLIED(fx.fold(card, 0));
  BOOST_TEST(outcome_name(fx.fold(card, 0).outcome) == std::string("duplicate"));
  CHECK_APPLIED(fx.fold(card, 1));  // written into every partition: each applies it once
  // An org key equal to a global key is unrelated.
  CHECK_APPLIED(fx.fold(purchase_event("card-1", "acme", cr), 0));
}

// ============================================================================================
// Validation rejections: no key recorded, nothing changes, the detail names the field.

std::string with_bytes_replaced(std::string bytes, std::size_t at, std::string_view with) {
  bytes.replace(at, with.size(), with);
  return bytes;
}

struct InvalidCase {
  const char* what;
  std::string record;
  const char* reason;
  const char* field;  // detail starts with it ("" = not checked)
};

BOOST_AUTO_TEST_CASE(validation_rejections_table) {
  const std::string good = purchase_event("key-1", "acme", 10 * cr);
  std::string random_bytes(200, '\0');
  uint32_t x = 12345;
  for (char& c : random_bytes) {
    x = x * 1103515245u + 12345u;  // fixed bytes: a test must replay
    c = static_cast<char>(x >> 24);
  }
  auto pay = [](int64_t credits, int32_t bundles, std::string_view currency = "usd") {
    return make_purchase(EventHeader{"key-1", "acme", jan15}, PaymentFields{credits, 100, currency, 0, bundles, "ch"});
  };
  UsageFields negative_tokens = tokens(-1, 0, 0, 0);
  UsageFields no_meter = reported(UsageFields{}, 5);
  no_meter.meter = fb::Meter::unset;
  UsageFields no_model = tokens(10, 0, 0, 0);
  no_model.model = {};
  UsageFields bad_member = reported(UsageFields{}, 5);
  bad_member.member_id = "al ice";
  RateCardFields zero_markup = standard_card();
  zero_markup.markup_bp = 0;
  RateCardFields zero_version = standard_card(0);
  AutoRefillPolicy zero_threshold = policy(0, 10 * cr);

  const InvalidCase cases[] = {
      {"random bytes", random_bytes, "invalid_record", ""},
      {"empty record", "", "invalid_record", ""},
      {"truncated buffer", good.substr(0, good.size() / 2), "invalid_record", ""},
      {"truncated into the last string", good.substr(0, good.size() - 8), "invalid_record", ""},
      {"wrong file identifier", with_bytes_replaced(good, 4, "XXXX"), "invalid_record", ""},
      {"larger than 64 KiB",
       make_purchase(EventHeader{"key-1", "acme", jan15}, PaymentFields{cr, 1, "usd", 0, 1, std::string(70'000, 'r')}),
       "invalid_record", ""},
      {"bundles 11", pay(cr, 11), "invalid_field", "bundles"},
      {"bundles 0", pay(cr, 0), "invalid_field", "bundles"},
      {"zero purchase", pay(0, 1), "invalid_field", "credits_micros"},
      {"negative purchase", pay(-5, 1), "invalid_field", "credits_micros"},
      {"upper-case currency", pay(cr, 1, "USD"), "invalid_field", "currency"},
      {"org id with ':'", purchase_event("key-1", "acme:1", cr), "invalid_field", "org_id"},
      {"org id with a space", purchase_event("key-1", "ac me", cr), "invalid_field", "org_id"},
      {"org id missing", purchase_event("key-1", "", cr), "invalid_field", "org_id"},
      {"org id of 129 bytes", purchase_event("key-1", std::string(129, 'a'), cr), "invalid_field", "org_id"},
      {"key missing", purchase_event("", "acme", cr), "invalid_field", "idempotency_key"},
      {"key of 256 bytes", purchase_event(std::string(256, 'k'), "acme", cr), "invalid_field", "idempotency_key"},
      {"negative time", purchase_event("key-1", "acme", cr, -1), "invalid_field", "occurred_at_ms"},
      {"zero adjustment", make_admin_adjustment(EventHeader{"key-1", "acme", jan15}, 0, "fix", "op", false),
       "invalid_field", "credits_micros"},
      {"zero refund", make_refund(EventHeader{"key-1", "acme", jan15}, "p", 0, false), "invalid_field",
       "credits_micros"},
      {"zero signup allocation", make_signup_allocation(EventHeader{"key-1", "acme", jan15}, 0), "invalid_field",
       "credits_micros"},
      {"negative tokens", make_usage(EventHeader{"key-1", "acme", jan15}, negative_tokens), "invalid_field",
       "input_tokens"},
      {"no meter", make_usage(EventHeader{"key-1", "acme", jan15}, no_meter), "invalid_field", "meter"},
      {"token usage without model", make_usage(EventHeader{"key-1", "acme", jan15}, no_model), "invalid_field",
       "model"},
      {"bad member id", make_usage(EventHeader{"key-1", "acme", jan15}, bad_member), "invalid_field", "member_id"},
      {"zero member limit", make_member_limit_set(EventHeader{"key-1", "acme", jan15}, "alice", 0), "invalid_field",
       "monthly_limit_micros"},
      {"rate card markup 0", make_rate_card(EventHeader{"key-1", {}, jan15}, zero_markup), "invalid_field",
       "markup_bp"},
      {"rate card version 0", make_rate_card(EventHeader{"key-1", {}, jan15}, zero_version), "invalid_field",
       "version"},
      {"rate card with an org", make_rate_card(EventHeader{"key-1", "acme", jan15}, standard_card()),
       "invalid_field", "org_id"},
      {"auto-refill threshold 0", make_auto_refill_configured(EventHeader{"key-1", "acme", jan15}, zero_threshold),
       "invalid_field", "threshold_micros"},
      {"mode change without plan or mode",
       make_billing_mode_changed(EventHeader{"key-1", "acme", jan15}, std::nullopt, std::nullopt), "invalid_field",
       "billing_mode"},
  };
  for (const InvalidCase& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      Fx fx;
      const FoldResult& r = fx.fold(c.record);
      CHECK_REJECTED(r, c.reason);
      BOOST_TEST(r.signals.empty());
      BOOST_TEST(r.amount_micros == Micros{0});
      BOOST_TEST(!r.detail.empty());
      if (*c.field != '\0') BOOST_TEST(r.detail.rfind(c.field, 0) == 0u, r.detail);
      BOOST_TEST(fx.ledger.key_count() == 0u);
      BOOST_TEST(fx.ledger.orgs().empty());
      BOOST_TEST(fx.ledger.partition(PartitionId{0}).clock_ms == -1);
      // The key was not recorded: the corrected event under the same key applies.
      CHECK_APPLIED(fx.fold(good));
      BOOST_TEST(fx.balance("acme") == 10 * cr);
    }
  }
}

BOOST_AUTO_TEST_CASE(wrong_partition_is_a_validation_rejection) {
  Fx fx;
  fx.partitions = 4;
  CHECK_APPLIED(fx.fold(purchase_event("p1", "acme", 10 * cr), 0));
  BOOST_TEST((fx.org("acme").home_partition == PartitionId{0}));
  const std::string p2 = purchase_event("p2", "acme", 5 * cr);
  const std::size_t keys = fx.ledger.key_count();
  const FoldResult& r = fx.fold(p2, 1);
  CHECK_REJECTED(r, "wrong_partition");
  BOOST_TEST(r.detail.find("partition 0") != std::string::npos, r.detail);
  BOOST_TEST(r.org_id.str() == "acme");
  BOOST_TEST(fx.ledger.key_count() == keys);
  BOOST_TEST(fx.balance("acme") == 10 * cr);
  BOOST_TEST(fx.ledger.partition(PartitionId{1}).clock_ms == -1);
  CHECK_REJECTED(fx.fold(spend_event("u1", "acme", cr), 1), "wrong_partition");
  // The same bytes in the org's partition apply: the key was not taken.
  CHECK_APPLIED(fx.fold(p2, 0));
  BOOST_TEST(fx.balance("acme") == 15 * cr);
  // An org's home is a function of its id and the partition count (SPEC §3), not where its first
  // event happens to land: gamma's first event in partition 1 creates nothing.
  const FoldResult& stray = fx.fold(purchase_event("p1", "gamma", cr), 1);
  CHECK_REJECTED(stray, "wrong_partition");
  BOOST_TEST(stray.detail == "org gamma lives in partition 2, not 1");
  BOOST_TEST(fx.ledger.find_org(OrgIdView::make("gamma").value()) == nullptr);
  CHECK_APPLIED(fx.fold(purchase_event("p1", "gamma", cr), 2));
  BOOST_TEST((fx.org("gamma").home_partition == PartitionId{2}));
}

// Finding 3 of issue 14: a stray record of org pz in the wrong partition, folded before pz's own
// partition (as a replay that reads partition 0 first does). It made partition 0 pz's home, and
// pz's four real events were rejected (balance 1 instead of 4).
BOOST_AUTO_TEST_CASE(a_stray_record_read_first_does_not_move_an_orgs_home) {
  Fx fx;
  fx.partitions = 4;  // pz lives in partition 3
  CHECK_REJECTED(fx.fold(purchase_event("stray", "pz", cr), 0), "wrong_partition");
  for (int i = 0; i < 4; ++i) CHECK_APPLIED(fx.fold(purchase_event("p" + std::to_string(i), "pz", cr), 3));
  BOOST_TEST(fx.balance("pz") == 4 * cr);
  BOOST_TEST((fx.org("pz").home_partition == PartitionId{3}));
}

// ============================================================================================
// Business rejections: the key is recorded (retry = duplicate), nothing else changes.

BOOST_AUTO_TEST_CASE(unknown_purchase) {
  Fx fx;
  fx.purchase("acme", 10 * cr);
  const std::string refund = make_refund(EventHeader{"r1", "acme", jan15}, "nope", cr, false);
  CHECK_REJECTED(fx.fold(refund), "unknown_purchase");
  BOOST_TEST(fx.balance("acme") == 10 * cr);
  const FoldResult& again = fx.fold(refund);
  BOOST_TEST(outcome_name(again.outcome) == std::string("duplicate"));
  BOOST_TEST(again.detail.find("unknown_purchase") != std::string::npos, again.detail);
  // A purchase key of another org is unknown here.
  fx.fold(purchase_event("theirs", "beta", 10 * cr));
  CHECK_REJECTED(fx.fold(make_refund(EventHeader{"r2", "acme", jan15}, "theirs", cr, false)), "unknown_purchase");
  // A business rejection of a new org's first event does not create the org.
  CHECK_REJECTED(fx.fold(make_refund(EventHeader{"r1", "ghost", jan15}, "p", cr, false)), "unknown_purchase");
  BOOST_TEST(fx.ledger.find_org("ghost") == nullptr);
}

BOOST_AUTO_TEST_CASE(refund_is_bounded_by_the_unrefunded_purchase_even_with_force) {
  Fx fx;
  fx.fold(purchase_event("p1", "acme", 10 * cr));
  fx.fold(purchase_event("p2", "acme", 50 * cr));
  auto refund = [&](int64_t credits, bool force) {
    return fx.fold(make_refund(EventHeader{fx.key(), "acme", jan15}, "p1", credits, force));
  };
  CHECK_REJECTED(refund(10 * cr + 1, false), "refund_exceeds_purchase");
  CHECK_REJECTED(refund(10 * cr + 1, true), "refund_exceeds_purchase");
  CHECK_APPLIED(refund(6 * cr, false));
  BOOST_TEST(fx.r.amount_micros == Micros{-6 * cr});
  CHECK_REJECTED(refund(5 * cr, false), "refund_exceeds_purchase");  // 4 left
  CHECK_APPLIED(refund(4 * cr, false));
  CHECK_REJECTED(refund(1, true), "refund_exceeds_purchase");
  BOOST_TEST(fx.balance("acme") == 50 * cr);
  BOOST_TEST(fx.org("acme").totals.refunded_micros == Micros{10 * cr});
  BOOST_TEST(fx.org("acme").totals.purchased_micros == Micros{60 * cr});
}

BOOST_AUTO_TEST_CASE(auto_refills_are_refundable) {
  Fx fx;
  fx.fold(make_auto_refill(EventHeader{"ar1", "acme", jan15}, PaymentFields{20 * cr, 2000, "usd", 0, 1, "ch"}, "x"));
  BOOST_TEST(fx.balance("acme") == 20 * cr);  // credits added even though no refill was pending
  CHECK_APPLIED(fx.fold(make_refund(EventHeader{"r1", "acme", jan15}, "ar1", 20 * cr, false)));
  BOOST_TEST(fx.balance("acme") == 0);
}

BOOST_AUTO_TEST_CASE(insufficient_balance_unless_forced) {
  Fx fx;
  fx.fold(purchase_event("p1", "acme", 10 * cr));
  fx.spend("acme", 8 * cr);  // no rate card: 1×. Balance 2.
  BOOST_TEST(fx.balance("acme") == 2 * cr);
  CHECK_REJECTED(fx.fold(make_refund(EventHeader{"r1", "acme", jan15}, "p1", 5 * cr, false)), "insufficient_balance");
  CHECK_APPLIED(fx.fold(make_refund(EventHeader{"r2", "acme", jan15}, "p1", 5 * cr, true)));  // chargeback
  BOOST_TEST(fx.balance("acme") == -3 * cr);
  BOOST_TEST(fx.kinds() == "balance_exhausted");
  auto adjust = [&](int64_t credits, bool force) {
    return fx.fold(make_admin_adjustment(EventHeader{fx.key(), "acme", jan15}, credits, "fix", "op-1", force));
  };
  CHECK_REJECTED(adjust(-1, false), "insufficient_balance");
  CHECK_APPLIED(adjust(-1 * cr, true));
  BOOST_TEST(fx.balance("acme") == -4 * cr);
  CHECK_APPLIED(adjust(10 * cr, false));
  BOOST_TEST(fx.balance("acme") == 6 * cr);
  BOOST_TEST(fx.kinds() == "balance_restored");
  CHECK_APPLIED(adjust(-6 * cr, false));  // exactly to zero is allowed
  BOOST_TEST(fx.balance("acme") == 0);
  CHECK_REJECTED(adjust(-1, false), "insufficient_balance");
  const OrgTotals& t = fx.org("acme").totals;
  BOOST_TEST(t.refunded_micros == Micros{5 * cr});
  BOOST_TEST(t.adjusted_micros == Micros{3 * cr});  // -1 + 10 - 6
  BOOST_TEST(t.used_micros == Micros{8 * cr});
}

BOOST_AUTO_TEST_CASE(overflow_is_rejected_never_wrapped) {
  Fx fx;
  fx.partitions = 4;
  CHECK_APPLIED(fx.fold(purchase_event("p1", "acme", int64_max - 1)));
  CHECK_REJECTED(fx.fold(purchase_event("p2", "acme", 2)), "overflow");
  CHECK_REJECTED(fx.fold(make_signup_allocation(EventHeader{"s1", "acme", jan15}, 2)), "overflow");
  CHECK_REJECTED(fx.fold(make_admin_adjustment(EventHeader{"a1", "acme", jan15}, 2, "r", "op", false)), "overflow");
  CHECK_REJECTED(fx.fold(make_auto_refill(EventHeader{"ar", "acme", jan15}, PaymentFields{2, 0, "usd", 0, 1, {}}, "s")),
                 "overflow");
  CHECK_APPLIED(fx.fold(purchase_event("p3", "acme", 1)));  // exactly INT64_MAX
  BOOST_TEST(fx.balance("acme") == int64_max);
  // Retry of an overflow rejection is a duplicate of it.
  BOOST_TEST(outcome_name(fx.fold(purchase_event("p2", "acme", 2)).outcome) == std::string("duplicate"));

  // Usage: INT64_MAX reported × 1.5 does not fit.
  fx.card(standard_card());
  fx.purchase("beta", cr);
  CHECK_REJECTED(fx.spend("beta", int64_max), "overflow");
  // INT64_MAX seconds × 1,000,000 µcr/h / 3600 does not fit in 64 bits.
  CHECK_REJECTED(fx.fold(make_usage(EventHeader{"u-long", "beta", jan15}, sandbox("odd", int64_max))), "overflow");
  // INT64_MAX tokens × INT64_MAX µcr/Mtok × 4 just fits 128 bits; × the markup does not.
  RateCardFields pricey = standard_card(2);
  pricey.models.emplace_back("pricey", ModelPrice{int64_max, int64_max, int64_max, int64_max});
  fx.card(pricey);
  UsageFields huge = tokens(int64_max, int64_max, int64_max, int64_max);
  huge.model = "pricey";
  CHECK_REJECTED(fx.fold(make_usage(EventHeader{"u-huge", "beta", jan15}, huge)), "overflow");
  BOOST_TEST(fx.balance("beta") == cr);
  // The largest token counts at m1's prices still price exactly:
  // ceil(9223372036854775807 × 476,250 × 15,000 / 1e10) = 6,588,946,398,828,130,468.
  huge.model = "m1";
  const FoldResult& exact = fx.fold(make_usage(EventHeader{"u-max", "beta", jan15}, huge));
  CHECK_APPLIED(exact);
  BOOST_TEST(exact.debited_micros == Micros{6'588'946'398'828'130'468});
  BOOST_TEST(fx.balance("beta") == cr - 6'588'946'398'828'130'468);

  // A balance driven far below zero by usage cannot wrap either.
  fx.fold(spend_event("z1", "zeta", int64_max), 1);  // partition 1: no card, 1×
  BOOST_TEST(fx.balance("zeta") == -int64_max);
  CHECK_REJECTED(fx.fold(spend_event("z2", "zeta", 2), 1), "overflow");
  BOOST_TEST(fx.balance("zeta") == -int64_max);
}

BOOST_AUTO_TEST_CASE(unpriced_usage) {
  Fx fx;
  fx.partitions = 4;
  fx.fold(purchase_event("p", "kappa", cr), 1);
  // Before any rate card, usage without a reported cost cannot be priced.
  const std::string early = make_usage(EventHeader{"u1", "kappa", jan15}, tokens(10, 0, 0, 0));
  CHECK_REJECTED(fx.fold(early, 1), "unpriced");
  fx.fold(make_rate_card(EventHeader{"c1", {}, jan15}, standard_card()), 1);
  // The key stays taken for the life of the ledger: the retry is a duplicate of the rejection.
  BOOST_TEST(outcome_name(fx.fold(early, 1).outcome) == std::string("duplicate"));

  fx.card(standard_card());
  fx.purchase("acme", cr);
  UsageFields unknown_model = tokens(10, 0, 0, 0);
  unknown_model.model = "mystery";
  CHECK_REJECTED(fx.fold(make_usage(EventHeader{"u2", "acme", jan15}, unknown_model)), "unpriced");
  CHECK_REJECTED(fx.fold(make_usage(EventHeader{"u3", "acme", jan15}, sandbox("huge", 10))), "unpriced");
  BOOST_TEST(fx.balance("acme") == cr);
  BOOST_TEST(fx.org("acme").totals.tracked_cost_micros == Micros{0});
}

BOOST_AUTO_TEST_CASE(stale_rate_card) {
  Fx fx;
  CHECK_APPLIED(fx.card(standard_card(2)));
  const std::string same_version = make_rate_card(EventHeader{"c-again", {}, jan15}, standard_card(2, 30000));
  CHECK_REJECTED(fx.fold(same_version), "stale_rate_card");
  CHECK_REJECTED(fx.card(standard_card(1, 30000)), "stale_rate_card");
  BOOST_TEST(outcome_name(fx.fold(same_version).outcome) == std::string("duplicate"));
  BOOST_TEST(fx.ledger.partition(PartitionId{0}).rate_card.markup_bp == 15000);
  CHECK_APPLIED(fx.card(standard_card(3, 20000)));
  BOOST_TEST(fx.ledger.partition(PartitionId{0}).rate_card.version == 3);
}

BOOST_AUTO_TEST_CASE(org_exists) {
  Fx fx;
  CHECK_APPLIED(fx.open("acme", Plan::pro, BillingMode::credits));
  BOOST_TEST(fx.org("acme").opened);
  CHECK_REJECTED(fx.open("acme", Plan::enterprise, BillingMode::byok), "org_exists");
  BOOST_TEST((fx.org("acme").plan == Plan::pro));
  BOOST_TEST((fx.org("acme").mode == BillingMode::credits));
}

// ============================================================================================
// Orgs.

BOOST_AUTO_TEST_CASE(implicit_org_creation_with_defaults) {
  Fx fx;
  fx.partitions = 4;
  CHECK_APPLIED(fx.fold(purchase_event("p1", "gamma", 3 * cr, jan15 + 5), 2));
  const OrgState& o = fx.org("gamma");
  BOOST_TEST((o.plan == Plan::pro));
  BOOST_TEST((o.mode == BillingMode::credits));
  BOOST_TEST(!o.opened);
  BOOST_TEST((o.home_partition == PartitionId{2}));
  BOOST_TEST(o.balance_micros == Micros{3 * cr});
  BOOST_TEST(o.totals.purchased_micros == Micros{3 * cr});
  BOOST_TEST(!o.auto_refill.enabled);
  BOOST_TEST(o.last_occurred_at_ms == jan15 + 5);
  // It started exhausted at 0; its first credit restores it.
  BOOST_TEST(fx.ids() == fx.id("balance_restored", "gamma"));
  // OrgOpened after the implicit opening sets plan and mode; a second is org_exists.
  fx.partition = 2;
  CHECK_APPLIED(fx.open("gamma", Plan::enterprise, BillingMode::credits));
  BOOST_TEST(fx.org("gamma").opened);
  BOOST_TEST((fx.org("gamma").plan == Plan::enterprise));
  BOOST_TEST(fx.r.signals.empty());  // it leaves the wallet with credit: nothing was paused
  CHECK_REJECTED(fx.open("gamma", Plan::pro, BillingMode::credits), "org_exists");
}

BOOST_AUTO_TEST_CASE(new_orgs_open_without_signals) {
  Fx fx;
  CHECK_APPLIED(fx.open("wallet", Plan::pro, BillingMode::credits));
  BOOST_TEST(fx.r.signals.empty());
  BOOST_TEST(fx.org("wallet").is_exhausted);
  CHECK_APPLIED(fx.open("byok", Plan::pro, BillingMode::byok));
  BOOST_TEST(fx.r.signals.empty());
  CHECK_APPLIED(fx.open("ent", Plan::enterprise, BillingMode::credits));
  BOOST_TEST(fx.r.signals.empty());
  CHECK_APPLIED(fx.fold(make_signup_allocation(EventHeader{"s1", "signup", jan15}, 25'000 * cr)));
  BOOST_TEST(fx.kinds() == "balance_restored");
  BOOST_TEST(fx.org("signup").totals.allocated_micros == Micros{25'000 * cr});
}

BOOST_AUTO_TEST_CASE(billing_mode_changed_re_evaluates_the_org) {
  Fx fx;
  fx.open("acme", Plan::pro, BillingMode::credits);
  BOOST_TEST(fx.purchase("acme", 10 * cr).signals.size() == 1u);
  BOOST_TEST(fx.low("acme", 5 * cr).signals.empty());
  fx.spend("acme", 10 * cr);
  BOOST_TEST(fx.kinds() == "balance_low,balance_exhausted");
  CHECK_APPLIED(fx.change("acme", std::nullopt, BillingMode::byok));
  BOOST_TEST(fx.kinds() == "balance_restored");  // byok orgs are never paused by the wallet
  BOOST_TEST((fx.org("acme").mode == BillingMode::byok));
  BOOST_TEST((fx.org("acme").plan == Plan::pro));
  fx.spend("acme", cr, {}, fb::BillingPath::credits);  // byok org, credits path: debits 1
  BOOST_TEST(fx.r.signals.empty());
  BOOST_TEST(fx.balance("acme") == -1 * cr);
  CHECK_APPLIED(fx.change("acme", std::nullopt, BillingMode::credits));
  BOOST_TEST(fx.kinds() == "balance_low,balance_exhausted");
  CHECK_APPLIED(fx.change("acme", Plan::enterprise, std::nullopt));
  BOOST_TEST(fx.kinds() == "balance_restored");
  BOOST_TEST((fx.org("acme").mode == BillingMode::credits));
  CHECK_APPLIED(fx.change("acme", Plan::pro, BillingMode::deferred));
  BOOST_TEST(fx.r.signals.empty());
}

// ============================================================================================
// Signals.

BOOST_AUTO_TEST_CASE(balance_low_from_the_low_balance_threshold_with_hysteresis) {
  Fx fx;
  fx.purchase("acme", 100 * cr);
  BOOST_TEST(fx.low("acme", 20 * cr).signals.empty());
  BOOST_TEST(fx.spend("acme", 80 * cr).signals.empty());  // 20 is not below 20
  fx.spend("acme", 1);
  BOOST_TEST(fx.ids() == fx.id("balance_low", "acme"));
  BOOST_TEST(fx.r.signals[0].threshold_micros == Micros{20 * cr});
  BOOST_TEST(fx.r.signals[0].balance_micros == Micros{20 * cr - 1});
  BOOST_TEST(fx.spend("acme", cr).signals.empty());  // still low: no repeat
  BOOST_TEST(fx.purchase("acme", 10 * cr).signals.empty());  // 28.999999: no longer low, silently
  BOOST_TEST(!fx.org("acme").is_low);
  fx.spend("acme", 10 * cr);
  BOOST_TEST(fx.kinds() == "balance_low");
  // A new threshold below the balance clears; one above it emits at once.
  BOOST_TEST(fx.low("acme", 10 * cr).signals.empty());
  BOOST_TEST(!fx.org("acme").is_low);
  fx.low("acme", 50 * cr);
  BOOST_TEST(fx.kinds() == "balance_low");
}

BOOST_AUTO_TEST_CASE(balance_low_falls_back_to_an_enabled_auto_refill_threshold) {
  Fx fx;
  fx.purchase("acme", 100 * cr);
  fx.configure("acme", policy(20 * cr, 100 * cr));
  BOOST_TEST(fx.r.signals.empty());
  fx.spend("acme", 81 * cr);  // 19
  BOOST_TEST(fx.kinds() == "balance_low,recharge_requested");
  BOOST_TEST(fx.signal(SignalKind::balance_low).threshold_micros == Micros{20 * cr});

  // A LowBalanceThresholdSet takes precedence over the auto-refill threshold.
  Fx fy;
  fy.purchase("acme", 100 * cr);
  fy.low("acme", 10 * cr);
  fy.configure("acme", policy(20 * cr, 100 * cr));
  fy.spend("acme", 81 * cr);  // 19: below the refill threshold, not the warning level
  BOOST_TEST(fy.kinds() == "recharge_requested");
  fy.spend("acme", 10 * cr);  // 9
  BOOST_TEST(fy.kinds() == "balance_low");
  // Without either, there is no warning level at all.
  Fx fz;
  fz.purchase("acme", cr);
  BOOST_TEST(fz.spend("acme", cr / 2).signals.empty());
}

BOOST_AUTO_TEST_CASE(exhausted_and_restored) {
  Fx fx;
  fx.open("acme", Plan::pro, BillingMode::credits);
  BOOST_TEST(fx.r.signals.empty());  // starts exhausted, no signal
  fx.purchase("acme", cr);
  BOOST_TEST(fx.ids() == fx.id("balance_restored", "acme"));
  BOOST_TEST(fx.r.signals[0].pause_reason == "");
  fx.spend("acme", cr);  // exactly 0
  BOOST_TEST(fx.ids() == fx.id("balance_exhausted", "acme"));
  BOOST_TEST(fx.r.signals[0].pause_reason == "balance_exhausted");
  BOOST_TEST(fx.r.signals[0].balance_micros == Micros{0});
  CHECK_APPLIED(fx.spend("acme", cr / 2));  // usage is a fact: recorded past zero
  BOOST_TEST(fx.balance("acme") == -cr / 2);
  BOOST_TEST(fx.r.signals.empty());
  BOOST_TEST(fx.purchase("acme", cr / 2).signals.empty());  // back to 0: still exhausted
  fx.purchase("acme", 1);
  BOOST_TEST(fx.kinds() == "balance_restored");
}

// Opens one org of each kind that does not use the wallet (byok, deferred, enterprise); their ids.
std::array<const char*, 3> open_orgs_outside_the_wallet(Fx& fx) {
  fx.open("byok", Plan::pro, BillingMode::byok);
  fx.open("deferred", Plan::pro, BillingMode::deferred);
  fx.open("ent", Plan::enterprise, BillingMode::credits);
  return {"byok", "deferred", "ent"};
}

BOOST_AUTO_TEST_CASE(no_wallet_signals_for_byok_deferred_or_enterprise_orgs) {
  Fx fx;
  for (const char* org : open_orgs_outside_the_wallet(fx)) {
    BOOST_TEST_CONTEXT(org) {
      BOOST_TEST(fx.low(org, 50 * cr).signals.empty());
      BOOST_TEST(fx.configure(org, policy(20 * cr, 100 * cr)).signals.empty());
      BOOST_TEST(fx.purchase(org, cr).signals.empty());
      BOOST_TEST(fx.spend(org, 2 * cr, {}, fb::BillingPath::credits).signals.empty());
      BOOST_TEST(fx.tick().signals.empty());
    }
  }
  BOOST_TEST(fx.balance("byok") == -cr);  // the credits path still debits a byok org
  BOOST_TEST(fx.balance("deferred") == cr);
  BOOST_TEST(fx.balance("ent") == cr);
}

// Finding 10 of issue 14: only wallet orgs get signals of any kind, member limits included
// (SPEC §4: member limits are credit limits). member_limit_exceeded and auto_refill_disabled were
// emitted for byok, deferred and enterprise orgs, and such a member showed exceeded: true.
BOOST_AUTO_TEST_CASE(no_member_or_auto_refill_signals_outside_the_wallet) {
  Fx fx;
  for (const char* org : open_orgs_outside_the_wallet(fx)) {
    BOOST_TEST_CONTEXT(org) {
      BOOST_TEST(fx.purchase(org, 10 * cr).signals.empty());
      BOOST_TEST(fx.limit(org, "alice", cr).signals.empty());
      // The credits path debits a byok org (and counts toward alice's month); the others pay by invoice.
      BOOST_TEST(fx.spend(org, 2 * cr, "alice", fb::BillingPath::credits).signals.empty());
      BOOST_TEST(fx.limit(org, "alice", cr / 2).signals.empty());
      BOOST_TEST(!fx.ledger.find_member(OrgIdView::make(org).value(), "alice")->exceeded);
      BOOST_TEST(fx.configure(org, policy(20 * cr, 100 * cr)).signals.empty());
      BOOST_TEST(fx.failed(org, "0:0:recharge_requested:" + std::string(org)).signals.empty());
      BOOST_TEST(!fx.org(org).auto_refill.enabled);  // the state changes, silently
      BOOST_TEST(fx.configure(org, policy(20 * cr, 100 * cr)).signals.empty());
      BOOST_TEST(fx.disable(org).signals.empty());
      BOOST_TEST(fx.unlimit(org, "alice").signals.empty());
    }
  }
  const MemberState* byok_alice = fx.ledger.find_member("byok", "alice");
  BOOST_TEST(byok_alice->used_micros == Micros{2 * cr});  // still counted and reported
  BOOST_TEST(fx.ledger.partition(PartitionId{0}).members_over_limit.empty());
}

// Finding 10 of issue 14: an org that switched to deferred kept its paused member paused. Leaving
// the wallet releases every pause (balance_restored, member_limit_restored); coming back judges
// every level afresh (SPEC §4).
BOOST_AUTO_TEST_CASE(leaving_the_wallet_releases_paused_members_and_returning_judges_them_afresh) {
  Fx fx;
  fx.purchase("acme", 10 * cr);
  fx.limit("acme", "bob", cr);
  fx.limit("acme", "alice", cr);
  fx.spend("acme", cr, "bob");
  fx.spend("acme", cr, "alice");
  BOOST_TEST(fx.kinds() == "member_limit_exceeded");
  CHECK_APPLIED(fx.change("acme", std::nullopt, BillingMode::deferred));
  BOOST_TEST(fx.ids() == fx.id("member_limit_restored", "acme", "alice") + "," +
                             fx.id("member_limit_restored", "acme", "bob"));
  BOOST_TEST(!fx.ledger.find_member("acme", "alice")->exceeded);
  BOOST_TEST(!fx.ledger.find_member("acme", "bob")->exceeded);
  BOOST_TEST(fx.spend("acme", cr, "alice").signals.empty());  // invoiced: nothing paused
  // Back in the wallet, this month: both are still over their limits.
  CHECK_APPLIED(fx.change("acme", std::nullopt, BillingMode::credits));
  BOOST_TEST(fx.ids() == fx.id("member_limit_exceeded", "acme", "alice") + "," +
                             fx.id("member_limit_exceeded", "acme", "bob"));
  BOOST_TEST(fx.ledger.find_member("acme", "alice")->exceeded);
  // The enterprise plan leaves the wallet too, and an empty wallet is released with the members.
  fx.spend("acme", 20 * cr);  // 10 - 2 - 20 = -12
  BOOST_TEST(fx.kinds() == "balance_exhausted");
  CHECK_APPLIED(fx.change("acme", Plan::enterprise, std::nullopt));
  BOOST_TEST(fx.kinds() == "balance_restored,member_limit_restored,member_limit_restored");
  // The month ends outside the wallet: back in it in March, only the balance is judged.
  fx.now = mar1;
  BOOST_TEST(fx.tick().signals.empty());
  BOOST_TEST(fx.ledger.partition(PartitionId{0}).members_over_limit.empty());
  CHECK_APPLIED(fx.change("acme", Plan::pro, std::nullopt));
  BOOST_TEST(fx.ids() == fx.id("balance_exhausted", "acme"));
}

BOOST_AUTO_TEST_CASE(recharge_is_requested_once_while_pending) {
  Fx fx;
  fx.purchase("acme", 100 * cr);
  BOOST_TEST(fx.configure("acme", AutoRefillPolicy{true, Micros{20 * cr}, Micros{100 * cr}, 0, 0, "cus_42"}).signals.empty());
  fx.spend("acme", 81 * cr);  // 19
  BOOST_TEST(fx.ids() == fx.id("balance_low", "acme") + "," + fx.id("recharge_requested", "acme"));
  const Signal recharge = fx.signal(SignalKind::recharge_requested);
  BOOST_TEST(recharge.refill_credits_micros == Micros{100 * cr});
  BOOST_TEST(recharge.threshold_micros == Micros{20 * cr});
  BOOST_TEST(recharge.payment_customer == "cus_42");
  BOOST_TEST(recharge.balance_micros == Micros{19 * cr});
  BOOST_TEST(fx.org("acme").refill_pending);
  BOOST_TEST(fx.org("acme").pending_signal_id == recharge.id());
  BOOST_TEST(fx.spend("acme", cr).signals.empty());  // 18: pending
  fx.spend("acme", 20 * cr);  // -2: crossing zero pauses the org; the refill is still pending
  BOOST_TEST(fx.kinds() == "balance_exhausted");
  BOOST_TEST(fx.balance("acme") == -2 * cr);
  BOOST_TEST(fx.org("acme").is_exhausted);
  fx.refill("acme", recharge.id(), 100 * cr);  // 98
  BOOST_TEST(fx.kinds() == "balance_restored");
  BOOST_TEST(!fx.org("acme").refill_pending);
  BOOST_TEST(fx.org("acme").pending_signal_id.empty());
  fx.spend("acme", 79 * cr);  // 19
  BOOST_TEST(fx.kinds() == "balance_low,recharge_requested");
  BOOST_TEST(fx.signal(SignalKind::recharge_requested).id() != recharge.id());
}

BOOST_AUTO_TEST_CASE(auto_refill_naming_no_pending_signal_still_adds_credits) {
  Fx fx;
  fx.purchase("acme", 30 * cr);
  fx.configure("acme", policy(20 * cr, 100 * cr));
  fx.spend("acme", 11 * cr);  // 19
  const std::string pending = fx.signal(SignalKind::recharge_requested).id();
  CHECK_APPLIED(fx.refill("acme", "0:999:recharge_requested:acme", 5 * cr));
  BOOST_TEST(fx.balance("acme") == 24 * cr);
  BOOST_TEST(fx.org("acme").refill_pending);
  BOOST_TEST(fx.org("acme").pending_signal_id == pending);
  BOOST_TEST(fx.org("acme").totals.purchased_micros == Micros{35 * cr});
}

BOOST_AUTO_TEST_CASE(still_below_threshold_after_a_refill_requests_again_at_once) {
  Fx fx;
  fx.purchase("acme", 30 * cr);
  fx.configure("acme", policy(50 * cr, 10 * cr));  // enabling while below: request at once
  BOOST_TEST(fx.kinds() == "balance_low,recharge_requested");
  const std::string first = fx.signal(SignalKind::recharge_requested).id();
  fx.refill("acme", first, 10 * cr);  // 40 < 50
  BOOST_TEST(fx.ids() == fx.id("recharge_requested", "acme"));
  const std::string second = fx.r.signals[0].id();
  BOOST_TEST(second != first);
  fx.refill("acme", second, 10 * cr);  // 50: done
  BOOST_TEST(fx.r.signals.empty());
  BOOST_TEST(!fx.org("acme").refill_pending);
}

BOOST_AUTO_TEST_CASE(turning_auto_refill_off_does_not_clear_a_pending_refill) {
  Fx fx;
  fx.purchase("acme", 10 * cr);
  fx.configure("acme", policy(20 * cr, 100 * cr));
  const std::string pending = fx.signal(SignalKind::recharge_requested).id();
  fx.disable("acme");
  BOOST_TEST(fx.ids() == fx.id("auto_refill_disabled", "acme"));
  BOOST_TEST(fx.r.signals[0].pause_reason == "disabled");
  BOOST_TEST(!fx.org("acme").auto_refill.enabled);
  BOOST_TEST(fx.org("acme").refill_pending);
  BOOST_TEST(fx.org("acme").pending_signal_id == pending);
  // Re-enabled while the charge is in flight: no second request.
  fx.configure("acme", policy(20 * cr, 100 * cr));
  BOOST_TEST(fx.kinds() == "balance_low");  // the warning level came back with the policy
  // The charge lands after all.
  fx.refill("acme", pending, 100 * cr);
  BOOST_TEST(fx.r.signals.empty());
  BOOST_TEST(fx.balance("acme") == 110 * cr);
  BOOST_TEST(!fx.org("acme").refill_pending);
}

BOOST_AUTO_TEST_CASE(payment_failed_disables_auto_refill_and_the_org_stays_paused) {
  Fx fx;
  fx.purchase("acme", 25 * cr);
  fx.configure("acme", policy(20 * cr, 100 * cr));
  fx.spend("acme", 6 * cr);  // 19
  const std::string pending = fx.signal(SignalKind::recharge_requested).id();
  fx.failed("acme", pending);
  BOOST_TEST(fx.ids() == fx.id("auto_refill_disabled", "acme"));
  BOOST_TEST(fx.r.signals[0].pause_reason == "payment_failed");
  BOOST_TEST(!fx.org("acme").auto_refill.enabled);
  BOOST_TEST(!fx.org("acme").refill_pending);
  fx.spend("acme", 19 * cr);
  BOOST_TEST(fx.kinds() == "balance_exhausted");
  BOOST_TEST(fx.spend("acme", cr).signals.empty());
  BOOST_TEST(fx.tick().signals.empty());
  // A second failure changes nothing: auto-refill is already off.
  BOOST_TEST(fx.failed("acme", pending).signals.empty());
  // Disabling through the policy emits the signal too.
  Fx fy;
  fy.purchase("acme", 100 * cr);
  fy.configure("acme", policy(20 * cr, 100 * cr));
  fy.configure("acme", AutoRefillPolicy{false, Micros{}, Micros{}, 0, 0, {}});
  BOOST_TEST(fy.kinds() == "auto_refill_disabled");
  BOOST_TEST(fy.r.signals[0].pause_reason == "disabled");
  BOOST_TEST(fy.disable("acme").signals.empty());
}

BOOST_AUTO_TEST_CASE(day_cap_once_per_day_then_a_tick_on_the_next_day_requests) {
  Fx fx;
  fx.purchase("acme", 10 * cr);
  fx.configure("acme", policy(20 * cr, 5 * cr, 2, 0));
  BOOST_TEST(fx.kinds() == "balance_low,recharge_requested");  // request 1 of the day
  fx.refill("acme", fx.signal(SignalKind::recharge_requested).id(), 5 * cr);  // 15
  BOOST_TEST(fx.kinds() == "recharge_requested");  // request 2
  fx.refill("acme", fx.r.signals[0].id(), 5 * cr);  // 20
  BOOST_TEST(fx.r.signals.empty());
  fx.now += 3'600'000;
  fx.spend("acme", cr);  // 19: due, but the day's two requests are spent
  BOOST_TEST(fx.ids() == fx.id("balance_low", "acme") + "," + fx.id("auto_refill_cap_reached", "acme"));
  BOOST_TEST(fx.signal(SignalKind::auto_refill_cap_reached).cap_period == "day");
  BOOST_TEST(fx.spend("acme", cr).signals.empty());  // once per period
  BOOST_TEST(fx.tick().signals.empty());             // same day
  fx.now = jan15 + day_ms;                           // next UTC day
  fx.tick();
  BOOST_TEST(fx.ids() == fx.id("recharge_requested", "acme"));
  BOOST_TEST(fx.org("acme").refill_pending);
  BOOST_TEST(fx.ledger.partition(PartitionId{0}).cap_waiting_orgs.empty());
}

BOOST_AUTO_TEST_CASE(month_cap_once_per_month_then_the_next_month_requests) {
  Fx fx;
  fx.now = jan30;
  fx.purchase("acme", 10 * cr);
  fx.configure("acme", policy(20 * cr, 1 * cr, 0, 2));
  std::string pending = fx.signal(SignalKind::recharge_requested).id();
  fx.refill("acme", pending, cr);  // 11: request 2
  BOOST_TEST(fx.kinds() == "recharge_requested");
  fx.refill("acme", fx.r.signals[0].id(), cr);  // 12: month spent
  BOOST_TEST(fx.kinds() == "auto_refill_cap_reached");
  BOOST_TEST(fx.r.signals[0].cap_period == "month");
  fx.now = jan31;  // new day, same month: nothing
  BOOST_TEST(fx.tick().signals.empty());
  BOOST_TEST(fx.spend("acme", cr).signals.empty());
  fx.now = feb1 + 1;
  fx.tick();
  BOOST_TEST(fx.ids() == fx.id("recharge_requested", "acme"));
}

BOOST_AUTO_TEST_CASE(failed_charges_count_toward_the_cap) {
  Fx fx;
  fx.purchase("acme", 10 * cr);
  fx.configure("acme", policy(20 * cr, 5 * cr, 1, 0));
  fx.failed("acme", fx.signal(SignalKind::recharge_requested).id());
  BOOST_TEST(fx.kinds() == "auto_refill_disabled");
  fx.configure("acme", policy(20 * cr, 5 * cr, 1, 0));
  BOOST_TEST(fx.kinds() == "balance_low,auto_refill_cap_reached");
}

BOOST_AUTO_TEST_CASE(a_new_day_re_evaluates_every_waiting_org_in_order) {
  Fx fx;
  for (const char* org : {"b-org", "a-org"}) {
    fx.purchase(org, 10 * cr);
    fx.configure(org, policy(20 * cr, cr, 1, 0));
    fx.refill(org, fx.signal(SignalKind::recharge_requested).id(), cr);
    BOOST_TEST(fx.kinds() == "auto_refill_cap_reached");
  }
  fx.now = jan15 + day_ms;
  fx.tick();
  BOOST_TEST(fx.ids() == fx.id("recharge_requested", "a-org") + "," + fx.id("recharge_requested", "b-org"));
  // Any event of the partition carries the clock, not only a Tick.
  Fx fy;
  fy.purchase("acme", 10 * cr);
  fy.configure("acme", policy(20 * cr, cr, 1, 0));
  fy.refill("acme", fy.signal(SignalKind::recharge_requested).id(), cr);
  fy.now = jan15 + day_ms;
  fy.purchase("other", cr);
  BOOST_TEST(fy.ids() == fy.id("recharge_requested", "acme") + "," + fy.id("balance_restored", "other"));
}

BOOST_AUTO_TEST_CASE(member_limits_with_hysteresis) {
  Fx fx;
  fx.purchase("acme", 100 * cr);
  BOOST_TEST(fx.limit("acme", "alice", cr).signals.empty());
  BOOST_TEST(fx.spend("acme", 600'000, "alice").signals.empty());
  fx.spend("acme", 400'000, "alice");  // 1.0 ≥ 1.0
  BOOST_TEST(fx.ids() == fx.id("member_limit_exceeded", "acme", "alice"));
  const Signal& exceeded = fx.r.signals[0];
  BOOST_TEST(exceeded.member_id == "alice");
  BOOST_TEST(exceeded.monthly_limit_micros == Micros{cr});
  BOOST_TEST(exceeded.member_used_micros == Micros{cr});
  BOOST_TEST(exceeded.pause_reason == "member_limit_exceeded");
  BOOST_TEST(fx.spend("acme", 100'000, "alice").signals.empty());  // 1.1: still exceeded
  BOOST_TEST(fx.spend("acme", 5 * cr, "bob").signals.empty());      // no limit
  BOOST_TEST(fx.spend("acme", 5 * cr).signals.empty());             // no member
  fx.limit("acme", "alice", 2 * cr);
  BOOST_TEST(fx.ids() == fx.id("member_limit_restored", "acme", "alice"));
  fx.limit("acme", "alice", cr);
  BOOST_TEST(fx.kinds() == "member_limit_exceeded");
  fx.unlimit("acme", "alice");
  BOOST_TEST(fx.kinds() == "member_limit_restored");
  BOOST_TEST(fx.unlimit("acme", "nobody").signals.empty());
  fx.limit("acme", "alice", 1'100'000);  // used 1.1 ≥ 1.1
  BOOST_TEST(fx.kinds() == "member_limit_exceeded");
  BOOST_TEST(fx.ledger.partition(PartitionId{0}).members_over_limit.size() == 1u);

  // The partition clock enters February: restored, used this month 0.
  fx.now = feb1;
  fx.tick();
  BOOST_TEST(fx.ids() == fx.id("member_limit_restored", "acme", "alice"));
  BOOST_TEST(fx.r.signals[0].member_used_micros == Micros{0});
  BOOST_TEST(fx.ledger.partition(PartitionId{0}).members_over_limit.empty());

  // Late January usage is debited and counted in January; February's state does not change.
  const int64_t before = fx.balance("acme");
  fx.now = jan31;
  fx.spend("acme", 5 * cr, "alice");
  BOOST_TEST(fx.r.signals.empty());
  BOOST_TEST(fx.balance("acme") == before - 5 * cr);
  fx.now = feb1 + 10;
  BOOST_TEST(fx.spend("acme", 500'000, "alice").signals.empty());  // February: 0.5
  fx.spend("acme", 600'000, "alice");                              // 1.1
  BOOST_TEST(fx.kinds() == "member_limit_exceeded");
  BOOST_TEST(fx.r.signals[0].member_used_micros == Micros{1'100'000});
  fx.now = jan31;
  BOOST_TEST(fx.spend("acme", cr, "alice").signals.empty());  // late again: not February's
  fx.now = feb1 + 20;
  fx.limit("acme", "alice", 1'200'000);
  BOOST_TEST(fx.kinds() == "member_limit_restored");  // 1.1 < 1.2: the late usage did not count
  const MemberState* alice = fx.ledger.find_member("acme", "alice");
  BOOST_REQUIRE(alice != nullptr);
  BOOST_TEST(alice->used_micros == Micros{1'100'000});
}

BOOST_AUTO_TEST_CASE(month_change_restores_members_of_other_orgs_on_any_event) {
  Fx fx;
  fx.limit("acme", "alice", cr);
  fx.spend("acme", cr, "alice");
  BOOST_TEST(fx.kinds() == "member_limit_exceeded");
  fx.now = mar1;
  fx.purchase("beta", cr);
  BOOST_TEST(fx.ids() == fx.id("member_limit_restored", "acme", "alice") + "," + fx.id("balance_restored", "beta"));
  BOOST_TEST(fx.r.signals[0].org_id == "acme");
}

BOOST_AUTO_TEST_CASE(signals_within_one_event_come_in_spec_order) {
  Fx fx;
  fx.now = jan30;
  fx.purchase("acme", 30 * cr);
  fx.low("acme", 20 * cr);
  fx.configure("acme", policy(10 * cr, 50 * cr));
  fx.limit("acme", "bob", cr);
  fx.spend("acme", cr, "bob");  // 29; bob exceeded in January
  BOOST_TEST(fx.kinds() == "member_limit_exceeded");
  fx.limit("acme", "alice", 29 * cr);
  BOOST_TEST(fx.r.signals.empty());
  // One February usage: bob's month restore, then low, recharge, exhausted, alice's member signal.
  fx.now = feb1;
  fx.spend("acme", 29 * cr, "alice");
  BOOST_TEST(fx.ids() == fx.id("member_limit_restored", "acme", "bob") + "," + fx.id("balance_low", "acme") + "," +
                             fx.id("recharge_requested", "acme") + "," + fx.id("balance_exhausted", "acme") + "," +
                             fx.id("member_limit_exceeded", "acme", "alice"));
  const std::string pending = fx.signal(SignalKind::recharge_requested).id();
  // A PaymentFailed in March: alice's month restore first, auto_refill_disabled last.
  fx.now = mar1;
  fx.failed("acme", pending);
  BOOST_TEST(fx.ids() == fx.id("member_limit_restored", "acme", "alice") + "," +
                             fx.id("auto_refill_disabled", "acme"));
}

BOOST_AUTO_TEST_CASE(an_org_waiting_on_a_cap_gets_balance_low_before_its_request) {
  // Refill below 20 (1 a day), warning below 10. The day's request is spent at 15; the next
  // day the org's own usage takes it to 5: balance_low first, then the request (SPEC §5 order).
  Fx fx;
  fx.purchase("acme", 15 * cr);
  fx.low("acme", 10 * cr);
  fx.configure("acme", policy(20 * cr, cr, 1, 0));
  BOOST_TEST(fx.kinds() == "recharge_requested");
  fx.refill("acme", fx.r.signals[0].id(), cr);  // 16: due again, day cap spent
  BOOST_TEST(fx.kinds() == "auto_refill_cap_reached");
  fx.now = jan15 + day_ms;
  fx.spend("acme", 11 * cr);  // 5
  BOOST_TEST(fx.ids() == fx.id("balance_low", "acme") + "," + fx.id("recharge_requested", "acme"));
}

BOOST_AUTO_TEST_CASE(signal_ids_carry_the_partition_and_offset_of_the_cause) {
  Fx fx;
  fx.partitions = 4;
  fx.partition = 3;
  fx.tick();
  fx.tick();
  fx.purchase("pz", cr);  // offset 2 of partition 3
  BOOST_TEST(fx.ids() == "3:2:balance_restored:pz");
  fx.limit("pz", "al.ice+1@x", 1);
  fx.spend("pz", 1, "al.ice+1@x");  // offset 4
  BOOST_TEST(fx.ids() == "3:4:member_limit_exceeded:pz:al.ice+1@x");
  BOOST_TEST(fx.r.signals[0].position.partition.value == 3);
  BOOST_TEST(fx.r.signals[0].position.offset.value == 4);
  BOOST_TEST(fx.r.signals[0].occurred_at_ms == jan15);
  // The encoded signal carries the same id.
  const std::string bytes = encode_signal(fx.r.signals[0]);
  BOOST_TEST(bytes.find("3:4:member_limit_exceeded:pz:al.ice+1@x") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_largest_event_time_is_folded_like_any_other) {
  Fx fx;
  fx.limit("acme", "alice", cr);
  fx.configure("acme", policy(20 * cr, cr, 1, 1));
  BOOST_TEST(fx.kinds() == "balance_low,recharge_requested");
  fx.now = int64_max;  // a new day and month of year 292278994
  CHECK_APPLIED(fx.spend("acme", 2 * cr, "alice"));
  BOOST_TEST(fx.kinds() == "member_limit_exceeded");
  BOOST_TEST(fx.ledger.partition(PartitionId{0}).clock_ms == int64_max);
  CHECK_APPLIED(fx.tick());
}

BOOST_AUTO_TEST_CASE(late_events_do_not_move_the_clock_back) {
  Fx fx;
  fx.now = feb1;
  fx.purchase("acme", cr);
  fx.now = jan15;
  fx.purchase("acme", cr);
  BOOST_TEST(fx.ledger.partition(PartitionId{0}).clock_ms == feb1);
  BOOST_TEST(fx.org("acme").last_occurred_at_ms == feb1);
}

// ============================================================================================
// Time: the log's append time bounds event time (SPEC §2).

// Finding 1 of issue 14: a tick stamped in year 2286 was applied; the partition clock jumped past
// every member's month, and member limits stopped working for every org of the partition.
BOOST_AUTO_TEST_CASE(an_event_too_far_ahead_of_the_log_is_a_clock_skew_rejection) {
  Fx fx;
  fx.limit("acme", "alice", cr);
  fx.spend("acme", cr, "alice");
  BOOST_TEST(fx.kinds() == "member_limit_exceeded");
  const std::size_t keys = fx.ledger.key_count();
  fx.appended_at = jan15;  // the log appends what follows at jan15
  const FoldResult& tick = fx.fold(make_tick(EventHeader{"t-2286", {}, 9'999'999'999'999}));
  CHECK_REJECTED(tick, "clock_skew");
  BOOST_TEST(tick.detail == "occurred_at_ms 9999999999999 is 8231564799999 ms ahead of the log's append time "
                            "1768435200000 (at most 300000)");
  BOOST_TEST(tick.signals.empty());
  BOOST_TEST(fx.ledger.partition(PartitionId{0}).clock_ms == jan15);
  BOOST_TEST(fx.ledger.find_member("acme", "alice")->exceeded);  // still January's limit
  // An org's event likewise: rejected without its key, so the corrected retry applies.
  const std::string early = purchase_event("p-early", "acme", cr, jan15 + 300'001);
  CHECK_REJECTED(fx.fold(early), "clock_skew");
  BOOST_TEST(fx.ledger.key_count() == keys);
  BOOST_TEST(fx.balance("acme") == -cr);  // alice's usage
  CHECK_APPLIED(fx.fold(purchase_event("p-edge", "acme", cr, jan15 + 300'000)));  // at the bound
  fx.appended_at = jan15 + 1;  // the same bytes, appended a millisecond later
  CHECK_APPLIED(fx.fold(early));
  BOOST_TEST(fx.balance("acme") == cr);
  CHECK_APPLIED(fx.fold(purchase_event("p-late", "acme", cr, 0)));  // late events are fine
  // Extreme append times cannot overflow the check.
  fx.appended_at = std::numeric_limits<int64_t>::min();
  CHECK_REJECTED(fx.fold(purchase_event("p-min", "acme", cr, 0)), "clock_skew");
  fx.appended_at = int64_max;
  CHECK_APPLIED(fx.fold(purchase_event("p-max", "acme", cr, int64_max)));
}

// Whoever writes to the log and whatever times they claim, the partition clock stays within the
// skew of the log's own time (SPEC §2).
BOOST_AUTO_TEST_CASE(the_partition_clock_never_runs_ahead_of_the_log_by_more_than_the_skew) {
  const uint64_t seed = std::random_device{}();
  BOOST_TEST_MESSAGE("seed " << seed);
  std::mt19937_64 rng(seed);
  Fx fx;
  fx.card(standard_card());
  int64_t log_ms = jan15;
  for (int i = 0; i < 2000; ++i) {
    log_ms += static_cast<int64_t>(rng() % 600'000);
    fx.appended_at = log_ms;
    // Honest, late, slightly early, and absurd event times.
    const int64_t offsets[] = {0, -static_cast<int64_t>(rng() % 86'400'000), static_cast<int64_t>(rng() % 400'000),
                               static_cast<int64_t>(rng() % 1'000'000'000'000)};
    fx.now = log_ms + offsets[rng() % 4];
    BOOST_TEST_CONTEXT("seed " << seed << " record " << i) {
      const std::string org = "org-" + std::to_string(rng() % 5);
      if (rng() % 3 == 0) {
        fx.tick();
      } else {
        fx.spend(org, static_cast<int64_t>(rng() % cr), "m" + std::to_string(rng() % 3));
      }
      BOOST_TEST(fx.ledger.partition(PartitionId{0}).clock_ms <= log_ms + limits::future_skew_max_ms);
      if (fx.now - log_ms > limits::future_skew_max_ms) CHECK_REJECTED(fx.r, "clock_skew");
    }
  }
}

// ---- Prefetch hints (prefetch_key_of): the projector calls it a few records ahead of apply().

// A Ledger over a MemoryLedger that records the key lookups and the prefetch hints it is given.
class SpyLedger final : public Ledger {
 public:
  std::vector<std::string> hints, finds;
  OrgState* find_org(OrgIdView org) override { return inner.find_org(org); }
  OrgState& create_org(OrgIdView org) override { return inner.create_org(org); }
  MemberState* find_member(OrgIdView org, MemberIdView member) override { return inner.find_member(org, member); }
  MemberState& create_member(OrgIdView org, MemberIdView member) override {
    return inner.create_member(org, member);
  }
  const KeyRecord* find_key(std::string_view scope, std::string_view key) override {
    finds.push_back(std::string(scope) + "|" + std::string(key));
    return inner.find_key(scope, key);
  }
  void put_key(std::string_view scope, std::string_view key, const KeyRecord& record) override {
    inner.put_key(scope, key, record);
  }
  PurchaseRecord* find_purchase(OrgIdView org, std::string_view key) override { return inner.find_purchase(org, key); }
  void put_purchase(OrgIdView org, std::string_view key, const PurchaseRecord& record) override {
    inner.put_purchase(org, key, record);
  }
  const Grant* find_closed_grant(OrgIdView org, std::string_view grant_id) override {
    return inner.find_closed_grant(org, grant_id);
  }
  void put_closed_grant(OrgIdView org, const Grant& grant) override { inner.put_closed_grant(org, grant); }
  PartitionState& partition(PartitionId partition) override { return inner.partition(partition); }
  void prefetch_key(std::string_view scope, std::string_view key) override {
    hints.push_back(std::string(scope) + "|" + std::string(key));
  }
  bool wants_state_hints() const override { return states_hinted; }
  void prefetch_org(std::string_view org, PrefetchStage stage) override {
    state_hints.push_back(std::string(stage == PrefetchStage::slot ? "slot " : "entry ") + std::string(org));
  }
  void prefetch_member(std::string_view org, std::string_view member, PrefetchStage stage) override {
    state_hints.push_back(std::string(stage == PrefetchStage::slot ? "slot " : "entry ") + std::string(org) + "/" +
                          std::string(member));
  }
  bool states_hinted = true;
  std::vector<std::string> state_hints;

 private:
  MemoryLedger inner;
};

// An 8-byte aligned copy of `bytes` (as the projector's batch arena holds records).
std::string_view aligned(std::vector<uint64_t>& storage, std::string_view bytes) {
  storage.assign(bytes.size() / 8 + 1, 0);
  if (!bytes.empty()) std::memcpy(storage.data(), bytes.data(), bytes.size());
  return std::string_view(reinterpret_cast<const char*>(storage.data()), bytes.size());
}

BOOST_AUTO_TEST_CASE(prefetch_hints_name_the_key_apply_looks_up) {
  SpyLedger ledger;
  FoldResult result;
  std::string scratch;
  std::vector<uint64_t> storage;
  const PartitionId partition{3};
  int64_t offset = 0;
  // pz lives in partition 3 of 4.
  const std::vector<std::string> records = {
      make_rate_card(EventHeader{"card-1", "", jan15}, standard_card()),  // global: scope "#3"
      make_org_opened(EventHeader{"open-pz", "pz", jan15}, Plan::pro, BillingMode::credits),
      purchase_event("buy-1", "pz", 100 * cr),
      spend_event("use-1", "pz", 2 * cr),
      spend_event("use-1", "pz", 2 * cr),  // a duplicate: looked up, not put
  };
  for (const std::string& record : records) {
    ledger.hints.clear();
    ledger.finds.clear();
    const std::string_view value = aligned(storage, record);
    prefetch_key_of(ledger, LogPosition{partition, Offset{offset}}, value, scratch);
    apply(ledger, RecordContext{LogPosition{partition, Offset{offset++}}, jan15, 4}, value, result);
    BOOST_TEST(ledger.finds.size() == 1u);
    BOOST_TEST(ledger.hints == ledger.finds);
  }
  BOOST_TEST((result.outcome == Outcome::duplicate));
  BOOST_TEST(ledger.hints.front() == "pz|use-1");
}

BOOST_AUTO_TEST_CASE(prefetch_hints_skip_records_that_do_not_decode) {
  SpyLedger ledger;
  std::string scratch;
  std::vector<uint64_t> storage;
  const std::string record = spend_event("use-1", "acme", 2 * cr);
  const LogPosition position{PartitionId{0}, Offset{0}};
  // Every truncation (ASan/UBSan builds check that nothing is read past the end).
  for (std::size_t size = 0; size < record.size(); ++size) {
    prefetch_key_of(ledger, position, aligned(storage, std::string_view(record).substr(0, size)), scratch);
  }
  // Random bytes, and a root offset that points past the end.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 96, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    prefetch_key_of(ledger, position, aligned(storage, junk), scratch);
  }
  const std::string past_end("\xff\xff\x00\x00TLE1", 8);
  prefetch_key_of(ledger, position, aligned(storage, past_end), scratch);
  // A misaligned record is left to apply() (which copies it first).
  std::vector<uint64_t> shifted(record.size() / 8 + 2, 0);
  char* at = reinterpret_cast<char*>(shifted.data()) + 1;
  std::memcpy(at, record.data(), record.size());
  const std::size_t hints_before = ledger.hints.size();
  prefetch_key_of(ledger, position, std::string_view(at, record.size()), scratch);
  BOOST_TEST(ledger.hints.size() == hints_before);
  // A whole record still gives its hint.
  prefetch_key_of(ledger, position, aligned(storage, record), scratch);
  BOOST_TEST(ledger.hints.back() == "acme|use-1");
  // The state hints read the same fields, and the body: none from any damaged record either.
  for (std::size_t size = 0; size < record.size(); ++size) {
    prefetch_states_of(ledger, aligned(storage, std::string_view(record).substr(0, size)), PrefetchStage::entry);
  }
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 96, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    prefetch_states_of(ledger, aligned(storage, junk), PrefetchStage::slot);
  }
  for (const std::string& hint : ledger.state_hints) BOOST_TEST(hint.find("acme") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(state_hints_name_the_org_and_the_member_apply_looks_up) {
  SpyLedger ledger;
  std::vector<uint64_t> storage;
  const std::string usage = spend_event("use-1", "acme", 2 * cr, jan15, "alice");
  prefetch_states_of(ledger, aligned(storage, usage), PrefetchStage::slot);
  prefetch_states_of(ledger, aligned(storage, usage), PrefetchStage::entry);
  BOOST_TEST(ledger.state_hints == (std::vector<std::string>{"slot acme", "slot acme/alice", "entry acme", "entry acme/alice"}));
  // No member: the org alone; an event of no org (a rate card): nothing.
  ledger.state_hints.clear();
  prefetch_states_of(ledger, aligned(storage, purchase_event("buy-1", "acme", 100 * cr)), PrefetchStage::slot);
  prefetch_states_of(ledger, aligned(storage, make_rate_card(EventHeader{"card-1", "", jan15}, standard_card())),
                     PrefetchStage::slot);
  BOOST_TEST(ledger.state_hints == (std::vector<std::string>{"slot acme"}));
  // A ledger whose states fit the caches asks for none (the record is not even read).
  ledger.state_hints.clear();
  ledger.states_hinted = false;
  prefetch_states_of(ledger, aligned(storage, usage), PrefetchStage::slot);
  BOOST_TEST(ledger.state_hints.empty());
}

}  // namespace
}  // namespace tally
