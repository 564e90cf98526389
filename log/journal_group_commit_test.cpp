// Group commit of the journal (log/journal_env.h): appends made at the same time share one durable
// transaction, and each acknowledged record is in the log exactly once, where its append said.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "log/journal.h"
#include "log/journal_testing.h"
#include "tests/support/temp_dir.h"

namespace tally {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto deadline_after = std::chrono::seconds(60);

using test_support::TempDir;

std::unique_ptr<Journal> open_journal(const std::string& dir, std::size_t map_size_bytes = std::size_t{64} << 20) {
  JournalOptions options = journal_options(4, 2);
  options.map_size_bytes = map_size_bytes;
  auto journal = Journal::open(dir, options);
  BOOST_REQUIRE_MESSAGE(journal.is_ok(), journal.status().to_string());
  return std::move(journal.value());
}

std::unique_ptr<LogWriter> writer_of(const Journal& journal, std::string_view topic) {
  auto writer = journal.writer(topic);
  BOOST_REQUIRE_MESSAGE(writer.is_ok(), writer.status().to_string());
  return std::move(writer.value());
}

// Every record of `topic`, value by position, read from offset 0 of every partition.
std::map<LogPosition, std::string> read_all(const Journal& journal, std::string_view topic, std::size_t expected) {
  auto reader = journal.reader(topic);
  BOOST_REQUIRE_MESSAGE(reader.is_ok(), reader.status().to_string());
  for (int32_t p = 0; p < reader.value()->partition_count(); ++p) {
    BOOST_REQUIRE(reader.value()->seek(PartitionId{p}, Offset{0}).is_ok());
  }
  std::map<LogPosition, std::string> all;
  std::vector<LogRecord> batch;
  const auto deadline = Clock::now() + deadline_after;
  while (all.size() < expected && Clock::now() < deadline) {
    Status polled = reader.value()->poll(batch, 1000, 100);
    BOOST_REQUIRE_MESSAGE(polled.is_ok(), polled.to_string());
    for (const LogRecord& record : batch) {
      BOOST_REQUIRE_MESSAGE(all.emplace(record.position, std::string(record.value)).second,
                            "position " << record.position.to_string() << " read twice");
    }
  }
  // Nothing more than expected: poll once more without waiting.
  BOOST_REQUIRE(reader.value()->poll(batch, 1000, 0).is_ok());
  BOOST_TEST(batch.empty());
  return all;
}

// Waits (with a deadline) until `count` appends of this process queue behind the current commit.
bool wait_until_queued(const std::string& dir, std::size_t count) {
  const auto deadline = Clock::now() + deadline_after;
  while (journal_queued_appends_for_test(dir) < count) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // re-check; not an ordering
  }
  return true;
}

BOOST_AUTO_TEST_CASE(appends_queued_behind_a_commit_share_the_next_one_across_topics) {
  TempDir dir;
  auto journal = open_journal(dir.path());
  auto events = writer_of(*journal, journal_events_topic);
  auto signals = writer_of(*journal, journal_signals_topic);
  BOOST_REQUIRE(events->append(std::vector<AppendRequest>{{"org-first", "first", false}}).is_ok());

  // Hold the process's write lock: whichever append comes first leads a group of itself and waits
  // for the lock; the fifteen after it queue for the next group.
  std::promise<void> held_promise;
  std::promise<void> release_promise;
  std::shared_future<void> release = release_promise.get_future().share();
  std::thread holder([&] {
    Status held = journal_hold_writes_for_test(dir.path(), [&] {
      held_promise.set_value();
      release.wait();
    });
    BOOST_CHECK_MESSAGE(held.is_ok(), held.to_string());
  });
  held_promise.get_future().wait();
  auto before = journal_commits_for_test(dir.path());
  BOOST_REQUIRE(before.is_ok());

  constexpr int appenders = 16;
  std::vector<Result<std::vector<LogPosition>>> answers(appenders, Status::error(Status::Code::unavailable, "-"));
  std::vector<std::thread> threads;
  for (int t = 0; t < appenders; ++t) {
    threads.emplace_back([&, t] {
      const std::string value = "v" + std::to_string(t);
      auto& answer = answers[static_cast<std::size_t>(t)];
      // 12 keyed events, one event to every partition, 3 signals: one group takes them all.
      if (t < 12) {
        answer = events->append(std::vector<AppendRequest>{{"org-" + std::to_string(t), value, false}});
      } else if (t == 12) {
        answer = events->append(std::vector<AppendRequest>{{"", value, true}});
      } else {
        answer = signals->append(std::vector<AppendRequest>{{"sig-" + std::to_string(t), value, false}});
      }
    });
  }
  const bool queued = wait_until_queued(dir.path(), appenders - 1);
  release_promise.set_value();
  holder.join();
  for (std::thread& thread : threads) thread.join();
  BOOST_REQUIRE_MESSAGE(queued, "the appends never queued behind the held commit");
  auto after = journal_commits_for_test(dir.path());
  BOOST_REQUIRE(after.is_ok());
  // The first append alone, then the fifteen others in one transaction (the held one wrote
  // nothing, and LMDB may or may not count it).
  BOOST_TEST(after.value() - before.value() >= 2u);
  BOOST_TEST(after.value() - before.value() <= 3u);

  std::map<LogPosition, std::string> expected_events;
  std::map<LogPosition, std::string> expected_signals;
  std::size_t event_records = 1;  // "first" and the thirteen events
  for (int t = 0; t < appenders; ++t) {
    const auto& answer = answers[static_cast<std::size_t>(t)];
    BOOST_REQUIRE_MESSAGE(answer.is_ok(), answer.status().to_string());
    BOOST_TEST(answer->size() == (t == 12 ? 4u : 1u));
    for (const LogPosition& position : answer.value()) {
      auto& expected = t < 13 ? expected_events : expected_signals;
      BOOST_REQUIRE_MESSAGE(expected.emplace(position, "v" + std::to_string(t)).second,
                            "position " << position.to_string() << " given twice");
    }
    if (t < 13) event_records += answer->size();
  }
  auto read_events = read_all(*journal, journal_events_topic, event_records);
  BOOST_REQUIRE_EQUAL(read_events.size(), event_records);
  for (const auto& [position, value] : expected_events) BOOST_TEST(read_events[position] == value);
  auto read_signals = read_all(*journal, journal_signals_topic, expected_signals.size());
  BOOST_TEST((read_signals == expected_signals));
}

