// The projector against the in-memory fold: every view, restarts, poison records, wrong
// partitions, map growth and the startup checks.
#include <lmdb.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <random>
#include <thread>

#include "engine/event_factory.h"
#include "engine/partitioner.h"
#include "projections/projector.h"
#include "projections/records.h"
#include "projections/store.h"
#include "projections/testkit.h"
#include "projections/view_checks.h"
#include "projections/views.h"
#include "tests/support/temp_dir.h"

using namespace tally;
using testkit::MemoryLog;
using testkit::Reference;
using testkit::WorkloadGenerator;
using testkit::WorkloadOptions;
using testkit::ok;
using testkit::check_views;
using testkit::drain;
using testkit::small_batches;

namespace {

// The tests' own org ids: valid by construction.
OrgId id_of(const std::string& org) { return OrgId::make(org).value(); }

using test_support::TempDir;

struct Projected {
  std::size_t records = 0;
  ProjectorMetrics metrics;  // what the projector counted: map grows, batch retries, …
};

// A fresh projector on `dir` folds the whole log.
Projected project(const std::string& dir, MemoryLog& log, const ProjectorOptions& options) {
  auto projector = ok(Projector::open(dir, options));
  auto reader = log.reader();
  ok(projector->start(*reader));
  const std::size_t records = drain(*projector, *reader);
  return Projected{records, projector->metrics()};
}

std::size_t project_all(const std::string& dir, MemoryLog& log, const ProjectorOptions& options) {
  return project(dir, log, options).records;
}

// Folds the whole log into `dir`, checks every view against the reference fold of the same log,
// and returns the views.
std::unique_ptr<ViewReader> project_and_check(const std::string& dir, MemoryLog& log) {
  const Reference ref(log);
  project_all(dir, log, small_batches());
  check_views(dir, ref);
  return ok(ViewReader::open(dir));
}

void fill(MemoryLog& log, uint64_t seed, std::size_t events, int orgs = 40) {
  WorkloadOptions options;
  options.seed = seed;
  options.partitions = log.partitions();
  options.orgs = orgs;
  WorkloadGenerator generator(options);
  std::vector<AppendRequest> requests;
  generator.generate(events, requests);
  log.append_all(requests);
}

std::map<std::string, Digest128> digests_of(const std::string& dir) {
  auto views = ok(ViewReader::open(dir));
  return ok(views->digests());
}


// Runs `change` in one write transaction of a raw LMDB environment on `dir` (committed, closed):
// what another program, or another format of the store, would have written there.
void with_raw_lmdb(const std::string& dir, unsigned int max_dbs, const std::function<void(MDB_txn*)>& change) {
  MDB_env* env = nullptr;
  BOOST_REQUIRE_EQUAL(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, max_dbs);
  BOOST_REQUIRE_EQUAL(mdb_env_open(env, dir.c_str(), 0, 0644), 0);
  MDB_txn* txn = nullptr;
  BOOST_REQUIRE_EQUAL(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  change(txn);
  BOOST_REQUIRE_EQUAL(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

// Rewrites the store in `dir` as one of another format would be: the meta "format_version" set to
// `version`, and the view `dropped_view` (if any) deleted.
void rewrite_store_format(const std::string& dir, char version, const char* dropped_view = nullptr) {
  with_raw_lmdb(dir, 16, [&](MDB_txn* txn) {
    MDB_dbi meta;
    BOOST_REQUIRE_EQUAL(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    if (dropped_view != nullptr) {
      MDB_dbi dropped;
      BOOST_REQUIRE_EQUAL(mdb_dbi_open(txn, dropped_view, 0, &dropped), 0);
      BOOST_REQUIRE_EQUAL(mdb_drop(txn, dropped, 1), 0);
    }
    std::string key = "format_version";
    char stored[4] = {0, 0, 0, version};
    MDB_val k{key.size(), key.data()}, v{4, stored};
    BOOST_REQUIRE_EQUAL(mdb_put(txn, meta, &k, &v, 0), 0);
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(mixed_workload_matches_the_memory_fold) {
  const uint64_t seed = testkit::printed_seed(20260131);
  TempDir dir;
  MemoryLog log(4);
  fill(log, seed, 20'000);
  const Reference ref(log);
  // The workload exercises what it should.
  BOOST_CHECK_GT(ref.outcome_count(Outcome::duplicate), 50u);
  BOOST_CHECK_GT(ref.outcome_count(Outcome::conflict), 10u);
  BOOST_CHECK_GT(ref.outcome_count(Outcome::rejected), 50u);
  std::size_t refills = 0, member_signals = 0;
  for (const auto& [p, ids] : ref.signal_ids()) {
    for (const auto& id : ids) {
      refills += id.find(":recharge_requested:") != std::string::npos;
      member_signals += id.find(":member_limit_") != std::string::npos;
    }
  }
  BOOST_CHECK_GT(refills, 10u);
  BOOST_CHECK_GT(member_signals, 2u);

  BOOST_CHECK_EQUAL(project_all(dir.path(), log, small_batches()), ref.records());
  check_views(dir.path(), ref);
}

BOOST_AUTO_TEST_CASE(restart_in_the_middle_gives_the_same_views) {
  const uint64_t seed = testkit::printed_seed(7);
  TempDir dir;
  MemoryLog log(4);
  fill(log, seed, 12'000);
  project_all(dir.sub("one-run"), log, small_batches());

  std::mt19937_64 rng(seed);
  std::size_t total = 0;
  for (int restart = 0; total < Reference(log).records(); ++restart) {
    BOOST_REQUIRE_LT(restart, 100);
    auto projector = ok(Projector::open(dir.sub("restarted"), small_batches()));
    auto reader = log.reader(1 + rng() % 200);  // a different interleaving each time
    ok(projector->start(*reader));
    const std::size_t batches = 1 + rng() % 4;
    for (std::size_t b = 0; b < batches; ++b) total += ok(projector->run_once(*reader));
  }
  BOOST_CHECK(digests_of(dir.sub("one-run")) == digests_of(dir.sub("restarted")));
  check_views(dir.sub("restarted"), Reference(log));
}

BOOST_AUTO_TEST_CASE(appending_while_projecting_and_read_your_writes) {
  TempDir dir;
  MemoryLog log(3);
  fill(log, 3, 2'000);
  ProjectorOptions options = small_batches();
  options.poll_timeout_ms = 5;
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> empty_commits{0};  // checked on this thread: Boost.Test is not thread-safe
  options.on_commit = [&](const CommittedBatch& batch) {
    if (batch.events == 0) empty_commits += 1;
    commits += 1;
  };
  auto projector = ok(Projector::open(dir.path(), options));
  auto reader = log.reader();
  std::atomic<bool> stop{false};
  Status run_status;
  std::thread runner([&] { run_status = projector->run(*reader, stop); });
  // A command appends and waits for the projector (?wait=1).
  const std::string org = "org-rw";
  const auto position = log.append(org, make_purchase(EventHeader{"rw-1", org, 1'770'000'000'000},
                                                      PaymentFields{5'000'000, 500, "usd", 0, 1, "ch_rw"}))[0];
  BOOST_CHECK(projector->wait_until_applied(position, 10'000));
  BOOST_CHECK_GT(projector->applied_offset(position.partition).value, position.offset.value);
  auto views = ok(ViewReader::open(dir.path()));  // shares the projector's environment
  const auto viewed = ok(views->org(id_of(org)));
  BOOST_REQUIRE(viewed.has_value());
  BOOST_CHECK_EQUAL(viewed->state.balance_micros, Micros{5'000'000});
  BOOST_CHECK(!projector->wait_until_applied(LogPosition{PartitionId{0}, Offset{1'000'000}}, 10));
  BOOST_CHECK(projector->applied_position(position.partition).offset > position.offset);

  // The emitter records its progress while the projector keeps folding.
  const auto outbox = ok(views->outbox(0, 10));
  BOOST_REQUIRE_GE(outbox.size(), 3u);
  ok(projector->record_outbox_sent(3));
  ok(projector->record_outbox_sent(2));  // never backwards
  BOOST_CHECK_EQUAL(ok(views->stats()).outbox_sent, 3u);
  BOOST_CHECK(projector->record_outbox_sent(UINT64_MAX - 1).code() == Status::Code::invalid_argument);
  stop = true;
  runner.join();
  ok(run_status);
  BOOST_CHECK_GT(commits.load(), 0u);
  BOOST_CHECK_EQUAL(empty_commits.load(), 0u);
  BOOST_CHECK_EQUAL(projector->metrics().batches, commits.load());
}

BOOST_AUTO_TEST_CASE(poison_records_become_rejects_and_the_partition_moves_on) {
  TempDir dir;
  MemoryLog log(2);
  const std::string org = "org-poison";
  const PartitionId p{partition_for_key(org, 2)};
  const std::string good = make_signup_allocation(EventHeader{"signup", org, 1'770'000'000'000}, 25'000'000);
  std::mt19937_64 rng(99);
  std::string random_bytes(300, '\0');
  for (char& c : random_bytes) c = static_cast<char>(rng());
  std::string wrong_identifier = good;
  wrong_identifier[4] = 'X';  // "TLE1" -> "XLE1"
  log.append_to(p, org, random_bytes);
  log.append_to(p, org, good.substr(0, good.size() / 2));  // truncated
  log.append_to(p, org, wrong_identifier);
  log.append_to(p, org, "");
  log.append_to(p, org, make_usage(EventHeader{"bad-usage", org, 1'770'000'000'001},
                                   UsageFields{.meter = fb::Meter::llm_tokens, .model = "m", .input_tokens = -1}));
  log.append_to(p, org, good);
  auto views = project_and_check(dir.path(), log);
  const auto rejects = ok(views->rejects(100));
  BOOST_REQUIRE_EQUAL(rejects.size(), 5u);
  for (std::size_t i = 0; i < 4; ++i) {
    BOOST_CHECK_EQUAL(rejects[i].position.offset.value, static_cast<int64_t>(i));
    BOOST_CHECK(rejects[i].reason == RejectReason::invalid_record);
    BOOST_TEST_MESSAGE("reject " << i << ": " << rejects[i].detail);
  }
  BOOST_CHECK(rejects[4].reason == RejectReason::invalid_field);
  BOOST_CHECK_EQUAL(rejects[4].org_id, org);
  BOOST_CHECK_EQUAL(rejects[4].idempotency_key, "bad-usage");
  BOOST_CHECK_NE(rejects[4].detail.find("input_tokens"), std::string::npos);
  // Paged: two at a time, each page after the last one's position, the same five in order.
  std::vector<RejectEntry> paged;
  for (std::optional<LogPosition> after;;) {
    const auto page = ok(views->rejects(2, after));
    BOOST_REQUIRE_LE(page.size(), 2u);
    if (page.empty()) break;
    paged.insert(paged.end(), page.begin(), page.end());
    after = page.back().position;
  }
  BOOST_REQUIRE_EQUAL(paged.size(), rejects.size());
  for (std::size_t i = 0; i < paged.size(); ++i) BOOST_CHECK(paged[i].position == rejects[i].position);
  const auto state = ok(views->org(id_of(org)));
  BOOST_REQUIRE(state.has_value());
  BOOST_CHECK_EQUAL(state->state.balance_micros, Micros{25'000'000});
  const auto partitions = ok(views->partitions());
  for (const PartitionView& view : partitions) {
    if (view.partition == p) BOOST_CHECK_EQUAL(view.next_offset.value, 6);
  }
}

// Regression: a record naming a body type but carrying no body (it verifies: a union's table may
// be absent) crashed the projector when its org already had a history: the history text read
// the missing body.
BOOST_AUTO_TEST_CASE(a_record_without_its_body_is_rejected_not_a_crash) {
  TempDir dir;
  MemoryLog log(2);
  const std::string org = "org-bodiless";
  const PartitionId p{partition_for_key(org, 2)};
  log.append_to(p, org, make_signup_allocation(EventHeader{"signup", org, 1'770'000'000'000}, 25'000'000));
  for (fb::Body type : {fb::Body::Usage, fb::Body::Purchase, fb::Body::MemberLimitSet}) {
    flatbuffers::FlatBufferBuilder builder;
    const std::string key = "bodiless-" + std::to_string(static_cast<int>(type));
    builder.Finish(fb::CreateEnvelopeDirect(builder, 1, key.c_str(), org.c_str(), 1'770'000'000'001, nullptr, nullptr,
                                            type, 0),
                   fb::EnvelopeIdentifier());
    log.append_to(p, org, std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize()));
  }
  auto views = project_and_check(dir.path(), log);
  const auto rejects = ok(views->rejects(10));
  BOOST_REQUIRE_EQUAL(rejects.size(), 3u);
  for (const RejectEntry& reject : rejects) {
    BOOST_CHECK(reject.reason == RejectReason::invalid_field);
    BOOST_CHECK_EQUAL(reject.detail, "type: missing event body");
  }
  HistoryQuery query;
  query.org_id = id_of(org);
  const auto history = ok(views->history(query));
  BOOST_REQUIRE_EQUAL(history.entries.size(), 4u);
  BOOST_CHECK_EQUAL(history.entries[1].type, "usage");
  BOOST_CHECK(history.entries[1].outcome == Outcome::rejected);
  BOOST_CHECK_EQUAL(history.entries[1].model, "");
  BOOST_CHECK_EQUAL(history.entries[1].billing_path, "");
}

BOOST_AUTO_TEST_CASE(an_orgs_event_in_another_partition_is_rejected) {
  TempDir dir;
  MemoryLog log(4);
  const std::string org = "org-home";
  const PartitionId home{partition_for_key(org, 4)};
  const PartitionId other{(home.value + 1) % 4};
  log.append_to(home, org, make_signup_allocation(EventHeader{"signup", org, 1'770'000'000'000}, 10'000'000));
  project_all(dir.path(), log, small_batches());  // the org exists before the stray event is read
  const LogPosition stray = log.append_to(
      other, org, make_admin_adjustment(EventHeader{"stray", org, 1'770'000'000'001}, 5'000'000, "r", "ops", false));
  auto views = project_and_check(dir.path(), log);
  const auto rejects = ok(views->rejects(10));
  BOOST_REQUIRE_EQUAL(rejects.size(), 1u);
  BOOST_CHECK(rejects[0].position == stray);
  BOOST_CHECK(rejects[0].reason == RejectReason::wrong_partition);
  BOOST_CHECK_EQUAL(rejects[0].org_id, org);
  BOOST_CHECK_EQUAL(rejects[0].idempotency_key, "stray");
  BOOST_CHECK_EQUAL(ok(views->org(id_of(org)))->state.balance_micros, Micros{10'000'000});
  // Not in the org's statement: the statement is the home partition's (deterministic) order.
  HistoryQuery query;
  query.org_id = id_of(org);
  const auto page = ok(views->history(query));
  BOOST_CHECK_EQUAL(page.entries.size(), 1u);
}

BOOST_AUTO_TEST_CASE(a_tiny_map_grows_and_gives_the_same_digest) {
  TempDir dir;
  MemoryLog log(4);
  fill(log, 11, 8'000);
  ProjectorOptions tiny = small_batches();
  tiny.map_size_bytes = std::size_t{64} << 10;
  ProjectorOptions large = small_batches();
  large.map_size_bytes = std::size_t{1} << 30;
  const Projected grown = project(dir.sub("tiny"), log, tiny);
  BOOST_CHECK_GT(grown.metrics.map_grows, 3u);
  BOOST_TEST_MESSAGE("map grows: " << grown.metrics.map_grows);
  project_all(dir.sub("large"), log, large);
  const auto a = digests_of(dir.sub("tiny"));
  const auto b = digests_of(dir.sub("large"));
  BOOST_CHECK(a == b);
  check_views(dir.sub("tiny"), Reference(log));
  // Reopening with the tiny option keeps the grown map (no regrowth from scratch).
  BOOST_CHECK_EQUAL(project_all(dir.sub("tiny"), log, tiny), 0u);
}

BOOST_AUTO_TEST_CASE(a_transaction_too_big_is_dropped_and_read_again_in_smaller_batches) {
  // MDB_TXN_FULL needs more than 131k dirty pages in one transaction, too big for a unit test: the
  // writer is told to fail two attempts with it. Each time the projector drops the batch with the
  // writer and the one folded after it (and the one read ahead), seeks back to the committed
  // offsets and goes on in batches half as big; nothing is lost or applied twice.
  TempDir dir;
  MemoryLog log(4);
  fill(log, 13, 20'000);
  ProjectorOptions faulty = small_batches();  // 997 records per batch
  std::atomic<int> attempts{0};
  faulty.commit_fault = [&attempts] {
    const int attempt = ++attempts;
    return attempt == 3 || attempt == 9 ? MDB_TXN_FULL : 0;
  };
  std::vector<std::size_t> sizes;  // of the committed batches, in commit order (run_once's thread)
  faulty.on_commit = [&sizes](const CommittedBatch& batch) { sizes.push_back(batch.events); };
  const Projected run = project(dir.sub("faulty"), log, faulty);
  BOOST_CHECK_EQUAL(run.metrics.batch_retries, 2u);
  const Reference ref(log);
  BOOST_CHECK_EQUAL(run.records, ref.records());
  std::size_t sum = 0;
  for (std::size_t n : sizes) sum += n;
  BOOST_CHECK_EQUAL(sum, ref.records());
  // Two full batches before the first fault; after the second, at most 997 / 2 / 2 records each.
  BOOST_REQUIRE_GT(sizes.size(), 3u);
  BOOST_CHECK_EQUAL(sizes[0], 997u);
  BOOST_CHECK_EQUAL(sizes[1], 997u);
  BOOST_CHECK_LE(sizes.back(), 249u);
  BOOST_CHECK_LE(*std::max_element(sizes.begin() + 2, sizes.end()), 498u);
  project_all(dir.sub("clean"), log, small_batches());
  BOOST_CHECK(digests_of(dir.sub("faulty")) == digests_of(dir.sub("clean")));
  check_views(dir.sub("faulty"), ref);
}

BOOST_AUTO_TEST_CASE(an_injected_lmdb_error_is_final_for_the_projector) {
  TempDir dir;
  MemoryLog log(4);
  fill(log, 17, 5'000);
  ProjectorOptions faulty = small_batches();
  std::atomic<int> attempts{0};
  faulty.commit_fault = [&attempts] { return ++attempts == 2 ? MDB_PANIC : 0; };
  auto projector = ok(Projector::open(dir.sub("faulty"), faulty));
  auto reader = log.reader();
  ok(projector->start(*reader));
  Result<std::size_t> first = projector->run_once(*reader);
  BOOST_REQUIRE(!first.is_ok());
  BOOST_TEST_MESSAGE(first.status().to_string());
  BOOST_CHECK(first.status().to_string().find("commit_fault") != std::string::npos);
  // Final for this instance: the same error again, nothing more applied.
  const Offset applied = projector->applied_offset(PartitionId{0});
  Result<std::size_t> again = projector->run_once(*reader);
  BOOST_REQUIRE(!again.is_ok());
  BOOST_CHECK_EQUAL(again.status().to_string(), first.status().to_string());
  BOOST_CHECK_EQUAL(projector->applied_offset(PartitionId{0}).value, applied.value);
  // A new instance goes on from the committed offsets to the same views as a clean run.
  projector.reset();
  ProjectorOptions healthy = small_batches();
  project_all(dir.sub("faulty"), log, healthy);
  project_all(dir.sub("clean"), log, healthy);
  BOOST_CHECK(digests_of(dir.sub("faulty")) == digests_of(dir.sub("clean")));
}

BOOST_AUTO_TEST_CASE(a_different_log_is_a_startup_error) {
  TempDir dir;
  MemoryLog log(2, "memory:first");
  fill(log, 5, 500);
  project_all(dir.path(), log, small_batches());

  MemoryLog other(2, "memory:second");
  fill(other, 5, 500);
  auto projector = ok(Projector::open(dir.path(), small_batches()));
  auto reader = other.reader();
  const Status s = projector->start(*reader);
  BOOST_CHECK(s.code() == Status::Code::conflict);
  BOOST_CHECK_NE(s.message().find("memory:first"), std::string::npos);
  BOOST_TEST_MESSAGE(s.to_string());

  MemoryLog more_partitions(3, "memory:first");
  auto reader3 = more_partitions.reader();
  const Status s3 = projector->start(*reader3);
  BOOST_CHECK(s3.code() == Status::Code::conflict);
  BOOST_TEST_MESSAGE(s3.to_string());
}

BOOST_AUTO_TEST_CASE(a_log_shorter_than_the_views_is_a_startup_error) {
  TempDir dir;
  MemoryLog log(2);
  fill(log, 6, 800);
  project_all(dir.path(), log, small_batches());
  log.truncate(PartitionId{1}, log.size(PartitionId{1}) - 3);
  auto projector = ok(Projector::open(dir.path(), small_batches()));
  auto reader = log.reader();
  const Status s = projector->start(*reader);
  BOOST_CHECK(s.code() == Status::Code::corruption);
  BOOST_CHECK_NE(s.message().find("partition 1"), std::string::npos);
  BOOST_TEST_MESSAGE(s.to_string());
}

BOOST_AUTO_TEST_CASE(one_projector_per_data_dir) {
  TempDir dir;
  auto first = ok(Projector::open(dir.path(), small_batches()));
  auto second = Projector::open(dir.path(), small_batches());
  BOOST_REQUIRE(!second.is_ok());
  BOOST_CHECK(second.status().code() == Status::Code::unavailable);
  first.reset();
  ok(Projector::open(dir.path(), small_batches()));
}

BOOST_AUTO_TEST_CASE(a_store_of_another_format_version_is_refused) {
  TempDir dir;
  MemoryLog log(1);
  fill(log, 8, 50);
  project_all(dir.path(), log, small_batches());
  rewrite_store_format(dir.path(), 99);  // tamper with raw LMDB
  auto views = ViewReader::open(dir.path());
  BOOST_REQUIRE(!views.is_ok());
  BOOST_CHECK(views.status().code() == Status::Code::corruption);
  BOOST_CHECK_NE(views.status().message().find("version 99"), std::string::npos);
  auto projector = Projector::open(dir.path(), small_batches());
  BOOST_REQUIRE(!projector.is_ok());
  BOOST_CHECK(projector.status().code() == Status::Code::corruption);

  // A store of the format before "payments" existed: the version is named, not the missing database.
  rewrite_store_format(dir.path(), 3, "payments");
  auto old_views = ViewReader::open(dir.path());
  BOOST_REQUIRE(!old_views.is_ok());
  BOOST_CHECK_NE(old_views.status().message().find("format version 3"), std::string::npos);
  BOOST_CHECK_NE(old_views.status().message().find("replay"), std::string::npos);

  // A store of format 4: a 16-byte MurmurHash3 chain head and no "chain" view. Refused by readers
  // and writers alike, naming the version.
  rewrite_store_format(dir.path(), 4, "chain");
  auto v4_views = ViewReader::open(dir.path());
  BOOST_REQUIRE(!v4_views.is_ok());
  BOOST_CHECK_NE(v4_views.status().message().find("format version 4; this build reads version " + std::to_string(store::store_format_version)), std::string::npos);
  auto v4_projector = Projector::open(dir.path(), small_batches());
  BOOST_REQUIRE(!v4_projector.is_ok());
  BOOST_CHECK(v4_projector.status().code() == Status::Code::corruption);
  BOOST_CHECK_NE(v4_projector.status().message().find("format version 4"), std::string::npos);

  // Another LMDB environment (a journal, say) is never taken for a store.
  {
    const std::string other = dir.sub("other-env");
    std::filesystem::create_directories(other);
    with_raw_lmdb(other, 4, [](MDB_txn* txn) {
      MDB_dbi meta;
      BOOST_REQUIRE_EQUAL(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta), 0);
    });
    auto refused = Projector::open(other, small_batches());
    BOOST_REQUIRE(!refused.is_ok());
    BOOST_CHECK(refused.status().code() == Status::Code::invalid_argument);
    BOOST_TEST_MESSAGE(refused.status().to_string());
    BOOST_CHECK(!ViewReader::open(other).is_ok());
  }

  auto missing = ViewReader::open(dir.sub("nothing-here"));
  BOOST_REQUIRE(!missing.is_ok());
  BOOST_CHECK(missing.status().code() == Status::Code::not_found);
}

BOOST_AUTO_TEST_CASE(history_pages_filters_and_usage_rollups) {
  TempDir dir;
  MemoryLog log(2);
  const std::string org = "org-pages";
  const int64_t day_ms = 86'400'000;
  const int64_t t0 = 1'770'000'000'000 / day_ms * day_ms;  // midnight UTC
  log.append(org, make_purchase(EventHeader{"p1", org, t0}, PaymentFields{100'000'000, 10'000, "usd", 30, 1, "ch_1"}));
  log.append("", make_rate_card(EventHeader{"rc", "", t0},
                                RateCardFields{1, 10000, 0, {{"gpt", ModelPrice{1'000'000, 2'000'000, 0, 0}}}, {}}));
  for (int i = 0; i < 30; ++i) {
    UsageFields u{.member_id = i % 2 ? "alice" : "bob", .workspace = "ws", .meter = fb::Meter::llm_tokens,
                  .model = "gpt", .input_tokens = 1'000'000, .output_tokens = 0};
    log.append(org, make_usage(EventHeader{"u" + std::to_string(i), org, t0 + i * day_ms / 10}, u));
  }
  project_all(dir.path(), log, small_batches());
  auto views = ok(ViewReader::open(dir.path()));

  // Pages of 7 usage entries, following the cursor.
  std::vector<HistoryEntry> all;
  HistoryQuery query{.org_id = id_of(org), .limit = 7, .type = "usage"};
  for (int pages = 0;; ++pages) {
    BOOST_REQUIRE_LT(pages, 10);
    const HistoryPage page = ok(views->history(query));
    all.insert(all.end(), page.entries.begin(), page.entries.end());
    if (!page.next_sequence) break;
    query.after_sequence = *page.next_sequence;
  }
  BOOST_REQUIRE_EQUAL(all.size(), 30u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    BOOST_CHECK_EQUAL(all[i].type, "usage");
    BOOST_CHECK_EQUAL(all[i].sequence, i + 1);  // the purchase is entry 0
    BOOST_CHECK_EQUAL(all[i].debited_micros, Micros{1'000'000});
    BOOST_CHECK_EQUAL(all[i].model, "gpt");
    BOOST_CHECK_EQUAL(all[i].billing_path, "credits");
    BOOST_CHECK_EQUAL(all[i].rate_card_version, 1);
    BOOST_CHECK_EQUAL(all[i].balance_after_micros, Micros{100'000'000 - static_cast<int64_t>(i + 1) * 1'000'000});
  }
  const HistoryPage purchases = ok(views->history(HistoryQuery{.org_id = id_of(org), .type = "purchase"}));
  BOOST_REQUIRE_EQUAL(purchases.entries.size(), 1u);
  BOOST_CHECK_EQUAL(purchases.entries[0].payment_ref, "ch_1");
  BOOST_CHECK_EQUAL(purchases.entries[0].paid_minor, 10'000);
  BOOST_CHECK_EQUAL(purchases.entries[0].currency, "usd");
  BOOST_CHECK(!views->history(HistoryQuery{.org_id = id_of(org), .type = "nonsense"}).is_ok());
  // Time filter: the second day only (usage 10..19).
  HistoryQuery day2_query;
  day2_query.org_id = id_of(org);
  day2_query.from_ms = t0 + day_ms;
  day2_query.to_ms = t0 + 2 * day_ms;
  const HistoryPage day2 = ok(views->history(day2_query));
  BOOST_CHECK_EQUAL(day2.entries.size(), 10u);

  // Roll-ups: 3 days × 2 members.
  const auto rollups = ok(views->usage(id_of(org), INT64_MIN, INT64_MAX));
  BOOST_REQUIRE_EQUAL(rollups.size(), 6u);
  int64_t events = 0;
  for (const UsageRollup& u : rollups) {
    events += u.events;
    BOOST_CHECK_EQUAL(u.model, "gpt");
    BOOST_CHECK_EQUAL(u.workspace, "ws");
    BOOST_CHECK_EQUAL(u.debited_micros, Micros{u.events * 1'000'000});
    BOOST_CHECK_EQUAL(u.input_tokens, u.events * 1'000'000);
  }
  BOOST_CHECK_EQUAL(events, 30);
  BOOST_CHECK_EQUAL(rollups.front().day, t0 / day_ms);
  BOOST_CHECK_EQUAL(ok(views->usage(id_of(org), t0 + day_ms, t0 + 2 * day_ms)).size(), 2u);
  BOOST_CHECK(ok(views->usage("no-such-org", INT64_MIN, INT64_MAX)).empty());
}

// Roll-up cells are keyed by day first, every org's cells of a day together: an org's query must
// find its own days among other orgs' (one sorting between its id and the next), skip the days it
// has none, and keep to the range asked.
BOOST_AUTO_TEST_CASE(usage_rollups_of_an_org_among_others_on_sparse_days) {
  TempDir dir;
  MemoryLog log(2);
  const int64_t day_ms = 86'400'000;
  const int64_t t0 = 1'770'000'000'000 / day_ms * day_ms;
  const int64_t d0 = t0 / day_ms;
  const std::map<std::string, std::vector<int>> days = {
      {"org-a", {0, 2, 5, 9}}, {"org-ab", {1, 2, 3, 4, 5, 9}}, {"org-b", {0, 1, 3, 6}}};
  for (const auto& [org, unused] : days) {
    log.append(org, make_purchase(EventHeader{"p-" + org, org, t0}, PaymentFields{100'000'000, 10'000, "usd", 30, 1, "ch-" + org}));
  }
  log.append("", make_rate_card(EventHeader{"rc", "", t0},
                                RateCardFields{1, 10000, 0, {{"gpt", ModelPrice{1'000'000, 2'000'000, 0, 0}}}, {}}));
  for (int day = 0; day <= 9; ++day) {
    for (const auto& [org, its_days] : days) {
      if (std::find(its_days.begin(), its_days.end(), day) == its_days.end()) continue;
      for (const char* member : {"alice", "bob"}) {
        UsageFields u{.member_id = member, .meter = fb::Meter::llm_tokens, .model = "gpt", .input_tokens = 1'000'000};
        log.append(org, make_usage(EventHeader{org + "-" + std::to_string(day) + member, org, t0 + day * day_ms + 1}, u));
      }
    }
  }
  auto views = project_and_check(dir.path(), log);
  const auto days_of = [&](const std::string& org, int64_t from_ms, int64_t to_ms) {
    std::vector<int> seen;
    for (const UsageRollup& u : ok(views->usage(id_of(org), from_ms, to_ms))) {
      BOOST_CHECK_EQUAL(u.events, 1);
      seen.push_back(static_cast<int>(u.day - d0));
    }
    return seen;
  };
  for (const auto& [org, its_days] : days) {
    std::vector<int> twice;
    for (int day : its_days) twice.insert(twice.end(), {day, day});  // alice's cell and bob's
    BOOST_TEST(days_of(org, INT64_MIN, INT64_MAX) == twice, boost::test_tools::per_element());
  }
  BOOST_TEST(days_of("org-a", t0 + day_ms, t0 + 5 * day_ms) == (std::vector<int>{2, 2}), boost::test_tools::per_element());
  BOOST_TEST(days_of("org-b", t0 + 2 * day_ms, t0 + 4 * day_ms) == (std::vector<int>{3, 3}), boost::test_tools::per_element());
  BOOST_TEST(days_of("org-ab", t0 + 6 * day_ms, t0 + 9 * day_ms).empty());
  BOOST_TEST(days_of("org-a", t0 + 9 * day_ms, t0 + 10 * day_ms) == (std::vector<int>{9, 9}), boost::test_tools::per_element());
  BOOST_TEST(days_of("org", INT64_MIN, INT64_MAX).empty());  // a prefix of the others, no cells of its own
}

HistoryQuery page_query(const std::string& org, uint64_t after_sequence, std::size_t limit = 100) {
  HistoryQuery query;
  query.org_id = id_of(org);
  query.after_sequence = after_sequence;
  query.limit = limit;
  return query;
}

// History and keys are stored in chunks per batch (store.h): where batches end must change no
// page and no digest, and a page may start anywhere inside a chunk.
BOOST_AUTO_TEST_CASE(history_chunks_do_not_show_through_pages_or_digests) {
  TempDir dir;
  MemoryLog log(2);
  const std::string org = "org-chunks";
  const int64_t t0 = 1'770'000'000'000;
  log.append(org, make_purchase(EventHeader{"p1", org, t0}, PaymentFields{900'000'000, 10'000, "usd", 30, 1, "ch_1"}));
  log.append("", make_rate_card(EventHeader{"rc", "", t0},
                                RateCardFields{1, 10000, 0, {{"gpt", ModelPrice{1'000'000, 2'000'000, 0, 0}}}, {}}));
  // Long free-text fields: one batch of these overflows history_chunk_bytes_max several times.
  const std::string workspace(900, 'w');
  const int usage_events = 300;
  std::vector<std::string> usage;
  for (int i = 0; i < usage_events; ++i) {
    UsageFields u{.member_id = "alice", .workspace = workspace, .meter = fb::Meter::llm_tokens,
                  .model = "gpt", .input_tokens = 1'000, .output_tokens = 0};
    usage.push_back(make_usage(EventHeader{"u" + std::to_string(i), org, t0 + i}, u));
    log.append(org, usage.back());
  }
  log.append(org, usage[7]);  // delivered twice
  ProjectorOptions one_batch = small_batches();
  one_batch.batch_events_max = 100'000;
  ProjectorOptions tiny_batches = small_batches();
  tiny_batches.batch_events_max = 7;
  project_all(dir.sub("one"), log, one_batch);
  project_all(dir.sub("tiny"), log, tiny_batches);
  BOOST_CHECK(digests_of(dir.sub("one")) == digests_of(dir.sub("tiny")));
  const std::size_t entries = usage_events + 2;  // the purchase, the usage, the duplicate
  BOOST_CHECK_GT(entries * workspace.size(), 3 * store::history_chunk_bytes_max);

  for (const char* sub : {"one", "tiny"}) {
    auto views = ok(ViewReader::open(dir.sub(sub)));
    // A page of 3 from every sequence: exactly the entries after it.
    for (uint64_t after = 0; after < entries; ++after) {
      const HistoryPage page = ok(views->history(page_query(org, after, 3)));
      const std::size_t expected = std::min<std::size_t>(3, entries - after);
      BOOST_REQUIRE_EQUAL(page.entries.size(), expected);
      for (std::size_t i = 0; i < expected; ++i) BOOST_CHECK_EQUAL(page.entries[i].sequence, after + i);
      BOOST_CHECK_EQUAL(page.next_sequence.has_value(), after + 3 < entries);
    }
    const HistoryPage last = ok(views->history(page_query(org, entries - 1)));
    BOOST_REQUIRE_EQUAL(last.entries.size(), 1u);
    BOOST_CHECK(last.entries[0].outcome == Outcome::duplicate);
    BOOST_CHECK(ok(views->history(page_query(org, entries))).entries.empty());
    BOOST_CHECK(ok(views->history(page_query("org-chunkz", 0))).entries.empty());
  }
  // The stored keys of tiny batches are still known after a restart: the duplicate again.
  log.append(org, usage[8]);
  project_all(dir.sub("tiny"), log, tiny_batches);
  auto views = ok(ViewReader::open(dir.sub("tiny")));
  const HistoryPage page = ok(views->history(page_query(org, entries)));
  BOOST_REQUIRE_EQUAL(page.entries.size(), 1u);
  BOOST_CHECK(page.entries[0].outcome == Outcome::duplicate);
}

BOOST_AUTO_TEST_CASE(history_records_round_trip) {
  HistoryEntry e;
  e.sequence = 42;
  e.type = "auto_refill";
  e.idempotency_key = "k";
  e.outcome = Outcome::rejected;
  e.reason = RejectReason::overflow;
  e.detail = "overflow";
  e.amount_micros = Micros{-5};
  e.balance_after_micros = Micros{INT64_MIN};
  e.occurred_at_ms = INT64_MAX;
  e.position = LogPosition{PartitionId{1023}, Offset{INT64_MAX}};
  e.rate_card_version = 3;
  e.billing_path = "invoiced";
  e.model = std::string("with\0nul", 8);
  e.member_id = "m";
  e.workspace = "w";
  e.payment_ref = "ch";
  e.paid_minor = 1;
  e.fee_minor = 2;
  e.currency = "eur";
  e.reason_text = "why";
  e.fundings = {{"grant-1", Micros{5}}, {"", Micros{INT64_MAX}}};  // a grant, then the overdraft
  std::string bytes, fundings;
  store::append_history(bytes, store::history_fields(e, fundings));
  HistoryEntry back;
  BOOST_REQUIRE(store::decode_history(bytes, 42, back));
  BOOST_CHECK_EQUAL(back.type, e.type);
  BOOST_CHECK_EQUAL(back.model, e.model);
  BOOST_CHECK_EQUAL(back.balance_after_micros, Micros{e.balance_after_micros});
  BOOST_CHECK(back.position == e.position);
  BOOST_CHECK_EQUAL(back.billing_path, "invoiced");
  BOOST_CHECK_EQUAL(back.reason_text, "why");
  BOOST_CHECK(back.fundings == e.fundings);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    BOOST_CHECK(!store::decode_history(std::string_view(bytes).substr(0, cut), 42, back));
  }
}

// The idempotency index lives in the projector's memory: a new projector must load it from the
// store, and a batch that was not committed (the map filled up) must not leave its keys behind.
BOOST_AUTO_TEST_CASE(a_payment_reference_finds_the_purchase_it_settled) {
  TempDir dir;
  MemoryLog log(2);
  const std::string org = "org-pay", other = "org-other";
  const int64_t t = 1'770'000'000'000;
  const PaymentFields checkout{50'000'000, 5'000, "usd", 30, 1, "pi_1"};
  log.append(org, make_purchase(EventHeader{"evt_1", org, t}, checkout));
  log.append(org, make_purchase(EventHeader{"evt_1", org, t}, checkout));  // a resent webhook: duplicate
  // Another purchase naming the same payment: the first purchase keeps the reference.
  log.append(other, make_purchase(EventHeader{"evt_2", other, t + 1}, PaymentFields{20'000'000, 2'000, "usd", 0, 1, "pi_1"}));
  // Rejected (no credits): never indexed.
  log.append(org, make_purchase(EventHeader{"evt_3", org, t + 2}, PaymentFields{-5, 1, "usd", 0, 1, "pi_bad"}));
  log.append(org, make_auto_refill(EventHeader{"refill:s1", org, t + 3}, PaymentFields{100'000'000, 10'000, "usd", 0, 1, "ch_9"}, "s1"));
  log.append(org, make_refund(EventHeader{"evt_r", org, t + 4}, "evt_1", 10'000'000, false));
  project_all(dir.path(), log, small_batches());
  auto views = ok(ViewReader::open(dir.path()));

  const auto checkout_payment = ok(views->purchase_by_payment("pi_1"));
  BOOST_REQUIRE(checkout_payment.has_value());
  BOOST_CHECK_EQUAL(checkout_payment->org_id, org);
  BOOST_CHECK_EQUAL(checkout_payment->purchase_key, "evt_1");
  BOOST_CHECK_EQUAL(checkout_payment->credits_micros, Micros{50'000'000});
  BOOST_CHECK_EQUAL(checkout_payment->refunded_micros, Micros{10'000'000});
  BOOST_CHECK_EQUAL(checkout_payment->paid_minor, 5'000);
  BOOST_CHECK_EQUAL(checkout_payment->fee_minor, 30);
  const auto refill = ok(views->purchase_by_payment("ch_9"));
  BOOST_REQUIRE(refill.has_value());
  BOOST_CHECK_EQUAL(refill->purchase_key, "refill:s1");
  BOOST_CHECK_EQUAL(refill->credits_micros, Micros{100'000'000});
  BOOST_CHECK(!ok(views->purchase_by_payment("pi_bad")).has_value());
  BOOST_CHECK(!ok(views->purchase_by_payment("pi_unknown")).has_value());
  BOOST_CHECK(!ok(views->purchase_by_payment("")).has_value());
  BOOST_CHECK(!ok(views->purchase_by_payment(std::string(300, 'x'))).has_value());
}

BOOST_AUTO_TEST_CASE(keys_of_earlier_runs_and_retried_batches_are_still_known) {
  TempDir dir;
  MemoryLog log(4);
  const std::string org = "org-keys";
  const PartitionId home{partition_for_key(org, 4)};
  const int64_t t = 1'770'000'000'000;
  log.append_to(home, org, make_signup_allocation(EventHeader{"signup", org, t}, 10'000'000));
  for (int i = 1; i <= 2000; ++i) {
    log.append_to(home, org, make_admin_adjustment(EventHeader{"adj-" + std::to_string(i), org, t + i}, 1'000, "r",
                                                   "ops", false));
  }
  {
    ProjectorOptions tiny = small_batches();
    tiny.map_size_bytes = std::size_t{64} << 10;  // batches fail with MDB_MAP_FULL and are refolded
    BOOST_CHECK_GT(project(dir.path(), log, tiny).metrics.map_grows, 0u);
  }
  // A refolded batch met none of its own keys: every adjustment applied once.
  BOOST_CHECK_EQUAL(ok(ok(ViewReader::open(dir.path()))->org(id_of(org)))->state.balance_micros, Micros{12'000'000});
  // A later run (a fresh projector) sees old keys again: once with the same payload, once changed.
  log.append_to(home, org, make_admin_adjustment(EventHeader{"adj-1", org, t + 1}, 1'000, "r", "ops", false));
  log.append_to(home, org, make_admin_adjustment(EventHeader{"adj-1", org, t + 1}, 7'000'000, "r", "ops", false));
  log.append_to(home, org, make_admin_adjustment(EventHeader{"adj-new", org, t + 5000}, 1'000'000, "r", "ops", false));
  auto views = project_and_check(dir.path(), log);
  BOOST_CHECK_EQUAL(ok(views->org(id_of(org)))->state.balance_micros, Micros{10'000'000 + 2000 * 1'000 + 1'000'000});
  HistoryQuery query;
  query.org_id = id_of(org);
  query.limit = 10'000;
  const auto page = ok(views->history(query));
  BOOST_REQUIRE_EQUAL(page.entries.size(), 2004u);
  std::vector<Outcome> last;
  for (std::size_t i = 2001; i < 2004; ++i) last.push_back(page.entries[i].outcome);
  const std::vector<Outcome> expected{Outcome::duplicate, Outcome::conflict, Outcome::applied};
  BOOST_CHECK(last == expected);
}
