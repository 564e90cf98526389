// projector_bench: how fast the projector folds a log into LMDB, against how fast the log can be
// read at all. Not part of ctest.
//   projector_bench [--events N] [--partitions P] [--batch B] [--journal DIR] [--mock-events N]
//                   [--usage-permille U] [--seed S] [--only journal|mock]
// The journal (N events of the mixed workload, U‰ usage) is generated once into DIR (default
// /tmp/tally-bench-journal-N-S) and reused while it is complete. Prints medians of 3 runs:
//   bench journal_read_events_per_s       raw read: poll loop over every partition, no fold
//   bench projector_journal_events_per_s  open→caught up: fold + one durable LMDB commit per batch
//   bench projector_vs_read_ratio         the two above
//   bench fold_stage_events_per_s         events / seconds the projector spent folding (no LMDB):
//                                         its rate if writes and commits were free
//   bench fold_stage_vs_read_ratio        that ceiling against the raw read
//   bench mock_read_events_per_s / bench projector_mock_events_per_s: the same on librdkafka's
//   mock cluster, with a workload that fits its ~5 MiB per partition retention.
// Informational lines: fold-only rate into MemoryLedger, CPU rates, commit latencies.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/memory_ledger.h"
#include "log/journal.h"
#include "log/kafka_log.h"
#include "log/kafka_testing.h"
#include "projections/projector.h"
#include "projections/testkit.h"
#include "projections/views.h"

namespace tally {
namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::size_t events = 2'000'000;
  std::size_t mock_events = 50'000;
  int32_t partitions = 4;
  std::size_t batch = ProjectorOptions{}.batch_events_max;
  int usage_permille = 900;
  uint64_t seed = 42;
  std::string journal;
  std::string only;
};

[[noreturn]] void die(const std::string& what, const Status& status) {
  std::fprintf(stderr, "projector_bench: %s: %s\n", what.c_str(), status.to_string().c_str());
  std::exit(1);
}
void check(const Status& status, const std::string& what) {
  if (!status.is_ok()) die(what, status);
}
template <typename T>
T take(Result<T> result, const std::string& what) {
  if (!result.is_ok()) die(what, result.status());
  return std::move(result.value());
}

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    const auto number = [&] { return std::strtoull(value.c_str(), nullptr, 10); };
    if (flag == "--events") args.events = number();
    else if (flag == "--mock-events") args.mock_events = number();
    else if (flag == "--partitions") args.partitions = static_cast<int32_t>(number());
    else if (flag == "--batch") args.batch = number();
    else if (flag == "--usage-permille") args.usage_permille = static_cast<int>(number());
    else if (flag == "--seed") args.seed = number();
    else if (flag == "--journal") args.journal = value;
    else if (flag == "--only") args.only = value;
    else {
      std::fprintf(stderr, "projector_bench: unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  if (args.journal.empty()) {
    args.journal = "/tmp/tally-bench-journal-" + std::to_string(args.events) + "-" + std::to_string(args.seed);
  }
  return args;
}

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
void print(const char* name, double value, const char* unit = "events/s") {
  std::printf("bench %s %lld %s\n", name, static_cast<long long>(value), unit);
  std::fflush(stdout);
}

testkit::WorkloadOptions workload(const Args& args, int32_t partitions) {
  testkit::WorkloadOptions options;
  options.seed = args.seed;
  options.partitions = partitions;
  options.orgs = 1000;
  options.usage_permille = args.usage_permille;
  options.step_ms_max = 2'600;  // 2M events span about a month
  return options;
}