BOOST_AUTO_TEST_CASE(many_threads_appending_at_once_each_acknowledged_record_is_there_once_after_reopen_in_order) {
  TempDir dir;
  constexpr int threads = 16;
  constexpr int calls = 120;
  std::map<std::string, LogPosition> acknowledged;  // value -> where its append said
  {
    // The smallest map: it grows while groups are being committed (a group is put again whole).
    auto journal = open_journal(dir.path(), 64 * 1024);
    auto writer = writer_of(*journal, journal_events_topic);
    std::vector<std::vector<std::pair<std::string, LogPosition>>> mine(threads);
    std::vector<std::string> failures(threads);
    std::vector<std::thread> appenders;
    for (int t = 0; t < threads; ++t) {
      appenders.emplace_back([&, t] {
        for (int c = 0; c < calls; ++c) {
          // 1..3 records per call, over 5 orgs of this thread: several land in one partition.
          std::vector<AppendRequest> records;
          for (int i = 0; i <= c % 3; ++i) {
            const int n = c * 3 + i;
            records.push_back(AppendRequest{"org-" + std::to_string(t) + "-" + std::to_string(n % 5),
                                            std::to_string(t) + ":" + std::to_string(n), false});
          }
          auto positions = writer->append(records);
          if (!positions.is_ok() || positions->size() != records.size()) {
            failures[static_cast<std::size_t>(t)] = positions.is_ok() ? "wrong count" : positions.status().to_string();
            return;
          }
          for (std::size_t i = 0; i < records.size(); ++i) {
            mine[static_cast<std::size_t>(t)].emplace_back(records[i].value, positions.value()[i]);
          }
        }
      });
    }
    for (std::thread& appender : appenders) appender.join();
    for (const std::string& failure : failures) BOOST_REQUIRE_MESSAGE(failure.empty(), failure);
    for (const auto& list : mine) {
      for (const auto& [value, position] : list) acknowledged.emplace(value, position);
    }
  }
  // Reopened: what was acknowledged is what the journal holds.
  auto journal = open_journal(dir.path());
  const auto read = read_all(*journal, journal_events_topic, acknowledged.size());
  BOOST_REQUIRE_EQUAL(read.size(), acknowledged.size());
  std::set<std::string> seen;
  for (const auto& [position, value] : read) {
    BOOST_REQUIRE_MESSAGE(seen.insert(value).second, value << " is in the journal twice");
    auto it = acknowledged.find(value);
    BOOST_REQUIRE_MESSAGE(it != acknowledged.end(), value << " was never acknowledged");
    BOOST_TEST(it->second.to_string() == position.to_string());
  }
  // Offsets are dense, and in each partition a thread's records come in the order it appended.
  std::map<int32_t, int64_t> next_offset;
  std::map<std::pair<int32_t, int>, int> last;  // (partition, thread) -> last n
  for (const auto& [position, value] : read) {  // ascending positions
    BOOST_TEST(position.offset.value == next_offset[position.partition.value]);
    next_offset[position.partition.value] = position.offset.value + 1;
    const auto colon = value.find(':');
    const int t = std::stoi(value.substr(0, colon));
    const int n = std::stoi(value.substr(colon + 1));
    auto [it, inserted] = last.try_emplace({position.partition.value, t}, n);
    if (!inserted) {
      BOOST_TEST(n > it->second);
      it->second = n;
    }
  }
}

}  // namespace
}  // namespace tally
