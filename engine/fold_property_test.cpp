// Property test of the fold: ≥ 100,000 seeded random events over several partitions and orgs,
// with duplicates, conflicts, garbage, wrong partitions, late events, events from a clock too far
// ahead of the log, month changes, refunds, adjustments, member limits, plan and mode switches and
// a simulated recharge connector answering recharge signals, holds (placed, extended, released,
// captured by usage, expired by the clock), and credit grants (SPEC §12: random priorities,
// expiries and categories on every credit-adding event, CreditGranted, GrantVoided).
//
// The seed comes from TALLY_SEED (default below) and is printed first: a failure replays with
//   TALLY_SEED=<seed> ./fold_property_test
// Properties (checked after every event, and over the whole run):
//  - every org: balance == allocated + purchased − used − refunded + adjusted − expired − voided
//    == Σ remaining of its active grants − overdraft, and == the sum of amount_micros of its applied
//    results minus what expired (summed here, independently of the fold);
//  - SPEC §12: the fundings of a debit sum to it; a grant expires at most once, and none is active
//    past its expiry; grant_expiring and grant_expired come at most once per grant;
//  - duplicates, conflicts and rejections change nothing (encoded state before == after; only a
//    business rejection adds its key); they emit no signals and move no money;
//  - an applied event of an org lives in the org's home partition, partition_for_key(org, P),
//    whether or not the org existed when a stray event of it came;
//  - no event runs the partition clock more than future_skew_max_ms ahead of the log's append time;
//  - only wallet orgs (pro, credits) get signals, save the restores of an org leaving the wallet;
//    a member is paused exactly while it is over its limit and its org is a wallet org;
//  - signal ids are unique; at most one refill is pending per org: a recharge_requested comes only
//    after the previous one was concluded by an AutoRefill or PaymentFailed naming it;
//  - level signals alternate (exhausted/restored), balance_low only on becoming true, caps once
//    per period, member levels match their definition;
//  - held == Σ remaining of the org's active holds, none active past its expiry (SPEC §11);
//  - folding the same log again into a fresh ledger gives the same results, signals and state.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "engine/calendar.h"
#include "engine/event_factory.h"
#include "engine/fold.h"
#include "engine/limits.h"
#include "engine/memory_ledger.h"
#include "engine/partitioner.h"
#include "engine/state_codec.h"

namespace tally {
namespace {

// Ids of the test's own workload: valid by construction.
OrgIdView org_view(const std::string& id) { return OrgIdView::make(id).value(); }
MemberIdView member_view(const std::string& id) { return MemberIdView::make(id).value(); }

constexpr uint64_t default_seed = 20260115;
constexpr int events_total = 100'000;
constexpr int32_t partition_count = 4;
constexpr int64_t cr = 1'000'000;
constexpr int64_t int64_max = std::numeric_limits<int64_t>::max();
constexpr int64_t minute_ms = 60'000;
constexpr int64_t day_ms = 86'400'000;
constexpr int64_t start_ms = 1767225600000;  // 2026-01-01T00:00:00Z

// Ids with every allowed character class; all string_views below point at these.
const std::array<std::string, 12> org_ids = {"org-00", "org-01", "org-02", "org-03", "org-04",  "org-05",
                                             "acme",   "a.b@c",  "x+y_z", "Beta-7", "org.long.name", "z"};
const std::array<std::string, 4> member_ids = {"m0", "m1", "dev@acme", "ops.bot"};
const std::array<std::string, 3> models = {"m-a", "m-b", "m-unknown"};
const std::array<std::string, 3> sandbox_classes = {"small", "large", "gpu-unknown"};

uint64_t seed_from_env() {
  const char* text = std::getenv("TALLY_SEED");
  return text && *text ? std::strtoull(text, nullptr, 10) : default_seed;
}

using Rebuild = std::function<std::string(const EventHeader&)>;

enum class Expect { anything, duplicate, conflict, validation, wrong_partition, clock_skew, fresh };

struct Planned {
  int32_t partition = 0;
  std::string org;  // empty for global events and garbage
  std::string key;
  std::string bytes;
  Expect expect = Expect::anything;
  Rebuild rebuild;  // same payload, any header (org events only)
  int64_t retry_before_ms = std::numeric_limits<int64_t>::max();  // a grant's expiry: a retry's time stays before it
};

// An org event whose key is recorded (applied or business-rejected): duplicates and conflicts
// are made from these.
struct Recorded {
  int32_t partition;
  std::string org;
  std::string key;
  std::string bytes;
  Rebuild rebuild;
  int64_t retry_before_ms;
};

struct PendingAnswer {
  std::string org;
  std::string signal_id;
  int64_t credits;
  bool must_fail = false;
};

class Run {
 public:
  explicit Run(uint64_t seed) : seed_(seed), rng_(seed) {
    for (const std::string& org : org_ids) home_[org] = partition_for_key(org, partition_count);
  }

  void run();
  void check_end_state();
  void check_replay();

  std::map<std::string, int> outcome_counts;
  std::map<std::string, int> signal_counts;

