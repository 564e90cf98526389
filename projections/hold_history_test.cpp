// The history of an expired hold (SPEC §11): when the partition clock reaches a hold's expiry, the
// org's history (transactions, statements) gets a `hold_expired` entry naming the hold and what it
// released, after the entry of the record that moved the clock; the balance is unchanged. And of an
// expired grant (SPEC §12): a `grant_expired` entry, before the entry of its org's record whose
// time expired it.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "engine/event_factory.h"
#include "projections/projector.h"
#include "projections/testkit.h"
#include "projections/view_checks.h"
#include "projections/views.h"
#include "tests/support/temp_dir.h"

using namespace tally;
using testkit::MemoryLog;
using testkit::ok;

namespace {

constexpr int64_t cr = 1'000'000;
constexpr int64_t t0 = 1'700'000'000'000;  // in the past, as the log's append time requires

using test_support::TempDir;

std::vector<HistoryEntry> history_of(ViewReader& views, const std::string& org) {
  std::vector<HistoryEntry> out;
  ok(views.for_each_history(OrgId::make(org).value(), INT64_MIN, INT64_MAX, [&](const HistoryEntry& e) {
    out.push_back(e);
    return true;
  }));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_expired_hold_shows_in_the_history_with_what_it_released) {
  TempDir dir;
  MemoryLog log(2);
  const std::string org = "acme";
  log.append(org, make_signup_allocation(EventHeader{"signup", org, t0}, 10 * cr));
  log.append(org, make_hold_placed(EventHeader{"h-1", org, t0 + 1}, HoldFields{.amount_micros = 4 * cr, .ttl_ms = 60'000}));
  log.append(org, make_hold_placed(EventHeader{"h-2", org, t0 + 2}, HoldFields{.amount_micros = 1 * cr, .ttl_ms = 120'000}));
  // A tick reaches h-1's expiry; a usage event's own time then reaches h-2's.
  log.append("", make_tick(EventHeader{"tick-1", {}, t0 + 1 + 60'000}));
  log.append(org, make_usage(EventHeader{"u-1", org, t0 + 2 + 120'000},
                             UsageFields{.meter = fb::Meter::llm_tokens, .reported_cost_micros = 3 * cr}));
  auto views = testkit::project_views(dir.path(), log);

  const std::vector<HistoryEntry> entries = history_of(*views, org);
  std::vector<std::string> types;
  for (const HistoryEntry& e : entries) types.push_back(e.type + " " + e.idempotency_key);
  const std::vector<std::string> expected = {"signup_allocation signup", "hold_placed h-1", "hold_placed h-2",
                                             "hold_expired h-1", "usage u-1", "hold_expired h-2"};
  BOOST_TEST(types == expected, boost::test_tools::per_element());
  BOOST_REQUIRE(entries.size() == expected.size());
  for (std::size_t i = 0; i < entries.size(); ++i) BOOST_TEST(entries[i].sequence == i);

  const HistoryEntry& first = entries[3];
  BOOST_TEST((first.outcome == Outcome::applied));
  BOOST_TEST(first.detail == "released_micros 4000000");
  BOOST_TEST(first.amount_micros.value() == 0);  // the balance is unchanged; available grows
  BOOST_TEST(first.balance_after_micros.value() == 10 * cr);
  BOOST_TEST(first.occurred_at_ms == t0 + 1 + 60'000);  // the partition clock that released it
  BOOST_TEST(first.position.offset.value == 3);          // the tick's record
  const HistoryEntry& second = entries[5];
  BOOST_TEST(second.detail == "released_micros 1000000");
  BOOST_TEST(second.balance_after_micros.value() == 7 * cr);  // after the usage's 3 cr
  BOOST_TEST((second.position == entries[4].position));

  // Transactions filter on the type.
  HistoryQuery query{.org_id = OrgId::make(org).value(), .type = "hold_expired"};
  const HistoryPage page = ok(views->history(query));
  BOOST_REQUIRE(page.entries.size() == 2u);
  BOOST_TEST(page.entries[0].idempotency_key == "h-1");
  BOOST_TEST(page.entries[1].idempotency_key == "h-2");
  const OrgView acme = *ok(views->org(OrgId::make(org).value()));
  BOOST_TEST(acme.state.held_micros.value() == 0);
  BOOST_TEST(acme.state.history_entries == expected.size());
}

// SPEC §12, the same clock for grants: a grant's remainder expires before the effect of the event
// whose time reaches it, so its `grant_expired` entry (minus what expired, the balance after it)
// comes before that event's entry in its org's history, and the event's fundings skip the grant.
// Another org's event (here a tick) that moves the clock puts the entry in the grant's org.
BOOST_AUTO_TEST_CASE(an_expired_grant_shows_before_the_event_whose_time_expired_it) {
  TempDir dir;
  MemoryLog log(2);
  const std::string org = "acme";
  log.append(org, make_signup_allocation(EventHeader{"signup", org, t0}, 4 * cr,
                                         GrantTermsFields{.expires_at_ms = t0 + 60'000}));
  log.append(org, make_credit_granted(EventHeader{"later", org, t0 + 1}, 2 * cr,
                                      GrantTermsFields{.expires_at_ms = t0 + 120'000}, "promo", "ops"));
  log.append(org, make_purchase(EventHeader{"buy", org, t0 + 2}, PaymentFields{10 * cr, 1'000, "usd", 0, 1, "ch_1"}));
  // The usage's own time reaches the signup's expiry; a tick then reaches the later grant's.
  log.append(org, make_usage(EventHeader{"u-1", org, t0 + 60'000},
                             UsageFields{.meter = fb::Meter::llm_tokens, .reported_cost_micros = 1 * cr}));
  log.append("", make_tick(EventHeader{"tick-1", {}, t0 + 120'000}));
  auto views = testkit::project_views(dir.path(), log);

  const std::vector<HistoryEntry> entries = history_of(*views, org);
  std::vector<std::string> types;
  for (const HistoryEntry& e : entries) types.push_back(e.type + " " + e.idempotency_key);
  const std::vector<std::string> expected = {"signup_allocation signup", "credit_granted later", "purchase buy",
                                             "grant_expired signup",     "usage u-1",            "grant_expired later"};
  BOOST_TEST(types == expected, boost::test_tools::per_element());
  BOOST_REQUIRE(entries.size() == expected.size());
  const HistoryEntry& signup = entries[3];
  BOOST_TEST(signup.amount_micros.value() == -4 * cr);
  BOOST_TEST(signup.balance_after_micros.value() == 12 * cr);  // 16 - 4, before the usage
  BOOST_TEST(signup.detail == "expires_at_ms " + std::to_string(t0 + 60'000));
  BOOST_TEST((signup.position == entries[4].position));
  const HistoryEntry& usage = entries[4];
  BOOST_REQUIRE(usage.fundings.size() == 1u);  // the later grant: it expires first of those left
  BOOST_TEST(usage.fundings[0].grant_id == "later");
  BOOST_TEST(usage.fundings[0].micros.value() == 1 * cr);
  BOOST_TEST(usage.balance_after_micros.value() == 11 * cr);
  const HistoryEntry& later = entries[5];
  BOOST_TEST(later.amount_micros.value() == -1 * cr);  // what the usage left of it
  BOOST_TEST(later.balance_after_micros.value() == 10 * cr);
  BOOST_TEST(later.position.offset.value == 4);  // the tick's record in acme's partition
  BOOST_TEST(later.occurred_at_ms == t0 + 120'000);
  const OrgView acme = *ok(views->org(OrgId::make(org).value()));
  BOOST_TEST(acme.state.totals.expired_micros.value() == 5 * cr);
  BOOST_TEST(acme.state.balance_micros.value() == 10 * cr);
  const std::vector<Grant> closed = ok(views->closed_grants(OrgId::make(org).value()));
  BOOST_REQUIRE(closed.size() == 2u);
  BOOST_TEST(closed[0].id == "signup");
  BOOST_TEST(closed[0].expired_micros.value() == 4 * cr);
  BOOST_TEST(closed[1].id == "later");
  BOOST_TEST(closed[1].consumed_micros.value() == 1 * cr);
  BOOST_TEST(closed[1].expired_micros.value() == 1 * cr);
}
