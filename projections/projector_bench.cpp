// projector_bench: how fast the projector folds a log into LMDB, against how fast the log can be
// read at all and how fast the fold core alone folds the same records. Not part of ctest.
//   projector_bench [--workload mix|many-orgs] [--events N] [--partitions P] [--batch B]
//                   [--journal DIR] [--mock-events N] [--usage-permille U] [--seed S] [--only journal|mock]
// The journal (N events of the workload, projections/bench_journal.h: mix = 1,000 orgs, many-orgs =
// 10,000 orgs x 5 members; U‰ usage) is generated once, in a child process, into DIR (default
// /tmp/tally-bench-journal-[many-orgs-]N-S) and reused while it is complete. Medians of 3 runs;
// every figure of the many-orgs workload ends in _many_orgs (the projector's own rate is
// projector_many_orgs_events_per_s):
//   bench fold_core_events_per_s          the fold core alone (MemoryLedger + apply) on the SAME
//                                         records, already in memory (what fold_bench measures)
//   bench journal_read_events_per_s       raw read: poll loop over every partition, no fold
//   bench projector_journal_events_per_s  open→caught up: fold + one durable LMDB commit per batch
//   bench projector_vs_read_ratio         the two above
//   bench projector_vs_fold_ratio         projector over fold core, measured in this run
//   bench fold_stage_events_per_s         events / seconds the projector spent folding (no LMDB):
//                                         its rate if writes and commits were free
//   bench fold_stage_vs_read_ratio        that ceiling against the raw read
//   bench projector_{read,fold,write,sync}_ns_per_event  where each event's time goes (see
//                                         report_time_per_event: the stages overlap in threads)
//   bench journal_floor_bytes_per_event  the journal with every page full (report_storage)
//   bench {view,journal,storage}_bytes_per_event  LMDB bytes in use (bench::lmdb_used_bytes) per
//                                         record: the views after a projection, the journal, both
//   bench projector_partitioned_events_per_s  the same journal into one store per partition
//                                         (projections/partitioned_projector.h), runs interleaved
//                                         with the single store's
//   bench partitioned_vs_single_ratio     the two above (SPEC §13: one node must lose nothing)
//   bench mock_read_events_per_s / bench projector_mock_events_per_s: the same on librdkafka's
//   mock cluster, with a workload that fits its ~5 MiB per partition retention (mix only).
// Informational lines: CPU rates, commit latencies, bytes per view.
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
#include "projections/bench_journal.h"
#include "log/journal.h"
#include "log/journal_format.h"
#include "log/kafka_log.h"
#include "log/kafka_testing.h"
#include "projections/partitioned_layout.h"
#include "projections/partitioned_projector.h"
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
  bench::Workload workload = bench::Workload::mix;
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
    else if (flag == "--workload") args.workload = take(bench::parse_workload(value), "flag");
    else {
      std::fprintf(stderr, "projector_bench: unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  if (args.journal.empty()) {
    args.journal = bench::journal_dir(args.workload, args.events, args.seed);
    if (args.usage_permille != 900) args.journal += "-u" + std::to_string(args.usage_permille);
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
void print(const std::string& name, double value, const char* unit = "events/s") {
  std::printf("bench %s %lld %s\n", name.c_str(), static_cast<long long>(value), unit);
  std::fflush(stdout);
}

testkit::WorkloadOptions workload(const Args& args, int32_t partitions) {
  testkit::WorkloadOptions options = bench::workload_options(args.workload, args.seed, partitions);
  options.usage_permille = args.usage_permille;
  return options;
}
// A figure's name for this workload: `base` + "_many_orgs" for the many-orgs one.
std::string figure(const Args& args, const std::string& base) { return base + bench::figure_suffix(args.workload); }

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

double report_read(const std::string& name, const std::vector<ReadRun>& runs) {
  std::vector<double> rates, cpu;
  for (const auto& r : runs) {
    rates.push_back(r.events_per_s);
    cpu.push_back(r.cpu_events_per_s);
  }
  print(name, median(rates));
  std::printf("# %s: cpu %lld events/s\n", name.c_str(), static_cast<long long>(median(cpu)));
  return median(rates);
}

struct ProjectionRun {
  double events_per_s = 0;
  double cpu_events_per_s = 0;
  ProjectorMetrics metrics;
  uint64_t view_bytes = 0;       // bench::lmdb_used_bytes of the views once the projector is closed
  uint64_t view_tree_bytes = 0;  // pages in the views' B-trees (the rest: LMDB's free list)
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
  ProjectionRun run;  // timed to caught up: the storage statistics below are not the projector's
  run.events_per_s = static_cast<double>(records) / since(t0);
  run.cpu_events_per_s = static_cast<double>(records) / (cpu_seconds() - cpu0);
  static bool printed = false;
  {
    auto views = take(ViewReader::open(data_dir), "view reader");
    for (const ViewStorage& s : take(views->storage(), "storage")) {
      run.view_tree_bytes += s.pages * s.page_bytes;
      if (printed) continue;  // where the bytes go, once
      std::printf("# view %-10s %10llu entries %8llu pages (%.1f MiB, %.0f B/entry)\n", s.name.c_str(),
                  static_cast<unsigned long long>(s.entries), static_cast<unsigned long long>(s.pages),
                  static_cast<double>(s.pages * s.page_bytes) / (1 << 20),
                  s.entries ? static_cast<double>(s.pages * s.page_bytes) / static_cast<double>(s.entries) : 0.0);
    }
    printed = true;
  }
  run.metrics = projector->metrics();
  projector.reset();
  run.view_bytes = take(bench::lmdb_used_bytes(data_dir), "views bytes");
  std::filesystem::remove_all(data_dir);
  return run;
}

// The same into a partitioned directory: one Projector per partition, side by side, each with
// its own reader of `journal`.
ProjectionRun timed_partitioned_projection(Journal& journal, const std::string& data_dir, const Args& args,
                                           uint64_t records) {
  std::filesystem::remove_all(data_dir);
  ProjectorOptions options;
  options.batch_events_max = args.batch;
  options.poll_timeout_ms = 0;
  options.map_size_bytes = std::size_t{1} << 30;
  int32_t partitions = 0;
  {
    auto reader = take(journal.reader(journal_events_topic), "reader");
    partitions = reader->partition_count();
  }
  const auto t0 = Clock::now();
  const double cpu0 = cpu_seconds();
  auto projector = take(PartitionedProjector::open(data_dir, partitions, options), "open partitioned projector");
  check(projector->start([&journal] { return journal.reader(journal_events_topic); }), "start");
  uint64_t done = 0;
  while (done < records) done += take(projector->run_once(), "run_once");
  ProjectionRun run;
  run.events_per_s = static_cast<double>(records) / since(t0);
  run.cpu_events_per_s = static_cast<double>(records) / (cpu_seconds() - cpu0);
  run.metrics = projector->metrics();
  projector.reset();
  for (int32_t p = 0; p < partitions; ++p) {
    run.view_bytes += take(bench::lmdb_used_bytes(partition_store_dir(data_dir, PartitionId{p})), "views bytes");
  }
  std::filesystem::remove_all(data_dir);
  return run;
}

void report_projection(const std::string& name, const std::vector<ProjectionRun>& runs) {
  std::vector<double> rates, cpu;
  for (const auto& r : runs) {
    rates.push_back(r.events_per_s);
    cpu.push_back(r.cpu_events_per_s);
  }
  print(name, median(rates));
  const ProjectorMetrics& m = runs.back().metrics;
  std::printf("# %s: cpu %lld events/s, %llu batches, batch latency mean %lld us, max %lld us; "
              "fold %.2f s, write %.2f s, commit+sync %.2f s\n", name.c_str(),
              static_cast<long long>(median(cpu)), static_cast<unsigned long long>(m.batches),
              static_cast<long long>(m.total_commit_latency_us / std::max<uint64_t>(m.batches, 1)),
              static_cast<long long>(m.max_commit_latency_us), static_cast<double>(m.total_fold_us) / 1e6,
              static_cast<double>(m.total_write_us) / 1e6, static_cast<double>(m.total_sync_us) / 1e6);
}

// The fold core alone (MemoryLedger + apply, records already in memory: fold_bench's measure) on
// the journal's records, in the order the reader polls them; median of 3 fresh ledgers.
// `frame_bytes` gets the bytes of the records as the journal frames them (key, value, frame header).
double fold_core_rate(Journal& journal, uint64_t records, uint64_t& keys, uint64_t& frame_bytes) {
  struct Held {
    RecordContext context;
    std::string value;
  };
  std::vector<Held> held;
  held.reserve(records);
  {
    auto reader = take(journal.reader(journal_events_topic), "reader");
    for (int32_t p = 0; p < reader->partition_count(); ++p) check(reader->seek(PartitionId{p}, Offset{0}), "seek");
    std::vector<LogRecord> out;
    while (held.size() < records) {
      check(reader->poll(out, 10'000, 1000), "poll");
      for (const LogRecord& r : out) {
        held.push_back(Held{RecordContext{r.position, r.appended_at_ms, reader->partition_count()}, std::string(r.value)});
        frame_bytes += journal_format::frame_header_bytes + r.key.size() + r.value.size();
      }
    }
  }
  std::vector<double> rates;
  FoldResult result;
  for (int run = 0; run < 3; ++run) {
    MemoryLedger ledger;
    const auto t0 = Clock::now();
    for (const Held& h : held) apply(ledger, h.context, h.value, result);
    rates.push_back(static_cast<double>(records) / since(t0));
    keys = ledger.key_count();
  }
  return median(rates);
}

// Where each event's time goes. fold/write/sync are the projector's own clocks (ProjectorMetrics:
// folding a batch, putting it into the write txn, mdb_txn_commit with its fsync), per event,
// medians over the runs. read is the raw read of the same journal in this run (1 / read rate):
// the collector thread's poll, which ProjectorMetrics does not time. The stages run on three
// threads in a pipeline, so their sum exceeds the wall time per event when they overlap.
void report_time_per_event(const Args& args, const std::vector<ProjectionRun>& runs, double read_rate) {
  std::vector<double> fold, write, sync;
  for (const auto& r : runs) {
    const double events = static_cast<double>(std::max<uint64_t>(r.metrics.events, 1));
    fold.push_back(static_cast<double>(r.metrics.total_fold_us) * 1e3 / events);
    write.push_back(static_cast<double>(r.metrics.total_write_us) * 1e3 / events);
    sync.push_back(static_cast<double>(r.metrics.total_sync_us) * 1e3 / events);
  }
  print(figure(args, "projector_read_ns_per_event"), 1e9 / read_rate, "ns");
  print(figure(args, "projector_fold_ns_per_event"), median(fold), "ns");
  print(figure(args, "projector_write_ns_per_event"), median(write), "ns");
  print(figure(args, "projector_sync_ns_per_event"), median(sync), "ns");
}

// LMDB bytes in use per record: the views after each run (median), the journal, both.
// journal_floor_bytes_per_event: what the journal would take with every B-tree page full, i.e.
// each record's frame plus its LMDB node (8-byte header, 16-byte key, 2-byte slot) on pages that
// lose only their 16-byte header. The journal's own encoding cannot go below it; the gap to
// journal_bytes_per_event is page fill (all partitions share one tree, so appends split pages in
// the middle of it).
void report_storage(const Args& args, const std::vector<ProjectionRun>& runs, uint64_t journal_bytes,
                    uint64_t records, uint64_t frame_bytes) {
  std::vector<double> views, trees;
  for (const auto& r : runs) {
    views.push_back(static_cast<double>(r.view_bytes));
    trees.push_back(static_cast<double>(r.view_tree_bytes));
  }
  const double n = static_cast<double>(records);
  print(figure(args, "view_bytes_per_event"), median(views) / n, "bytes");
  print(figure(args, "journal_bytes_per_event"), static_cast<double>(journal_bytes) / n, "bytes");
  print(figure(args, "storage_bytes_per_event"), (median(views) + static_cast<double>(journal_bytes)) / n, "bytes");
  constexpr double lmdb_node_bytes = 8 + journal_format::record_key_bytes + 2;
  constexpr double lmdb_page_bytes = 4096, lmdb_page_header_bytes = 16;
  const double floor = (static_cast<double>(frame_bytes) / n + lmdb_node_bytes) * lmdb_page_bytes /
                       (lmdb_page_bytes - lmdb_page_header_bytes);
  print(figure(args, "journal_floor_bytes_per_event"), floor, "bytes");
  std::printf("# journal: records frame %.0f bytes each; its pages are %.0f%% full\n", static_cast<double>(frame_bytes) / n,
              100.0 * floor * n / static_cast<double>(std::max<uint64_t>(journal_bytes, 1)));
  std::printf("# storage: views %.1f MiB (%.1f MiB in their B-trees, %.0f bytes/record; the rest is LMDB's free "
              "list), journal %.1f MiB, %llu records\n", median(views) / (1 << 20), median(trees) / (1 << 20),
              median(trees) / n, static_cast<double>(journal_bytes) / (1 << 20), static_cast<unsigned long long>(records));
}

void bench_journal(const Args& args, uint64_t records, uint64_t journal_bytes) {
  auto journal = take(Journal::open(args.journal, JournalOptions{}), "open journal");
  uint64_t keys = 0;
  uint64_t frame_bytes = 0;
  const double fold_rate = fold_core_rate(*journal, records, keys, frame_bytes);
  print(figure(args, "fold_core_events_per_s"), fold_rate);
  std::printf("# %llu records, %llu distinct idempotency keys\n", static_cast<unsigned long long>(records),
              static_cast<unsigned long long>(keys));

  std::vector<ReadRun> reads;
  for (int run = 0; run < 3; ++run) {
    auto reader = take(journal->reader(journal_events_topic), "reader");
    reads.push_back(timed_read(*reader, records));
  }
  const double read_rate = report_read(figure(args, "journal_read_events_per_s"), reads);

  std::vector<ProjectionRun> runs, partitioned;
  for (int run = 0; run < 3; ++run) {
    auto reader = take(journal->reader(journal_events_topic), "reader");
    runs.push_back(timed_projection(*reader, args.journal + "-views", args, records));
    partitioned.push_back(timed_partitioned_projection(*journal, args.journal + "-views", args, records));
  }
  const bool mix = args.workload == bench::Workload::mix;
  report_projection(mix ? "projector_journal_events_per_s" : "projector_many_orgs_events_per_s", runs);
  report_projection(figure(args, "projector_partitioned_events_per_s"), partitioned);
  std::vector<double> rates, fold_rates, partitioned_rates, partitioned_views;
  for (const auto& r : runs) rates.push_back(r.events_per_s);
  for (const auto& r : partitioned) {
    partitioned_rates.push_back(r.events_per_s);
    partitioned_views.push_back(static_cast<double>(r.view_bytes));
  }
  std::printf("bench %s %.3f ratio\n", figure(args, "partitioned_vs_single_ratio").c_str(),
              median(partitioned_rates) / median(rates));
  print(figure(args, "partitioned_view_bytes_per_event"), median(partitioned_views) / static_cast<double>(records),
        "bytes");
  std::printf("bench %s %.3f ratio\n", figure(args, "projector_vs_read_ratio").c_str(), median(rates) / read_rate);
  std::printf("bench %s %.3f ratio\n", figure(args, "projector_vs_fold_ratio").c_str(), median(rates) / fold_rate);
  // The fold stage alone (the projector's fold thread, LMDB left out): the rate the projector would
  // reach if writing and committing the views cost nothing, so the ceiling of its ratio to the read.
  for (const auto& r : runs) {
    fold_rates.push_back(static_cast<double>(records) * 1e6 / static_cast<double>(std::max<uint64_t>(r.metrics.total_fold_us, 1)));
  }
  print(figure(args, "fold_stage_events_per_s"), median(fold_rates));
  std::printf("bench %s %.3f ratio\n", figure(args, "fold_stage_vs_read_ratio").c_str(), median(fold_rates) / read_rate);
  std::vector<double> cpu_reads, cpu_runs;
  for (const auto& r : reads) cpu_reads.push_back(r.cpu_events_per_s);
  for (const auto& r : runs) cpu_runs.push_back(r.cpu_events_per_s);
  std::printf("# projector_vs_read_ratio by CPU time: %.3f\n", median(cpu_runs) / median(cpu_reads));
  report_time_per_event(args, runs, read_rate);
  report_storage(args, runs, journal_bytes, records, frame_bytes);
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
  using namespace tally;
  const Args args = parse(argc, argv);
  std::fprintf(stderr, "projector_bench: seed %llu, journal %s\n", static_cast<unsigned long long>(args.seed),
               args.journal.c_str());
  if (args.only.empty() || args.only == "journal") {
    // Before any LMDB environment or thread of this process: generation forks (bench_journal.h).
    const uint64_t records = take(bench::ensure_journal(args.journal, workload(args, args.partitions), args.events),
                                  "journal");
    const uint64_t journal_bytes = take(bench::lmdb_used_bytes(args.journal), "journal bytes");
    bench_journal(args, records, journal_bytes);
  }
  if ((args.only.empty() && args.workload == bench::Workload::mix) || args.only == "mock") bench_mock(args);
  return 0;
}
