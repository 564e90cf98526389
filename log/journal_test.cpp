#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <filesystem>
#include <map>
#include <ostream>
#include <thread>

#include "engine/limits.h"
#include "engine/partitioner.h"
#include "log/journal.h"
#include "log/journal_check.h"
#include "log/journal_testing.h"
#include "tests/support/temp_dir.h"

namespace tally {

std::ostream& operator<<(std::ostream& out, Status::Code code) { return out << static_cast<int>(code); }

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto read_deadline = std::chrono::seconds(30);

using test_support::TempDir;

struct Copied {
  LogPosition position;
  std::string key;
  std::string value;
  int64_t appended_at_ms = 0;
  std::string damage;
};

std::unique_ptr<Journal> open_journal(const std::string& dir, int32_t events = 4, int32_t signals = 2) {
  auto journal = Journal::open(dir, journal_options(events, signals));
  BOOST_REQUIRE_MESSAGE(journal.is_ok(), journal.status().to_string());
  return std::move(journal.value());
}

std::unique_ptr<LogWriter> writer_of(const Journal& journal, std::string_view topic = journal_events_topic) {
  auto writer = journal.writer(topic);
  BOOST_REQUIRE_MESSAGE(writer.is_ok(), writer.status().to_string());
  return std::move(writer.value());
}

std::unique_ptr<LogReader> reader_from_start(const Journal& journal, std::string_view topic = journal_events_topic) {
  auto reader = journal.reader(topic);
  BOOST_REQUIRE_MESSAGE(reader.is_ok(), reader.status().to_string());
  for (int32_t p = 0; p < reader.value()->partition_count(); ++p) {
    BOOST_REQUIRE(reader.value()->seek(PartitionId{p}, Offset{0}).is_ok());
  }
  return std::move(reader.value());
}

// Polls until `expected` records have arrived or the deadline passes; returns what arrived.
std::vector<Copied> read_records(LogReader& reader, std::size_t expected) {
  std::vector<Copied> all;
  std::vector<LogRecord> batch;
  const auto deadline = Clock::now() + read_deadline;
  while (all.size() < expected && Clock::now() < deadline) {
    Status polled = reader.poll(batch, 1000, 100);
    BOOST_REQUIRE_MESSAGE(polled.is_ok(), polled.to_string());
    for (const LogRecord& record : batch) {
      all.push_back(Copied{record.position, std::string(record.key), std::string(record.value), record.appended_at_ms,
                           std::string(record.damage)});
    }
  }
  return all;
}

std::vector<LogPosition> append_ok(LogWriter& writer, const std::vector<AppendRequest>& records) {
  auto positions = writer.append(records);
  BOOST_REQUIRE_MESSAGE(positions.is_ok(), positions.status().to_string());
  BOOST_REQUIRE_EQUAL(positions->size() >= records.size(), true);
  return positions.value();
}

std::vector<AppendRequest> keyed_records(int count, int orgs, const std::string& tag) {
  std::vector<AppendRequest> records;
  for (int i = 0; i < count; ++i) {
    records.push_back(AppendRequest{"org-" + std::to_string(i % orgs), tag + ":" + std::to_string(i), false});
  }
  return records;
}

BOOST_AUTO_TEST_CASE(round_trip_across_partitions_with_dense_offsets) {
  TempDir dir;
  auto journal = open_journal(dir.path());
  auto writer = writer_of(*journal);
  BOOST_TEST(writer->partition_count() == 4);
  const auto records = keyed_records(200, 37, "a");
  // Two calls, so offsets continue across transactions.
  std::vector<AppendRequest> first(records.begin(), records.begin() + 120);
  std::vector<AppendRequest> second(records.begin() + 120, records.end());
  auto positions = append_ok(*writer, first);
  auto more = append_ok(*writer, second);
  positions.insert(positions.end(), more.begin(), more.end());
  BOOST_REQUIRE_EQUAL(positions.size(), records.size());

  std::map<int32_t, int64_t> next;  // dense per partition, in append order
  for (std::size_t i = 0; i < records.size(); ++i) {
    BOOST_TEST(positions[i].partition.value == partition_for_key(records[i].key, 4));
    BOOST_TEST(positions[i].offset.value == next[positions[i].partition.value]++);
  }

  auto reader = reader_from_start(*journal);
  const auto read = read_records(*reader, records.size());
  BOOST_REQUIRE_EQUAL(read.size(), records.size());
  std::map<LogPosition, const Copied*> by_position;
  std::map<int32_t, int64_t> expect_offset;
  for (const Copied& record : read) {
    BOOST_TEST(record.position.offset.value == expect_offset[record.position.partition.value]++);  // in order
    by_position[record.position] = &record;
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Copied* record = by_position.at(positions[i]);
    BOOST_TEST(record->key == records[i].key);
    BOOST_TEST(record->value == records[i].value);
  }
  for (const auto& [partition, end] : next) {
    auto end_offset = reader->end_offset(PartitionId{partition});
    BOOST_REQUIRE(end_offset.is_ok());
    BOOST_TEST(end_offset->value == end);
  }
  // Nothing more: a poll times out empty.
  std::vector<LogRecord> none;
  BOOST_REQUIRE(reader->poll(none, 10, 20).is_ok());
  BOOST_TEST(none.empty());
}

BOOST_AUTO_TEST_CASE(to_every_partition_writes_once_per_partition) {
  TempDir dir;
  auto journal = open_journal(dir.path());
  auto writer = writer_of(*journal);
  append_ok(*writer, keyed_records(3, 3, "before"));
  std::vector<AppendRequest> global{AppendRequest{"", "rate-card-7", true}};
  const auto positions = append_ok(*writer, global);
  BOOST_REQUIRE_EQUAL(positions.size(), 4u);
  for (int32_t p = 0; p < 4; ++p) BOOST_TEST(positions[static_cast<std::size_t>(p)].partition.value == p);

  auto reader = reader_from_start(*journal);
  const auto read = read_records(*reader, 7);
  BOOST_REQUIRE_EQUAL(read.size(), 7u);
  int globals = 0;
  for (const Copied& record : read) {
    if (record.value != "rate-card-7") continue;
    ++globals;
    BOOST_TEST(record.key.empty());
  }
  BOOST_TEST(globals == 4);
}

BOOST_AUTO_TEST_CASE(reopen_keeps_records_and_identity) {
  TempDir dir;
  std::string id;
  std::vector<LogPosition> positions;
  const auto records = keyed_records(50, 11, "r");
  {
    auto journal = open_journal(dir.path());
    id = journal->id();
    BOOST_TEST(id.size() == 36u);
    auto writer = writer_of(*journal);
    positions = append_ok(*writer, records);
  }
  auto journal = open_journal(dir.path());
  BOOST_TEST(journal->id() == id);
  auto reader = reader_from_start(*journal);
  BOOST_TEST(reader->identity() == "journal:" + id + "/events");
  const auto read = read_records(*reader, records.size());
  BOOST_REQUIRE_EQUAL(read.size(), records.size());
  // Appends continue after the old records.
  auto writer = writer_of(*journal);
  const auto more = append_ok(*writer, {AppendRequest{records[0].key, "after", false}});
  int64_t before_in_partition = 0;
  for (const LogPosition& position : positions) before_in_partition += position.partition == more[0].partition;
  BOOST_TEST(more[0].offset.value == before_in_partition);

  TempDir other;
  auto fresh = open_journal(other.path());
  BOOST_TEST(fresh->id() != id);
}

BOOST_AUTO_TEST_CASE(partition_count_mismatch_on_reopen_is_an_error) {
  TempDir dir;
  { open_journal(dir.path(), 4, 2); }
  auto reopened = Journal::open(dir.path(), journal_options(8, 2));
  BOOST_REQUIRE(!reopened.is_ok());
  BOOST_TEST(reopened.status().code() == Status::Code::invalid_argument);
  BOOST_TEST(reopened.status().field() == "topics[0].partitions");
  BOOST_TEST_MESSAGE(reopened.status().to_string());
  BOOST_TEST(reopened.status().message().find("has 4 partitions, not 8") != std::string::npos);
  // Opening without naming the topic works, with the stored count.
  JournalOptions plain;
  auto journal = Journal::open(dir.path(), plain);
  BOOST_REQUIRE(journal.is_ok());
  BOOST_TEST(journal.value()->partition_count("events").value() == 4);
  BOOST_TEST(journal.value()->partition_count("nope").status().code() == Status::Code::not_found);
}

BOOST_AUTO_TEST_CASE(missing_journal_without_create_is_not_found) {
  TempDir dir;
  JournalOptions options = journal_options(4, 2);
  options.create_if_missing = false;
  auto journal = Journal::open(dir.path() + "/absent", options);
  BOOST_REQUIRE(!journal.is_ok());
  BOOST_TEST(journal.status().code() == Status::Code::not_found);
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_errors_naming_the_reason_and_append_nothing) {
  TempDir dir;
  auto journal = open_journal(dir.path());
  auto writer = writer_of(*journal);

  std::vector<AppendRequest> empty_key{AppendRequest{"org-1", "fine", false}, AppendRequest{"", "no key", false}};
  auto result = writer->append(empty_key);
  BOOST_REQUIRE(!result.is_ok());
  BOOST_TEST(result.status().code() == Status::Code::invalid_argument);
  BOOST_TEST(result.status().field() == "records[1].key");
  BOOST_TEST(result.status().message().find("empty key") != std::string::npos);

  std::vector<AppendRequest> oversize{AppendRequest{"org-1", "fine", false},
                                      AppendRequest{"org-2", std::string(limits::event_bytes_max + 1, 'x'), false}};
  result = writer->append(oversize);
  BOOST_REQUIRE(!result.is_ok());
  BOOST_TEST(result.status().code() == Status::Code::too_large);
  BOOST_TEST(result.status().message().find("records[1].value") != std::string::npos);
  BOOST_TEST_MESSAGE(result.status().to_string());

  // Exactly the limit is fine.
  append_ok(*writer, {AppendRequest{"org-3", std::string(limits::event_bytes_max, 'y'), false}});

  auto reader = reader_from_start(*journal);
  BOOST_TEST(reader->seek(PartitionId{4}, Offset{0}).code() == Status::Code::invalid_argument);
  BOOST_TEST(reader->seek(PartitionId{0}, Offset{-1}).code() == Status::Code::invalid_argument);
  BOOST_TEST(journal->writer("nope").status().code() == Status::Code::not_found);
  const auto read = read_records(*reader, 1);
  BOOST_REQUIRE_EQUAL(read.size(), 1u);  // only the record at the limit: the failed batches left nothing
  BOOST_TEST(read[0].key == "org-3");

  auto bad_topic = Journal::open(dir.path(), JournalOptions{{{"bad/name", 1}}});
  BOOST_TEST(bad_topic.status().field() == "topics[0].name");
  auto zero = Journal::open(dir.path(), JournalOptions{{{"zero", 0}}});
  BOOST_TEST(zero.status().field() == "topics[0].partitions");
}

BOOST_AUTO_TEST_CASE(topics_are_separate_logs) {
  TempDir dir;
  auto journal = open_journal(dir.path(), 4, 2);
  auto events = writer_of(*journal, journal_events_topic);
  auto signals = writer_of(*journal, journal_signals_topic);
  BOOST_TEST(signals->partition_count() == 2);
  append_ok(*events, keyed_records(10, 5, "e"));
  append_ok(*signals, keyed_records(6, 3, "s"));
  auto signal_reader = reader_from_start(*journal, journal_signals_topic);
  const auto read = read_records(*signal_reader, 6);
  BOOST_REQUIRE_EQUAL(read.size(), 6u);
  for (const Copied& record : read) BOOST_TEST(record.value.starts_with("s:"));
  std::vector<LogRecord> none;
  BOOST_REQUIRE(signal_reader->poll(none, 10, 10).is_ok());
  BOOST_TEST(none.empty());
}

BOOST_AUTO_TEST_CASE(concurrent_appenders_lose_nothing_and_keep_order) {
  TempDir dir;
  auto journal = open_journal(dir.path());
  auto writer = writer_of(*journal);
  constexpr int threads = 4;
  constexpr int calls = 40;
  constexpr int per_call = 25;
  std::vector<std::thread> appenders;
  std::vector<std::string> failures(threads);
  for (int t = 0; t < threads; ++t) {
    appenders.emplace_back([&, t] {
      for (int c = 0; c < calls; ++c) {
        std::vector<AppendRequest> batch;
        for (int i = 0; i < per_call; ++i) {
          const int n = c * per_call + i;
          batch.push_back(AppendRequest{"org-" + std::to_string(t) + "-" + std::to_string(n % 7),
                                        std::to_string(t) + ":" + std::to_string(n), false});
        }
        auto result = writer->append(batch);
        if (!result.is_ok()) {
          failures[static_cast<std::size_t>(t)] = result.status().to_string();
          return;
        }
      }
    });
  }
  for (auto& appender : appenders) appender.join();
  for (const auto& failure : failures) BOOST_REQUIRE_MESSAGE(failure.empty(), failure);

  constexpr std::size_t total = threads * calls * per_call;
  auto reader = reader_from_start(*journal);
  const auto read = read_records(*reader, total);
  BOOST_REQUIRE_EQUAL(read.size(), total);
  // Per partition, each thread's records come in the order it appended them; none is missing.
  std::map<std::pair<int32_t, int>, int> last;  // (partition, thread) -> last n seen
  std::vector<int> seen(threads, 0);
  for (const Copied& record : read) {
    const auto colon = record.value.find(':');
    const int t = std::stoi(record.value.substr(0, colon));
    const int n = std::stoi(record.value.substr(colon + 1));
    auto [it, inserted] = last.try_emplace({record.position.partition.value, t}, n);
    if (!inserted) {
      BOOST_TEST(n > it->second);
      it->second = n;
    }
    ++seen[static_cast<std::size_t>(t)];
  }
  for (int t = 0; t < threads; ++t) BOOST_TEST(seen[static_cast<std::size_t>(t)] == calls * per_call);
}

BOOST_AUTO_TEST_CASE(waiting_reader_wakes_on_append_from_another_thread) {
  TempDir dir;
  auto journal = open_journal(dir.path());
  auto reader = reader_from_start(*journal);
  auto writer = writer_of(*journal);
  std::thread appender([&] { append_ok(*writer, keyed_records(1, 1, "late")); });
  std::vector<LogRecord> batch;
  const auto started = Clock::now();
  // One long poll: returns as soon as the record lands, well before its timeout.
  while (batch.empty() && Clock::now() - started < read_deadline) {
    BOOST_REQUIRE(reader->poll(batch, 10, 10'000).is_ok());
  }
  appender.join();
  BOOST_REQUIRE_EQUAL(batch.size(), 1u);
  BOOST_TEST(batch[0].value == "late:0");
}

BOOST_AUTO_TEST_CASE(second_open_in_one_process_shares_the_journal) {
  TempDir dir;
  auto first = open_journal(dir.path());
  auto second = open_journal(dir.path());
  BOOST_TEST(first->id() == second->id());
  auto reader = reader_from_start(*first);
  append_ok(*writer_of(*second), keyed_records(5, 2, "x"));
  BOOST_TEST(read_records(*reader, 5).size() == 5u);
}

BOOST_AUTO_TEST_CASE(child_process_appends_while_parent_reads) {
  TempDir dir;
  // A tiny map on both sides: the child's appends grow the file past the parent's map, so the
  // parent must adopt the child's growth (MDB_MAP_RESIZED) while reading.
  JournalOptions options = journal_options(4, 2);
  options.map_size_bytes = 64 * 1024;
  auto opened = Journal::open(dir.path(), options);
  BOOST_REQUIRE_MESSAGE(opened.is_ok(), opened.status().to_string());
  auto reader = reader_from_start(*opened.value());
  constexpr int calls = 20;
  constexpr int per_call = 10;
  const std::string padding(2000, 'p');
  const pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    // The child opens the journal itself (never the parent's handles) and leaves with _exit so
    // that no parent-owned object is destroyed here.
    auto child_journal = Journal::open(dir.path(), options);
    if (!child_journal.is_ok()) _exit(2);
    auto writer = child_journal.value()->writer(journal_events_topic);
    if (!writer.is_ok()) _exit(3);
    for (int c = 0; c < calls; ++c) {
      auto records = keyed_records(per_call, 9, "child" + std::to_string(c));
      for (auto& record : records) record.value += padding;
      if (!writer.value()->append(records).is_ok()) _exit(4);
    }
    writer.value().reset();
    child_journal.value().reset();
    _exit(0);
  }
  const auto read = read_records(*reader, calls * per_call);
  int status = 0;
  BOOST_REQUIRE(waitpid(child, &status, 0) == child);
  BOOST_REQUIRE(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  BOOST_REQUIRE_EQUAL(read.size(), static_cast<std::size_t>(calls * per_call));
  std::map<std::string, int> values;
  for (const Copied& record : read) ++values[record.value];
  BOOST_TEST(values.size() == static_cast<std::size_t>(calls * per_call));  // each exactly once
  BOOST_TEST(std::filesystem::file_size(std::filesystem::path(dir.path()) / "data.mdb") > 256 * 1024u);
}

BOOST_AUTO_TEST_CASE(map_grows_from_a_tiny_initial_size) {
  TempDir dir;
  JournalOptions options = journal_options(4, 2);
  options.map_size_bytes = 64 * 1024;
  auto opened = Journal::open(dir.path(), options);
  BOOST_REQUIRE_MESSAGE(opened.is_ok(), opened.status().to_string());
  auto& journal = *opened.value();
  auto writer = writer_of(journal);
  auto reader = reader_from_start(journal);
  constexpr int calls = 20;
  constexpr int per_call = 250;
  std::size_t read_count = 0;
  std::vector<LogRecord> batch;
  for (int c = 0; c < calls; ++c) {
    std::vector<AppendRequest> records;
    for (int i = 0; i < per_call; ++i) {
      records.push_back(AppendRequest{"org-" + std::to_string(i % 13), std::string(1000, static_cast<char>('a' + c)), false});
    }
    append_ok(*writer, records);
    // Read as we go: growth must work while this process has a reader.
    BOOST_REQUIRE(reader->poll(batch, 100, 0).is_ok());
    read_count += batch.size();
  }
  const auto rest = read_records(*reader, calls * per_call - read_count);
  BOOST_TEST(read_count + rest.size() == static_cast<std::size_t>(calls * per_call));
  BOOST_TEST(std::filesystem::file_size(std::filesystem::path(dir.path()) / "data.mdb") > 5'000'000u);

  JournalOptions capped = journal_options(4, 2);
  capped.map_size_bytes = 64 * 1024;
  capped.map_size_max_bytes = 128 * 1024;
  TempDir small;
  auto tiny = Journal::open(small.path(), capped);
  BOOST_REQUIRE(tiny.is_ok());
  std::vector<AppendRequest> big(200, AppendRequest{"org-1", std::string(4000, 'z'), false});
  auto full = writer_of(*tiny.value())->append(big);
  BOOST_REQUIRE(!full.is_ok());
  BOOST_TEST(full.status().code() == Status::Code::too_large);
  BOOST_TEST_MESSAGE(full.status().to_string());
}

BOOST_AUTO_TEST_CASE(tamper_helper_changes_one_byte_of_a_value) {
  TempDir dir;
  auto journal = open_journal(dir.path());
  const auto positions = append_ok(*writer_of(*journal), {AppendRequest{"org-1", "abcdef", false}});
  BOOST_REQUIRE(journal_tamper_for_test(dir.path(), "events", positions[0].partition, positions[0].offset, 2).is_ok());
  auto reader = reader_from_start(*journal);
  const auto read = read_records(*reader, 1);
  BOOST_REQUIRE_EQUAL(read.size(), 1u);
  BOOST_TEST(read[0].key == "org-1");
  BOOST_TEST(read[0].value.size() == 6u);
  BOOST_TEST(read[0].value.substr(0, 2) == "ab");
  BOOST_TEST(read[0].value[2] != 'c');
  BOOST_TEST(read[0].value.substr(3) == "def");
  BOOST_TEST(journal_tamper_for_test(dir.path(), "events", positions[0].partition, positions[0].offset, 6).code() ==
             Status::Code::invalid_argument);
  BOOST_TEST(journal_tamper_for_test(dir.path(), "events", positions[0].partition, Offset{99}, 0).code() ==
             Status::Code::not_found);
}

// ---- Append times (SPEC §3: every record carries the log's append time).

BOOST_AUTO_TEST_CASE(records_carry_their_append_time_which_never_goes_back_in_a_partition) {
  TempDir dir;
  std::atomic<int64_t> now{1'000'000};
  JournalOptions options = journal_options(4, 2);
  options.clock = [&] { return now.load(); };
  auto opened = Journal::open(dir.path(), options);
  BOOST_REQUIRE_MESSAGE(opened.is_ok(), opened.status().to_string());
  auto writer = writer_of(*opened.value());
  append_ok(*writer, keyed_records(12, 12, "first"));  // every partition gets records
  now = 400'000;                                         // the clock goes back
  append_ok(*writer, keyed_records(12, 12, "back"));
  now = 2'000'000;
  append_ok(*writer, keyed_records(12, 12, "later"));
  now = 5;
  append_ok(*writer_of(*opened.value(), journal_signals_topic), {AppendRequest{"s", "signal", false}});
  opened.value().reset();

  // Read back by a journal opened with the system clock: the stamps are stored, not recomputed.
  auto journal = open_journal(dir.path());
  const auto read = read_records(*reader_from_start(*journal), 36);
  BOOST_REQUIRE_EQUAL(read.size(), 36u);
  for (const Copied& record : read) {
    const std::string tag = record.value.substr(0, record.value.find(':'));
    // One clock reading per append() call; "back" is raised to the partition's last stamp.
    BOOST_TEST(record.appended_at_ms == (tag == "later" ? 2'000'000 : 1'000'000), record.value);
  }
  // A partition without records takes the clock as it is.
  const auto signals = read_records(*reader_from_start(*journal, journal_signals_topic), 1);
  BOOST_REQUIRE_EQUAL(signals.size(), 1u);
  BOOST_TEST(signals[0].appended_at_ms == 5);

  // The system clock: a stamp between the times read before and after the append.
  const auto unix_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  TempDir fresh;
  auto live = open_journal(fresh.path());
  const int64_t before = unix_ms();
  append_ok(*writer_of(*live), {AppendRequest{"org-1", "now", false}});
  const int64_t after = unix_ms();
  const auto stamped = read_records(*reader_from_start(*live), 1);
  BOOST_REQUIRE_EQUAL(stamped.size(), 1u);
  BOOST_TEST(stamped[0].appended_at_ms >= before);
  BOOST_TEST(stamped[0].appended_at_ms <= after);
}

BOOST_AUTO_TEST_CASE(a_journal_of_format_version_1_is_refused_saying_why) {
  TempDir dir;
  {
    auto journal = open_journal(dir.path());
    append_ok(*writer_of(*journal), keyed_records(3, 3, "old"));
  }
  BOOST_REQUIRE(journal_set_format_version_for_test(dir.path(), 1).is_ok());
  auto reopened = Journal::open(dir.path(), journal_options(4, 2));
  BOOST_REQUIRE(!reopened.is_ok());
  BOOST_TEST(reopened.status().code() == Status::Code::corruption);
  const std::string message = reopened.status().message();
  BOOST_TEST_MESSAGE(message);
  BOOST_TEST(message.find("format version 1") != std::string::npos);
  BOOST_TEST(message.find("reads version 2") != std::string::npos);
  BOOST_TEST(message.find("append time") != std::string::npos);
}

// ---- Damaged frames (SPEC §10): a record with damage, never an error that stops the reader.

std::string file_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

BOOST_AUTO_TEST_CASE(a_damaged_frame_is_read_as_a_record_with_damage_and_the_partition_goes_on) {
  TempDir dir;
  auto journal = open_journal(dir.path(), 1, 1);
  const auto positions = append_ok(*writer_of(*journal), keyed_records(4, 1, "r"));
  BOOST_REQUIRE(journal_damage_key_length_for_test(dir.path(), "events", PartitionId{0}, Offset{1}).is_ok());
  BOOST_REQUIRE(journal_edit_frame_for_test(dir.path(), "events", PartitionId{0}, Offset{2}, [](std::string& frame) {
                  frame.resize(5);  // shorter than the header
                  return Status::ok();
                }).is_ok());
  auto reader = reader_from_start(*journal);
  const auto read = read_records(*reader, 4);
  BOOST_REQUIRE_EQUAL(read.size(), 4u);
  BOOST_TEST(read[0].damage.empty());
  BOOST_TEST(read[0].value == "r:0");
  BOOST_TEST(read[1].key.empty());
  BOOST_TEST(read[1].damage == "damaged journal frame: key length 15 past the end of the 18-byte frame");
  BOOST_TEST(read[1].value.size() == 18u);  // the stored bytes, as they are: 10 + "org-0" + "r:1"
  BOOST_TEST(read[1].appended_at_ms == read[0].appended_at_ms);  // the stamp is still readable
  BOOST_TEST(read[2].damage ==
             "damaged journal frame: frame of 5 bytes is shorter than the 10-byte header (append time, key length)");
  BOOST_TEST(read[3].damage.empty());
  BOOST_TEST(read[3].value == "r:3");
  BOOST_TEST(read[3].key == "org-0");
  BOOST_TEST(positions.size() == 4u);
}

BOOST_AUTO_TEST_CASE(journal_check_reports_each_damage_and_changes_nothing) {
  TempDir dir;
  {
    auto journal = open_journal(dir.path(), 2, 1);
    append_ok(*writer_of(*journal), keyed_records(40, 5, "c"));
    append_ok(*writer_of(*journal, journal_signals_topic), keyed_records(3, 1, "s"));
  }
  const auto check = [&](std::vector<JournalDamage>& found) {
    JournalOptions options;
    options.create_if_missing = false;
    options.read_only = true;
    auto journal = Journal::open(dir.path(), options);
    BOOST_REQUIRE_MESSAGE(journal.is_ok(), journal.status().to_string());
    found.clear();
    auto summary = check_journal(*journal.value(), [&](const JournalDamage& d) { found.push_back(d); });
    BOOST_REQUIRE_MESSAGE(summary.is_ok(), summary.status().to_string());
    return summary.value();
  };
  std::vector<JournalDamage> found;
  JournalCheckSummary clean = check(found);
  BOOST_TEST(found.empty());
  BOOST_TEST(clean.records == 43u);
  BOOST_TEST(clean.topics == 2u);
  BOOST_TEST(clean.partitions == 3u);
  BOOST_TEST(clean.damaged == 0u);

  BOOST_REQUIRE(journal_damage_key_length_for_test(dir.path(), "events", PartitionId{1}, Offset{3}, 300).is_ok());
  BOOST_REQUIRE(journal_edit_frame_for_test(dir.path(), "signals", PartitionId{0}, Offset{2}, [](std::string& frame) {
                  frame.clear();
                  return Status::ok();
                }).is_ok());
  const std::string data = dir.path() + "/data.mdb";
  const std::string before = file_bytes(data);
  struct stat stat_before {};
  BOOST_REQUIRE(::stat(data.c_str(), &stat_before) == 0);
  JournalCheckSummary damaged = check(found);
  BOOST_TEST(damaged.records == 43u);
  BOOST_TEST(damaged.damaged == 2u);
  BOOST_REQUIRE_EQUAL(found.size(), 2u);
  BOOST_TEST(found[0].topic == "events");
  BOOST_TEST(found[0].position.to_string() == "1:3");
  BOOST_TEST(found[0].what.find("key length") != std::string::npos, found[0].what);
  BOOST_TEST(found[1].topic == "signals");
  BOOST_TEST(found[1].position.to_string() == "0:2");
  BOOST_TEST(found[1].what.find("frame of 0 bytes") != std::string::npos, found[1].what);
  // Read-only: the journal's bytes and modification time are what they were.
  BOOST_TEST((file_bytes(data) == before));
  struct stat stat_after {};
  BOOST_REQUIRE(::stat(data.c_str(), &stat_after) == 0);
  BOOST_TEST(stat_after.st_mtim.tv_sec == stat_before.st_mtim.tv_sec);
  BOOST_TEST(stat_after.st_mtim.tv_nsec == stat_before.st_mtim.tv_nsec);
}

BOOST_AUTO_TEST_CASE(a_read_only_journal_reads_but_never_writes) {
  TempDir dir;
  {
    auto journal = open_journal(dir.path());
    append_ok(*writer_of(*journal), keyed_records(5, 2, "ro"));
  }
  JournalOptions options;
  options.create_if_missing = false;
  options.read_only = true;
  auto journal = Journal::open(dir.path(), options);
  BOOST_REQUIRE_MESSAGE(journal.is_ok(), journal.status().to_string());
  BOOST_TEST(read_records(*reader_from_start(*journal.value()), 5).size() == 5u);
  BOOST_TEST(journal.value()->writer(journal_events_topic).status().code() == Status::Code::unavailable);
  // While it is open read-only here, a read-write open in this process is refused, not upgraded.
  BOOST_TEST(Journal::open(dir.path(), journal_options(4, 2)).status().code() == Status::Code::unavailable);
  // A topic it lacks is not created.
  JournalOptions more = options;
  more.topics = {{"extra", 1}};
  BOOST_TEST(Journal::open(dir.path(), more).status().code() == Status::Code::not_found);
  // Read-only also when this process has the journal open read-write.
  TempDir shared;
  auto writable = open_journal(shared.path());
  auto read_only = Journal::open(shared.path(), options);
  BOOST_REQUIRE_MESSAGE(read_only.is_ok(), read_only.status().to_string());
  BOOST_TEST(read_only.value()->writer(journal_events_topic).status().code() == Status::Code::unavailable);
  BOOST_TEST(writable->writer(journal_events_topic).is_ok());
  // Nothing there: not_found, and no directory is made.
  TempDir empty;
  const std::string missing = empty.path() + "/none";
  BOOST_TEST(Journal::open(missing, options).status().code() == Status::Code::not_found);
  BOOST_TEST(!std::filesystem::exists(missing));
}

BOOST_AUTO_TEST_CASE(a_new_journal_directory_is_private_to_its_owner) {
  TempDir dir;
  const std::string path = dir.path() + "/a/b/journal";
  auto journal = open_journal(path);
  const auto mode = [](const std::string& p) {
    struct stat st {};
    BOOST_REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 0777;
  };
  BOOST_TEST(mode(dir.path() + "/a") == 0700u);
  BOOST_TEST(mode(dir.path() + "/a/b") == 0700u);
  BOOST_TEST(mode(path) == 0700u);
  BOOST_TEST(mode(path + "/data.mdb") == 0600u);
  BOOST_TEST(mode(path + "/lock.mdb") == 0600u);
}

}  // namespace
}  // namespace tally
