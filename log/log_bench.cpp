// log_bench: how fast the logs append and read. Not part of ctest.
//   log_bench [--events N] [--partitions P] [--batch B] [--poll-max M] [--only journal|mock]
//             [--mock-events N] [--dir DIR] [--seed S]
// Prints lines "bench <name> <int> <unit>", medians of 3 timed reads:
//   bench journal_append_events_per_s   N events in batches of B, one durable commit per batch
//   bench journal_read_events_per_s     raw full read: poll loop over all partitions from offset 0,
//                                       touching every byte as a consumer would
//   bench journal_read_cpu_events_per_s the same per second of CPU time (steady on a busy machine)
//   bench mock_append_events_per_s / bench mock_read_events_per_s: the same on librdkafka's mock
//   cluster (kept small: the mock keeps ~5 MiB per partition).
// --only commits [--threads T] [--seconds S]: durable appends of ONE record each from T threads at
// once (default 32; group commit), S seconds per run, medians of 3 runs:
//   bench journal_commit_appends_per_s      T = 1: one durable commit per append, the fsync
//                                           ceiling of this disk for a lone client
//   bench journal_commit_p50_ms / _p99_ms   T = 1: the time of one durable commit (this disk's
//                                           flushes; bimodal on a machine shared with builds)
//   bench journal_commit_appends_per_s_T    T > 1: appends that shared commits
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "log/journal.h"
#include "log/kafka_log.h"
#include "log/kafka_testing.h"

namespace tally {
namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::size_t events = 2'000'000;
  std::size_t mock_events = 200'000;
  int32_t partitions = 8;
  int32_t mock_partitions = 4;
  std::size_t batch = 10'000;
  std::size_t poll_max = 8192;
  std::string only;
  std::string dir;
  std::size_t threads = 32;
  std::size_t seconds = 2;
  uint64_t seed = 42;
};

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr, "log_bench: %s\nusage: log_bench [--events N] [--partitions P] [--batch B] [--poll-max M] "
                       "[--only journal|mock|commits] [--mock-events N] [--dir DIR] [--seed S] [--threads T] "
                       "[--seconds S]\n", message);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(("missing value after " + flag).c_str());
    const std::string value = argv[++i];
    auto number = [&] {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || n == 0) usage(("bad number for " + flag).c_str());
      return static_cast<std::size_t>(n);
    };
    if (flag == "--events") args.events = number();
    else if (flag == "--mock-events") args.mock_events = number();
    else if (flag == "--partitions") args.partitions = static_cast<int32_t>(std::min<std::size_t>(number(), 1024));
    else if (flag == "--batch") args.batch = number();
    else if (flag == "--poll-max") args.poll_max = number();
    else if (flag == "--seed") args.seed = number();
    else if (flag == "--threads") args.threads = std::min<std::size_t>(number(), 1024);
    else if (flag == "--seconds") args.seconds = number();
    else if (flag == "--only") args.only = value;
    else if (flag == "--dir") args.dir = value;
    else usage(("unknown flag " + flag).c_str());
  }
  return args;
}

// Synthetic records: keys over 50k orgs, values of min..max bytes cut from a random pool (cheap to
// make, so the timings are the log's).
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed), pool_(std::size_t{1} << 20, '\0') {
    for (char& c : pool_) c = static_cast<char>('a' + rng_() % 26);
  }
  std::vector<AppendRequest> batch(std::size_t count, std::size_t min_bytes, std::size_t max_bytes) {
    std::vector<AppendRequest> records(count);
    for (AppendRequest& record : records) {
      record.key = "org-" + std::to_string(rng_() % 50'000);
      const std::size_t size = min_bytes + rng_() % (max_bytes - min_bytes + 1);
      record.value.assign(pool_, rng_() % (pool_.size() - size), size);
    }
    return records;
  }

 private:
  std::mt19937_64 rng_;
  std::string pool_;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void print(const char* name, double per_second) {
  std::printf("bench %s %lld events/s\n", name, static_cast<long long>(per_second));
  std::fflush(stdout);
}

void check(const Status& status, const char* what) {
  if (status.is_ok()) return;
  std::fprintf(stderr, "log_bench: %s: %s\n", what, status.to_string().c_str());
  std::exit(1);
}

// Appends `events` records in batches; returns the seconds spent inside append().
double append_all(LogWriter& writer, Generator& generator, std::size_t events, std::size_t batch_size,
                  std::size_t min_bytes, std::size_t max_bytes) {
  double seconds = 0;
  for (std::size_t done = 0; done < events;) {
    const std::size_t count = std::min(batch_size, events - done);
    const auto batch = generator.batch(count, min_bytes, max_bytes);
    const auto start = Clock::now();
    auto positions = writer.append(batch);
    seconds += seconds_since(start);
    check(positions.status(), "append");
    done += count;
  }
  return seconds;
}

std::size_t touch(std::string_view bytes) {
  uint64_t sum = 0;
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    sum += word;
  }
  for (; i < bytes.size(); ++i) sum += static_cast<unsigned char>(bytes[i]);
  return bytes.size() + (sum == 1 ? 1 : 0);
}

double cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

struct ReadRate {
  double wall_per_second;
  double cpu_per_second;  // events per second of this process's CPU time: what an idle machine would see
};

// One full read from offset 0 of every partition.
ReadRate timed_read(LogReader& reader, std::size_t events, std::size_t poll_max) {
  std::vector<LogRecord> batch;
  std::size_t seen = 0;
  std::size_t bytes = 0;
  const auto start = Clock::now();
  const double cpu_start = cpu_seconds();
  for (int32_t p = 0; p < reader.partition_count(); ++p) check(reader.seek(PartitionId{p}, Offset{0}), "seek");
  while (seen < events) {
    check(reader.poll(batch, poll_max, 1000), "poll");
    if (batch.empty() && seconds_since(start) > 60) {
      std::fprintf(stderr, "log_bench: read stalled at %zu of %zu records\n", seen, events);
      std::exit(1);
    }
    seen += batch.size();
    // Touch every byte, as a consumer decoding the records would.
    for (const LogRecord& record : batch) bytes += touch(record.key) + touch(record.value);
  }
  const double elapsed = seconds_since(start);
  const double cpu = cpu_seconds() - cpu_start;
  if (bytes == 0) std::exit(1);  // keeps the loop's reads observable
  return ReadRate{static_cast<double>(events) / elapsed, static_cast<double>(events) / cpu};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

void bench_journal(const Args& args) {
  std::filesystem::path dir = args.dir;
  bool remove = false;
  if (dir.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "log_bench.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) usage("cannot create a temporary directory");
    dir = pattern;
    remove = true;
  }
  JournalOptions options = journal_options(args.partitions, 1);
  options.map_size_bytes = std::size_t{1} << 30;
  auto journal = Journal::open(dir.string(), options);
  check(journal.status(), "open journal");
  auto writer = journal.value()->writer(journal_events_topic);
  check(writer.status(), "writer");
  // A --dir that already holds the events is reused: only the reads are timed.
  auto probe = journal.value()->reader(journal_events_topic);
  check(probe.status(), "reader");
  std::size_t stored = 0;
  for (int32_t p = 0; p < probe.value()->partition_count(); ++p) {
    auto end = probe.value()->end_offset(PartitionId{p});
    check(end.status(), "end offset");
    stored += static_cast<std::size_t>(end->value);
  }
  if (stored != args.events) {
    if (stored != 0) usage("--dir holds another number of events");
    Generator generator(args.seed);
    const double seconds = append_all(*writer.value(), generator, args.events, args.batch, 100, 200);
    print("journal_append_events_per_s", static_cast<double>(args.events) / seconds);
    std::fprintf(stderr, "journal: %zu events of 100..200 bytes, %d partitions, file %ju bytes\n", args.events,
                 args.partitions, static_cast<uintmax_t>(std::filesystem::file_size(dir / "data.mdb")));
  }
  std::vector<double> rates;
  std::vector<double> cpu_rates;
  for (int run = 0; run < 3; ++run) {
    auto reader = journal.value()->reader(journal_events_topic);
    check(reader.status(), "reader");
    const ReadRate rate = timed_read(*reader.value(), args.events, args.poll_max);
    rates.push_back(rate.wall_per_second);
    cpu_rates.push_back(rate.cpu_per_second);
  }
  print("journal_read_events_per_s", median(rates));
  // The reader works in this thread only, so CPU time measures it even on a busy machine.
  print("journal_read_cpu_events_per_s", median(cpu_rates));
  writer.value().reset();
  journal.value().reset();
  if (remove) std::filesystem::remove_all(dir);
}

struct CommitRate {
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

// Appends of one record each from `threads` threads for `seconds`.
CommitRate commit_rate(LogWriter& writer, std::size_t threads, std::size_t seconds, uint64_t seed) {
  std::vector<std::thread> workers;
  std::vector<std::vector<double>> done(threads);  // milliseconds of each append
  const auto until = Clock::now() + std::chrono::seconds(seconds);
  const auto start = Clock::now();
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      Generator generator(seed + t);
      while (Clock::now() < until) {
        const auto batch = generator.batch(1, 100, 200);
        const auto sent = Clock::now();
        check(writer.append(batch).status(), "append");
        done[t].push_back(seconds_since(sent) * 1000);
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  const double elapsed = seconds_since(start);
  std::vector<double> all;
  for (const auto& mine : done) all.insert(all.end(), mine.begin(), mine.end());
  std::sort(all.begin(), all.end());
  const auto at = [&](double q) {
    if (all.empty()) return 0.0;
    return all[std::min(all.size() - 1, static_cast<std::size_t>(q * static_cast<double>(all.size())))];
  };
  return CommitRate{static_cast<double>(all.size()) / elapsed, at(0.50), at(0.99)};
}

void bench_commits(const Args& args) {
  std::string pattern = (std::filesystem::temp_directory_path() / "log_bench.XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) usage("cannot create a temporary directory");
  {
    auto journal = Journal::open(pattern, journal_options(args.partitions, 1));
    check(journal.status(), "open journal");
    auto writer = journal.value()->writer(journal_events_topic);
    check(writer.status(), "writer");
    {
      const std::size_t threads = args.threads;
      std::vector<double> rates, p50, p99;
      for (int run = 0; run < 3; ++run) {
        const CommitRate r = commit_rate(*writer.value(), threads, args.seconds, args.seed);
        rates.push_back(r.per_second);
        p50.push_back(r.p50_ms);
        p99.push_back(r.p99_ms);
      }
      const double rate = median(rates);
      if (threads == 1) {
        std::printf("bench journal_commit_appends_per_s %.0f appends/s\n", rate);
        std::printf("bench journal_commit_p50_ms %.3f ms\n", median(p50));
        std::printf("bench journal_commit_p99_ms %.3f ms\n", median(p99));
      } else {
        std::printf("bench journal_commit_appends_per_s_%zu %.0f appends/s\n", threads, rate);
      }
      std::fflush(stdout);
    }
  }
  std::filesystem::remove_all(pattern);
}

void bench_mock(const Args& args) {
  auto cluster = MockKafkaCluster::create(3);
  check(cluster.status(), "mock cluster");
  KafkaOptions options;
  options.brokers = cluster.value()->bootstraps();
  const std::string topic = kafka_topic(options, kafka_events_kind);
  check(cluster.value()->create_topic(topic, args.mock_partitions, 3), "create topic");
  auto writer = KafkaWriter::open(options, topic);
  check(writer.status(), "kafka writer");
  Generator generator(args.seed);
  // Small values: the mock cluster drops data past ~5 MiB per partition.
  const double seconds = append_all(*writer.value(), generator, args.mock_events, args.batch, 40, 60);
  print("mock_append_events_per_s", static_cast<double>(args.mock_events) / seconds);
  std::vector<double> rates;
  for (int run = 0; run < 3; ++run) {
    auto reader = KafkaReader::open(options, topic);
    check(reader.status(), "kafka reader");
    rates.push_back(timed_read(*reader.value(), args.mock_events, args.poll_max).wall_per_second);
  }
  print("mock_read_events_per_s", median(rates));
}

}  // namespace
}  // namespace tally

int main(int argc, char** argv) {
  const tally::Args args = tally::parse(argc, argv);
  std::fprintf(stderr, "log_bench: seed %llu\n", static_cast<unsigned long long>(args.seed));
  if (args.only == "commits") {
    tally::bench_commits(args);
    return 0;
  }
  if (args.only.empty() || args.only == "journal") tally::bench_journal(args);
  if (args.only.empty() || args.only == "mock") tally::bench_mock(args);
  return 0;
}
