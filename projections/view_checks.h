// Boost.Test checks shared by the projector's tests: every view of a data dir against the
// reference fold (projections/testkit.h) of the same log, and a projector run over a whole
// MemoryLog. Include after <boost/test/unit_test.hpp>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "projections/partitioned_layout.h"
#include "projections/partitioned_projector.h"
#include "projections/projector.h"
#include "projections/testkit.h"
#include "projections/views.h"

namespace tally::testkit {

template <typename T>
T ok(Result<T> result) {
  BOOST_REQUIRE_MESSAGE(result.is_ok(), result.status().to_string());
  return std::move(result.value());
}
inline void ok(const Status& status) { BOOST_REQUIRE_MESSAGE(status.is_ok(), status.to_string()); }

// The seed of a randomised test (test_seed: TALLY_SEED if set, else `fallback`), printed so that
// a failure can be replayed.
inline uint64_t printed_seed(uint64_t fallback) {
  const uint64_t seed = test_seed(fallback);
  BOOST_TEST_MESSAGE("seed " << seed << " (TALLY_SEED overrides)");
  return seed;
}

// No waiting for records that will not come, and a map that needs no growing for a test's log.
inline ProjectorOptions quick_options() {
  ProjectorOptions options;
  options.poll_timeout_ms = 0;
  options.map_size_bytes = std::size_t{64} << 20;
  return options;
}

// quick_options() in many batches with odd boundaries.
inline ProjectorOptions small_batches() {
  ProjectorOptions options = quick_options();
  options.batch_events_max = 997;
  return options;
}

// Runs the projector until nothing is left to read; returns the number of records committed.
inline std::size_t drain(Projector& projector, LogReader& reader) {
  std::size_t total = 0;
  for (;;) {
    const std::size_t n = ok(projector.run_once(reader));
    if (n == 0) return total;
    total += n;
  }
}

// The same for a projector of several partitions: run_once until nothing is left.
inline std::size_t drain(PartitionedProjector& projector) {
  std::size_t total = 0;
  for (std::size_t n; (n = ok(projector.run_once())) != 0;) total += n;
  return total;
}

// A partitioned projector in `root` over `log`, started (owning no partition if `none`).
inline std::unique_ptr<PartitionedProjector> open_partitioned(const std::string& root, MemoryLog& log, bool none) {
  auto projector = ok(PartitionedProjector::open(root, log.partitions(), small_batches(), {}, none));
  ok(projector->start([&log]() -> Result<std::unique_ptr<LogReader>> { return log.reader(); }));
  return projector;
}

// Appends events [skip, skip + events) of the generated workload `seed` to `log`.
inline void append_generated(MemoryLog& log, uint64_t seed, std::size_t events, std::size_t skip) {
  WorkloadOptions workload;
  workload.seed = seed;
  workload.partitions = log.partitions();
  WorkloadGenerator generator(workload);
  std::vector<AppendRequest> requests;
  generator.generate(skip + events, requests);
  log.append_all(std::vector<AppendRequest>(requests.begin() + static_cast<std::ptrdiff_t>(skip), requests.end()));
}

// The digest of every view of the store in `store_dir`, hex.
inline std::string all_digest(const std::string& store_dir) {
  return ok(ok(ViewReader::open(store_dir))->digests()).at("all").to_hex();
}

// A fresh projector on `dir` folds the whole of `log`; returns the views (the projector closes).
inline std::unique_ptr<ViewReader> project_views(const std::string& dir, MemoryLog& log,
                                                 const ProjectorOptions& options = quick_options()) {
  auto projector = ok(Projector::open(dir, options));
  auto reader = log.reader();
  ok(projector->start(*reader));
  drain(*projector, *reader);
  return ok(ViewReader::open(dir));
}

// Every view of `dir` against the reference fold of the same log.
inline void check_views(const std::string& dir, const Reference& ref) {
  auto views = ok(ViewReader::open(dir));

  // Orgs and their states.
  const auto expected_orgs = ref.orgs();
  const auto org_ids = ok(views->org_ids());
  BOOST_REQUIRE_EQUAL(org_ids.size(), expected_orgs.size());
  for (const auto& [id, expected] : expected_orgs) {
    const auto org = ok(views->org(OrgId::make(id).value()));
    BOOST_REQUIRE_MESSAGE(org.has_value(), "org " << id << " missing");
    BOOST_CHECK_MESSAGE(org->state == expected, "org " << id << " differs: balance " << org->state.balance_micros
                                                       << " vs " << expected.balance_micros);
  }
  // Members.
  const auto expected_members = ref.ledger().members();  // an ordered copy
  std::size_t members_seen = 0;
  for (const auto& id : org_ids) {
    for (const MemberView& member : ok(views->members(id))) {
      const auto it = expected_members.find(MemoryLedger::member_key(id, member.member_id));
      BOOST_REQUIRE(it != expected_members.end());
      BOOST_CHECK(member.state == it->second);
      ++members_seen;
    }
  }
  BOOST_CHECK_EQUAL(members_seen, expected_members.size());

  // History: every entry, in order.
  std::size_t history_entries = 0;
  for (const auto& [id, expected] : ref.history()) {
    std::vector<HistoryEntry> entries;
    ok(views->for_each_history(OrgId::make(id).value(), INT64_MIN, INT64_MAX, [&](const HistoryEntry& e) {
      entries.push_back(e);
      return true;
    }));
    BOOST_REQUIRE_EQUAL(entries.size(), expected.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const HistoryEntry& e = entries[i];
      BOOST_CHECK_EQUAL(e.sequence, i);
      const testkit::ExpectedHistory got{e.outcome, e.reason, e.amount_micros, e.balance_after_micros, e.position};
      BOOST_CHECK_MESSAGE(got == expected[i], "history " << id << "#" << i << " differs");
    }
    history_entries += entries.size();
  }
  BOOST_TEST_MESSAGE("history entries: " << history_entries);

  // Outbox: signal ids per partition, in emission order; sequences dense from 1 in one store,
  // increasing in a partitioned directory (views.h: partitioned_outbox_sequence).
  const bool partitioned = read_partitioned_layout(dir).is_ok();
  std::map<int32_t, std::vector<std::string>> signals;
  uint64_t expected_sequence = 1;
  for (uint64_t after = 0;;) {
    const auto page = ok(views->outbox(after, 1000));
    if (page.empty()) break;
    for (const OutboxEntry& entry : page) {
      if (partitioned) {
        BOOST_REQUIRE_GE(entry.sequence, expected_sequence);
        expected_sequence = entry.sequence + 1;
      } else {
        BOOST_REQUIRE_EQUAL(entry.sequence, expected_sequence++);
      }
      signals[std::stoi(entry.signal_id.substr(0, entry.signal_id.find(':')))].push_back(entry.signal_id);
      BOOST_CHECK(!entry.bytes.empty());
    }
    after = page.back().sequence;
  }
  BOOST_CHECK(signals == ref.signal_ids());

  // Rejects.
  std::vector<RejectEntry> rejects;
  for (std::optional<LogPosition> after;;) {  // page by page: a page holds at most 100,000
    const auto page = ok(views->rejects(50'000, after));
    if (page.empty()) break;
    rejects.insert(rejects.end(), page.begin(), page.end());
    after = page.back().position;
  }
  BOOST_REQUIRE_EQUAL(rejects.size(), ref.rejects().size());
  for (const RejectEntry& r : rejects) {
    const auto it = ref.rejects().find(r.position);
    BOOST_REQUIRE(it != ref.rejects().end());
    BOOST_CHECK_EQUAL(static_cast<int>(r.reason), static_cast<int>(it->second));
    BOOST_CHECK(!r.detail.empty());
  }

  // Partitions: hash chains and counts.
  for (const PartitionView& p : ok(views->partitions())) {
    const auto it = ref.ledger().partitions().find(p.partition.value);
    BOOST_REQUIRE(it != ref.ledger().partitions().end());
    const auto chain = ref.chains().find(p.partition.value);
    BOOST_REQUIRE(chain != ref.chains().end());
    BOOST_CHECK(p.chain == chain->second.head);
    BOOST_CHECK_EQUAL(p.records, chain->second.records);
    BOOST_CHECK_EQUAL(p.next_offset.value, static_cast<int64_t>(p.records));  // dense memory log
    BOOST_CHECK_EQUAL(p.rate_card_version, it->second.rate_card.version);
    // The chain view keeps one mark per record, the last one the head's.
    const std::vector<ChainMark> marks = ok(views->chain_marks(p.partition, Offset{0}, p.records + 1));
    BOOST_CHECK_EQUAL(marks.size(), p.records);
    if (!marks.empty()) BOOST_CHECK_EQUAL(marks.back().mark, chain_mark(p.chain));
  }

  // Usage roll-ups add up to what usage debited.
  for (const auto& [id, debited] : ref.debited_by_org()) {
    int64_t sum = 0;
    for (const UsageRollup& u : ok(views->usage(OrgId::make(id).value(), INT64_MIN, INT64_MAX))) sum += u.debited_micros.value();
    BOOST_CHECK_MESSAGE(sum == debited, "usage of " << id << ": " << sum << " vs " << debited);
  }

  // Outcome counters.
  const auto stats = ok(views->stats());
  for (int o = 0; o < 4; ++o) {
    const auto outcome = static_cast<Outcome>(o);
    BOOST_CHECK_EQUAL(stats.outcomes.at(outcome_name(outcome)), ref.outcome_count(outcome));
  }
}


}  // namespace tally::testkit
