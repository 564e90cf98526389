// A damaged journal frame (SPEC §10): the projector records it as a reject `damaged_record` with a
// detail that says what is wrong, the partition moves on, every restart goes on from there, and a
// second projection of the same log (a replay) gives the same rejects and the same digests.
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/event_factory.h"
#include "engine/partitioner.h"
#include "log/journal.h"
#include "log/journal_testing.h"
#include "projections/projector.h"
#include "projections/view_checks.h"
#include "projections/views.h"
#include "tests/support/temp_dir.h"

using namespace tally;
using testkit::ok;

namespace {

constexpr int64_t credit = 1'000'000;
constexpr int64_t t0 = 1'793'491'200'000;  // 2026-11-01T00:00:00Z
constexpr int32_t partitions = 2;

using test_support::TempDir;

// Projects the whole journal into `data_dir` with a fresh Projector (a process restart).
void project(Journal& journal, const std::string& data_dir, std::size_t batch_events_max) {
  ProjectorOptions options;
  options.batch_events_max = batch_events_max;
  options.poll_timeout_ms = 0;
  options.map_size_bytes = std::size_t{16} << 20;
  auto projector = ok(Projector::open(data_dir, options));
  auto reader = ok(journal.reader(journal_events_topic));
  ok(projector->start(*reader));
  for (;;) {
    bool caught_up = true;
    for (int32_t p = 0; p < partitions; ++p) {
      caught_up &= projector->applied_offset(PartitionId{p}) >= ok(reader->end_offset(PartitionId{p}));
    }
    if (caught_up) return;
    ok(projector->run_once(*reader));
  }
}

BOOST_AUTO_TEST_CASE(a_damaged_frame_is_a_reject_and_the_partition_moves_on_across_restarts) {
  TempDir dir;
  auto journal = ok(Journal::open(dir.sub("journal"), journal_options(partitions, 1)));
  const PartitionId home{partition_for_key("acme", partitions)};
  std::string other = "other-0";  // an org of the other partition
  for (int i = 1; partition_for_key(other, partitions) == home.value; ++i) other = "other-" + std::to_string(i);
  std::vector<AppendRequest> records;
  for (int i = 1; i <= 5; ++i) {
    const std::string key = "grant-" + std::to_string(i);
    records.push_back({"acme", make_signup_allocation({key, "acme", t0 + i}, i * credit), false});
    records.push_back({other, make_signup_allocation({key, other, t0 + i}, i * credit), false});
  }
  ok(ok(journal->writer(journal_events_topic))->append(records));
  // acme's third event (3 credits) declares a key that runs past the end of its frame.
  ok(journal_damage_key_length_for_test(dir.sub("journal"), journal_events_topic, home, Offset{2}, 300));

  // Three starts of the projector on the same data dir: none fails, each goes on from the last.
  for (int start = 0; start < 3; ++start) project(*journal, dir.sub("views"), 2);

  auto views = ok(ViewReader::open(dir.sub("views")));
  BOOST_TEST(ok(views->org("acme")).value().state.balance_micros.value() == 12 * credit);  // 1 + 2 + 4 + 5
  BOOST_TEST(ok(views->org(OrgIdView::trusted(other))).value().state.balance_micros.value() == 15 * credit);
  const auto rejects = ok(views->rejects(100));
  BOOST_REQUIRE_EQUAL(rejects.size(), 1u);
  const RejectEntry& reject = rejects[0];
  const LogPosition damaged{home, Offset{2}};
  BOOST_TEST(reject.position.to_string() == damaged.to_string());
  BOOST_TEST((reject.reason == RejectReason::damaged_record));
  BOOST_TEST(std::string(reject_reason_name(reject.reason)) == "damaged_record");
  BOOST_TEST(reject.detail.find("damaged journal frame: key length") != std::string::npos, reject.detail);
  BOOST_TEST(reject.detail.find("past the end of the") != std::string::npos, reject.detail);
  BOOST_TEST(reject.org_id.empty());  // nothing of a damaged frame is trusted
  BOOST_TEST(reject.idempotency_key.empty());
  // It is one of the records no org can claim (GET /api/v1/rejects), not one of acme's.
  const RejectPage no_org = ok(views->org_rejects(RejectQuery{"", LogPosition{}, 10}));
  BOOST_REQUIRE_EQUAL(no_org.rejects.size(), 1u);
  BOOST_TEST((no_org.rejects[0].placement == RejectPlacement::no_org));
  BOOST_TEST(no_org.rejects[0].entry.position.to_string() == damaged.to_string());
  BOOST_TEST(no_org.rejects[0].entry.detail == reject.detail);
  BOOST_TEST(ok(views->org_rejects(RejectQuery{"acme", LogPosition{}, 10})).rejects.empty());
  const auto stats = ok(views->stats());
  BOOST_TEST(stats.outcomes.at("rejected") == 1u);
  BOOST_TEST(stats.outcomes.at("applied") == 9u);
  for (const PartitionView& p : ok(views->partitions())) {
    BOOST_TEST(p.next_offset.value == 5);  // the partition moved on past the damaged record
    BOOST_TEST(p.records == 5u);           // and counted it
  }
  // The hash chain takes the damaged frame's stored bytes as the log holds them (SPEC §10): a fold
  // of the same records in memory gives the same heads, and chaining empty bytes in its place
  // would not.
  testkit::Reference ref;
  ChainHead without_bytes;
  {
    auto reader = ok(journal->reader(journal_events_topic));
    for (int32_t p = 0; p < partitions; ++p) ok(reader->seek(PartitionId{p}, Offset{0}));
    std::vector<LogRecord> read;
    for (ok(reader->poll(read, 100, 0)); !read.empty(); ok(reader->poll(read, 100, 0))) {
      for (const LogRecord& r : read) {
        ref.fold(r, partitions);
        if (r.position.partition != home) continue;
        BOOST_TEST(r.damaged() == (r.position == damaged));
        const Outcome outcome = r.damaged() ? Outcome::rejected : Outcome::applied;
        without_bytes.add(ChainLink{r.damaged() ? std::string_view() : r.value, r.position, r.appended_at_ms, outcome,
                                    r.damaged() ? RejectReason::damaged_record : RejectReason::none});
      }
    }
  }
  for (const PartitionView& p : ok(views->partitions())) {
    BOOST_TEST((p.chain == ref.chains().at(p.partition.value).head), "partition " << p.partition.value);
    if (p.partition == home) BOOST_TEST(!(p.chain == without_bytes.head));
  }

  // A replay of the same log (other batch boundaries) gives the same rejects and digests.
  project(*journal, dir.sub("replay"), 7);
  auto replayed = ok(ViewReader::open(dir.sub("replay")));
  const auto replay_rejects = ok(replayed->rejects(100));
  BOOST_REQUIRE_EQUAL(replay_rejects.size(), 1u);
  BOOST_TEST(replay_rejects[0].detail == reject.detail);
  const auto live_digests = ok(views->digests());
  const auto replay_digests = ok(replayed->digests());
  BOOST_REQUIRE_EQUAL(live_digests.size(), replay_digests.size());
  for (const auto& [name, digest] : live_digests) {
    BOOST_TEST((replay_digests.at(name) == digest), "view " << name);
  }
}

// Damage found by a restart after the record was folded changes nothing: the projector resumes
// past it (the views keep what the record did when it was whole).
BOOST_AUTO_TEST_CASE(damage_behind_the_committed_offsets_does_not_stop_a_restart) {
  TempDir dir;
  auto journal = ok(Journal::open(dir.sub("journal"), journal_options(partitions, 1)));
  auto writer = ok(journal->writer(journal_events_topic));
  ok(writer->append(std::vector<AppendRequest>{{"acme", make_signup_allocation({"g-1", "acme", t0}, credit), false}}));
  project(*journal, dir.sub("views"), 10);
  const PartitionId home{partition_for_key("acme", partitions)};
  ok(journal_damage_key_length_for_test(dir.sub("journal"), journal_events_topic, home, Offset{0}));
  ok(writer->append(std::vector<AppendRequest>{{"acme", make_signup_allocation({"g-2", "acme", t0}, credit), false}}));
  project(*journal, dir.sub("views"), 10);
  auto views = ok(ViewReader::open(dir.sub("views")));
  BOOST_TEST(ok(views->org("acme")).value().state.balance_micros.value() == 2 * credit);
  BOOST_TEST(ok(views->rejects(10)).empty());
}

}  // namespace
