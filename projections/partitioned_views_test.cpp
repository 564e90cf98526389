// A partitioned views directory (projections/partitioned_layout.h: one store per partition, each
// projected by its own Projector) read through ViewReader::open answers as one store folding the
// same log: the same digests (every view and "all"), orgs, members, histories, usage, grants,
// rejects, partitions, counters and payments; the outbox with the same signals per partition in
// the same order under partitioned sequences (views.h: OutboxEntry). One seeded multi-partition
// log — the workload generator's mix plus wrong-partition copies, orgs whose first events land in
// a wrong partition, clock-skewed events and undecodable records — is projected both ways.
//
// Seeded: TALLY_SEED reruns a failure; the seed is printed first.
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "engine/event_factory.h"
#include "engine/partitioner.h"
#include "projections/partitioned_layout.h"
#include "projections/projector.h"
#include "projections/testkit.h"
#include "projections/view_checks.h"
#include "projections/views.h"
#include "tests/support/temp_dir.h"

using namespace tally;
using testkit::MemoryLog;
using testkit::ok;
using test_support::TempDir;

namespace {

constexpr int32_t partition_count = 5;  // not a power of two: sequences interleave unevenly
constexpr int orgs = 30;
constexpr int64_t log_clock_ms = 1'796'000'000'000;  // 2026-11-30: every record's append time

// The log: the generator's workload with strays, ghosts, skewed and garbage records mixed in.
void make_log(MemoryLog& log, uint64_t seed) { testkit::append_mixed_log(log, seed, orgs, 120, log_clock_ms); }

// Projects every partition of `log` into `root` as a partitioned directory: one Projector per
// partition, each on its own store.
void project_partitioned(const std::string& root, MemoryLog& log, const std::vector<int32_t>& partitions) {
  ok(write_partitioned_layout(root, log.partitions()));
  for (int32_t p : partitions) {
    ProjectorOptions options = testkit::quick_options();
    options.partitions = {p};
    auto projector = ok(Projector::open(partition_store_dir(root, PartitionId{p}), options));
    auto reader = log.reader();
    ok(projector->start(*reader));
    testkit::drain(*projector, *reader);
  }
}

// The log projected both ways, once for every test case.
struct Projected {
  TempDir dir{"tally-partitioned_views_test"};
  MemoryLog log{partition_count};
  std::unique_ptr<ViewReader> single;
  std::unique_ptr<ViewReader> partitioned;
  std::vector<OrgId> org_ids;  // every org, ghosts included

