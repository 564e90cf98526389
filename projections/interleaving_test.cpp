// Any interleaving of the partitions gives the same views, byte for byte (SPEC §3). One seeded
// multi-partition log — the workload generator's mix (usage, purchases, refunds, duplicates,
// conflicts, member limits, refills, month rollovers) plus strays in wrong partitions (of orgs that
// exist and of orgs that do not yet), clock-skewed events and undecodable records — is folded in
// ≥ 200 random partition interleavings with MemoryLedger and in a few through the LMDB projector;
// every fold gives the same state, results, signals and hash chains.
//
// Issue 14, finding 3: an org's home partition was the first partition its events were read from,
// so a replay that read a stray record first rejected the org's real events.
//
// Seeded: TALLY_SEED reruns a failure; the seed is printed first.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "engine/event_factory.h"
#include "engine/partitioner.h"
#include "engine/state_codec.h"
#include "projections/projector.h"
#include "projections/testkit.h"
#include "projections/view_checks.h"
#include "projections/views.h"
#include "tests/support/temp_dir.h"

using namespace tally;
using testkit::MemoryLog;
using testkit::ok;
using testkit::Reference;

namespace {

constexpr int32_t partition_count = 4;
constexpr int interleavings_in_memory = 240;
constexpr int interleavings_in_lmdb = 3;
constexpr int64_t log_clock_ms = 1'796'000'000'000;  // 2026-11-30: every record's append time
constexpr int64_t cr = 1'000'000;

using test_support::TempDir;

// A copy of a log: every partition's records (value, append time), in offset order.
struct Records {
  std::vector<std::vector<std::pair<std::string, int64_t>>> partitions;
  LogRecord record(LogPosition p) const {
    const auto& [value, appended_at_ms] = partitions[static_cast<std::size_t>(p.partition.value)]
                                                    [static_cast<std::size_t>(p.offset.value)];
    return LogRecord{p, {}, value, appended_at_ms};
  }
};

Records copy_of(const MemoryLog& log) {
  Records records;
  records.partitions.resize(static_cast<std::size_t>(log.partitions()));
  for (int32_t p = 0; p < log.partitions(); ++p) {
    for (std::size_t o = 0; o < log.size(PartitionId{p}); ++o) {
      const LogPosition position{PartitionId{p}, Offset{static_cast<int64_t>(o)}};
      records.partitions[static_cast<std::size_t>(p)].emplace_back(log.value(position), log.appended_at(position));
    }
  }
  return records;
}

// The log of the test: the generator's workload, with strays, skewed and garbage records mixed in
// as it grows (so strays come before, between and after the real events of their orgs).
void make_log(MemoryLog& log, uint64_t seed) { testkit::append_mixed_log(log, seed, 24, 100, log_clock_ms); }

// A random interleaving of the partitions: each partition's records in offset order, runs of 1 to
// `run_max` records of one partition at a time.
std::vector<LogPosition> interleave(const Records& records, std::mt19937_64& rng, std::size_t run_max) {
  std::vector<int64_t> next(records.partitions.size(), 0);
  std::vector<LogPosition> order;
  for (;;) {
    std::vector<int32_t> open;
    for (std::size_t p = 0; p < next.size(); ++p) {
      if (static_cast<std::size_t>(next[p]) < records.partitions[p].size()) open.push_back(static_cast<int32_t>(p));
    }
    if (open.empty()) return order;
    const int32_t p = open[rng() % open.size()];
    const std::size_t run = 1 + rng() % run_max;
    auto& at = next[static_cast<std::size_t>(p)];
    for (std::size_t i = 0; i < run && static_cast<std::size_t>(at) < records.partitions[static_cast<std::size_t>(p)].size(); ++i) {
      order.push_back(LogPosition{PartitionId{p}, Offset{at++}});
    }
  }
}

// One partition after the other, in the given order of partitions.
std::vector<LogPosition> sequential(const Records& records, const std::vector<int32_t>& partitions) {
  std::vector<LogPosition> order;
  for (int32_t p : partitions) {
    for (std::size_t o = 0; o < records.partitions[static_cast<std::size_t>(p)].size(); ++o) {
      order.push_back(LogPosition{PartitionId{p}, Offset{static_cast<int64_t>(o)}});
    }
  }
  return order;
}

// Everything a fold in memory decided, as one digest: org, member and partition states, the
// number of keys, every record's outcome and history, the signal ids, and the hash chains. Each
// part is keyed by id or position, never by the order records came in.
Digest128 digest_of(const Reference& ref) {
  DigestBuilder d;
  for (const auto& [id, org] : ref.orgs()) d.add(id).add(encode(org));
  for (const auto& [id, member] : ref.ledger().members()) d.add(id).add(encode(member));
  for (const auto& [p, state] : ref.ledger().partitions()) d.add_int(p).add(encode(state));
  d.add_int(static_cast<int64_t>(ref.ledger().key_count()));
  for (const auto& [id, entries] : ref.history()) {
    d.add(id);
    for (const auto& e : entries) {
      d.add_int(static_cast<int64_t>(e.outcome)).add_int(static_cast<int64_t>(e.reason));
      d.add_int(e.amount_micros.value()).add_int(e.balance_after_micros.value()).add(e.position.to_string());
    }
  }
  for (const auto& [position, reason] : ref.rejects()) d.add(position.to_string()).add_int(static_cast<int64_t>(reason));
  for (const auto& [p, ids] : ref.signal_ids()) {
    d.add_int(p);
    for (const std::string& id : ids) d.add(id);
  }
  for (const auto& [p, chain] : ref.chains()) d.add_int(p).add(chain.head.to_hex()).add_int(static_cast<int64_t>(chain.records));
  return d.finish();
}

Reference fold_in(const Records& records, const std::vector<LogPosition>& order) {
  Reference ref;
  for (LogPosition p : order) ref.fold(records.record(p), partition_count);
  return ref;
}

// A LogReader that hands out a fixed interleaving of a log, whatever batch sizes are asked for.
class ScriptedReader final : public LogReader {
 public:
  ScriptedReader(const Records& records, std::vector<LogPosition> order)
      : records_(records), order_(std::move(order)), next_(records.partitions.size(), -1) {}
  int32_t partition_count() const override { return static_cast<int32_t>(records_.partitions.size()); }
  std::string identity() const override { return "memory:scripted"; }
  Status seek(PartitionId partition, Offset offset) override {
    next_[static_cast<std::size_t>(partition.value)] = offset.value;
    at_ = 0;  // from the start of the script, skipping what the seeks passed
    return Status::ok();
  }
  Status poll(std::vector<LogRecord>& out, std::size_t records_max, int) override {
    out.clear();
    for (; at_ < order_.size() && out.size() < records_max; ++at_) {
      const LogPosition p = order_[at_];
      int64_t& next = next_[static_cast<std::size_t>(p.partition.value)];
      if (next < 0 || p.offset.value < next) continue;
      out.push_back(records_.record(p));
      next = p.offset.value + 1;
    }
    return Status::ok();
  }
  Result<Offset> end_offset(PartitionId partition) override {
    return Offset{static_cast<int64_t>(records_.partitions[static_cast<std::size_t>(partition.value)].size())};
  }

