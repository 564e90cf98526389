// Holds in the fold, rule by rule (SPEC §11): admission against the org's available credits and
// the member's, partial grants, estimates priced by the current rate card, extend, release,
// expiry by the partition clock, capture by usage (below, above, final, late), non-wallet orgs,
// and a replay that gives the same state bytes. Expected µcr are worked by hand in the comments.
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <random>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/event_factory.h"
#include "engine/fold.h"
#include "engine/memory_ledger.h"
#include "engine/state_codec.h"
#include "tally/events_generated.h"

namespace tally {
namespace {

constexpr int64_t cr = 1'000'000;           // µcr per credit
constexpr int64_t jan15 = 1768435200000;    // 2026-01-15T00:00:00Z
constexpr int64_t feb1 = 1769904000000;     // 2026-02-01T00:00:00Z

struct Fx {
  MemoryLedger ledger;
  FoldResult r;
  std::vector<std::string> log;  // every record folded, for replays
  int64_t offset = 0;
  int64_t now = jan15;
  int keys = 0;

  std::string key() { return "k" + std::to_string(++keys); }

  const FoldResult& fold(const std::string& record) {
    log.push_back(record);
    apply(ledger, RecordContext{LogPosition{PartitionId{0}, Offset{offset++}}, now, 1}, record, r);
    return r;
  }
  const FoldResult& purchase(int64_t credits, std::string_view org = "acme") {
    return fold(make_purchase(EventHeader{key(), org, now}, PaymentFields{credits, 0, "usd", 0, 1, "ch"}));
  }
  const FoldResult& place(std::string_view id, HoldFields h, std::string_view org = "acme") {
    return fold(make_hold_placed(EventHeader{id, org, now}, h));
  }
  const FoldResult& place(std::string_view id, int64_t amount, std::string_view member = {}) {
    return place(id, HoldFields{.member_id = member, .amount_micros = amount});
  }
  const FoldResult& extend(std::string_view id, int64_t add, int64_t ttl_ms = 60'000) {
    return fold(make_hold_extended(EventHeader{key(), "acme", now}, id, add, ttl_ms));
  }
  const FoldResult& release(std::string_view id) {
    return fold(make_hold_released(EventHeader{key(), "acme", now}, id));
  }
  // Usage at a reported cost: before any rate card it bills at 1×.
  const FoldResult& capture(std::string_view hold_id, int64_t cost, bool final = false, std::string_view member = {},
                            std::string_view org = "acme") {
    UsageFields u;
    u.member_id = member;
    u.reported_cost_micros = cost;
    u.hold_id = hold_id;
    u.hold_final = final;
    return fold(make_usage(EventHeader{key(), org, now}, u));
  }
  const FoldResult& limit(std::string_view member, int64_t monthly) {
    return fold(make_member_limit_set(EventHeader{key(), "acme", now}, member, monthly));
  }
  const FoldResult& tick() { return fold(make_tick(EventHeader{key(), {}, now})); }
  const FoldResult& card() {
    RateCardFields c;
    c.version = 1;
    c.markup_bp = 15000;  // 1.5×
    c.models = {{"m1", ModelPrice{75'000, 300'000, 7'500, 93'750}}};  // µcr per 1M tokens
    c.sandbox_classes = {{"small", 360'000}};                          // µcr per hour
    return fold(make_rate_card(EventHeader{key(), {}, now}, c));
  }

  OrgState& org(std::string_view id = "acme") {
    OrgState* o = ledger.find_org(OrgIdView::make(id).value());
    BOOST_REQUIRE(o != nullptr);
    return *o;
  }
  int64_t balance() { return org().balance_micros.value(); }
  int64_t held() { return org().held_micros.value(); }
  int64_t available() { return balance() - held(); }
  int64_t remaining(std::string_view id) {
    const auto it = org().holds.find(id);
    return it == org().holds.end() ? -1 : it->second.remaining_micros.value();
  }
};

std::string reason_of(const FoldResult& r) {
  return r.outcome == Outcome::applied ? "applied" : reject_reason_name(r.reason);
}

// ---- Admission, table-driven: each row starts from a fresh org with 10 cr.

struct AdmissionCase {
  const char* name;
  int64_t held_before;        // one earlier hold of this much (no member), 0 for none
  int64_t member_limit;       // u1's monthly limit, 0 for none
  int64_t member_spent;       // u1's usage this month (debited)
  int64_t member_held;        // an earlier hold of u1
  int64_t amount;
  bool partial;
  int64_t min;
  const char* expected;       // "applied" or the reason
  int64_t granted;
};

const AdmissionCase admission_cases[] = {
    // 10 cr available: 6 cr fits.
    {"fits", 0, 0, 0, 0, 6 * cr, false, 0, "applied", 6 * cr},
    // held 6: available 10 - 6 = 4 cr < 6 cr.
    {"does_not_fit", 6 * cr, 0, 0, 0, 6 * cr, false, 0, "insufficient_available", 0},
    // the whole available, exactly: 4 cr.
    {"fits_exactly", 6 * cr, 0, 0, 0, 4 * cr, false, 0, "applied", 4 * cr},
    // partial: grant the 4 cr left.
    {"partial", 6 * cr, 0, 0, 0, 6 * cr, true, 0, "applied", 4 * cr},
    // partial, but 4 cr < min 5 cr.
    {"partial_below_min", 6 * cr, 0, 0, 0, 6 * cr, true, 5 * cr, "insufficient_available", 0},
    // limit 3 cr, nothing used: 4 cr does not fit the member.
    {"member_limit", 0, 3 * cr, 0, 0, 4 * cr, false, 0, "member_limit", 0},
    // limit 3, spent 1, held 1: member_available 3 - 1 - 1 = 1 cr; partial grants 1 cr.
    {"member_partial", 0, 3 * cr, 1 * cr, 1 * cr, 2 * cr, true, 0, "applied", 1 * cr},
    // spent 3 of 3: the member is over its limit: refused even 1 µcr.
    {"member_exceeded", 0, 3 * cr, 3 * cr, 0, 1, false, 0, "member_limit", 0},
    // org available 10 - 8 = 2 cr, member available 3 - 0 - 0 = 3 cr; 3 cr: the org is judged first.
    {"org_before_member", 8 * cr, 3 * cr, 0, 0, 3 * cr, false, 0, "insufficient_available", 0},
    // org available 10 - 2.5 = 7.5 cr, member 3 - 0 - 2.5 (its hold) = 0.5 cr; partial min 1 cr:
    // the org has it (7.5 >= 1), the member does not (0.5 < 1).
    {"partial_member_short", 0, 3 * cr, 0, 2'500'000, 3 * cr, true, 1 * cr, "member_limit", 0},
};

BOOST_AUTO_TEST_CASE(admission_against_available_and_member_available) {
  for (const AdmissionCase& c : admission_cases) {
    BOOST_TEST_CONTEXT(c.name) {
      Fx fx;
      fx.purchase(10 * cr);
      if (c.member_limit > 0) fx.limit("u1", c.member_limit);
      if (c.member_spent > 0) BOOST_REQUIRE(reason_of(fx.capture("", c.member_spent, false, "u1")) == "applied");
      const int64_t balance = fx.balance();
      if (c.held_before > 0) BOOST_REQUIRE(reason_of(fx.place("earlier", c.held_before)) == "applied");
      if (c.member_held > 0) BOOST_REQUIRE(reason_of(fx.place("member_earlier", c.member_held, "u1")) == "applied");
      const int64_t held = fx.held();
      const FoldResult& r = fx.place("h", HoldFields{.member_id = "u1", .amount_micros = c.amount,
                                                     .allow_partial = c.partial, .min_micros = c.min});
      BOOST_TEST(reason_of(r) == c.expected);
      BOOST_TEST(r.hold_granted_micros.value() == c.granted);
      BOOST_TEST(fx.balance() == balance);  // a hold never moves the balance
      BOOST_TEST(fx.held() == held + c.granted);
      BOOST_TEST(r.available_micros.value() == balance - held - c.granted);
    }
  }
}

BOOST_AUTO_TEST_CASE(an_exhausted_org_is_refused_and_a_rejected_place_is_a_duplicate_on_retry) {
  Fx fx;
  BOOST_TEST(reason_of(fx.place("h", 1)) == "insufficient_available");  // a new org: balance 0
  fx.purchase(1 * cr);
  // The same key again is the same event: a duplicate of the rejection, not a second try.
  BOOST_TEST(outcome_name(fx.place("h", 1).outcome) == std::string("duplicate"));
  BOOST_TEST(reason_of(fx.place("h2", 1)) == "applied");
}

BOOST_AUTO_TEST_CASE(estimates_are_priced_by_the_current_rate_card) {
  Fx fx;
  fx.purchase(10 * cr);
  const HoldEstimateFields llm{.model = "m1", .input_tokens = 1'000'000, .max_output_tokens = 100'000};
  // No rate card yet: unpriced.
  BOOST_TEST(reason_of(fx.place("h0", HoldFields{.estimate = llm})) == "unpriced");
  fx.card();
  // provider = 1,000,000 × 75,000 / 1e6 + 100,000 × 300,000 / 1e6 = 75,000 + 30,000 = 105,000;
  // × 1.5 = 157,500 µcr.
  BOOST_TEST(reason_of(fx.place("h1", HoldFields{.estimate = llm})) == "applied");
  BOOST_TEST(fx.r.hold_granted_micros.value() == 157'500);
  // 60 s of "small" at 360,000 µcr/h: 6,000; × 1.5 = 9,000 µcr.
  const HoldEstimateFields sandbox{.meter = fb::Meter::sandbox_seconds, .sandbox_class = "small", .seconds = 60};
  BOOST_TEST(reason_of(fx.place("h2", HoldFields{.estimate = sandbox})) == "applied");
  BOOST_TEST(fx.r.hold_granted_micros.value() == 9'000);
  BOOST_TEST(fx.held() == 166'500);
  const HoldEstimateFields unknown{.model = "m9", .input_tokens = 1};
  BOOST_TEST(reason_of(fx.place("h3", HoldFields{.estimate = unknown})) == "unpriced");
}

BOOST_AUTO_TEST_CASE(bad_holds_are_invalid_naming_the_field) {
  Fx fx;
  fx.purchase(10 * cr);
  fx.place("h1", HoldFields{});
  BOOST_TEST(reason_of(fx.r) == "invalid_field");
  BOOST_TEST(fx.r.detail.find("amount_micros") != std::string::npos);
  fx.place("h2", HoldFields{.amount_micros = 1, .estimate = HoldEstimateFields{.model = "m1"}});
  BOOST_TEST(fx.r.detail.find("estimate") != std::string::npos);
  fx.place("h3", HoldFields{.amount_micros = 1, .ttl_ms = 999});
  BOOST_TEST(fx.r.detail.find("ttl_ms") != std::string::npos);
  fx.place("h4", HoldFields{.amount_micros = 1, .ttl_ms = 86'400'001});
  BOOST_TEST(fx.r.detail.find("ttl_ms") != std::string::npos);
  fx.place("h5", HoldFields{.amount_micros = 1, .estimate = std::nullopt, .min_micros = -1});
  BOOST_TEST(fx.r.detail.find("min_micros") != std::string::npos);
  BOOST_TEST(fx.held() == 0);
}

BOOST_AUTO_TEST_CASE(extend_adds_all_or_nothing_and_moves_the_expiry) {
  Fx fx;
  fx.purchase(10 * cr);
  fx.place("h", HoldFields{.amount_micros = 2 * cr, .ttl_ms = 10'000});
  BOOST_TEST(fx.r.hold_expires_at_ms == jan15 + 10'000);
  BOOST_TEST(fx.r.detail == "granted_micros 2000000 expires_at_ms " + std::to_string(jan15 + 10'000));
  fx.now = jan15 + 5'000;
  // +1 cr, ttl 30 s from now: expires max(jan15 + 10 s, jan15 + 35 s) = jan15 + 35 s; held 3 cr.
  BOOST_TEST(reason_of(fx.extend("h", 1 * cr, 30'000)) == "applied");
  BOOST_TEST(fx.r.hold_granted_micros.value() == 1 * cr);
  BOOST_TEST(fx.r.hold_expires_at_ms == jan15 + 35'000);
  BOOST_TEST(fx.held() == 3 * cr);
  // A shorter ttl never brings the expiry forward: max(jan15 + 35 s, jan15 + 6 s).
  BOOST_TEST(reason_of(fx.extend("h", 0, 1'000)) == "applied");
  BOOST_TEST(fx.r.hold_expires_at_ms == jan15 + 35'000);
  // available 10 - 3 = 7 cr: +8 cr is refused whole, and changes nothing, not even the expiry.
  BOOST_TEST(reason_of(fx.extend("h", 8 * cr, 80'000)) == "insufficient_available");
  BOOST_TEST(fx.held() == 3 * cr);
  BOOST_TEST(fx.org().holds.at("h").expires_at_ms == jan15 + 35'000);
  BOOST_TEST(reason_of(fx.extend("nope", 1)) == "unknown_hold");
  BOOST_TEST(reason_of(fx.release("h")) == "applied");
  BOOST_TEST(fx.held() == 0);
  BOOST_TEST(reason_of(fx.extend("h", 1)) == "hold_not_active");
  BOOST_TEST(reason_of(fx.release("h")) == "hold_not_active");
  BOOST_TEST(fx.available() == 10 * cr);
}

BOOST_AUTO_TEST_CASE(the_partition_clock_expires_holds) {
  Fx fx;
  fx.purchase(10 * cr);
  fx.place("h", HoldFields{.amount_micros = 4 * cr, .ttl_ms = 60'000});
  fx.place("other", HoldFields{.amount_micros = 1 * cr, .ttl_ms = 120'000});
  fx.now = jan15 + 59'999;
  fx.tick();
  BOOST_TEST(fx.held() == 5 * cr);
  BOOST_TEST(fx.r.expired_holds.empty());
  fx.now = jan15 + 60'000;  // the clock reaches expires_at: the 4 cr are released
  fx.tick();
  BOOST_TEST(fx.held() == 1 * cr);
  BOOST_REQUIRE(fx.r.expired_holds.size() == 1u);
  BOOST_TEST(fx.r.expired_holds[0].org_id == "acme");
  BOOST_TEST(fx.r.expired_holds[0].hold_id == "h");
  BOOST_TEST(fx.r.expired_holds[0].released_micros.value() == 4 * cr);
  BOOST_TEST(reason_of(fx.extend("h", 0)) == "hold_not_active");
  // An event whose own time passes an expiry sees that hold gone: 10 - 0 held = 10 cr fit at
  // jan15 + 120 s, when "other" expires.
  fx.now = jan15 + 120'000;
  BOOST_TEST(reason_of(fx.place("big", 10 * cr)) == "applied");
  BOOST_TEST(fx.held() == 10 * cr);
  BOOST_TEST(fx.org().holds.count("other") == 0u);
}

BOOST_AUTO_TEST_CASE(captures_debit_in_full_and_draw_down_the_hold) {
  Fx fx;
  fx.purchase(10 * cr);
  fx.place("h", 5 * cr);
  // Below the hold: balance 10 - 2 = 8, remaining 5 - 2 = 3, available 8 - 3 = 5 cr.
  BOOST_TEST(reason_of(fx.capture("h", 2 * cr)) == "applied");
  BOOST_TEST(!fx.r.hold_late);
  BOOST_TEST(fx.balance() == 8 * cr);
  BOOST_TEST(fx.remaining("h") == 3 * cr);
  BOOST_TEST(fx.available() == 5 * cr);
  // Above what remains: debited in full (usage is a fact): balance 8 - 4 = 4; the hold gives up
  // min(4, 3) = 3, reaches 0 and closes; held 0.
  BOOST_TEST(reason_of(fx.capture("h", 4 * cr)) == "applied");
  BOOST_TEST(fx.balance() == 4 * cr);
  BOOST_TEST(fx.remaining("h") == -1);
  BOOST_TEST(fx.held() == 0);
  // Closed: the next capture naming it is late, applied as plain usage: 4 - 1 = 3 cr.
  BOOST_TEST(reason_of(fx.capture("h", 1 * cr)) == "applied");
  BOOST_TEST(fx.r.hold_late);
  BOOST_TEST(fx.balance() == 3 * cr);
}

BOOST_AUTO_TEST_CASE(a_final_capture_closes_the_hold_and_frees_the_rest) {
  Fx fx;
  fx.purchase(10 * cr);
  fx.place("h", 5 * cr);
  fx.place("k", 1 * cr);
  // 1 cr of the 5 used, final: balance 9, the 4 left are freed; held = the other hold's 1 cr.
  BOOST_TEST(reason_of(fx.capture("h", 1 * cr, true)) == "applied");
  BOOST_TEST(fx.balance() == 9 * cr);
  BOOST_TEST(fx.held() == 1 * cr);
  BOOST_TEST(fx.available() == 8 * cr);
  BOOST_TEST(reason_of(fx.release("h")) == "hold_not_active");
}

BOOST_AUTO_TEST_CASE(late_captures_are_applied_and_flagged) {
  Fx fx;
  fx.purchase(10 * cr);
  BOOST_TEST(reason_of(fx.capture("never", 1 * cr)) == "applied");
  BOOST_TEST(fx.r.hold_late);
  BOOST_TEST(fx.r.detail == "hold_late");  // the history entry says so
  fx.place("h", HoldFields{.amount_micros = 2 * cr, .ttl_ms = 1'000});
  fx.now = jan15 + 1'000;  // its own time reaches the expiry: late
  BOOST_TEST(reason_of(fx.capture("h", 1 * cr)) == "applied");
  BOOST_TEST(fx.r.hold_late);
  BOOST_TEST(fx.balance() == 8 * cr);
  BOOST_TEST(fx.held() == 0);
  // A usage naming no hold is not late.
  BOOST_TEST(reason_of(fx.capture("", 1)) == "applied");
  BOOST_TEST(!fx.r.hold_late);
}

BOOST_AUTO_TEST_CASE(member_holds_count_against_the_limit_and_captures_against_usage) {
  Fx fx;
  fx.now = feb1 - 10'000;  // the last seconds of January
  fx.purchase(10 * cr);
  fx.limit("u1", 3 * cr);
  BOOST_TEST(reason_of(fx.place("a", 2 * cr, "u1")) == "applied");
  // member_available = 3 - 0 - 2 = 1 cr.
  BOOST_TEST(reason_of(fx.place("b", 2 * cr, "u1")) == "member_limit");
  BOOST_TEST(reason_of(fx.place("c", 2 * cr, "u2")) == "applied");  // another member runs
  // Capture 2 cr by u1: used 2, the hold closes (remaining 0): member_available = 3 - 2 - 0 = 1.
  BOOST_TEST(reason_of(fx.capture("a", 2 * cr, false, "u1")) == "applied");
  BOOST_TEST(reason_of(fx.place("d", 1 * cr, "u1")) == "applied");
  BOOST_TEST(reason_of(fx.place("e", 1, "u1")) == "member_limit");
  // A new month: used counts from 0, but held amounts count whatever the month: 3 - 0 - 1 = 2 cr.
  fx.now = feb1 + 1'000;  // "d" (60 s) is still active
  BOOST_TEST(reason_of(fx.place("f", 3 * cr, "u1")) == "member_limit");
  BOOST_TEST(reason_of(fx.place("g", 2 * cr, "u1")) == "applied");
}

BOOST_AUTO_TEST_CASE(non_wallet_orgs_hold_nothing) {
  for (const auto& [plan, mode] : {std::pair{Plan::pro, BillingMode::byok}, std::pair{Plan::enterprise, BillingMode::credits},
                                   std::pair{Plan::pro, BillingMode::deferred}}) {
    Fx fx;
    fx.fold(make_org_opened(EventHeader{fx.key(), "acme", fx.now}, plan, mode));
    // Balance 0, yet applied: recorded with 0 granted, nothing held.
    BOOST_TEST(reason_of(fx.place("h", 5 * cr)) == "applied");
    BOOST_TEST(fx.r.hold_granted_micros.value() == 0);
    BOOST_TEST(fx.held() == 0);
    BOOST_TEST(reason_of(fx.extend("h", 1 * cr)) == "applied");
    BOOST_TEST(fx.held() == 0);
    BOOST_TEST(reason_of(fx.capture("h", 1 * cr)) == "applied");
    BOOST_TEST(!fx.r.hold_late);
  }
}

BOOST_AUTO_TEST_CASE(holds_survive_the_state_encoding_and_a_replay_gives_the_same_bytes) {
  Fx fx;
  fx.purchase(10 * cr);
  fx.limit("u1", 5 * cr);
  fx.place("a", 2 * cr, "u1");
  fx.place("b", HoldFields{.workspace = "w", .amount_micros = 3 * cr, .ttl_ms = 5'000});
  fx.capture("a", 1 * cr, false, "u1");
  fx.now += 1'000;
  fx.extend("a", 1 * cr, 90'000);
  OrgState decoded;
  BOOST_REQUIRE(decode(encode(fx.org()), decoded));
  BOOST_TEST((decoded == fx.org()));
  BOOST_TEST(decoded.holds.size() == 2u);
  PartitionState partition;
  BOOST_REQUIRE(decode(encode(fx.ledger.partition(PartitionId{0})), partition));
  BOOST_TEST((partition == fx.ledger.partition(PartitionId{0})));
  BOOST_TEST(partition.hold_expiries.size() == 2u);

  Fx replay;
  for (const std::string& record : fx.log) replay.fold(record);
  BOOST_TEST(encode(replay.org()) == encode(fx.org()));
  BOOST_TEST(encode(replay.ledger.partition(PartitionId{0})) == encode(fx.ledger.partition(PartitionId{0})));
}

BOOST_AUTO_TEST_CASE(an_org_without_holds_keeps_its_state_bytes) {
  // The holds section is written only while an org holds: the bytes of every other org (and so
  // the view digests of a log without holds) do not move.
  Fx fx;
  fx.purchase(10 * cr);
  const std::string before = encode(fx.org());
  fx.place("h", 1 * cr);
  BOOST_TEST(encode(fx.org()) != before);
  fx.release("h");
  BOOST_TEST(encode(fx.org()).size() == before.size());
}

// Seed 004's sandbox story: three sandboxes of one org metered per 10 s through holds that a
// keepalive extends. A member limit stops bob's sandbox only; at zero available the next extend is
// refused and that sandbox stops; the balance never goes negative; a top-up lets one resume.
BOOST_AUTO_TEST_CASE(seed_004_sandboxes_run_on_holds_and_stop_short_of_zero) {
  Fx fx;
  RateCardFields c;
  c.version = 1;
  c.markup_bp = 10000;
  c.sandbox_classes = {{"standard", 360'000}};  // 100 µcr a second
  fx.fold(make_rate_card(EventHeader{fx.key(), {}, fx.now}, c));
  fx.purchase(100'000);              // 1,000 sandbox seconds in all
  fx.limit("bob", 20'000);           // 200 of them for bob
  const HoldEstimateFields slice{.meter = fb::Meter::sandbox_seconds, .sandbox_class = "standard", .seconds = 10};
  const std::array<std::string, 3> members = {"alice", "bob", "carol"};
  std::map<std::string, std::string> stopped;  // member -> why
  std::map<std::string, int> slices;
  int64_t captured = 0;
  for (const std::string& m : members) {
    BOOST_REQUIRE(reason_of(fx.place("sb-" + m, HoldFields{.member_id = m, .estimate = slice, .ttl_ms = 30'000})) ==
                  "applied");
    BOOST_TEST(fx.r.hold_granted_micros.value() == 1'000);  // 10 s × 100 µcr
  }
  // Each 10 s: the keepalive reserves the next slice (all or nothing), then the slice just run
  // is captured. A refused keepalive stops the sandbox: its last slice is captured, final.
  while (stopped.size() < members.size()) {
    fx.now += 10'000;
    for (const std::string& m : members) {
      if (stopped.count(m)) continue;
      const FoldResult& kept = fx.fold(make_hold_extended(EventHeader{fx.key(), "acme", fx.now}, "sb-" + m, 0, 30'000, slice));
      const bool last = kept.outcome != Outcome::applied;
      if (last) stopped[m] = reject_reason_name(kept.reason);
      const std::string hold_id = "sb-" + m;  // UsageFields holds views
      UsageFields u{.member_id = m, .meter = fb::Meter::sandbox_seconds, .sandbox_class = "standard", .seconds = 10,
                    .hold_id = hold_id, .hold_final = last};
      BOOST_REQUIRE(fx.fold(make_usage(EventHeader{fx.key(), "acme", fx.now}, u)).outcome == Outcome::applied);
      BOOST_REQUIRE(!fx.r.hold_late);
      captured += 1'000;
      ++slices[m];
      BOOST_REQUIRE(fx.balance() >= 0);
      BOOST_REQUIRE(fx.balance() >= fx.held());
    }
  }
  // bob: before slice k's keepalive he has used 1,000 (k - 1) and holds 1,000, so it needs
  // 20,000 - 1,000 k >= 1,000: refused at k = 20, whose slice is his last: 20 slices, 200 s.
  BOOST_TEST(stopped["bob"] == "member_limit");
  BOOST_TEST(slices["bob"] == 20);
  BOOST_TEST(stopped["alice"] == "insufficient_available");
  BOOST_TEST(stopped["carol"] == "insufficient_available");
  BOOST_TEST(slices["alice"] > slices["bob"]);  // bob's limit stopped bob only
  // 100,000 µcr = 100 slices in all; every one was reserved before it ran, so none went past them.
  BOOST_TEST(captured == 100'000);
  BOOST_TEST(fx.balance() == 0);
  BOOST_TEST(fx.held() == 0);
  // A top-up: alice's sandbox resumes.
  fx.purchase(50'000);
  BOOST_TEST(reason_of(fx.place("sb-alice-2", HoldFields{.member_id = "alice", .estimate = slice, .ttl_ms = 30'000})) ==
             "applied");
}

// Seed 002's story with holds: buy 100 credits, calls draw down behind holds, the auto-recharge
// requested below 20 lands, the next one is declined, and the org ends paused at zero: the hold
// that does not fit is refused, so there is no deficit.
BOOST_AUTO_TEST_CASE(seed_002_calls_behind_holds_end_paused_at_zero_without_deficit) {
  Fx fx;
  fx.purchase(100 * cr);
  fx.fold(make_auto_refill_configured(EventHeader{fx.key(), "acme", fx.now},
                                      AutoRefillPolicy{true, Micros{20 * cr}, Micros{100 * cr}, 3, 20, "cus_1"}));
  int requests = 0, calls = 0;
  bool exhausted = false;
  for (int i = 0; i < 1'000; ++i) {
    fx.now += 1'000;
    const std::string hold_id = "call-" + std::to_string(i);
    if (reason_of(fx.place(hold_id, 4 * cr)) != "applied") {
      BOOST_TEST(reason_of(fx.r) == "insufficient_available");
      break;
    }
    fx.capture(hold_id, 4 * cr, true);  // each call costs exactly its hold
    ++calls;
    BOOST_REQUIRE(fx.balance() >= 0);
    for (const Signal& signal : std::vector<Signal>(fx.r.signals)) {
      if (signal.kind == SignalKind::balance_exhausted) exhausted = true;
      if (signal.kind != SignalKind::recharge_requested) continue;
      // The first refill lands (+100 credits); the second is declined.
      if (++requests == 1) {
        fx.fold(make_auto_refill(EventHeader{fx.key(), "acme", fx.now}, PaymentFields{100 * cr, 10'000, "usd", 0, 1, "ch_r"},
                                 signal.id()));
      } else {
        fx.fold(make_payment_failed(EventHeader{fx.key(), "acme", fx.now}, signal.id(), "card_declined", "declined"));
      }
    }
  }
  // 100 + 100 credits at 4 a call: 50 calls, then the 51st hold is refused at exactly zero.
  BOOST_TEST(requests == 2);
  BOOST_TEST(calls == 50);
  BOOST_TEST(fx.balance() == 0);
  BOOST_TEST(exhausted);  // balance_exhausted: the platform pauses the org
  BOOST_TEST(fx.org().is_exhausted);
  BOOST_TEST(!fx.org().auto_refill.enabled);
}

// The SPEC §11 invariant, on random streams: when every debit goes through a hold and no capture
// exceeds what its hold has left, no balance ever goes below zero, and at the end each balance is
// exactly purchases - Σ captured. Seeded: TALLY_SEED=<seed> replays a failure.
BOOST_AUTO_TEST_CASE(debits_through_holds_never_go_below_zero) {
  const char* env = std::getenv("TALLY_SEED");
  const uint64_t seed = env && *env ? std::strtoull(env, nullptr, 10) : 20261207;
  std::cout << "fold_holds_test: seed " << seed << " (replay with TALLY_SEED=" << seed << ")" << std::endl;
  std::mt19937_64 rng(seed);
  const auto uniform = [&](int64_t low, int64_t high) { return std::uniform_int_distribution<int64_t>(low, high)(rng); };
  const std::array<std::string, 3> orgs = {"acme", "beta", "gamma"};
  std::map<std::string, int64_t> purchased, captured;
  Fx fx;
  for (const std::string& org : orgs) fx.fold(make_member_limit_set(EventHeader{fx.key(), org, fx.now}, "u1", 4 * cr));
  int granted = 0, captures = 0, refused = 0;
  for (int i = 0; i < 5'000; ++i) {
    fx.now += uniform(0, 10'000);
    const std::string& org = orgs[static_cast<std::size_t>(uniform(0, 2))];
    const OrgState* state = fx.ledger.find_org(OrgIdView::make(org).value());
    const int64_t roll = uniform(0, 99);
    if (roll < 5 || state == nullptr) {
      const int64_t credits = uniform(1, 5 * cr);
      if (fx.purchase(credits, org).outcome == Outcome::applied) purchased[org] += credits;
    } else if (roll < 45 || state->holds.empty()) {
      const HoldFields h{.member_id = uniform(0, 1) ? "u1" : "", .amount_micros = uniform(1, 2 * cr),
                         .ttl_ms = uniform(1'000, 60'000), .allow_partial = uniform(0, 1) == 1};
      const FoldResult& r = fx.place(fx.key(), h, org);
      granted += r.hold_granted_micros > Micros{} ? 1 : 0;
      refused += r.outcome == Outcome::rejected ? 1 : 0;
    } else {
      auto it = state->holds.begin();
      std::advance(it, uniform(0, static_cast<int64_t>(state->holds.size()) - 1));
      const std::string hold_id = it->first;
      const int64_t remaining = it->second.remaining_micros.value();
      if (roll < 85) {  // the call cost at most what the hold has left
        const int64_t cost = uniform(0, remaining);
        const FoldResult& r = fx.capture(hold_id, cost, uniform(0, 2) == 0, it->second.member_id, org);
        // Applied either way (a hold its own time expires is captured late, as plain usage).
        BOOST_REQUIRE(r.outcome == Outcome::applied);
        captured[org] += r.debited_micros.value();
        captures += r.hold_late ? 0 : 1;
      } else if (roll < 93) {
        fx.fold(make_hold_extended(EventHeader{fx.key(), org, fx.now}, hold_id, uniform(0, cr), 30'000));
      } else {
        fx.fold(make_hold_released(EventHeader{fx.key(), org, fx.now}, hold_id));
      }
    }
    for (const std::string& o : orgs) {
      const OrgState* s = fx.ledger.find_org(OrgIdView::make(o).value());
      if (s == nullptr) continue;
      BOOST_REQUIRE_MESSAGE(s->balance_micros >= Micros{}, "seed " << seed << " event " << i << " org " << o);
      BOOST_REQUIRE_MESSAGE(s->balance_micros >= s->held_micros, "seed " << seed << " event " << i << " org " << o);
    }
  }
  for (const std::string& org : orgs) {
    BOOST_TEST(fx.ledger.find_org(OrgIdView::make(org).value())->balance_micros.value() ==
               purchased[org] - captured[org]);
  }
  BOOST_TEST(granted > 500);
  BOOST_TEST(captures > 500);
  BOOST_TEST(refused > 10);
}

}  // namespace
}  // namespace tally
