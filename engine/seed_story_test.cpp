// Seed 002 (agent.ceo, "Coding Agents & Prepaid Credits") told through the fold:
//   prepay $100 → agents run, balance draws down live → hits $20 → auto-recharge tops up to ~$120
//   → keeps running; (no saved card / disabled → pause at $0 until you top up).
// 1 credit = 1 USD here. Every balance below is worked out by hand in the comments.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <map>
#include <ostream>
#include <deque>
#include <set>
#include <string>

#include "engine/event_factory.h"
#include "engine/fold.h"
#include "engine/memory_ledger.h"
#include "engine/partitioner.h"

namespace tally {

std::ostream& operator<<(std::ostream& out, Outcome outcome) { return out << outcome_name(outcome); }

namespace {

constexpr int64_t cr = 1'000'000;
constexpr int64_t start_ms = 1768435200000;  // 2026-01-15T00:00:00Z
constexpr int32_t partition_count = 6;

// One partition of the log and a ledger folding it, as the projector would.
struct Story {
  explicit Story(std::string org_id)
      : org(std::move(org_id)), partition(partition_for_key(org, partition_count)) {}

  const FoldResult& fold(const std::string& record) {
    position = LogPosition{PartitionId{partition}, Offset{next_offset++}};
    // The log appends each event as it happens: its append time is the story's clock.
    apply(ledger, RecordContext{position, now, partition_count}, record, result);
    for (const Signal& s : result.signals) {
      BOOST_TEST(seen_ids.insert(s.id()).second, "signal id emitted twice: " << s.id());
    }
    return result;
  }
  EventHeader header(std::string_view key) {
    now += 1000;  // a second between events
    keys.push_back(std::string(key));
    return EventHeader{keys.back(), org, now, "agent.ceo", {}};
  }
  std::string next_key(std::string_view what) { return std::string(what) + "-" + std::to_string(next_offset); }