 private:
  // ---- randomness helpers
  int64_t uniform(int64_t low, int64_t high) { return std::uniform_int_distribution<int64_t>(low, high)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T, std::size_t N>
  const T& pick(const std::array<T, N>& items) {
    return items[static_cast<std::size_t>(uniform(0, static_cast<int64_t>(N) - 1))];
  }

  int64_t event_time();
  int64_t credits_amount(bool positive_only, bool overflow_bait);
  std::string next_key(std::string_view prefix) { return std::string(prefix) + "-" + std::to_string(++key_counter_); }

  // ---- event plans
  Planned plan_next();
  Planned plan_org_event(const std::string& org, int64_t t);
  Planned plan_answer();
  Rebuild plan_hold(const std::string& org);
  GrantTermsFields grant_terms(int64_t t, Planned& plan, double p_terms);
  // A hold id of the org (placed, maybe released or expired), or one never placed.
  std::string some_hold(const std::string& org) {
    const auto& keys = hold_keys_[org];
    if (keys.empty() || chance(0.05)) return "no-such-hold";
    // Mostly a recent one: holds live minutes, the stream runs for weeks.
    const int64_t last = static_cast<int64_t>(keys.size()) - 1;
    return keys[static_cast<std::size_t>(chance(0.8) ? uniform(std::max<int64_t>(0, last - 3), last) : uniform(0, last))];
  }
  Planned plan_rate_card_for(int32_t partition, int64_t version, const std::string& key, int64_t t);
  Planned plan_duplicate(bool new_header);
  Planned plan_conflict();
  Planned plan_garbage();
  Planned plan_skewed();

  // ---- fold + properties
  void fold(const Planned& plan);
  std::string snapshot(const std::string& org, int32_t partition);
  void check_org(const std::string& org, const char* when);
  void check_member_levels(const std::string& org);
  void check_grants(const std::string& org, const OrgState& o, const char* when);

  uint64_t seed_;
  std::mt19937_64 rng_;
  int64_t now_ = start_ms;
  int64_t log_ms_ = start_ms;  // the log's append time: never behind the latest honest event
  uint64_t key_counter_ = 0;
  int64_t rate_card_version_ = 0;
  int event_index_ = 0;
  std::map<std::string, int32_t> home_;
  std::map<std::string, std::vector<std::string>> purchase_keys_;
  std::map<std::string, std::vector<std::string>> hold_keys_;  // keys of hold events (holds among them)
  std::map<std::string, std::vector<std::string>> grant_keys_;  // keys of credit-adding events (grants among them)
  std::set<std::pair<std::string, std::string>> grants_expired_, grants_warned_;  // (org, grant)
  std::vector<Recorded> recorded_;
  std::vector<Planned> retry_at_home_;  // wrong-partition events, to be sent home later
  std::vector<PendingAnswer> answers_;
  std::vector<Planned> rate_card_backlog_;  // a card is written into every partition, one by one

  MemoryLedger ledger_;
  FoldResult result_;
  std::map<int32_t, int64_t> next_offset_;
  std::vector<std::pair<RecordContext, std::string>> log_;
  std::vector<std::string> trace_;  // outcome, reason, amount and signal ids of each record

  std::map<std::string, __int128> applied_sum_;
  std::map<std::string, std::string> outstanding_;  // org → pending recharge signal id
  std::set<std::string> signal_ids_;
  std::map<std::string, bool> exhausted_level_;      // from signals
  std::set<std::tuple<std::string, std::string, int64_t>> cap_periods_;
};

#define PROPERTY(condition, message)                                                                    \
  do {                                                                                                  \
    if (!(condition)) {                                                                                 \
      BOOST_FAIL("event " << event_index_ << " (seed " << seed_ << "): " << #condition << ": " << message); \
    }                                                                                                   \
  } while (0)

int64_t Run::event_time() {
  now_ += uniform(0, 2 * minute_ms);
  if (chance(1.0 / 4000)) now_ += uniform(1, 20) * day_ms;  // quiet stretches: days and months pass
  if (chance(0.02)) return std::max<int64_t>(0, now_ - uniform(0, 40 * day_ms));  // late event
  return now_;
}

int64_t Run::credits_amount(bool positive_only, bool overflow_bait) {
  const int64_t roll = uniform(0, overflow_bait ? 99 : 93);
  if (roll < 88) return uniform(1, 8 * cr);
  if (roll < 91) return positive_only ? uniform(1, 1000) : 0;          // zero: invalid
  if (roll < 94) return positive_only ? uniform(1, 1000) : -uniform(1, 5 * cr);
  if (roll < 97) return int64_max - uniform(0, 1000);                  // overflow bait
  return int64_max / uniform(2, 5);
}

Planned Run::plan_rate_card_for(int32_t partition, int64_t version, const std::string& key, int64_t t) {
  RateCardFields card;
  card.version = version;
  card.markup_bp = static_cast<int32_t>(std::array<int64_t, 4>{10000, 12500, 15000, 20000}[static_cast<std::size_t>(version % 4)]);
  card.byok_fee_bp = static_cast<int32_t>(std::array<int64_t, 3>{0, 500, 1000}[static_cast<std::size_t>(version % 3)]);
  card.models = {{"m-a", ModelPrice{3 * cr + version, 15 * cr, 300'000, 3'750'000}},
                 {"m-b", ModelPrice{250'000, 1'250'000 + version, 25'000, 0}}};
  card.sandbox_classes = {{"small", 360'000}, {"large", 2'880'000 + version}};
  Planned p;
  p.partition = partition;
  p.key = key;
  p.bytes = make_rate_card(EventHeader{key, {}, t}, card);
  return p;
}

Planned Run::plan_org_event(const std::string& org, int64_t t) {
  Planned p;
  p.org = org;
  p.partition = home_[org];
  // Two orgs take the amounts near INT64_MAX (overflow bait); the others stay near their thresholds.
  const bool bait = org == "z" || org == "Beta-7";
  const int64_t roll = uniform(0, 999);
  if (roll < 500 || roll >= 945) {  // usage, most often
    UsageFields u;
    if (!chance(0.3)) u.member_id = pick(member_ids);
    u.workspace = chance(0.5) ? "ws-1" : "ws-2";
    if (chance(0.8)) {
      u.meter = fb::Meter::llm_tokens;
      u.model = chance(0.08) ? models[2] : models[static_cast<std::size_t>(uniform(0, 1))];
      u.input_tokens = uniform(0, 400'000);
      u.output_tokens = uniform(0, 60'000);
      u.cache_read_tokens = chance(0.3) ? uniform(0, 1'000'000) : 0;
      u.cache_write_tokens = chance(0.1) ? uniform(0, 100'000) : 0;
      if (bait && chance(0.02)) u.input_tokens = int64_max - uniform(0, 10);
      if (chance(0.005)) u.output_tokens = -uniform(1, 10);  // invalid
    } else {
      u.meter = fb::Meter::sandbox_seconds;
      u.sandbox_class = chance(0.08) ? sandbox_classes[2] : sandbox_classes[static_cast<std::size_t>(uniform(0, 1))];
      u.seconds = uniform(0, 3600);
    }
    if (chance(0.3)) u.reported_cost_micros = bait && chance(0.05) ? int64_max - uniform(0, 10) : uniform(0, 2 * cr);
    const int64_t path = uniform(0, 9);
    u.billing_path = path < 7 ? fb::BillingPath::unset : path < 8 ? fb::BillingPath::credits : fb::BillingPath::byok;
    // Captures of holds (active, closed, expired or unknown: SPEC §11), a third of the time.
    const std::string hold_id = chance(0.3) ? some_hold(org) : std::string();
    const bool final = chance(0.3);
    p.rebuild = [u, hold_id, final](const EventHeader& h) {
      UsageFields capture = u;
      capture.hold_id = hold_id;
      capture.hold_final = final;
      return make_usage(h, capture);
    };
  } else if (roll < 580) {  // purchase
    const PaymentFields pay{credits_amount(false, bait), uniform(0, 10'000), "usd", uniform(0, 100),
                            static_cast<int32_t>(chance(0.02) ? 11 : uniform(1, 10)), "ch_x", grant_terms(t, p, 0.4)};
    p.rebuild = [pay](const EventHeader& h) { return make_purchase(h, pay); };
  } else if (roll < 590) {  // signup allocation
    const int64_t credits = credits_amount(false, bait);
    const GrantTermsFields terms = grant_terms(t, p, 0.5);
    p.rebuild = [credits, terms](const EventHeader& h) { return make_signup_allocation(h, credits, terms); };
  } else if (roll < 640) {  // refund
    const auto& keys = purchase_keys_[org];
    const std::string purchase = !keys.empty() && chance(0.85)
                                     ? keys[static_cast<std::size_t>(uniform(0, static_cast<int64_t>(keys.size()) - 1))]
                                     : next_key("nope");
    const int64_t credits = chance(0.9) ? uniform(1, 15 * cr) : credits_amount(false, bait);
    const bool force = chance(0.3);
    p.rebuild = [purchase, credits, force](const EventHeader& h) { return make_refund(h, purchase, credits, force, "r"); };
  } else if (roll < 690) {  // admin adjustment
    int64_t credits = chance(0.95) ? uniform(1, 30 * cr) * (chance(0.5) ? 1 : -1) : credits_amount(false, bait);
    if (bait && chance(0.05)) credits = -int64_max;
    const bool force = chance(0.3);
    // Terms on a negative adjustment are invalid (a few, on purpose).
    const GrantTermsFields terms = credits > 0 || chance(0.05) ? grant_terms(t, p, 0.3) : GrantTermsFields{};
    p.rebuild = [credits, force, terms](const EventHeader& h) {
      return make_admin_adjustment(h, credits, "fix", "op-1", force, terms);
    };
  } else if (roll < 725) {  // auto-refill policy
    AutoRefillPolicy policy;
    policy.enabled = chance(0.85);
    policy.threshold_micros = Micros{policy.enabled ? uniform(5 * cr, 40 * cr) : 0};
    policy.refill_credits_micros = Micros{policy.enabled ? uniform(1 * cr, 60 * cr) : 0};
    policy.max_per_day = static_cast<int32_t>(uniform(0, 3));
    policy.max_per_month = static_cast<int32_t>(uniform(0, 12));
    policy.payment_customer = "cus_" + org;
    p.rebuild = [policy](const EventHeader& h) { return make_auto_refill_configured(h, policy); };
  } else if (roll < 732) {
    p.rebuild = [](const EventHeader& h) { return make_auto_refill_disabled(h, "user"); };
  } else if (roll < 752) {
    const int64_t threshold = chance(0.2) ? 0 : uniform(1, 50 * cr);
    p.rebuild = [threshold](const EventHeader& h) { return make_low_balance_threshold_set(h, threshold); };
  } else if (roll < 790) {
    const std::string_view member = pick(member_ids);
    const int64_t limit = chance(0.98) ? uniform(1, 30 * cr) : 0;  // 0 is invalid
    p.rebuild = [member, limit](const EventHeader& h) { return make_member_limit_set(h, member, limit); };
  } else if (roll < 802) {
    const std::string_view member = pick(member_ids);
    p.rebuild = [member](const EventHeader& h) { return make_member_limit_cleared(h, member); };
  } else if (roll < 812) {
    const Plan plan = chance(0.92) ? Plan::pro : Plan::enterprise;
    const int64_t m = uniform(0, 19);
    const BillingMode mode = m < 17 ? BillingMode::credits : m < 18 ? BillingMode::byok : BillingMode::deferred;
    p.rebuild = [plan, mode](const EventHeader& h) { return make_org_opened(h, plan, mode); };
  } else if (roll < 822) {
    const int64_t which = uniform(0, 2);
    std::optional<Plan> plan = which != 1 ? std::optional<Plan>(chance(0.92) ? Plan::pro : Plan::enterprise) : std::nullopt;
    const int64_t m = uniform(0, 19);
    std::optional<BillingMode> mode = which != 0 ? std::optional<BillingMode>(m < 17   ? BillingMode::credits
                                                                              : m < 18 ? BillingMode::byok
                                                                                       : BillingMode::deferred)
                                                 : std::nullopt;
    p.rebuild = [plan, mode](const EventHeader& h) { return make_billing_mode_changed(h, plan, mode); };
  } else if (roll < 900) {  // holds: place, extend, release (SPEC §11)
    p.rebuild = plan_hold(org);
  } else if (roll < 925) {  // SPEC §12: a credit grant
    const int64_t credits = chance(0.97) ? uniform(1, 20 * cr) : credits_amount(false, bait);
    const GrantTermsFields terms = grant_terms(t, p, 0.9);
    p.rebuild = [credits, terms](const EventHeader& h) { return make_credit_granted(h, credits, terms, "promo", "op-1"); };
  } else {  // SPEC §12: a void of a grant of the org (or of none)
    const auto& keys = grant_keys_[org];
    const std::string grant_id = !keys.empty() && chance(0.9)
                                     ? keys[static_cast<std::size_t>(uniform(0, static_cast<int64_t>(keys.size()) - 1))]
                                     : next_key("no-grant");
    const int64_t credits = chance(0.3) ? 0 : chance(0.85) ? uniform(1, 5 * cr) : uniform(5 * cr, 100 * cr);
    p.rebuild = [grant_id, credits](const EventHeader& h) { return make_grant_voided(h, grant_id, credits, "void"); };
  }
  p.key = next_key("e");
  if ((roll >= 500 && roll < 590) || (roll >= 640 && roll < 690) || (roll >= 900 && roll < 925)) {
    grant_keys_[org].push_back(p.key);  // maybe a grant (purchase, signup, adjustment, credit grant)
  }
  if (roll >= 822 && roll < 900 && p.bytes.empty()) hold_keys_[org].push_back(p.key);
  if (grant_keys_[org].size() > 64) grant_keys_[org].erase(grant_keys_[org].begin());  // recent ones
  p.bytes = p.rebuild(EventHeader{p.key, org, t, chance(0.5) ? "svc-a" : "svc-b", {}});
  return p;
}

// SPEC §12: random terms for a credit-adding event at `t` (with probability `p_terms`; else the
// body's defaults). Now and then a priority or an expiry that is invalid. A retry of it keeps its
// time before the expiry (plan.retry_before_ms).
GrantTermsFields Run::grant_terms(int64_t t, Planned& plan, double p_terms) {
  GrantTermsFields terms;
  if (!chance(p_terms)) return terms;
  terms.priority = static_cast<int32_t>(chance(0.01) ? 101 : chance(0.5) ? 50 : uniform(0, 100));
  if (chance(0.6)) {
    terms.expires_at_ms = chance(0.01) ? t : t + (chance(0.3) ? uniform(1, 60 * minute_ms) : uniform(1, 30 * day_ms));
    plan.retry_before_ms = terms.expires_at_ms;
  }
  if (chance(0.4)) terms.category = chance(0.5) ? fb::GrantCategory::paid : fb::GrantCategory::promotional;
  return terms;
}

Rebuild Run::plan_hold(const std::string& org) {
  const int64_t roll = uniform(0, 9);
  const int64_t ttl_ms = uniform(limits::hold_ttl_min_ms, 20 * minute_ms);
  if (roll < 5) {
    HoldFields h;
    if (chance(0.6)) h.member_id = pick(member_ids);
    if (chance(0.7)) {
      h.amount_micros = chance(0.01) ? 0 : uniform(1, 8 * cr);  // 0 and no estimate: invalid
    } else {
      h.estimate = chance(0.7) ? HoldEstimateFields{.model = models[static_cast<std::size_t>(uniform(0, 2))],
                                                    .input_tokens = uniform(0, 400'000),
                                                    .max_output_tokens = uniform(0, 60'000)}
                               : HoldEstimateFields{.meter = fb::Meter::sandbox_seconds,
                                                    .sandbox_class = sandbox_classes[static_cast<std::size_t>(uniform(0, 2))],
                                                    .seconds = uniform(0, 3600)};
    }
    h.ttl_ms = ttl_ms;
    h.allow_partial = chance(0.3);
    h.min_micros = h.allow_partial ? uniform(0, 2 * cr) : 0;
    return [h](const EventHeader& header) { return make_hold_placed(header, h); };
  }
  const std::string hold_id = some_hold(org);
  if (roll < 8) {
    const int64_t add = chance(0.3) ? 0 : uniform(1, 3 * cr);
    return [hold_id, add, ttl_ms](const EventHeader& h) { return make_hold_extended(h, hold_id, add, ttl_ms); };
  }
  return [hold_id](const EventHeader& h) { return make_hold_released(h, hold_id); };
}

Planned Run::plan_answer() {
  const std::size_t at = static_cast<std::size_t>(uniform(0, static_cast<int64_t>(answers_.size()) - 1));
  const PendingAnswer answer = answers_[at];
  answers_.erase(answers_.begin() + static_cast<std::ptrdiff_t>(at));
  Planned p;
  p.org = answer.org;
  p.partition = home_[answer.org];
  const int64_t t = event_time();
  if (answer.must_fail || chance(0.15)) {
    p.key = "pf-" + answer.signal_id;
    const std::string signal = answer.signal_id;
    p.rebuild = [signal](const EventHeader& h) { return make_payment_failed(h, signal, "card_declined", "no"); };
  } else {
    p.key = "ar-" + answer.signal_id;
    const std::string signal = answer.signal_id;
    const PaymentFields pay{answer.credits, answer.credits / 10'000, "usd", 0, 1, "ch_auto"};
    p.rebuild = [signal, pay](const EventHeader& h) { return make_auto_refill(h, pay, signal); };
  }
  p.bytes = p.rebuild(EventHeader{p.key, p.org, t, "recharge", {}});
  p.expect = Expect::fresh;
  return p;
}

Planned Run::plan_duplicate(bool new_header) {
  const Recorded& r = recorded_[static_cast<std::size_t>(uniform(0, static_cast<int64_t>(recorded_.size()) - 1))];
  Planned p;
  p.partition = r.partition;
  p.org = r.org;
  p.key = r.key;
  p.expect = Expect::duplicate;
  const int64_t t = std::min(event_time(), r.retry_before_ms - 1);
  p.bytes = new_header ? r.rebuild(EventHeader{r.key, r.org, t, "retry", "corr-" + std::to_string(uniform(0, 9))})
                       : r.bytes;
  return p;
}

Planned Run::plan_conflict() {
  const Recorded& r = recorded_[static_cast<std::size_t>(uniform(0, static_cast<int64_t>(recorded_.size()) - 1))];
  Planned p;
  p.partition = r.partition;
  p.org = r.org;
  p.key = r.key;
  p.expect = Expect::conflict;
  p.bytes = make_member_limit_cleared(EventHeader{r.key, r.org, event_time()}, "conflict-member");
  return p;
}

Planned Run::plan_garbage() {
  Planned p;
  p.partition = static_cast<int32_t>(uniform(0, partition_count - 1));
  p.expect = Expect::validation;
  if (chance(0.5)) {
    p.bytes.resize(static_cast<std::size_t>(uniform(0, 300)));
    for (char& c : p.bytes) c = static_cast<char>(uniform(0, 255));
    if (p.bytes.size() >= 8 && chance(0.5)) p.bytes.replace(4, 4, "TLE1");  // get past the identifier
  } else {
    // A valid event cut short by at least 4 bytes: the key string (built first, so last in the
    // buffer) loses its terminator, so the verifier must refuse it.
    const std::string& org = pick(org_ids);
    p.org = org;
    p.partition = home_[org];
    const std::string full = make_purchase(EventHeader{next_key("cut"), org, now_}, PaymentFields{cr, 100, "usd", 0, 1, "c"});
    p.bytes = full.substr(0, static_cast<std::size_t>(uniform(0, static_cast<int64_t>(full.size()) - 4)));
  }
  return p;
}

// An event from a producer whose clock runs ahead of the log by more than the skew (a tenant
// stamping year 2286, or a host with a wrong clock).
Planned Run::plan_skewed() {
  const int64_t ahead = limits::future_skew_max_ms + (chance(0.5) ? uniform(1, minute_ms) : uniform(1, 3650 * day_ms));
  Planned p;
  if (chance(0.3)) {
    p.partition = static_cast<int32_t>(uniform(0, partition_count - 1));
    p.key = next_key("tick-ahead");
    p.bytes = make_tick(EventHeader{p.key, {}, log_ms_ + ahead});
  } else {
    p = plan_org_event(pick(org_ids), log_ms_ + ahead);
  }
  p.expect = Expect::clock_skew;
  return p;
}

Planned Run::plan_next() {
  if (!rate_card_backlog_.empty()) {
    Planned p = std::move(rate_card_backlog_.back());
    rate_card_backlog_.pop_back();
    return p;
  }
  if (!answers_.empty() && chance(0.25)) return plan_answer();
  const int64_t roll = uniform(0, 999);
  if (roll < 40 && !recorded_.empty()) return plan_duplicate(false);
  if (roll < 70 && !recorded_.empty()) return plan_duplicate(true);
  if (roll < 90 && !recorded_.empty()) return plan_conflict();
  if (roll < 105) return plan_garbage();
  if (roll < 120) {  // an org's event in the wrong partition, whether the org exists yet or not
    const std::string& org = pick(org_ids);
    Planned p = plan_org_event(org, event_time());
    p.partition = (home_[org] + static_cast<int32_t>(uniform(1, partition_count - 1))) % partition_count;
    p.expect = Expect::wrong_partition;
    return p;
  }
  if (roll < 130 && !retry_at_home_.empty()) {  // the wrong-partition event, sent home at last
    Planned p = std::move(retry_at_home_.back());
    retry_at_home_.pop_back();
    p.partition = home_[p.org];
    p.expect = Expect::fresh;
    return p;
  }
  if (roll < 135) return plan_skewed();
  if (roll < 150) {  // partition-wide tick
    Planned p;
    p.partition = static_cast<int32_t>(uniform(0, partition_count - 1));
    p.key = next_key("tick");
    p.bytes = make_tick(EventHeader{p.key, {}, event_time()});
    return p;
  }
  if (roll < 153) {  // a rate card, into every partition (sometimes a stale one)
    const int64_t version = chance(0.8) ? ++rate_card_version_ : uniform(1, rate_card_version_);
    const std::string key = next_key("card");
    const int64_t t = event_time();
    for (int32_t partition = 0; partition < partition_count; ++partition) {
      rate_card_backlog_.push_back(plan_rate_card_for(partition, version, key, t));
    }
    return plan_next();
  }
  if (roll < 157) {  // an AutoRefill naming no pending signal: still money taken
    const std::string& org = pick(org_ids);
    Planned p;
    p.org = org;
    p.partition = home_[org];
    p.key = next_key("ar-bogus");
    const PaymentFields pay{uniform(1, 10 * cr), 100, "usd", 0, 1, "ch_b"};
    const std::string signal = "0:0:recharge_requested:" + org;
    p.rebuild = [pay, signal](const EventHeader& h) { return make_auto_refill(h, pay, signal); };
    p.bytes = p.rebuild(EventHeader{p.key, org, event_time()});
    return p;
  }
  return plan_org_event(pick(org_ids), event_time());
}

std::string Run::snapshot(const std::string& org, int32_t partition) {
  // The org, its members (the generator only uses member_ids and "conflict-member") and the
  // partition state.
  std::string out;
  if (!org.empty()) {
    const OrgState* o = ledger_.find_org(org_view(org));
    out += o ? encode(*o) : std::string("absent");
    for (const std::string& member : member_ids) {
      const MemberState* m = ledger_.find_member(org_view(org), member_view(member));
      out += m ? encode(*m) : std::string("absent");
    }
    out += ledger_.find_member(org_view(org), member_view("conflict-member")) ? "conflict-member!" : "";
  }
  return out + "|" + encode(ledger_.partition(PartitionId{partition}));
}

void Run::check_org(const std::string& org, const char* when) {
  const OrgState* o = ledger_.find_org(org_view(org));
  PROPERTY(o != nullptr, when << " org " << org);
  const OrgTotals& t = o->totals;
  const __int128 identity = static_cast<__int128>(t.allocated_micros.value()) + t.purchased_micros.value() -
                            t.used_micros.value() - t.refunded_micros.value() + t.adjusted_micros.value() -
                            t.expired_micros.value() - t.voided_micros.value();
  const int64_t balance = o->balance_micros.value();
  PROPERTY(identity == balance, when << " org " << org << " balance " << balance);
  check_grants(org, *o, when);
  PROPERTY(applied_sum_[org] == balance, when << " org " << org << " balance " << balance);
  PROPERTY(o->home_partition.value == home_[org], when << " org " << org);
  const bool wallet = o->plan == Plan::pro && o->mode == BillingMode::credits;
  PROPERTY(o->is_exhausted == (wallet && balance <= 0), when << " org " << org);
  const int64_t warning = o->low_balance_threshold_micros.value() > 0 ? o->low_balance_threshold_micros.value()
                          : o->auto_refill.enabled                  ? o->auto_refill.threshold_micros.value()
                                                                    : 0;
  PROPERTY(o->is_low == (wallet && warning > 0 && balance < warning), when << " org " << org);
  const auto pending = outstanding_.find(org);
  PROPERTY(o->refill_pending == (pending != outstanding_.end()), when << " org " << org);
  if (pending != outstanding_.end()) PROPERTY(o->pending_signal_id == pending->second, when << " org " << org);
  const auto& waiting = ledger_.partition(PartitionId{o->home_partition}).cap_waiting_orgs;
  PROPERTY(o->waiting_on_cap == (waiting.count(org) == 1), when << " org " << org);
  // SPEC §11: held = Σ remaining of the active holds, each listed once in the expiry index, none
  // left active once the partition clock reached its expiry.
  const PartitionState& partition = ledger_.partition(PartitionId{o->home_partition});
  __int128 held = 0;
  for (const auto& [id, hold] : o->holds) {
    PROPERTY(hold.remaining_micros.value() >= 0 && hold.remaining_micros <= hold.granted_micros, when << " hold " << id);
    PROPERTY(hold.expires_at_ms > partition.clock_ms, when << " hold " << id << " outlived its expiry");
    PROPERTY(partition.hold_expiries.count(std::make_tuple(hold.expires_at_ms, org, id)) == 1, when << " hold " << id);
    held += hold.remaining_micros.value();
  }
  PROPERTY(held == o->held_micros.value(), when << " org " << org << " held " << o->held_micros);
}

// SPEC §12: balance = Σ remaining of the active grants − overdraft; the grants in draw-down order,
// each with credit left, accounted for, and listed in the expiry index (when they expire) with the
// clock short of their expiry; an overdraft only while no grant is active.
void Run::check_grants(const std::string& org, const OrgState& o, const char* when) {
  const PartitionState& partition = ledger_.partition(PartitionId{o.home_partition});
  __int128 remaining = 0;
  for (std::size_t i = 0; i < o.grants.size(); ++i) {
    const Grant& g = o.grants[i];
    PROPERTY(g.remaining_micros > Micros{}, when << " grant " << g.id);
    PROPERTY(i == 0 || draws_before(o.grants[i - 1], g), when << " grant " << g.id << " out of order");
    const __int128 accounted = static_cast<__int128>(g.remaining_micros.value()) + g.consumed_micros.value() +
                               g.expired_micros.value() + g.voided_micros.value() + g.refunded_micros.value();
    PROPERTY(accounted == g.original_micros.value(), when << " grant " << g.id);
    if (g.expires_at_ms != 0) {
      PROPERTY(g.expires_at_ms > partition.clock_ms, when << " grant " << g.id << " outlived its expiry");
      PROPERTY(partition.grant_expiries.count(GrantDue{g.expires_at_ms, g.offset, org, g.id}) == 1, when << g.id);
    }
    remaining += g.remaining_micros.value();
  }
  PROPERTY(o.overdraft_micros >= Micros{} && (o.overdraft_micros == Micros{} || o.grants.empty()), when << org);
  PROPERTY(remaining - o.overdraft_micros.value() == o.balance_micros.value(), when << " org " << org);
}

void Run::check_member_levels(const std::string& org) {
  const OrgState* o = ledger_.find_org(org_view(org));
  if (!o) return;
  const PartitionState& partition = ledger_.partition(PartitionId{o->home_partition});
  const int64_t month = utc_month(partition.clock_ms);
  for (const std::string& member : member_ids) {
    const MemberState* found = ledger_.find_member(org_view(org), member_view(member));
    if (!found) continue;
    const MemberState& m = *found;
    PROPERTY(m.month <= month, org << ":" << member);
    const bool over = m.has_limit && m.month == month && m.used_micros >= m.monthly_limit_micros;
    const bool wallet = o->plan == Plan::pro && o->mode == BillingMode::credits;
    PROPERTY(m.exceeded == (over && wallet), org << ":" << member << " used " << m.used_micros << " limit "
                                                 << m.monthly_limit_micros << " wallet " << wallet);
    PROPERTY(over == (partition.members_over_limit.count(std::make_pair(org, member)) == 1), org << ":" << member);
  }
}

void Run::fold(const Planned& plan) {
  const std::string before = snapshot(plan.org, plan.partition);
  const std::size_t keys_before = ledger_.key_count();
  const OrgState* pre = plan.org.empty() ? nullptr : ledger_.find_org(org_view(plan.org));
  const bool pre_low = pre && pre->is_low;
  const bool pre_wallet = pre && pre->plan == Plan::pro && pre->mode == BillingMode::credits;

  const LogPosition position{PartitionId{plan.partition}, Offset{next_offset_[plan.partition]++}};
  // The log appends as events happen: its time is the latest honest event time so far.
  log_ms_ = std::max(log_ms_, now_);
  const RecordContext context{position, log_ms_, partition_count};
  apply(ledger_, context, plan.bytes, result_);
  log_.emplace_back(context, plan.bytes);
  if (result_.hold_granted_micros > Micros{}) ++outcome_counts["hold:granted"];
  if (result_.hold_late) ++outcome_counts["hold:late"];
  if (!result_.expired_holds.empty()) ++outcome_counts["hold:expired"];
  if (result_.outcome == Outcome::applied && !result_.hold_late && result_.envelope &&
      result_.envelope->body_type() == fb::Body::Usage && result_.envelope->body_as_Usage()->hold_id()) {
    ++outcome_counts["hold:captured"];
  }
  const FoldResult& r = result_;

  std::string trace = std::string(outcome_name(r.outcome)) + "|" + reject_reason_name(r.reason) + "|" +
                      std::to_string(r.amount_micros.value());
  for (const Signal& s : r.signals) trace += "|" + s.id();
  trace_.push_back(trace);
  ++outcome_counts[r.outcome == Outcome::rejected ? std::string("rejected:") + reject_reason_name(r.reason)
                                                  : std::string(outcome_name(r.outcome))];

  // Expected outcomes of the kinds of records the generator made on purpose.
  switch (plan.expect) {
    case Expect::duplicate: PROPERTY(r.outcome == Outcome::duplicate, trace << " " << r.detail); break;
    case Expect::conflict: PROPERTY(r.outcome == Outcome::conflict, trace << " " << r.detail); break;
    case Expect::validation:
      PROPERTY(r.outcome == Outcome::rejected && !is_business_reason(r.reason), trace << " " << r.detail);
      break;
    case Expect::wrong_partition:
      PROPERTY(r.outcome == Outcome::rejected &&
                   (r.reason == RejectReason::wrong_partition || r.reason == RejectReason::invalid_field),
               trace << " " << r.detail);
      break;
    case Expect::clock_skew:
      PROPERTY(r.outcome == Outcome::rejected &&
                   (r.reason == RejectReason::clock_skew || r.reason == RejectReason::invalid_field),
               trace << " " << r.detail);
      break;
    case Expect::fresh:
      PROPERTY(r.outcome == Outcome::applied || (r.outcome == Outcome::rejected && r.reason != RejectReason::wrong_partition),
               trace << " " << r.detail);
      break;
    case Expect::anything: break;
  }
  if (r.outcome != Outcome::rejected || is_business_reason(r.reason)) {
    // Decoded, valid and judged in place: the org (if any) lives here.
    PROPERTY(r.org_id.str() == plan.org, trace);
    if (!plan.org.empty()) {
      const OrgState* o = ledger_.find_org(org_view(plan.org));
      if (o) PROPERTY(o->home_partition.value == plan.partition, trace);
    }
  }

  PROPERTY(ledger_.partition(PartitionId{plan.partition}).clock_ms <= log_ms_ + limits::future_skew_max_ms, trace);
  // SPEC §12: what the clock expired (only applied events move it), each grant once.
  std::set<std::string> expired_orgs;
  for (const FoldResult::ExpiredGrant& e : r.expired_grants) {
    PROPERTY(r.outcome == Outcome::applied, trace);
    PROPERTY(e.expired_micros > Micros{}, trace << " " << e.grant_id);
    PROPERTY(grants_expired_.emplace(e.org_id, e.grant_id).second, "grant expired twice: " << e.grant_id);
    PROPERTY(!e.before_event || e.org_id == plan.org, trace << " " << e.grant_id);
    applied_sum_[e.org_id] -= e.expired_micros.value();
    expired_orgs.insert(e.org_id);
    ++outcome_counts[e.before_event ? "grant:expired_before_event" : "grant:expired"];
  }
  if (r.outcome != Outcome::applied) {
    PROPERTY(r.signals.empty(), trace);
    PROPERTY(r.fundings().empty(), trace);
    PROPERTY(r.amount_micros == Micros{}, trace);
    PROPERTY(snapshot(plan.org, plan.partition) == before, trace << " " << r.detail);
    const std::size_t added = r.outcome == Outcome::rejected && is_business_reason(r.reason) ? 1 : 0;
    PROPERTY(ledger_.key_count() == keys_before + added, trace);
    if (r.outcome == Outcome::rejected && is_business_reason(r.reason) && plan.rebuild) {
      recorded_.push_back(Recorded{plan.partition, plan.org, plan.key, plan.bytes, plan.rebuild, plan.retry_before_ms});
    }
    if (r.outcome == Outcome::rejected && r.reason == RejectReason::wrong_partition) {
      retry_at_home_.push_back(plan);
    }
    // An AutoRefill the ledger refused (overflow) leaves the refill pending: the connector then
    // concludes the request with a PaymentFailed.
    if (plan.expect == Expect::fresh && r.outcome == Outcome::rejected && plan.key.starts_with("ar-") &&
        !plan.key.starts_with("ar-bogus")) {
      answers_.push_back(PendingAnswer{plan.org, plan.key.substr(3), 0, true});
    }
    return;
  }

  // Applied.
  PROPERTY(ledger_.key_count() == keys_before + 1, trace);
  if (!plan.org.empty()) {
    applied_sum_[plan.org] += r.amount_micros.value();
    if (plan.rebuild) recorded_.push_back(Recorded{plan.partition, plan.org, plan.key, plan.bytes, plan.rebuild, plan.retry_before_ms});
    const fb::Envelope& e = *r.envelope;
    std::string_view concluded;
    if (e.body_type() == fb::Body::Purchase || e.body_type() == fb::Body::AutoRefill) {
      purchase_keys_[plan.org].push_back(plan.key);
    }
    if (e.body_type() == fb::Body::AutoRefill) concluded = e.body_as_AutoRefill()->signal_id()->string_view();
    if (e.body_type() == fb::Body::PaymentFailed) concluded = e.body_as_PaymentFailed()->signal_id()->string_view();
    auto pending = outstanding_.find(plan.org);
    if (!concluded.empty() && pending != outstanding_.end() && pending->second == concluded) outstanding_.erase(pending);
    PROPERTY(r.balance_after_micros == ledger_.find_org(org_view(plan.org))->balance_micros, trace);
    // SPEC §12: a debit's fundings sum to it (the overdraft an entry of its own); a credit's are
    // its own grant's repayment of the overdraft.
    __int128 funded = 0;
    for (const FoldResult::Funding& f : r.fundings()) {
      PROPERTY(f.micros > Micros{}, trace);
      if (r.amount_micros > Micros{}) PROPERTY(f.grant_id == plan.key, trace);
      funded += f.micros.value();
    }
    if (r.amount_micros < Micros{}) {
      PROPERTY(funded == -static_cast<__int128>(r.amount_micros.value()), trace);
      ++outcome_counts[r.fundings().back().grant_id.empty() ? "grant:overdraft" : "grant:funded"];
    } else {
      PROPERTY(funded <= r.amount_micros.value(), trace);
      if (funded > 0) ++outcome_counts["grant:repaid_overdraft"];
    }
  }

  // SPEC §5 order within one event, per org: (month-change restores) balance_low, recharge/cap,
  // exhausted/restored, member signals, auto_refill_disabled.
  std::map<std::string, int> rank_so_far;
  for (const Signal& s : r.signals) {
    int rank = 0;
    switch (s.kind) {
      case SignalKind::balance_low: rank = 1; break;
      case SignalKind::recharge_requested: case SignalKind::auto_refill_cap_reached: rank = 2; break;
      case SignalKind::balance_exhausted: case SignalKind::balance_restored: rank = 3; break;
      case SignalKind::member_limit_exceeded: rank = 4; break;
      case SignalKind::member_limit_restored: rank = rank_so_far[s.org_id.str()] == 0 ? 0 : 4; break;
      case SignalKind::auto_refill_disabled: rank = 5; break;
      case SignalKind::grant_expired: case SignalKind::grant_expiring: rank = 0; break;  // SPEC §12: first
    }
    PROPERTY(rank >= rank_so_far[s.org_id.str()], "signal out of order: " << trace);
    rank_so_far[s.org_id.str()] = rank;
  }

  std::set<std::string> touched = expired_orgs;
  if (!plan.org.empty()) touched.insert(plan.org);
  const int64_t clock = ledger_.partition(PartitionId{plan.partition}).clock_ms;
  for (const Signal& s : r.signals) {
    ++signal_counts[signal_kind_name(s.kind)];
    PROPERTY(signal_ids_.insert(s.id()).second, "duplicate signal id " << s.id());
    PROPERTY(s.position == position, s.id());
    PROPERTY(home_[s.org_id.str()] == plan.partition, s.id());
    const bool member_signal = s.kind == SignalKind::member_limit_exceeded || s.kind == SignalKind::member_limit_restored;
    PROPERTY(member_signal == !s.member_id.empty(), s.id());
    // Only wallet orgs get signals; an org that has just left the wallet gets its restores.
    const OrgState* signalled = ledger_.find_org(org_view(s.org_id.str()));
    const bool wallet = signalled->plan == Plan::pro && signalled->mode == BillingMode::credits;
    const bool restore = s.kind == SignalKind::balance_restored || s.kind == SignalKind::member_limit_restored;
    PROPERTY(wallet || (restore && s.org_id.str() == plan.org && pre_wallet), "signal of a non-wallet org: " << s.id());
    touched.insert(s.org_id.str());
    switch (s.kind) {
      case SignalKind::recharge_requested: {
        PROPERTY(outstanding_.count(s.org_id.str()) == 0,
                 "second refill requested while " << outstanding_[s.org_id.str()] << " is pending: " << s.id());
        outstanding_[s.org_id.str()] = s.id();
        const OrgState* o = ledger_.find_org(org_view(s.org_id.str()));
        PROPERTY(o->auto_refill.enabled && o->plan == Plan::pro && o->mode == BillingMode::credits, s.id());
        PROPERTY(o->balance_micros < o->auto_refill.threshold_micros, s.id());
        answers_.push_back(PendingAnswer{s.org_id.str(), s.id(), s.refill_credits_micros.value()});
        break;
      }
      case SignalKind::auto_refill_cap_reached: {
        const int64_t period = s.cap_period == "day" ? utc_day(clock) : utc_month(clock);
        PROPERTY(cap_periods_.emplace(s.org_id.str(), std::string(s.cap_period), period).second,
                 "cap signalled twice in one period: " << s.id());
        break;
      }
      case SignalKind::balance_exhausted:
      case SignalKind::balance_restored: {
        const bool exhausted = s.kind == SignalKind::balance_exhausted;
        auto level = exhausted_level_.find(s.org_id.str());
        PROPERTY(level == exhausted_level_.end() || level->second != exhausted, "level signal repeated: " << s.id());
        exhausted_level_[s.org_id.str()] = exhausted;
        break;
      }
      case SignalKind::balance_low:
        // The event's own org, or one whose grant the clock expired.
        PROPERTY((s.org_id.str() == plan.org && !pre_low) || expired_orgs.count(s.org_id.str()) == 1,
                 "balance_low without a change: " << s.id());
        break;
      case SignalKind::grant_expired:
        PROPERTY(grants_expired_.count(std::make_pair(s.org_id.str(), s.grant_id)) == 1, s.id());
        PROPERTY(s.id().ends_with(":" + s.grant_id), s.id());
        break;
      case SignalKind::grant_expiring: {
        PROPERTY(grants_warned_.emplace(s.org_id.str(), s.grant_id).second, "warned twice: " << s.id());
        PROPERTY(s.expires_at_ms > clock && s.expires_at_ms - limits::grant_warning_ms <= clock, s.id());
        PROPERTY(s.grant_micros > Micros{}, s.id());
        break;
      }
      default: break;
    }
  }
  for (const std::string& org : touched) {
    check_org(org, "after applied event");
    check_member_levels(org);
  }
}

void Run::run() {
  // Every partition starts with rate card 1.
  ++rate_card_version_;
  for (int32_t partition = 0; partition < partition_count; ++partition) {
    fold(plan_rate_card_for(partition, rate_card_version_, "card-initial", now_));
  }
  for (event_index_ = 0; event_index_ < events_total; ++event_index_) fold(plan_next());
  while (!rate_card_backlog_.empty()) fold(plan_next());
}

void Run::check_end_state() {
  const auto orgs = ledger_.orgs();
  for (const auto& [org, state] : orgs) {
    check_org(org, "at the end");
    check_member_levels(org);
  }
  PROPERTY(orgs.size() <= org_ids.size(), "orgs " << orgs.size());
  // Every member the fold knows is one the generator used (so the snapshots above saw them all).
  for (const auto& [key, member] : ledger_.members()) {
    const std::string id = key.substr(key.find('\0') + 1);
    PROPERTY(std::find(member_ids.begin(), member_ids.end(), id) != member_ids.end(), "member " << id);
  }
}

void Run::check_replay() {
  MemoryLedger again;
  FoldResult r;
  for (std::size_t i = 0; i < log_.size(); ++i) {
    apply(again, log_[i].first, log_[i].second, r);
    std::string trace = std::string(outcome_name(r.outcome)) + "|" + reject_reason_name(r.reason) + "|" +
                        std::to_string(r.amount_micros.value());
    for (const Signal& s : r.signals) trace += "|" + s.id();
    event_index_ = static_cast<int>(i);
    PROPERTY(trace == trace_[i], "replay differs at record " << i << ": " << trace << " vs " << trace_[i]);
  }
  const auto orgs = ledger_.orgs();
  const auto orgs_again = again.orgs();
  PROPERTY(orgs_again.size() == orgs.size(), "");
  for (auto a = orgs_again.begin(), b = orgs.begin(); a != orgs_again.end(); ++a, ++b) {
    PROPERTY(a->first == b->first && encode(a->second) == encode(b->second), a->first);
  }
  const auto members = ledger_.members();
  const auto members_again = again.members();
  PROPERTY(members_again.size() == members.size(), "");
  for (auto a = members_again.begin(), b = members.begin(); a != members_again.end(); ++a, ++b) {
    PROPERTY(a->first == b->first && encode(a->second) == encode(b->second), a->first);
  }
  PROPERTY(again.partitions().size() == ledger_.partitions().size(), "");
  for (const auto& [partition, state] : ledger_.partitions()) {
    PROPERTY(encode(again.partition(PartitionId{partition})) == encode(state), "partition " << partition);
  }
  PROPERTY(again.key_count() == ledger_.key_count(), "");
}

BOOST_AUTO_TEST_CASE(random_event_streams_keep_every_invariant) {
  const uint64_t seed = seed_from_env();
  std::cout << "fold_property_test: seed " << seed << " (replay with TALLY_SEED=" << seed << ")" << std::endl;
  BOOST_TEST_MESSAGE("seed " << seed);
  Run run(seed);
  run.run();
  run.check_end_state();
  run.check_replay();

  std::ostringstream summary;
  for (const auto& [what, count] : run.outcome_counts) summary << what << "=" << count << " ";
  for (const auto& [what, count] : run.signal_counts) summary << what << "=" << count << " ";
  BOOST_TEST_MESSAGE(summary.str());
  // The stream reached every outcome, every rejection reason and every signal kind.
  for (const char* what : {"applied", "duplicate", "conflict", "rejected:invalid_record", "rejected:invalid_field",
                           "rejected:wrong_partition", "rejected:unknown_purchase", "rejected:refund_exceeds_purchase",
                           "rejected:insufficient_balance", "rejected:overflow", "rejected:unpriced",
                           "rejected:stale_rate_card", "rejected:org_exists", "rejected:clock_skew",
                           "rejected:insufficient_available", "rejected:member_limit", "rejected:unknown_hold",
                           "rejected:hold_not_active", "hold:granted", "hold:captured", "hold:late", "hold:expired",
                           "rejected:unknown_grant", "rejected:nothing_to_void", "rejected:void_exceeds_remaining",
                           "grant:expired", "grant:expired_before_event", "grant:funded", "grant:overdraft",
                           "grant:repaid_overdraft"}) {
    BOOST_TEST(run.outcome_counts[what] > 0, what);
  }
  for (int kind = 0; kind < signal_kind_count; ++kind) {
    const char* name = signal_kind_name(static_cast<SignalKind>(kind));
    BOOST_TEST(run.signal_counts[name] > 0, name);
  }
}

}  // namespace
}  // namespace tally
