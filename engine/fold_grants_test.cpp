// Credit grants in the fold, rule by rule (SPEC §12): the draw-down order and its ties broken each
// way, fundings on every debit, overdraft repaid by the next grant, expiry at the partition clock
// (inclusive, before the event's own effect, by another org's event, never by a rejected one),
// refunds from their own purchase first, voids, negative adjustments, hold captures, the grant
// signals (once each, in their place), validation of the terms, and payload digests that ignore a
// term given at its default. Expected µcr are worked by hand in the comments.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/event_factory.h"
#include "engine/fold.h"
#include "engine/memory_ledger.h"
#include "engine/state_codec.h"
#include "tally/events_generated.h"

namespace tally {
namespace {

constexpr int64_t cr = 1'000'000;         // µcr per credit
constexpr int64_t day = 86'400'000;       // ms
constexpr int64_t t0 = 1768435200000;     // 2026-01-15T00:00:00Z

// One partition, events appended in order at the fixture's clock `now`.
class Book {
 public:
  MemoryLedger ledger;
  FoldResult r;
  std::vector<std::string> log;
  int64_t now = t0;

  const FoldResult& fold(const std::string& record) {
    log.push_back(record);
    apply(ledger, RecordContext{LogPosition{PartitionId{0}, Offset{next_offset_++}}, now, 1}, record, r);
    return r;
  }
  EventHeader at(std::string_view key, std::string_view org = "acme") { return EventHeader{key, org, now}; }
  std::string next_key() { return "e" + std::to_string(++keys_); }