  // One model call: 100,000 input + 20,000 output tokens of claude-sonnet at $3 / $15 per 1M:
  // provider 0.3 + 0.3 = 0.6 credits; × 1.5 markup = 0.9 credits = 900,000 µcr.
  const FoldResult& call() {
    UsageFields u;
    u.member_id = "dev-1";
    u.workspace = "ws-main";
    u.agent_id = "agent-7";
    u.model = "claude-sonnet";
    u.provider = "anthropic";
    u.input_tokens = 100'000;
    u.output_tokens = 20'000;
    return fold(make_usage(header(next_key("call")), u));
  }
  // n calls; returns "i:kinds;…" for the calls (1-based) that emitted signals.
  std::string draw(int n, int64_t debit_per_call = 900'000) {
    std::string out;
    for (int i = 1; i <= n; ++i) {
      const FoldResult& r = call();
      BOOST_REQUIRE(r.outcome == Outcome::applied);
      BOOST_REQUIRE(r.debited_micros == Micros{debit_per_call});
      if (!r.signals.empty()) out += (out.empty() ? "" : ";") + std::to_string(i) + ":" + kinds();
    }
    return out;
  }
  std::string kinds() const {
    std::string out;
    for (const Signal& s : result.signals) out += (out.empty() ? "" : ",") + std::string(signal_kind_name(s.kind));
    return out;
  }
  const Signal* find(SignalKind kind) const {
    for (const Signal& s : result.signals) {
      if (s.kind == kind) return &s;
    }
    return nullptr;
  }
  const OrgState& state() {
    const OrgState* o = ledger.find_org(OrgIdView::make(org).value());
    BOOST_REQUIRE(o != nullptr);
    return *o;
  }
  int64_t balance() { return state().balance_micros.value(); }
  const MemberState& member(std::string_view id) {
    const MemberState* m = ledger.find_member(OrgIdView::make(org).value(), MemberIdView::make(id).value());
    BOOST_REQUIRE(m != nullptr);
    return *m;
  }
  // What the recharge connector appends after a successful charge (Stripe idempotency key = signal id).
  std::string auto_refill(const std::string& signal_id) {
    return make_auto_refill(EventHeader{keys.emplace_back("refill-" + signal_id), org, now += 1000, "recharge"},
                            PaymentFields{100 * cr, 10'000, "usd", 0, 1, "ch_auto"}, signal_id);
  }

  std::string org;
  int32_t partition;
  MemoryLedger ledger;
  FoldResult result;
  LogPosition position;
  int64_t next_offset = 0;
  int64_t now = start_ms;
  std::deque<std::string> keys;  // owns the keys the headers point at (stable addresses)
  std::set<std::string> seen_ids;
};

BOOST_AUTO_TEST_CASE(prepaid_wallet_with_auto_recharge) {
  Story s("acme-agents");
  BOOST_TEST_MESSAGE("org " << s.org << " lives in partition " << s.partition);

  RateCardFields card;
  card.version = 1;
  card.markup_bp = 15000;  // "currently 1.5×"
  card.models = {{"claude-sonnet", ModelPrice{3 * cr, 15 * cr, 300'000, 3'750'000}}};
  BOOST_TEST(s.fold(make_rate_card(EventHeader{"card-1", {}, s.now}, card)).outcome == Outcome::applied);

  // Org creation: credits (the wallet). It starts at 0, paused, without a signal.
  BOOST_TEST(s.fold(make_org_opened(s.header("open"), Plan::pro, BillingMode::credits)).signals.empty());

  // Buy $100 credits (Stripe checkout): the agents may run.
  s.fold(make_purchase(s.header("cs_100"), PaymentFields{100 * cr, 10'000, "usd", 0, 1, "cs_test_1"}));
  BOOST_TEST(s.kinds() == "balance_restored");
  BOOST_TEST(s.balance() == 100 * cr);

  // Enable auto-recharge: below $20 top up by $100, at most 3 a day.
  s.fold(make_auto_refill_configured(s.header("auto"), AutoRefillPolicy{true, Micros{20 * cr}, Micros{100 * cr}, 3, 0, "cus_seed"}));
  BOOST_TEST(s.result.signals.empty());

  // Usage draws the balance down 0.9 a call. After 88 calls: 100 - 79.2 = 20.8 (not low);
  // call 89: 19.9 < 20 → low, and exactly one refill request. Calls 90–95 (down to 14.5): nothing.
  BOOST_TEST(s.draw(88) == "");
  BOOST_TEST(s.draw(1) == "1:balance_low,recharge_requested");
  const Signal first = *s.find(SignalKind::recharge_requested);
  BOOST_TEST(first.id() == s.position.to_string() + ":recharge_requested:acme-agents");
  BOOST_TEST(first.refill_credits_micros == Micros{100 * cr});
  BOOST_TEST(first.threshold_micros == Micros{20 * cr});
  BOOST_TEST(first.payment_customer == "cus_seed");
  BOOST_TEST(first.balance_micros == Micros{19'900'000});
  BOOST_TEST(s.draw(6) == "");
  BOOST_TEST(s.balance() == 14'500'000);

  // The recharge lands: 14.5 + 100 = 114.5, back above 100. A connector retry of the same charge
  // is a duplicate: one charge per signal.
  const std::string refill1 = s.auto_refill(first.id());
  BOOST_TEST(s.fold(refill1).outcome == Outcome::applied);
  BOOST_TEST(s.result.signals.empty());
  BOOST_TEST(s.balance() == 114'500'000);
  BOOST_TEST(s.balance() > 100 * cr);
  BOOST_TEST(!s.state().refill_pending);
  BOOST_TEST(s.fold(refill1).outcome == Outcome::duplicate);
  BOOST_TEST(s.balance() == 114'500'000);

  // Draw down again: 105 calls → 114.5 - 94.5 = 20.0 (not below 20); call 106 → 19.1: request #2.
  BOOST_TEST(s.draw(105) == "");
  BOOST_TEST(s.draw(1) == "1:balance_low,recharge_requested");
  const Signal second = *s.find(SignalKind::recharge_requested);
  BOOST_TEST(second.id() != first.id());

  // Before that charge lands the customer buys $12 by hand (31.1), and usage crosses $20 again
  // after 13 calls (31.1 - 11.7 = 19.4): low again, but no second request while one is pending.
  s.fold(make_purchase(s.header("cs_12"), PaymentFields{12 * cr, 1'200, "usd", 0, 1, "cs_test_2"}));
  BOOST_TEST(s.result.signals.empty());
  BOOST_TEST(s.draw(13) == "13:balance_low");
  BOOST_TEST(s.state().pending_signal_id == second.id());

  // Request #2 lands: 19.4 + 100 = 119.4.
  s.fold(s.auto_refill(second.id()));
  BOOST_TEST(s.result.signals.empty());
  BOOST_TEST(s.balance() == 119'400'000);

  // Third crossing: 111 calls → 119.4 - 99.9 = 19.5: request #3 … and the card is declined.
  BOOST_TEST(s.draw(111) == "111:balance_low,recharge_requested");
  const Signal third = *s.find(SignalKind::recharge_requested);
  s.fold(make_payment_failed(EventHeader{"failed-" + third.id(), s.org, s.now += 1000, "recharge"}, third.id(),
                             "card_declined", "Your card was declined."));
  BOOST_TEST(s.kinds() == "auto_refill_disabled");
  BOOST_TEST(s.result.signals[0].pause_reason == "payment_failed");
  BOOST_TEST(!s.state().auto_refill.enabled);
  BOOST_TEST(!s.state().refill_pending);

  // No silent retrying: the agents run down to zero and pause there.
  // 21 calls → 19.5 - 18.9 = 0.6; a last call with a reported cost of 0.4 × 1.5 = 0.6 → exactly 0.
  BOOST_TEST(s.draw(21) == "");
  BOOST_TEST(s.balance() == 600'000);
  UsageFields last;
  last.model = "claude-sonnet";
  last.reported_cost_micros = 400'000;
  s.fold(make_usage(s.header("call-last"), last));
  BOOST_TEST(s.result.debited_micros == Micros{600'000});
  BOOST_TEST(s.kinds() == "balance_exhausted");
  BOOST_TEST(s.result.signals[0].pause_reason == "balance_exhausted");
  BOOST_TEST(s.balance() == 0);
  // A call already in flight is still billed in full; nothing more is requested, even on a new day.
  BOOST_TEST(s.draw(1) == "");
  BOOST_TEST(s.balance() == -900'000);
  s.now += 86'400'000;
  BOOST_TEST(s.fold(make_tick(EventHeader{"tick-day-2", {}, s.now})).signals.empty());

  // Buying credits resumes the org (the overshoot is covered first): -0.9 + 100 = 99.1.
  s.fold(make_purchase(s.header("cs_100b"), PaymentFields{100 * cr, 10'000, "usd", 0, 1, "cs_test_3"}));
  BOOST_TEST(s.kinds() == "balance_restored");
  BOOST_TEST(s.balance() == 99'100'000);

  // Every top-up is recorded, and the ledger adds up:
  // purchased 100 + 100 + 12 + 100 + 100 = 412; used 0.9 × (95 + 106 + 13 + 111 + 21 + 1) + 0.6 = 312.9.
  const OrgTotals& t = s.state().totals;
  BOOST_TEST(t.purchased_micros == Micros{412 * cr});
  BOOST_TEST(t.used_micros == Micros{312'900'000});
  BOOST_TEST(t.tracked_cost_micros == Micros{312'900'000});
  BOOST_TEST(s.balance() == t.allocated_micros.value() + t.purchased_micros.value() - t.used_micros.value() -
                                 t.refunded_micros.value() + t.adjusted_micros.value());
  BOOST_TEST(s.state().refills_in_day == 3);  // three requests on day one, the failed one included
}

BOOST_AUTO_TEST_CASE(byok_and_deferred_orgs_do_not_use_the_wallet) {
  for (BillingMode mode : {BillingMode::byok, BillingMode::deferred}) {
    BOOST_TEST_CONTEXT(billing_mode_name(mode)) {
      Story s(std::string("org-") + billing_mode_name(mode));
      s.fold(make_rate_card(EventHeader{"card-1", {}, s.now}, RateCardFields{1, 15000, 0,
                                                                             {{"claude-sonnet", ModelPrice{3 * cr, 15 * cr, 0, 0}}},
                                                                             {}}));
      BOOST_TEST(s.fold(make_org_opened(s.header("open"), Plan::pro, mode)).signals.empty());
      BOOST_TEST(s.draw(50, 0) == "");
      BOOST_TEST(s.balance() == 0);  // "it simply stays empty"
      // Tracked for attribution: byok the provider cost (0.6 a call), deferred the billable (0.9).
      BOOST_TEST(s.state().totals.tracked_cost_micros == Micros{(mode == BillingMode::byok ? 30 * cr : 45 * cr)});

      // "Can I switch to credits later? Yes — switch the org to credits and buy a bulk."
      s.fold(make_billing_mode_changed(s.header("switch"), std::nullopt, BillingMode::credits));
      BOOST_TEST(s.kinds() == "balance_exhausted");  // an empty wallet: paused until the first bulk
      s.fold(make_purchase(s.header("cs"), PaymentFields{100 * cr, 10'000, "usd", 0, 1, "cs"}));
      BOOST_TEST(s.kinds() == "balance_restored");
      BOOST_TEST(s.draw(1) == "");
      BOOST_TEST(s.balance() == 99'100'000);  // usage now bills the wallet
    }
  }
}

// "BYOK and deferred orgs don't use the wallet": an org that leaves it is released from every
// pause (its own and its members'), and on return is judged afresh (SPEC §4). A member limit is a
// credit limit: outside the wallet it pauses nobody, though the member's usage is still counted.
BOOST_AUTO_TEST_CASE(leaving_the_wallet_releases_every_pause_and_returning_judges_afresh) {
  Story s("acme-switch");
  s.fold(make_rate_card(EventHeader{"card-1", {}, s.now},
                        RateCardFields{1, 15000, 0, {{"claude-sonnet", ModelPrice{3 * cr, 15 * cr, 0, 0}}}, {}}));
  s.fold(make_org_opened(s.header("open"), Plan::pro, BillingMode::credits));
  s.fold(make_purchase(s.header("cs_10"), PaymentFields{10 * cr, 1'000, "usd", 0, 1, "cs_10"}));
  // dev-1 may spend $5 a month: the 6th call (5.4) pauses them; the 12th (10.8) empties the wallet.
  s.fold(make_member_limit_set(s.header("limit"), "dev-1", 5 * cr));
  BOOST_TEST(s.draw(12) == "6:member_limit_exceeded;12:balance_exhausted");
  BOOST_TEST(s.member("dev-1").exceeded);

  // Switching to BYOK: the provider bills the customer, so nothing stays paused.
  s.fold(make_billing_mode_changed(s.header("to-byok"), std::nullopt, BillingMode::byok));
  BOOST_TEST(s.kinds() == "balance_restored,member_limit_restored");
  BOOST_TEST(!s.member("dev-1").exceeded);
  BOOST_TEST(s.draw(5, 0) == "");  // BYOK calls (no BYOK fee on this card): no signal of any kind
  BOOST_TEST(!s.member("dev-1").exceeded);

  // Back on credits: the wallet is still empty and dev-1 still over this month's limit.
  s.fold(make_billing_mode_changed(s.header("to-credits"), std::nullopt, BillingMode::credits));
  BOOST_TEST(s.kinds() == "balance_exhausted,member_limit_exceeded");
  BOOST_TEST(s.member("dev-1").exceeded);
  BOOST_TEST(s.balance() == -800'000);  // 10 - 12 × 0.9
}

}  // namespace
}  // namespace tally
