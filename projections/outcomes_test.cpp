// Outcomes by position (projections/outcome_board.h) and the derived indexes of store format 5:
// every committed record's outcome is the fold's, published only after its batch commits, held
// in a bounded ring (older ones say expired); every reject is under its org with where it stands,
// an org's early rejects come before its history, and an org's signals can be read by org.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

#include "engine/event_factory.h"
#include "engine/partitioner.h"
#include "projections/projector.h"
#include "projections/testkit.h"
#include "projections/view_checks.h"
#include "projections/views.h"
#include "tests/support/temp_dir.h"

using namespace tally;
using testkit::drain;
using testkit::MemoryLog;
using testkit::ok;
using testkit::small_batches;
using test_support::TempDir;

namespace {

constexpr int64_t t0 = 1'793'491'200'000;  // 2026-11-01T00:00:00Z
constexpr int64_t credit = 1'000'000;

// The views of `log` folded by a projector in `dir` (which then closes).
std::unique_ptr<ViewReader> project(const TempDir& dir, MemoryLog& log) {
  return testkit::project_views(dir.sub("views"), log, small_batches());
}

RecordOutcome outcome_at(uint64_t offset) {
  RecordOutcome outcome;
  outcome.position = LogPosition{PartitionId{0}, Offset{static_cast<int64_t>(offset)}};
  outcome.amount_micros = Micros{static_cast<int64_t>(offset)};
  return outcome;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_committed_record_has_the_outcome_the_fold_gave_it_and_every_reject_its_place) {
  const uint64_t seed = testkit::printed_seed(20261101);
  TempDir dir;
  MemoryLog log(4);
  testkit::WorkloadOptions workload;
  workload.seed = seed;
  workload.partitions = 4;
  testkit::WorkloadGenerator generator(workload);
  std::vector<AppendRequest> requests;
  generator.generate(12'000, requests);
  log.append_all(requests);
  const testkit::Reference ref(log);
  BOOST_REQUIRE_GT(ref.outcome_count(Outcome::conflict), 0u);
  BOOST_REQUIRE_GT(ref.outcome_count(Outcome::rejected), 0u);

  auto projector = ok(Projector::open(dir.sub("views"), small_batches()));
  auto reader = log.reader();
  ok(projector->start(*reader));
  drain(*projector, *reader);
  // Asked after the commits (the late waiter): every outcome is still there, and is the fold's.
  for (const auto& [position, expected] : ref.outcomes()) {
    const OutcomeWait wait = projector->wait_for_outcome(position, 0);
    BOOST_REQUIRE_MESSAGE(wait.state == OutcomeWait::State::ready, position.to_string());
    BOOST_TEST((wait.outcome.outcome == expected.outcome), position.to_string());
    BOOST_TEST((wait.outcome.reason == expected.reason), position.to_string());
    BOOST_TEST(wait.outcome.detail == expected.detail, position.to_string());
    BOOST_TEST(wait.outcome.amount_micros.value() == expected.amount_micros.value(), position.to_string());
    BOOST_TEST(wait.outcome.balance_after_micros.value() == expected.balance_after_micros.value(), position.to_string());
  }
  // Past the end of a partition: not committed, so the wait times out.
  const LogPosition beyond{PartitionId{0}, Offset{static_cast<int64_t>(log.size(PartitionId{0}))}};
  BOOST_TEST((projector->wait_for_outcome(beyond, 10).state == OutcomeWait::State::timed_out));

  // Every reject is in "org_rejects" under its org, with its placement.
  auto views = ok(ViewReader::open(dir.sub("views")));
  std::size_t indexed = 0;
  for (const auto& [position, expected] : ref.reject_placements()) {
    const RejectPage page = ok(views->org_rejects(RejectQuery{expected.first, position, 1}));
    BOOST_REQUIRE_MESSAGE(page.rejects.size() == 1u, position.to_string());
    BOOST_TEST(page.rejects[0].entry.position.to_string() == position.to_string());
    BOOST_TEST((page.rejects[0].placement == expected.second), position.to_string());
    BOOST_TEST((page.rejects[0].entry.reason == ref.rejects().at(position)));
    ++indexed;
  }
  BOOST_TEST(indexed == ref.rejects().size());
}

// ?wait=1 requests wait in wait_for_outcome while batches commit: each is woken for its own
// record (not at every commit), and one that times out and leaves must not disturb the others.
BOOST_AUTO_TEST_CASE(concurrent_waiters_each_get_their_own_outcome_while_others_time_out) {
  const uint64_t seed = testkit::printed_seed(20261207);
  TempDir dir;
  MemoryLog log(4);
  testkit::WorkloadOptions workload;
  workload.seed = seed;
  workload.partitions = 4;
  testkit::WorkloadGenerator generator(workload);
  std::vector<AppendRequest> requests;
  generator.generate(3'000, requests);
  log.append_all(requests);
  const testkit::Reference ref(log);
  std::vector<std::pair<LogPosition, RecordOutcome>> waited;
  std::size_t n = 0;
  for (const auto& entry : ref.outcomes()) {
    if (n++ % 97 == 0) waited.push_back(entry);  // spread over the partitions and the batches
  }
  BOOST_REQUIRE_GE(waited.size(), 24u);

  auto projector = ok(Projector::open(dir.sub("views"), small_batches()));
  auto reader = log.reader();
  ok(projector->start(*reader));
  std::vector<OutcomeWait> got(waited.size());
  std::atomic<int> timed_out{0};
  std::vector<std::thread> waiters;
  for (std::size_t i = 0; i < waited.size(); ++i) {
    waiters.emplace_back([&, i] { got[i] = projector->wait_for_outcome(waited[i].first, 60'000); });
  }
  // Past the ends: these leave by timing out, before and while the batches commit.
  for (int32_t p = 0; p < 4; ++p) {
    waiters.emplace_back([&, p] {
      const LogPosition beyond{PartitionId{p}, Offset{static_cast<int64_t>(log.size(PartitionId{p})) + p}};
      if (projector->wait_for_outcome(beyond, 5 + 10 * p).state == OutcomeWait::State::timed_out) ++timed_out;
    });
  }
  drain(*projector, *reader);
  for (std::thread& waiter : waiters) waiter.join();
  BOOST_TEST(timed_out.load() == 4);
  for (std::size_t i = 0; i < waited.size(); ++i) {
    const auto& [position, expected] = waited[i];
    BOOST_REQUIRE_MESSAGE(got[i].state == OutcomeWait::State::ready, position.to_string());
    BOOST_TEST((got[i].outcome.outcome == expected.outcome), position.to_string());
    BOOST_TEST(got[i].outcome.position.to_string() == position.to_string());
    BOOST_TEST(got[i].outcome.balance_after_micros.value() == expected.balance_after_micros.value(),
               position.to_string());
  }
  // The registry is empty again: a later wait for a committed record answers at once.
  BOOST_TEST((projector->wait_for_outcome(waited.front().first, 0).state == OutcomeWait::State::ready));
}

BOOST_AUTO_TEST_CASE(an_outcome_is_published_only_after_its_batch_commits) {
  TempDir dir;
  MemoryLog log(1);
  const LogPosition position =
      log.append("acme", make_signup_allocation({"grant-1", "acme", t0}, 5 * credit)).front();
  std::atomic<bool> disk_full{true};
  ProjectorOptions options = small_batches();
  options.commit_retry_initial_ms = 1;
  options.commit_retry_max_ms = 2;
  options.commit_fault = [&] { return disk_full.load() ? ENOSPC : 0; };
  auto projector = ok(Projector::open(dir.sub("views"), options));
  auto reader = log.reader();
  ok(projector->start(*reader));
  std::thread running([&] { drain(*projector, *reader); });
  // Folded and being retried, not committed: a waiter must not see it (a crash would undo it).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (projector->health().failed_attempts < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  BOOST_REQUIRE(projector->health().degraded);
  BOOST_TEST((projector->wait_for_outcome(position, 20).state == OutcomeWait::State::timed_out));
  disk_full = false;
  const OutcomeWait committed = projector->wait_for_outcome(position, 30'000);
  running.join();
  BOOST_REQUIRE((committed.state == OutcomeWait::State::ready));
  BOOST_TEST((committed.outcome.outcome == Outcome::applied));
  BOOST_TEST(committed.outcome.balance_after_micros.value() == 5 * credit);
  BOOST_TEST(committed.outcome.amount_micros.value() == 5 * credit);

  // A projector started later did not decide it: committed, but its outcome is not held here.
  projector.reset();
  auto restarted = ok(Projector::open(dir.sub("views"), small_batches()));
  auto again = log.reader();
  ok(restarted->start(*again));
  BOOST_TEST((restarted->wait_for_outcome(position, 0).state == OutcomeWait::State::expired));
}

BOOST_AUTO_TEST_CASE(a_ring_keeps_the_newest_outcomes_and_says_expired_for_older_ones) {
  OutcomeBoard board({0, 2}, 3, 1);  // the smallest ring: outcome_ring_records_min per partition
  const std::size_t ring = board.ring_records();
  BOOST_TEST(ring == outcome_ring_records_min);
  // Offsets need not be dense: every other one, ring + 100 of them.
  std::vector<RecordOutcome> batch;
  for (uint64_t i = 0; i < ring + 100; ++i) batch.push_back(outcome_at(2 * i));
  board.publish(batch);
  RecordOutcome found;
  BOOST_TEST((board.find(outcome_at(0).position, found) == OutcomeBoard::Found::expired));    // pushed out
  BOOST_TEST((board.find(outcome_at(198).position, found) == OutcomeBoard::Found::expired));  // the 100th
  BOOST_TEST((board.find(outcome_at(200).position, found) == OutcomeBoard::Found::ready));    // the oldest held
  BOOST_TEST(found.amount_micros.value() == 200);
  const uint64_t last = 2 * (ring + 99);
  BOOST_TEST((board.find(outcome_at(last).position, found) == OutcomeBoard::Found::ready));
  BOOST_TEST(found.amount_micros.value() == static_cast<int64_t>(last));
  BOOST_TEST((board.find(outcome_at(last - 1).position, found) == OutcomeBoard::Found::expired));  // no such record
  BOOST_TEST((board.find(outcome_at(last + 2).position, found) == OutcomeBoard::Found::pending));
  // A partition the board does not hold (not projected, or out of range) never has one.
  BOOST_TEST((board.find(LogPosition{PartitionId{1}, Offset{0}}, found) == OutcomeBoard::Found::expired));
  BOOST_TEST((board.find(LogPosition{PartitionId{7}, Offset{0}}, found) == OutcomeBoard::Found::expired));
  BOOST_TEST((board.find(LogPosition{PartitionId{2}, Offset{0}}, found) == OutcomeBoard::Found::pending));
}

BOOST_AUTO_TEST_CASE(an_orgs_first_events_rejected_before_it_existed_come_first_in_its_history) {
  TempDir dir;
  MemoryLog log(2);
  // newco's first events are rejected (nothing to take from, an unknown purchase); then it exists.
  log.append("newco", make_admin_adjustment({"take-1", "newco", t0}, -5 * credit, "fee", "ops", false));
  log.append("newco", make_refund({"refund-1", "newco", t0 + 1}, "no-such-purchase", credit, false));
  log.append("newco", make_signup_allocation({"grant-1", "newco", t0 + 2}, 10 * credit));
  log.append("newco", make_admin_adjustment({"take-2", "newco", t0 + 3}, -50 * credit, "fee", "ops", false));
  log.append("", "not an event at all");  // undecodable, on every partition
  auto views = project(dir, log);
  const OrgId newco = OrgId::make("newco").value();

  const RejectPage rejects = ok(views->org_rejects(RejectQuery{"newco", LogPosition{}, 10}));
  BOOST_REQUIRE_EQUAL(rejects.rejects.size(), 3u);
  BOOST_TEST((rejects.rejects[0].placement == RejectPlacement::before_org));
  BOOST_TEST((rejects.rejects[0].entry.reason == RejectReason::insufficient_balance));
  BOOST_TEST(rejects.rejects[0].entry.type == "admin_adjustment");
  BOOST_TEST(rejects.rejects[0].entry.idempotency_key == "take-1");
  BOOST_TEST((rejects.rejects[1].entry.reason == RejectReason::unknown_purchase));
  BOOST_TEST((rejects.rejects[2].placement == RejectPlacement::in_history));  // newco existed by then
  BOOST_TEST(ok(views->org_rejects(RejectQuery{"", LogPosition{}, 10})).rejects.size() == 2u);  // one per partition

  // Pages of one: the two early rejects, then the history from sequence 0.
  HistoryQuery query{.org_id = newco, .limit = 1, .early_from = LogPosition{}};
  std::vector<std::string> keys;
  for (int page_number = 0; page_number < 10; ++page_number) {
    const HistoryPage page = ok(views->history(query));
    for (const HistoryEntry& e : page.entries) keys.push_back(e.idempotency_key + (e.early ? "(early)" : ""));
    if (page.next_early) {
      query.early_from = page.next_early;
    } else if (page.next_sequence) {
      query.early_from.reset();
      query.after_sequence = *page.next_sequence;
    } else {
      break;
    }
  }
  BOOST_TEST(keys == (std::vector<std::string>{"take-1(early)", "refund-1(early)", "grant-1", "take-2"}),
             boost::test_tools::per_element());
  // Without early_from, the history alone (as before).
  BOOST_TEST(ok(views->history(HistoryQuery{.org_id = newco})).entries.size() == 2u);
  std::size_t early = 0;
  ok(views->for_each_early_reject(newco, INT64_MIN, INT64_MAX, [&](const HistoryEntry& e) {
    BOOST_TEST(e.balance_after_micros.value() == 0);
    return ++early > 0;
  }));
  BOOST_TEST(early == 2u);
}

BOOST_AUTO_TEST_CASE(an_orgs_signals_are_read_by_org_and_kind_page_by_page) {
  TempDir dir;
  MemoryLog log(2);
  // Low balance warnings come and go: threshold 5, balance 10 -> 3 -> 13 -> 2 -> 12.
  log.append("acme", make_signup_allocation({"grant", "acme", t0}, 10 * credit));
  log.append("acme", make_low_balance_threshold_set({"low", "acme", t0 + 1}, 5 * credit));
  int64_t at = t0 + 2;
  for (int64_t change : {-7, 10, -11, 10}) {
    const std::string key = "adjust-" + std::to_string(at);
    log.append("acme", make_admin_adjustment({key, "acme", at++}, change * credit, "test", "ops", true));
  }
  log.append("globex", make_signup_allocation({"grant", "globex", t0}, 10 * credit));
  auto views = project(dir, log);
  const OrgId acme = OrgId::make("acme").value();

  const SignalPage all = ok(views->org_signals(SignalQuery{.org_id = acme, .limit = 100}));
  BOOST_REQUIRE_GE(all.signals.size(), 3u);
  BOOST_TEST(!all.next_after.has_value());
  for (const OutboxEntry& signal : all.signals) BOOST_TEST(signal.signal_id.find(":acme") != std::string::npos);
  const SignalPage low = ok(views->org_signals(SignalQuery{.org_id = acme, .kind = SignalKind::balance_low}));
  BOOST_TEST(low.signals.size() == 2u);
  for (const OutboxEntry& signal : low.signals) BOOST_TEST(signal.signal_id.find(":balance_low:") != std::string::npos);
  // Pages of one walk the same signals in the same order.
  std::vector<uint64_t> walked;
  SignalQuery query{.org_id = acme, .limit = 1};
  for (;;) {
    const SignalPage page = ok(views->org_signals(query));
    for (const OutboxEntry& signal : page.signals) walked.push_back(signal.sequence);
    if (!page.next_after) break;
    query.after_sequence = *page.next_after;
  }
  BOOST_REQUIRE_EQUAL(walked.size(), all.signals.size());
  for (std::size_t i = 0; i < walked.size(); ++i) BOOST_TEST(walked[i] == all.signals[i].sequence);
  BOOST_TEST(ok(views->org_signals(SignalQuery{.org_id = OrgId::make("nobody").value()})).signals.empty());
}