// Appends `events` generated records through `writer`, in batches of 20k.
uint64_t generate_into(LogWriter& writer, const testkit::WorkloadOptions& options, std::size_t events) {
  testkit::WorkloadGenerator generator(options);
  std::vector<AppendRequest> batch;
  uint64_t records = 0;
  while (generator.generated() < events) {
    batch.clear();
    generator.generate(std::min<std::size_t>(20'000, events - generator.generated()), batch);
    for (const AppendRequest& r : batch) records += r.to_every_partition ? static_cast<uint64_t>(options.partitions) : 1;
    take(writer.append(batch), "append");
  }
  return records;
}

struct ReadRun {
  double events_per_s = 0;
  double cpu_events_per_s = 0;
};

// Raw read: every partition from 0, touching every value byte, until `records` are read.
ReadRun timed_read(LogReader& reader, uint64_t records) {
  for (int32_t p = 0; p < reader.partition_count(); ++p) check(reader.seek(PartitionId{p}, Offset{0}), "seek");
  std::vector<LogRecord> out;
  uint64_t seen = 0, checksum = 0;
  const auto t0 = Clock::now();
  const double cpu0 = cpu_seconds();
  while (seen < records) {
    check(reader.poll(out, 10'000, 1000), "poll");
    for (const LogRecord& r : out) {
      for (char c : r.value) checksum += static_cast<unsigned char>(c);
    }
    seen += out.size();
  }
  const double seconds = since(t0);
  const double cpu = cpu_seconds() - cpu0;
  if (checksum == 42) std::printf("#\n");  // keep the loop
  return ReadRun{static_cast<double>(records) / seconds, static_cast<double>(records) / cpu};
}

double report_read(const char* name, const std::vector<ReadRun>& runs) {
  std::vector<double> rates, cpu;
  for (const auto& r : runs) {
    rates.push_back(r.events_per_s);
    cpu.push_back(r.cpu_events_per_s);
  }
  print(name, median(rates));
  std::printf("# %s: cpu %lld events/s\n", name, static_cast<long long>(median(cpu)));
  return median(rates);
}

struct ProjectionRun {
  double events_per_s = 0;
  double cpu_events_per_s = 0;
  ProjectorMetrics metrics;
};

// open → start → run_once until every partition is applied to its end.
ProjectionRun timed_projection(LogReader& reader, const std::string& data_dir, const Args& args, uint64_t records) {
  std::filesystem::remove_all(data_dir);
  ProjectorOptions options;
  options.batch_events_max = args.batch;
  options.poll_timeout_ms = 0;
  options.map_size_bytes = std::size_t{1} << 30;
  const auto t0 = Clock::now();
  const double cpu0 = cpu_seconds();
  auto projector = take(Projector::open(data_dir, options), "open projector");
  check(projector->start(reader), "start");
  uint64_t done = 0;
  while (done < records) done += take(projector->run_once(reader), "run_once");
  static bool printed = false;
  if (!printed) {  // where the bytes go, once
    printed = true;
    auto views = take(ViewReader::open(data_dir), "view reader");
    for (const ViewStorage& s : take(views->storage(), "storage")) {
      std::printf("# view %-10s %10llu entries %8llu pages (%.1f MiB, %.0f B/entry)\n", s.name.c_str(),
                  static_cast<unsigned long long>(s.entries), static_cast<unsigned long long>(s.pages),
                  static_cast<double>(s.pages * s.page_bytes) / (1 << 20),
                  s.entries ? static_cast<double>(s.pages * s.page_bytes) / static_cast<double>(s.entries) : 0.0);
    }
  }
  ProjectionRun run;
  run.events_per_s = static_cast<double>(records) / since(t0);
  run.cpu_events_per_s = static_cast<double>(records) / (cpu_seconds() - cpu0);
  run.metrics = projector->metrics();
  projector.reset();
  std::filesystem::remove_all(data_dir);
  return run;
}

void report_projection(const char* name, const std::vector<ProjectionRun>& runs) {
  std::vector<double> rates, cpu;
  for (const auto& r : runs) {
    rates.push_back(r.events_per_s);
    cpu.push_back(r.cpu_events_per_s);
  }
  print(name, median(rates));
  const ProjectorMetrics& m = runs.back().metrics;
  std::printf("# %s: cpu %lld events/s, %llu batches, batch latency mean %lld us, max %lld us; "
              "fold %.2f s, write %.2f s, commit+sync %.2f s\n", name,
              static_cast<long long>(median(cpu)), static_cast<unsigned long long>(m.batches),
              static_cast<long long>(m.total_commit_latency_us / std::max<uint64_t>(m.batches, 1)),
              static_cast<long long>(m.max_commit_latency_us), static_cast<double>(m.total_fold_us) / 1e6,
              static_cast<double>(m.total_write_us) / 1e6, static_cast<double>(m.total_sync_us) / 1e6);
}

void bench_journal(const Args& args) {
  const std::string complete = args.journal + "/bench-complete";
  if (!std::filesystem::exists(complete)) {
    std::filesystem::remove_all(args.journal);
    auto journal = take(Journal::open(args.journal, journal_options(args.partitions, 1)), "open journal");
    auto writer = take(journal->writer(journal_events_topic), "writer");
    const auto t0 = Clock::now();
    const uint64_t records = generate_into(*writer, workload(args, args.partitions), args.events);
    std::printf("# generated %llu records into %s in %.1f s\n", static_cast<unsigned long long>(records),
                args.journal.c_str(), since(t0));
    std::ofstream(complete) << records << "\n";
  }
  uint64_t records = 0;
  std::ifstream(complete) >> records;
  auto journal = take(Journal::open(args.journal, JournalOptions{}), "open journal");

  // The fold alone, into memory: the ceiling of any projector.
  {
    auto reader = take(journal->reader(journal_events_topic), "reader");
    for (int32_t p = 0; p < reader->partition_count(); ++p) check(reader->seek(PartitionId{p}, Offset{0}), "seek");
    std::vector<LogRecord> out;
    MemoryLedger ledger;
    FoldResult result;
    uint64_t seen = 0;
    const auto t0 = Clock::now();
    const double cpu0 = cpu_seconds();
    while (seen < records) {
      check(reader->poll(out, 10'000, 1000), "poll");
      for (const LogRecord& r : out) {
        apply(ledger, RecordContext{r.position, r.appended_at_ms, reader->partition_count()}, r.value, result);
      }
      seen += out.size();
    }
    std::printf("# read + fold into MemoryLedger: %lld events/s (cpu %lld events/s)\n",
                static_cast<long long>(static_cast<double>(records) / since(t0)),
                static_cast<long long>(static_cast<double>(records) / (cpu_seconds() - cpu0)));
  }

  std::vector<ReadRun> reads;
  for (int run = 0; run < 3; ++run) {
    auto reader = take(journal->reader(journal_events_topic), "reader");
    reads.push_back(timed_read(*reader, records));
  }
  const double read_rate = report_read("journal_read_events_per_s", reads);

  std::vector<ProjectionRun> runs;
  for (int run = 0; run < 3; ++run) {
    auto reader = take(journal->reader(journal_events_topic), "reader");
    runs.push_back(timed_projection(*reader, args.journal + "-views", args, records));
  }
  report_projection("projector_journal_events_per_s", runs);
  std::vector<double> rates, fold_rates;
  for (const auto& r : runs) rates.push_back(r.events_per_s);
  std::printf("bench projector_vs_read_ratio %.3f ratio\n", median(rates) / read_rate);
  // The fold stage alone (the projector's fold thread, LMDB left out): the rate the projector would
  // reach if writing and committing the views cost nothing, so the ceiling of its ratio to the read.
  for (const auto& r : runs) {
    fold_rates.push_back(static_cast<double>(records) * 1e6 / static_cast<double>(std::max<uint64_t>(r.metrics.total_fold_us, 1)));
  }
  print("fold_stage_events_per_s", median(fold_rates));
  std::printf("bench fold_stage_vs_read_ratio %.3f ratio\n", median(fold_rates) / read_rate);
  std::vector<double> cpu_reads, cpu_runs;
  for (const auto& r : reads) cpu_reads.push_back(r.cpu_events_per_s);
  for (const auto& r : runs) cpu_runs.push_back(r.cpu_events_per_s);
  std::printf("# projector_vs_read_ratio by CPU time: %.3f\n", median(cpu_runs) / median(cpu_reads));
}

void bench_mock(const Args& args) {
  auto cluster = take(MockKafkaCluster::create(3), "mock cluster");
  KafkaOptions options;
  options.brokers = cluster->bootstraps();
  options.on_client_error = [](std::string_view) {};
  const std::string topic = kafka_topic(options, kafka_events_kind);
  check(cluster->create_topic(topic, args.partitions, 3), "create topic");
  uint64_t records = 0;
  {
    auto writer = take(KafkaWriter::open(options, topic), "kafka writer");
    records = generate_into(*writer, workload(args, args.partitions), args.mock_events);
  }
  std::vector<ReadRun> reads;
  for (int run = 0; run < 3; ++run) {
    auto reader = take(KafkaReader::open(options, topic), "kafka reader");
    reads.push_back(timed_read(*reader, records));
  }
  report_read("mock_read_events_per_s", reads);
  std::vector<ProjectionRun> runs;
  for (int run = 0; run < 3; ++run) {
    auto reader = take(KafkaReader::open(options, topic), "kafka reader");
    runs.push_back(timed_projection(*reader, "/tmp/tally-bench-mock-views-" + std::to_string(args.seed), args, records));
  }
  report_projection("projector_mock_events_per_s", runs);
}

}  // namespace
}  // namespace tally

int main(int argc, char** argv) {
  const tally::Args args = tally::parse(argc, argv);
  std::fprintf(stderr, "projector_bench: seed %llu, journal %s\n", static_cast<unsigned long long>(args.seed),
               args.journal.c_str());
  if (args.only.empty() || args.only == "journal") tally::bench_journal(args);
  if (args.only.empty() || args.only == "mock") tally::bench_mock(args);
  return 0;
}