  const FoldResult& grant(std::string_view id, int64_t credits, GrantTermsFields terms = {},
                          std::string_view org = "acme") {
    return fold(make_credit_granted(at(id, org), credits, terms, "promo", "op-1"));
  }
  const FoldResult& buy(std::string_view id, int64_t credits, GrantTermsFields terms = {}) {
    return fold(make_purchase(at(id), PaymentFields{credits, 1'000, "usd", 30, 1, "ch_1", terms}));
  }
  const FoldResult& spend(int64_t cost, std::string_view org = "acme", std::string_view hold_id = {}) {
    UsageFields u;
    u.reported_cost_micros = cost;  // before any rate card: billed at 1×
    u.hold_id = hold_id;
    const std::string key = next_key();
    return fold(make_usage(at(key, org), u));
  }
  const FoldResult& refund(std::string_view purchase, int64_t credits, bool force = false) {
    const std::string key = next_key();
    return fold(make_refund(at(key), purchase, credits, force, "refund"));
  }
  const FoldResult& adjust(int64_t credits, GrantTermsFields terms = {}, std::string_view key = {}) {
    const std::string own = key.empty() ? next_key() : std::string(key);
    return fold(make_admin_adjustment(at(own), credits, "fix", "op-1", true, terms));
  }
  const FoldResult& void_grant(std::string_view grant_id, int64_t credits) {
    const std::string key = next_key();
    return fold(make_grant_voided(at(key), grant_id, credits, "mistake"));
  }
  const FoldResult& tick(std::string_view org = {}) {
    const std::string key = next_key();
    return fold(make_tick(at(key, org)));
  }

  OrgState& org(std::string_view id = "acme") {
    OrgState* o = ledger.find_org(OrgIdView::make(id).value());
    BOOST_REQUIRE(o != nullptr);
    return *o;
  }
  int64_t balance(std::string_view id = "acme") { return org(id).balance_micros.value(); }
  // The grant's remaining credit: active, closed (0), or -1 if no such grant.
  int64_t remaining(std::string_view grant_id, std::string_view org_id = "acme") {
    for (const Grant& g : org(org_id).grants) {
      if (g.id == grant_id) return g.remaining_micros.value();
    }
    return closed(grant_id, org_id) ? 0 : -1;
  }
  const Grant* closed(std::string_view grant_id, std::string_view org_id = "acme") {
    return ledger.find_closed_grant(OrgIdView::make(org_id).value(), grant_id);
  }
  // Where the last debit's credit came from: "a:2000000,overdraft:1".
  std::string fundings() const {
    std::string out;
    for (const FoldResult::Funding& f : r.fundings()) {
      if (!out.empty()) out += ",";
      out += (f.grant_id.empty() ? std::string("overdraft") : f.grant_id) + ":" + std::to_string(f.micros.value());
    }
    return out;
  }
  // The last event's signals: "grant_expired:acme:g1" (kind, org, grant).
  std::string signals() const {
    std::string out;
    for (const Signal& s : r.signals) {
      if (!out.empty()) out += " ";
      out += std::string(signal_kind_name(s.kind)) + ":" + std::string(s.org_id.str());
      if (s.is_grant_signal()) out += ":" + s.grant_id;
    }
    return out;
  }
  // The last event's grant expiries: "acme:g1:3000000" (org, grant, µcr expired).
  std::string expired() const {
    std::string out;
    for (const FoldResult::ExpiredGrant& e : r.expired_grants) {
      if (!out.empty()) out += " ";
      out += e.org_id + ":" + e.grant_id + ":" + std::to_string(e.expired_micros.value());
    }
    return out;
  }

 private:
  int64_t next_offset_ = 0;
  int keys_ = 0;
};

std::string outcome_of(const FoldResult& r) {
  return r.outcome == Outcome::applied ? "applied" : reject_reason_name(r.reason);
}

// ---- Draw-down order: two grants, a (made first) and b, each rule breaking the tie each way.

struct OrderCase {
  const char* name;
  GrantTermsFields a;
  GrantTermsFields b;
  const char* fundings;  // of a 4 cr spend against a = 3 cr, b = 2 cr
};

constexpr auto paid = fb::GrantCategory::paid;
constexpr auto promo = fb::GrantCategory::promotional;

const OrderCase order_cases[] = {
    // Priority ascending, whatever else.
    {"lower priority first (b)", {60, 0, promo}, {40, t0 + 30 * day, paid}, "b:2000000,a:2000000"},
    {"lower priority first (a)", {40, t0 + 60 * day, paid}, {60, t0 + 30 * day, promo}, "a:3000000,b:1000000"},
    // Same priority: expiry ascending, never last.
    {"earlier expiry first (b)", {50, t0 + 60 * day, promo}, {50, t0 + 30 * day, paid}, "b:2000000,a:2000000"},
    {"earlier expiry first (a)", {50, t0 + 30 * day, paid}, {50, t0 + 60 * day, promo}, "a:3000000,b:1000000"},
    {"an expiry before never (b)", {50, 0, promo}, {50, t0 + 90 * day, paid}, "b:2000000,a:2000000"},
    {"an expiry before never (a)", {50, t0 + 90 * day, paid}, {50, 0, promo}, "a:3000000,b:1000000"},
    // Same priority and expiry: promotional before paid.
    {"promotional before paid (b)", {50, 0, paid}, {50, 0, promo}, "b:2000000,a:2000000"},
    {"promotional before paid (a)", {50, t0 + 9 * day, promo}, {50, t0 + 9 * day, paid}, "a:3000000,b:1000000"},
    // All the same: log position.
    {"log position", {50, 0, paid}, {50, 0, paid}, "a:3000000,b:1000000"},
    {"log position, with an expiry", {10, t0 + 9 * day, promo}, {10, t0 + 9 * day, promo}, "a:3000000,b:1000000"},
};

BOOST_AUTO_TEST_CASE(draw_down_order_breaks_every_tie_each_way) {
  for (const OrderCase& c : order_cases) {
    BOOST_TEST_CONTEXT(c.name) {
      Book book;
      BOOST_TEST(outcome_of(book.grant("a", 3 * cr, c.a)) == "applied");
      BOOST_TEST(outcome_of(book.grant("b", 2 * cr, c.b)) == "applied");
      BOOST_TEST(outcome_of(book.spend(4 * cr)) == "applied");
      BOOST_TEST(book.fundings() == c.fundings);
      BOOST_TEST(book.balance() == 1 * cr);  // 3 + 2 - 4
    }
  }
}

// A debit spans grants in order, and what none covers is overdraft; the next grant repays it first.
BOOST_AUTO_TEST_CASE(overdraft_is_repaid_first_by_the_next_grant) {
  Book book;
  book.grant("g", 3 * cr);
  book.spend(5 * cr);
  BOOST_TEST(book.fundings() == "g:3000000,overdraft:2000000");  // Σ = 5 cr, the debit
  BOOST_TEST(book.balance() == -2 * cr);
  BOOST_TEST(book.org().overdraft_micros == Micros{2 * cr});
  BOOST_TEST(book.remaining("g") == 0);  // closed, with nothing left
  BOOST_TEST(book.closed("g")->consumed_micros == Micros{3 * cr});
  // 1 cr repays half the overdraft and leaves nothing: closed at once.
  book.buy("p1", 1 * cr);
  BOOST_TEST(book.fundings() == "p1:1000000");
  BOOST_TEST(book.org().overdraft_micros == Micros{1 * cr});
  BOOST_TEST(book.remaining("p1") == 0);
  BOOST_TEST(book.balance() == -1 * cr);
  // 10 cr: 1 repays the rest, 9 remain.
  book.buy("p2", 10 * cr);
  BOOST_TEST(book.fundings() == "p2:1000000");
  BOOST_TEST(book.org().overdraft_micros == Micros{});
  BOOST_TEST(book.remaining("p2") == 9 * cr);
  BOOST_TEST(book.org().grants.front().consumed_micros == Micros{1 * cr});
  BOOST_TEST(book.balance() == 9 * cr);
}

// ---- Expiry at the partition clock: inclusive, before the event's own effect.

struct ExpiryCase {
  const char* name;
  int64_t event_at;        // ms after t0 of a 1 cr spend; the promo grant expires at t0 + 10 d
  const char* fundings;    // of that spend
  int64_t promo_left;      // then
  int64_t balance;
};

const ExpiryCase expiry_cases[] = {
    // promo 4 cr (expires, drawn first), paid 6 cr.
    {"a millisecond before", 10 * day - 1, "promo:1000000", 3 * cr, 9 * cr},
    // Inclusive: the clock at expires_at expires it, before the spend is drawn.
    {"exactly at expires_at", 10 * day, "paid:1000000", 0, 5 * cr},
    {"after", 10 * day + 1, "paid:1000000", 0, 5 * cr},
};

BOOST_AUTO_TEST_CASE(expiry_is_inclusive_and_comes_before_the_events_own_effect) {
  for (const ExpiryCase& c : expiry_cases) {
    BOOST_TEST_CONTEXT(c.name) {
      Book book;
      book.grant("promo", 4 * cr, {50, t0 + 10 * day, promo});
      book.buy("paid", 6 * cr);
      book.now = t0 + c.event_at;
      BOOST_TEST(outcome_of(book.spend(1 * cr)) == "applied");
      BOOST_TEST(book.fundings() == c.fundings);
      BOOST_TEST(book.remaining("promo") == c.promo_left);
      BOOST_TEST(book.balance() == c.balance);
      const bool expired = c.promo_left == 0;
      BOOST_TEST(book.expired() == (expired ? "acme:promo:4000000" : ""));
      if (expired) {
        BOOST_TEST(book.r.expired_grants.front().before_event);
        BOOST_TEST(book.r.expired_grants.front().balance_after_micros == Micros{6 * cr});  // before the spend
        BOOST_TEST(book.org().totals.expired_micros == Micros{4 * cr});
        BOOST_TEST(book.closed("promo")->expired_micros == Micros{4 * cr});
      }
    }
  }
}

// The clock, not the event's own time, decides: once another org's event has moved the clock past
// the expiry, a late event (its own time before it) finds the grant expired.
BOOST_AUTO_TEST_CASE(another_orgs_event_expires_and_a_late_event_finds_it_expired) {
  Book book;
  book.grant("promo", 4 * cr, {50, t0 + 10 * day, promo});
  book.grant("other-g", 1 * cr, {}, "other");
  book.now = t0 + 11 * day;
  BOOST_TEST(outcome_of(book.spend(1, "other")) == "applied");
  BOOST_TEST(book.expired() == "acme:promo:4000000");
  BOOST_TEST(!book.r.expired_grants.front().before_event);  // not the event's own org
  // acme had nothing else: judged afresh, it is exhausted (signal of its own, after the grant's).
  BOOST_TEST(book.signals() == "grant_expired:acme:promo balance_exhausted:acme");
  BOOST_TEST(book.balance() == 0);
  book.now = t0 + 5 * day;  // late: before the expiry, after the clock
  BOOST_TEST(outcome_of(book.spend(1 * cr)) == "applied");
  BOOST_TEST(book.fundings() == "overdraft:1000000");
  BOOST_TEST(book.expired() == "");  // expired once
}

// Only applied events move the clock: a rejected one expires nothing, and the grant is still
// there for the event after it.
BOOST_AUTO_TEST_CASE(a_rejected_event_expires_nothing) {
  Book book;
  book.grant("promo", 4 * cr, {50, t0 + 10 * day, promo});
  book.now = t0 + 10 * day;
  BOOST_TEST(outcome_of(book.void_grant("nope", 0)) == "unknown_grant");
  BOOST_TEST(book.expired() == "");
  BOOST_TEST(book.remaining("promo") == 4 * cr);
  BOOST_TEST(book.ledger.partition(PartitionId{0}).clock_ms == t0);
  // A void of the grant itself is judged after the expiry its own time causes.
  BOOST_TEST(outcome_of(book.void_grant("promo", 0)) == "nothing_to_void");
  BOOST_TEST(book.remaining("promo") == 4 * cr);  // the rejection took the expiry back too
  BOOST_TEST(outcome_of(book.tick()) == "applied");
  BOOST_TEST(book.expired() == "acme:promo:4000000");
}

// ---- Refunds: the purchase's own grant first, then the others in order; the bound unchanged.

BOOST_AUTO_TEST_CASE(a_refund_of_a_partly_spent_purchase_takes_its_own_grant_first) {
  Book book;
  book.buy("p", 10 * cr);
  book.fold(make_signup_allocation(book.at("signup"), 5 * cr));  // promotional: drawn before p
  book.spend(12 * cr);
  BOOST_TEST(book.fundings() == "signup:5000000,p:7000000");
  book.grant("g", 4 * cr, {50, 0, paid});  // made after p: drawn after it
  // 6 cr: 3 from p (all it has left), then 3 from g.
  BOOST_TEST(outcome_of(book.refund("p", 6 * cr)) == "applied");
  BOOST_TEST(book.fundings() == "p:3000000,g:3000000");
  BOOST_TEST(book.balance() == 1 * cr);  // 10 + 5 + 4 - 12 - 6
  BOOST_TEST(book.closed("p")->refunded_micros == Micros{3 * cr});
  BOOST_TEST(book.closed("p")->consumed_micros == Micros{7 * cr});
  BOOST_TEST(book.remaining("g") == 1 * cr);
  BOOST_TEST(book.org().grants.front().refunded_micros == Micros{3 * cr});
  // The bound is the purchase's: 4 cr of p are still refundable, 5 is too many.
  BOOST_TEST(outcome_of(book.refund("p", 5 * cr, true)) == "refund_exceeds_purchase");
  // 2 of the 4 with force: g's 1, then overdraft 1.
  BOOST_TEST(outcome_of(book.refund("p", 2 * cr, true)) == "applied");
  BOOST_TEST(book.fundings() == "g:1000000,overdraft:1000000");
  BOOST_TEST(book.balance() == -1 * cr);
}

// ---- Voids.

struct VoidCase {
  const char* name;
  std::string_view grant_id;
  int64_t credits;         // 0 = all that remains
  const char* outcome;
  int64_t left;            // of g (6 cr, 2 of them spent) afterwards
  int64_t voided_total;
};

const VoidCase void_cases[] = {
    {"partial", "g", 1 * cr, "applied", 3 * cr, 1 * cr},
    {"exactly what remains", "g", 4 * cr, "applied", 0, 4 * cr},
    {"all (0)", "g", 0, "applied", 0, 4 * cr},
    {"more than remains", "g", 4 * cr + 1, "void_exceeds_remaining", 4 * cr, 0},
    {"a grant with nothing left", "spent", 0, "nothing_to_void", 4 * cr, 0},
    {"no such grant", "never", 1, "unknown_grant", 4 * cr, 0},
    {"the key of a non-grant event", "e1", 1, "unknown_grant", 4 * cr, 0},
};

BOOST_AUTO_TEST_CASE(voids_take_from_one_grant_and_say_why_not) {
  for (const VoidCase& c : void_cases) {
    BOOST_TEST_CONTEXT(c.name) {
      Book book;
      book.grant("spent", 1 * cr, {10, 0, promo});
      book.grant("g", 6 * cr);
      book.spend(3 * cr);  // e1: spent 1, g 2
      BOOST_TEST(outcome_of(book.void_grant(c.grant_id, c.credits)) == c.outcome);
      BOOST_TEST(book.remaining("g") == c.left);
      BOOST_TEST(book.org().totals.voided_micros == Micros{c.voided_total});
      BOOST_TEST(book.balance() == c.left);
      if (c.voided_total > 0) BOOST_TEST(book.fundings() == "g:" + std::to_string(c.voided_total));
    }
  }
}

// ---- Adjustments: a positive one is a grant, a negative one draws down in order.

BOOST_AUTO_TEST_CASE(adjustments_grant_and_draw_down) {
  Book book;
  book.buy("p", 5 * cr);
  book.adjust(2 * cr, {10, 0, promo}, "adj+");  // priority 10: drawn first
  BOOST_TEST(book.org().grants.front().id == "adj+");
  BOOST_TEST(book.org().totals.adjusted_micros == Micros{2 * cr});
  BOOST_TEST(outcome_of(book.adjust(-3 * cr)) == "applied");
  BOOST_TEST(book.fundings() == "adj+:2000000,p:1000000");
  BOOST_TEST(book.balance() == 4 * cr);
  BOOST_TEST(book.remaining("p") == 4 * cr);
  // With force, past what the grants hold: overdraft.
  BOOST_TEST(outcome_of(book.adjust(-6 * cr)) == "applied");
  BOOST_TEST(book.fundings() == "p:4000000,overdraft:2000000");
  BOOST_TEST(book.balance() == -2 * cr);
}

// ---- Holds: a capture is usage, drawn down as any usage is; available = balance - held.

BOOST_AUTO_TEST_CASE(a_hold_capture_is_funded_by_the_grants_in_order) {
  Book book;
  book.buy("p", 5 * cr);
  book.grant("promo", 2 * cr);
  book.fold(make_hold_placed(book.at("h1"), HoldFields{.amount_micros = 4 * cr}));
  BOOST_TEST(book.r.hold_granted_micros == Micros{4 * cr});
  BOOST_TEST(book.r.available_micros == Micros{3 * cr});  // 7 - 4
  BOOST_TEST(outcome_of(book.spend(3 * cr, "acme", "h1")) == "applied");
  BOOST_TEST(book.fundings() == "promo:2000000,p:1000000");
  BOOST_TEST(book.org().held_micros == Micros{1 * cr});
  BOOST_TEST(book.r.available_micros == Micros{3 * cr});  // 4 - 1
}

// ---- Signals: grant_expiring once, 7 days ahead (at once inside the window, never at the event
// that expires the grant), grant_expired with the amount; wallet orgs only; ids end in the grant.

BOOST_AUTO_TEST_CASE(grant_signals_come_once_each) {
  Book book;
  book.grant("g", 5 * cr, {50, t0 + 10 * day, promo});
  BOOST_TEST(book.signals() == "balance_restored:acme");
  book.now = t0 + 3 * day - 1;
  book.tick();
  BOOST_TEST(book.signals() == "");
  book.now = t0 + 3 * day;  // expires_at - 7 d
  book.tick();
  BOOST_TEST(book.signals() == "grant_expiring:acme:g");
  BOOST_TEST(book.r.signals.front().grant_micros == Micros{5 * cr});
  BOOST_TEST(book.r.signals.front().expires_at_ms == t0 + 10 * day);
  BOOST_TEST(book.r.signals.front().id() == "0:2:grant_expiring:acme:g");
  BOOST_TEST(book.org().grants.front().expiring_signaled);
  book.now = t0 + 4 * day;
  book.spend(1 * cr);
  BOOST_TEST(book.signals() == "");  // once
  book.now = t0 + 10 * day;
  book.tick();
  BOOST_TEST(book.signals() == "grant_expired:acme:g balance_exhausted:acme");
  BOOST_TEST(book.r.signals.front().grant_micros == Micros{4 * cr});
  BOOST_TEST(book.r.signals.front().balance_micros == Micros{});
  book.now = t0 + 20 * day;
  book.tick();
  BOOST_TEST(book.signals() == "");
}

BOOST_AUTO_TEST_CASE(a_grant_made_inside_the_window_is_warned_at_once_and_none_at_its_expiry) {
  Book book;
  book.buy("p", 1 * cr);
  book.grant("soon", 2 * cr, {50, t0 + 2 * day, promo});
  BOOST_TEST(book.signals() == "grant_expiring:acme:soon");
  // b's warning (at t0 + 1 d) and expiry (t0 + 8 d) both pass before the next event: expired only.
  book.grant("b", 3 * cr, {50, t0 + 8 * day, promo});
  BOOST_TEST(book.signals() == "");
  book.now = t0 + 9 * day;
  book.tick();
  // In expiry order, then the levels (balance_low needs a threshold: none here).
  BOOST_TEST(book.signals() == "grant_expired:acme:soon grant_expired:acme:b");
  BOOST_TEST(book.balance() == 1 * cr);
}

BOOST_AUTO_TEST_CASE(an_org_outside_the_wallet_gets_no_grant_signals) {
  Book book;
  book.fold(make_org_opened(book.at("open"), Plan::pro, BillingMode::deferred));
  book.grant("g", 5 * cr, {50, t0 + 2 * day, promo});
  BOOST_TEST(book.signals() == "");
  book.now = t0 + 2 * day;
  book.tick();
  BOOST_TEST(book.expired() == "acme:g:5000000");  // expired all the same
  BOOST_TEST(book.signals() == "");
}

// ---- Validation of the terms, and digests that ignore a term given at its default.

BOOST_AUTO_TEST_CASE(terms_out_of_range_are_invalid_fields) {
  struct Row {
    std::string record;
    const char* detail;
  };
  Book book;
  const Row rows[] = {
      {make_credit_granted(book.at("g1"), cr, {101, 0, {}}, "r", "op"), "priority: must be 0..100"},
      {make_credit_granted(book.at("g2"), cr, {50, t0, {}}, "r", "op"),
       "expires_at_ms: must be later than occurred_at_ms (or 0: never)"},
      {make_purchase(book.at("p1"), PaymentFields{cr, 0, "usd", 0, 1, {}, {-1, 0, {}}}), "priority: must be 0..100"},
      {make_signup_allocation(book.at("s1"), cr, {50, t0 - 1, {}}),
       "expires_at_ms: must be later than occurred_at_ms (or 0: never)"},
      {make_admin_adjustment(book.at("a1"), -cr, "r", "op", true, {50, t0 + day, {}}),
       "expires_at_ms: only for a positive adjustment (the one that makes a grant)"},
      {make_grant_voided(book.at("v1"), "g", -1), "credits_micros: must be >= 0"},
      {make_grant_voided(book.at("v2"), "", 1), "grant_id: is required"},
  };
  for (const Row& row : rows) {
    book.fold(row.record);
    BOOST_TEST(outcome_of(book.r) == "invalid_field");
    BOOST_TEST(book.r.detail.find(row.detail) != std::string::npos, book.r.detail);
  }
}

BOOST_AUTO_TEST_CASE(a_term_given_at_its_default_is_the_same_event) {
  Book book;
  book.buy("p", cr);
  // The same purchase with its defaults spelt out: a duplicate; with another priority: a conflict.
  BOOST_TEST((book.buy("p", cr, {50, 0, paid}).outcome == Outcome::duplicate));
  BOOST_TEST((book.buy("p", cr, {50, 0, promo}).outcome == Outcome::conflict));
  BOOST_TEST((book.buy("p", cr, {49, 0, paid}).outcome == Outcome::conflict));
}

// ---- Replay: the same log gives the same state, byte for byte.

BOOST_AUTO_TEST_CASE(replay_gives_the_same_grants) {
  Book book;
  book.grant("a", 3 * cr, {20, t0 + 9 * day, promo});
  book.buy("p", 5 * cr);
  book.spend(4 * cr);
  book.void_grant("p", cr);
  book.now = t0 + 9 * day;
  book.spend(4 * cr);
  Book again;
  again.now = book.now;  // the log's append time: not behind any event
  for (const std::string& record : book.log) again.fold(record);
  BOOST_TEST(encode(again.org()) == encode(book.org()));
  BOOST_TEST(encode(again.ledger.partition(PartitionId{0})) == encode(book.ledger.partition(PartitionId{0})));
  BOOST_TEST((again.ledger.closed_grants() == book.ledger.closed_grants()));
}

}  // namespace
}  // namespace tally