  Projected() {
    make_log(log, testkit::printed_seed(20'260'514));
    // Odd batch boundaries in the single store: chunked views differ, digests must not.
    single = testkit::project_views(dir.sub("single"), log, testkit::small_batches());
    std::vector<int32_t> all;
    for (int32_t p = 0; p < partition_count; ++p) all.push_back(p);
    project_partitioned(dir.sub("partitioned"), log, all);
    partitioned = ok(ViewReader::open(dir.sub("partitioned")));
    org_ids = ok(single->org_ids());
  }
};

Projected& projected() {
  static Projected instance;
  return instance;
}

std::string text(const HistoryEntry& e) {
  std::ostringstream out;
  out << e.sequence << ' ' << e.type << ' ' << e.idempotency_key << ' ' << static_cast<int>(e.outcome) << ' '
      << static_cast<int>(e.reason) << ' ' << e.detail << ' ' << e.amount_micros.value() << ' '
      << e.balance_after_micros.value() << ' ' << e.occurred_at_ms << ' ' << e.position.to_string() << ' '
      << e.rate_card_version << ' ' << e.tracked_cost_micros.value() << ' ' << e.debited_micros.value() << ' '
      << e.billing_path << ' ' << e.model << ' ' << e.member_id << ' ' << e.workspace << ' ' << e.payment_ref << ' '
      << e.paid_minor << ' ' << e.fee_minor << ' ' << e.currency << ' ' << e.reason_text << ' ' << e.early;
  for (const auto& f : e.fundings) out << " [" << f.grant_id << ' ' << f.micros.value() << ']';
  return out.str();
}

std::string text(const UsageRollup& u) {
  std::ostringstream out;
  out << u.day << ' ' << u.model << ' ' << u.member_id << ' ' << u.workspace << ' ' << u.project << ' ' << u.agent_id
      << ' ' << u.provider << ' ' << u.billing_path << ' ' << u.events << ' ' << u.debited_micros.value() << ' '
      << u.tracked_cost_micros.value() << ' ' << u.input_tokens << ' ' << u.output_tokens << ' '
      << u.cache_read_tokens << ' ' << u.cache_write_tokens << ' ' << u.seconds;
  return out.str();
}

std::string text(const RejectEntry& r) {
  return r.position.to_string() + ' ' + r.org_id + ' ' + r.idempotency_key + ' ' +
         std::to_string(static_cast<int>(r.reason)) + ' ' + r.detail;
}

std::string text(const OrgReject& r) {
  return std::string(reject_placement_name(r.placement)) + ' ' + text(r.entry);
}

// Every history entry of an org, in pages of `limit`, from the early rejects on.
std::vector<std::string> paged_history(ViewReader& views, const OrgId& org, std::size_t limit) {
  std::vector<std::string> entries;
  HistoryQuery query{org, 0, limit};
  query.early_from = LogPosition{};
  for (int pages = 0;; ++pages) {
    BOOST_REQUIRE_LT(pages, 100'000);
    const HistoryPage page = ok(views.history(query));
    for (const HistoryEntry& e : page.entries) entries.push_back(text(e));
    if (page.next_early) {
      query.early_from = page.next_early;
    } else if (page.next_sequence) {
      query.early_from.reset();
      query.after_sequence = *page.next_sequence;
    } else {
      return entries;
    }
  }
}

// Every reject of `org` ("": of no org), in pages of `limit`.
std::vector<std::string> paged_org_rejects(ViewReader& views, const std::string& org, std::size_t limit) {
  std::vector<std::string> rejects;
  RejectQuery query{org, LogPosition{}, limit};
  for (int pages = 0;; ++pages) {
    BOOST_REQUIRE_LT(pages, 100'000);
    const RejectPage page = ok(views.org_rejects(query));
    BOOST_REQUIRE_LE(page.rejects.size(), limit);
    for (const OrgReject& r : page.rejects) rejects.push_back(text(r));
    if (!page.next) return rejects;
    BOOST_REQUIRE_EQUAL(page.rejects.size(), limit);  // a page ends early only at the end
    query.from = *page.next;
  }
}

// Every signal of an org: (signal id, sequence), in pages of `limit`.
std::vector<std::pair<std::string, uint64_t>> paged_signals(ViewReader& views, const OrgId& org, std::size_t limit,
                                                            std::optional<SignalKind> kind = std::nullopt) {
  std::vector<std::pair<std::string, uint64_t>> signals;
  SignalQuery query{org, 0, limit, kind};
  for (int pages = 0;; ++pages) {
    BOOST_REQUIRE_LT(pages, 100'000);
    const SignalPage page = ok(views.org_signals(query));
    for (const OutboxEntry& e : page.signals) signals.emplace_back(e.signal_id, e.sequence);
    if (!page.next_after) return signals;
    BOOST_REQUIRE_GT(*page.next_after, query.after_sequence);
    query.after_sequence = *page.next_after;
  }
}

std::vector<std::string> ids_of(const std::vector<std::pair<std::string, uint64_t>>& signals) {
  std::vector<std::string> ids;
  for (const auto& [id, sequence] : signals) ids.push_back(id);
  return ids;
}

// The whole outbox, in pages of `limit`.
std::vector<OutboxEntry> paged_outbox(ViewReader& views, std::size_t limit) {
  std::vector<OutboxEntry> entries;
  for (uint64_t after = 0;;) {
    const auto page = ok(views.outbox(after, limit));
    BOOST_REQUIRE_LE(page.size(), limit);
    if (page.empty()) return entries;
    entries.insert(entries.end(), page.begin(), page.end());
    after = page.back().sequence;
  }
}

int32_t partition_of_signal(const std::string& signal_id) {
  return std::stoi(signal_id.substr(0, signal_id.find(':')));
}

}  // namespace

BOOST_AUTO_TEST_CASE(digests_are_the_single_stores) {
  Projected& p = projected();
  const auto single = ok(p.single->digests());
  const auto partitioned = ok(p.partitioned->digests());
  BOOST_REQUIRE(single.count("all") == 1);
  BOOST_REQUIRE_EQUAL(single.size(), partitioned.size());
  for (const auto& [name, digest] : single) {
    const auto it = partitioned.find(name);
    BOOST_REQUIRE_MESSAGE(it != partitioned.end(), "no digest of " << name);
    BOOST_CHECK_MESSAGE(it->second == digest, "digest of " << name << " differs");
  }
}

BOOST_AUTO_TEST_CASE(orgs_are_the_single_stores) {
  Projected& p = projected();
  const auto partitioned = ok(p.partitioned->org_ids());
  BOOST_REQUIRE_GE(p.org_ids.size(), static_cast<std::size_t>(orgs));
  BOOST_CHECK(partitioned == p.org_ids);
  std::set<int32_t> homes;
  for (const OrgId& id : p.org_ids) {
    homes.insert(partition_for_key(id.str(), partition_count));
    const auto single_org = ok(p.single->org(id));
    const auto partitioned_org = ok(p.partitioned->org(id));
    BOOST_REQUIRE(single_org && partitioned_org);
    BOOST_CHECK_MESSAGE(single_org->state == partitioned_org->state, "org " << id << " differs");
    const auto single_members = ok(p.single->members(id));
    const auto partitioned_members = ok(p.partitioned->members(id));
    BOOST_REQUIRE_EQUAL(single_members.size(), partitioned_members.size());
    for (std::size_t i = 0; i < single_members.size(); ++i) {
      BOOST_CHECK(single_members[i].member_id == partitioned_members[i].member_id);
      BOOST_CHECK(single_members[i].state == partitioned_members[i].state);
    }
    BOOST_CHECK(ok(p.single->closed_grants(id)) == ok(p.partitioned->closed_grants(id)));
  }
  BOOST_CHECK_EQUAL(homes.size(), static_cast<std::size_t>(partition_count));  // every store holds orgs
  BOOST_CHECK(!ok(p.partitioned->org(OrgId::make("nobody").value())).has_value());
}

BOOST_AUTO_TEST_CASE(histories_and_usage_are_the_single_stores) {
  Projected& p = projected();
  std::size_t entries = 0;
  for (const OrgId& id : p.org_ids) {
    const auto single = paged_history(*p.single, id, 7);
    BOOST_CHECK(paged_history(*p.partitioned, id, 7) == single);
    BOOST_CHECK(paged_history(*p.partitioned, id, 1000) == single);
    entries += single.size();
    std::vector<std::string> streamed;
    ok(p.partitioned->for_each_history(id, INT64_MIN, INT64_MAX, [&](const HistoryEntry& e) {
      streamed.push_back(text(e));
      return true;
    }));
    std::vector<std::string> early;
    ok(p.partitioned->for_each_early_reject(id, INT64_MIN, INT64_MAX, [&](const HistoryEntry& e) {
      early.push_back(text(e));
      return true;
    }));
    streamed.insert(streamed.begin(), early.begin(), early.end());
    BOOST_CHECK(streamed == single);
    std::vector<std::string> single_usage, partitioned_usage;
    for (const UsageRollup& u : ok(p.single->usage(id, INT64_MIN, INT64_MAX))) single_usage.push_back(text(u));
    for (const UsageRollup& u : ok(p.partitioned->usage(id, INT64_MIN, INT64_MAX))) partitioned_usage.push_back(text(u));
    BOOST_CHECK_MESSAGE(single_usage == partitioned_usage, "usage of " << id << " differs");
  }
  BOOST_TEST_MESSAGE("history entries: " << entries);
  BOOST_CHECK_GT(entries, 1000u);
}

BOOST_AUTO_TEST_CASE(rejects_page_as_the_single_stores) {
  Projected& p = projected();
  const auto all = [](ViewReader& views, std::size_t limit) {
    std::vector<std::string> rejects;
    for (std::optional<LogPosition> after;;) {
      const auto page = ok(views.rejects(limit, after));
      BOOST_REQUIRE_LE(page.size(), limit);
      if (page.empty()) return rejects;
      for (const RejectEntry& r : page) rejects.push_back(text(r));
      after = page.back().position;
    }
  };
  const auto single = all(*p.single, 7);
  BOOST_TEST_MESSAGE("rejects: " << single.size());
  BOOST_CHECK(all(*p.partitioned, 7) == single);
  BOOST_CHECK(all(*p.partitioned, 1) == single);
  BOOST_CHECK(all(*p.partitioned, 100'000) == single);
  std::set<std::string> partitions_with_rejects;
  for (const std::string& r : single) partitions_with_rejects.insert(r.substr(0, r.find(':')));
  BOOST_CHECK_EQUAL(partitions_with_rejects.size(), static_cast<std::size_t>(partition_count));

  // The records of no org, and each org's (wrong-partition copies are in other partitions' stores).
  const auto no_org = paged_org_rejects(*p.single, "", 3);
  BOOST_CHECK_GE(no_org.size(), 30u);  // the garbage records at least
  BOOST_CHECK(paged_org_rejects(*p.partitioned, "", 3) == no_org);
  BOOST_CHECK(paged_org_rejects(*p.partitioned, "", 1000) == no_org);
  std::size_t other_partition = 0;
  for (const OrgId& id : p.org_ids) {
    const auto single_rejects = paged_org_rejects(*p.single, id.str(), 2);
    for (const std::string& r : single_rejects) other_partition += r.starts_with("other_partition");
    BOOST_CHECK_MESSAGE(paged_org_rejects(*p.partitioned, id.str(), 2) == single_rejects, "rejects of " << id);
  }
  BOOST_CHECK_GT(other_partition, 0u);
}

BOOST_AUTO_TEST_CASE(partitions_stats_storage_and_payments_are_the_single_stores) {
  Projected& p = projected();
  const auto single = ok(p.single->partitions());
  const auto partitioned = ok(p.partitioned->partitions());
  BOOST_REQUIRE_EQUAL(single.size(), partitioned.size());
  for (std::size_t i = 0; i < single.size(); ++i) {
    const PartitionView& a = single[i];
    const PartitionView& b = partitioned[i];
    BOOST_CHECK_EQUAL(a.partition.value, b.partition.value);
    BOOST_CHECK_EQUAL(a.next_offset.value, b.next_offset.value);
    BOOST_CHECK(a.chain == b.chain);
    BOOST_CHECK_EQUAL(a.records, b.records);
    BOOST_CHECK_EQUAL(a.clock_ms, b.clock_ms);
    BOOST_CHECK_EQUAL(a.rate_card_version, b.rate_card_version);
    BOOST_CHECK_EQUAL(a.holds_active, b.holds_active);
    BOOST_CHECK(a.rate_card == b.rate_card);
    const auto marks = ok(p.single->chain_marks(a.partition, Offset{0}, a.records + 1));
    const auto partitioned_marks = ok(p.partitioned->chain_marks(a.partition, Offset{0}, a.records + 1));
    BOOST_REQUIRE_EQUAL(marks.size(), partitioned_marks.size());
    for (std::size_t m = 0; m < marks.size(); ++m) {
      BOOST_CHECK_EQUAL(marks[m].offset.value, partitioned_marks[m].offset.value);
      BOOST_CHECK_EQUAL(marks[m].mark, partitioned_marks[m].mark);
    }
  }
  BOOST_CHECK(ok(p.partitioned->chain_marks(PartitionId{partition_count}, Offset{0}, 10)).empty());

  const auto single_stats = ok(p.single->stats());
  const auto partitioned_stats = ok(p.partitioned->stats());
  BOOST_CHECK(single_stats.outcomes == partitioned_stats.outcomes);
  BOOST_CHECK_EQUAL(single_stats.hold_late, partitioned_stats.hold_late);
  BOOST_CHECK_GE(partitioned_stats.batches, static_cast<uint64_t>(partition_count));

  // The payment refs of applied purchases and refills, with the home partitions of their orgs.
  // The generator's refills may reuse a charge id in another org: one store keeps the ref of the
  // first purchase folded (which depends on how partitions interleave), each partition store its own.
  std::map<std::string, std::map<int32_t, std::string>> refs;  // ref -> home partition -> org
  for (const OrgId& id : p.org_ids) {
    ok(p.single->for_each_history(id, INT64_MIN, INT64_MAX, [&](const HistoryEntry& e) {
      if (e.payment_ref.empty() || e.type == "refund" || e.outcome != Outcome::applied) return true;
      refs[e.payment_ref].emplace(partition_for_key(id.str(), partition_count), id.str());
      return true;
    }));
  }
  std::size_t shared_refs = 0;
  for (const auto& [ref, homes] : refs) shared_refs += homes.size() - 1;
  BOOST_TEST_MESSAGE("payment refs: " << refs.size() << ", in more than one partition: " << shared_refs);

  // Entries of every view whose entries are not chunks of a batch nor each store's bookkeeping.
  const auto single_storage = ok(p.single->storage());
  const auto partitioned_storage = ok(p.partitioned->storage());
  BOOST_REQUIRE_EQUAL(single_storage.size(), partitioned_storage.size());
  for (std::size_t i = 0; i < single_storage.size(); ++i) {
    const std::string& name = single_storage[i].name;
    BOOST_CHECK_EQUAL(name, partitioned_storage[i].name);
    BOOST_CHECK_GT(partitioned_storage[i].pages, 0u);
    if (name == "meta" || name == "history" || name == "keys" || name == "chain") continue;
    const uint64_t expected = single_storage[i].entries + (name == "payments" ? shared_refs : 0);
    BOOST_CHECK_MESSAGE(partitioned_storage[i].entries == expected,
                        "entries of " << name << ": " << partitioned_storage[i].entries << " vs " << expected);
  }

  // Every payment ref finds the single store's purchase; a ref in several partitions, the lowest
  // partition's.
  for (const auto& [ref, homes] : refs) {
    const auto a = ok(p.single->purchase_by_payment(ref));
    const auto b = ok(p.partitioned->purchase_by_payment(ref));
    BOOST_REQUIRE(a.has_value() && b.has_value());
    if (homes.size() > 1) {
      BOOST_CHECK_EQUAL(b->org_id, homes.begin()->second);
      continue;
    }
    BOOST_CHECK_EQUAL(a->org_id, b->org_id);
    BOOST_CHECK_EQUAL(a->purchase_key, b->purchase_key);
    BOOST_CHECK_EQUAL(a->credits_micros.value(), b->credits_micros.value());
    BOOST_CHECK_EQUAL(a->refunded_micros.value(), b->refunded_micros.value());
    BOOST_CHECK_EQUAL(a->paid_minor, b->paid_minor);
    BOOST_CHECK_EQUAL(a->fee_minor, b->fee_minor);
  }
  BOOST_CHECK_GT(refs.size(), 10u);
  BOOST_CHECK(!ok(p.partitioned->purchase_by_payment("ch_nothing")).has_value());
}

BOOST_AUTO_TEST_CASE(outbox_has_the_single_stores_signals_under_partitioned_sequences) {
  Projected& p = projected();
  const auto single = paged_outbox(*p.single, 1000);
  std::map<int32_t, std::vector<std::string>> single_ids;
  std::map<std::string, std::string> single_bytes;
  for (const OutboxEntry& e : single) {
    single_ids[partition_of_signal(e.signal_id)].push_back(e.signal_id);
    single_bytes[e.signal_id] = e.bytes;
  }
  BOOST_TEST_MESSAGE("signals: " << single.size());
  BOOST_REQUIRE_GE(single_ids.size(), 2u);

  const auto whole = ok(p.partitioned->outbox(0, 100'000));
  BOOST_REQUIRE_EQUAL(whole.size(), single.size());
  for (std::size_t limit : {std::size_t{1}, std::size_t{7}, std::size_t{100}}) {
    const auto paged = paged_outbox(*p.partitioned, limit);
    BOOST_REQUIRE_EQUAL(paged.size(), whole.size());
    for (std::size_t i = 0; i < paged.size(); ++i) BOOST_CHECK_EQUAL(paged[i].sequence, whole[i].sequence);
  }
  std::map<int32_t, std::vector<std::string>> partitioned_ids;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    const OutboxEntry& e = whole[i];
    if (i > 0) BOOST_REQUIRE_GT(e.sequence, whole[i - 1].sequence);
    const int32_t partition = partition_of_signal(e.signal_id);
    BOOST_CHECK_EQUAL(e.sequence % partition_count, static_cast<uint64_t>(partition));
    partitioned_ids[partition].push_back(e.signal_id);
    BOOST_CHECK(single_bytes[e.signal_id] == e.bytes);
    // A cursor anywhere before an entry (not only a returned sequence) starts there.
    const auto from = ok(p.partitioned->outbox(e.sequence - 1, 1));
    BOOST_REQUIRE_EQUAL(from.size(), 1u);
    BOOST_CHECK_EQUAL(from[0].signal_id, e.signal_id);
  }
  BOOST_CHECK(partitioned_ids == single_ids);
  BOOST_CHECK(ok(p.partitioned->outbox(whole.back().sequence, 10)).empty());
  BOOST_CHECK(ok(p.partitioned->outbox(UINT64_MAX, 10)).empty());

  // An org's signals: the single store's, under the sequences the outbox gives them.
  std::map<std::string, uint64_t> sequence_of;
  for (const OutboxEntry& e : whole) sequence_of[e.signal_id] = e.sequence;
  std::size_t org_signals = 0;
  for (const OrgId& id : p.org_ids) {
    const auto single_signals = paged_signals(*p.single, id, 3);
    for (std::size_t limit : {std::size_t{1}, std::size_t{3}, std::size_t{1000}}) {
      const auto partitioned_signals = paged_signals(*p.partitioned, id, limit);
      BOOST_CHECK(ids_of(partitioned_signals) == ids_of(single_signals));
      for (const auto& [signal_id, sequence] : partitioned_signals) BOOST_CHECK_EQUAL(sequence, sequence_of[signal_id]);
    }
    BOOST_CHECK(ids_of(paged_signals(*p.partitioned, id, 2, SignalKind::balance_low)) ==
                ids_of(paged_signals(*p.single, id, 2, SignalKind::balance_low)));
    org_signals += single_signals.size();
  }
  BOOST_CHECK_EQUAL(org_signals, single.size());
}

BOOST_AUTO_TEST_CASE(outbox_sequences_translate_both_ways) {
  for (int32_t count : {1, 3, 1024}) {
    for (int32_t partition = 0; partition < count; partition += 1 + count / 4) {
      const PartitionId p{partition};
      for (uint64_t local : {uint64_t{1}, uint64_t{2}, uint64_t{1000}}) {
        const uint64_t merged = partitioned_outbox_sequence(local, p, count);
        BOOST_CHECK_EQUAL(partitioned_outbox_local_after(merged, p, count), local);
        BOOST_CHECK_EQUAL(partitioned_outbox_local_after(merged - 1, p, count), local - 1);
      }
      BOOST_CHECK_EQUAL(partitioned_outbox_local_after(0, p, count), 0u);
    }
  }
  BOOST_CHECK_EQUAL(partitioned_outbox_sequence(5, PartitionId{0}, 1), 5u);  // one partition: the store's own
}

BOOST_AUTO_TEST_CASE(a_partition_store_not_made_yet_is_not_found) {
  TempDir dir;
  MemoryLog log(3);
  testkit::WorkloadOptions options;
  options.partitions = 3;
  options.orgs = 6;
  testkit::WorkloadGenerator generator(options);
  std::vector<AppendRequest> records;
  generator.generate(200, records);
  log.append_all(records);
  project_partitioned(dir.path(), log, {0, 2});  // partition 1's projector has not run
  const auto views = ViewReader::open(dir.path());
  BOOST_REQUIRE(!views.is_ok());
  BOOST_CHECK_MESSAGE(views.status().code() == Status::Code::not_found, views.status().to_string());
  project_partitioned(dir.path(), log, {1});
  auto now = ok(ViewReader::open(dir.path()));
  BOOST_CHECK_EQUAL(ok(now->partitions()).size(), 3u);
}

BOOST_AUTO_TEST_CASE(a_malformed_layout_is_corruption) {
  TempDir dir;
  ok(write_partitioned_layout(dir.path(), 2));
  std::ofstream(dir.sub("layout"), std::ios::trunc) << "tally.views.partitioned 1\npartitions two\n";
  const auto views = ViewReader::open(dir.path());
  BOOST_REQUIRE(!views.is_ok());
  BOOST_CHECK_MESSAGE(views.status().code() == Status::Code::corruption, views.status().to_string());
}

BOOST_AUTO_TEST_CASE(a_directory_without_views_is_not_found) {
  TempDir dir;
  const auto views = ViewReader::open(dir.path());
  BOOST_REQUIRE(!views.is_ok());
  BOOST_CHECK_MESSAGE(views.status().code() == Status::Code::not_found, views.status().to_string());
}