 private:
  const Records& records_;
  std::vector<LogPosition> order_;
  std::vector<int64_t> next_;
  std::size_t at_ = 0;
};

// Folds the log in `order` through the projector into `dir` and returns the views' digests.
std::map<std::string, Digest128> project_in(const Records& records, std::vector<LogPosition> order,
                                            const std::string& dir, std::size_t batch) {
  ProjectorOptions options = testkit::quick_options();
  options.batch_events_max = batch;
  {
    auto projector = ok(Projector::open(dir, options));
    ScriptedReader reader(records, std::move(order));
    ok(projector->start(reader));
    testkit::drain(*projector, reader);
  }
  return ok(ok(ViewReader::open(dir))->digests());
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_interleaving_of_the_partitions_gives_the_same_views) {
  const uint64_t seed = testkit::test_seed(std::random_device{}());
  std::cout << "interleaving_test: seed " << seed << " (rerun with TALLY_SEED=" << seed << ")" << std::endl;
  MemoryLog log(partition_count, "memory:interleaving");
  make_log(log, seed);
  const Records records = copy_of(log);
  std::mt19937_64 rng(seed);

  const Reference first = fold_in(records, log.append_order());
  const Digest128 expected = digest_of(first);
  // The log has what the test is about.
  for (RejectReason reason : {RejectReason::wrong_partition, RejectReason::clock_skew, RejectReason::invalid_record}) {
    int count = 0;
    for (const auto& [position, r] : first.rejects()) count += r == reason;
    BOOST_TEST(count > 0, reject_reason_name(reason));
  }
  BOOST_TEST(first.outcome_count(Outcome::duplicate) > 0u);
  BOOST_TEST(first.outcome_count(Outcome::conflict) > 0u);
  BOOST_TEST(!first.signal_ids().empty());

  std::vector<std::vector<LogPosition>> orders = {sequential(records, {0, 1, 2, 3}),
                                                  sequential(records, {3, 2, 1, 0})};
  while (orders.size() < interleavings_in_memory) orders.push_back(interleave(records, rng, 1 + rng() % 300));
  for (std::size_t i = 0; i < orders.size(); ++i) {
    BOOST_TEST_CONTEXT("seed " << seed << " interleaving " << i) {
      BOOST_TEST(digest_of(fold_in(records, orders[i])).to_hex() == expected.to_hex());
    }
  }

  // Through the LMDB projector: the views' digests, whatever the interleaving and the batches.
  TempDir dir;
  std::map<std::string, Digest128> views;
  for (int i = 0; i < interleavings_in_lmdb; ++i) {
    BOOST_TEST_CONTEXT("seed " << seed << " LMDB interleaving " << i) {
      const std::string into = dir.sub("views-" + std::to_string(i));
      const auto digests = project_in(records, i == 0 ? orders[1] : interleave(records, rng, 1 + rng() % 500), into,
                                      1 + rng() % 700);
      if (i == 0) {
        views = digests;
        testkit::check_views(into, first);
      }
      for (const auto& [name, digest] : views) BOOST_TEST(digests.at(name).to_hex() == digest.to_hex(), "view " << name);
    }
  }
}

// Issue 14, finding 3, as a replay saw it: one record of org pz in partition 0 (pz lives in 3),
// read before pz's own partition. It made partition 0 pz's home, and pz's four real events were
// rejected (balance 1 instead of 4).
BOOST_AUTO_TEST_CASE(a_stray_record_read_first_does_not_take_an_orgs_events_away) {
  MemoryLog log(partition_count);
  log.set_clock([] { return log_clock_ms; });
  BOOST_REQUIRE(partition_for_key("pz", partition_count) == 3);
  const auto purchase = [](std::string key) {
    return make_purchase(EventHeader{key, "pz", 1'700'000'000'000}, {cr, 100, "usd", 0, 1, "ch"});
  };
  log.append_to(PartitionId{0}, "pz", purchase("stray"));
  for (int i = 0; i < 4; ++i) log.append_to(PartitionId{3}, "pz", purchase("p" + std::to_string(i)));
  const Records records = copy_of(log);
  TempDir dir;
  project_in(records, sequential(records, {0, 1, 2, 3}), dir.path(), 100);
  auto views = ok(ViewReader::open(dir.path()));
  const auto pz = ok(views->org(OrgIdView::make("pz").value()));
  BOOST_REQUIRE(pz.has_value());
  BOOST_TEST(pz->state.balance_micros == Micros{4 * cr});
  BOOST_TEST((pz->state.home_partition == PartitionId{3}));
  HistoryQuery query;
  query.org_id = OrgId::make("pz").value();
  const auto history = ok(views->history(query));
  BOOST_REQUIRE_EQUAL(history.entries.size(), 4u);
  for (const HistoryEntry& e : history.entries) BOOST_TEST(outcome_name(e.outcome) == std::string("applied"));
  const auto rejects = ok(views->rejects(10));
  BOOST_REQUIRE_EQUAL(rejects.size(), 1u);
  BOOST_TEST(reject_reason_name(rejects[0].reason) == std::string("wrong_partition"));
  BOOST_TEST(rejects[0].detail == "org pz lives in partition 3, not 0");
}
