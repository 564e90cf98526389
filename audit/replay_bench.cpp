// replay_bench: how fast `tally replay` refolds a journal into fresh views. Not part of ctest.
//   replay_bench [--events N] [--partitions P] [--batch B] [--seed S] [--journal DIR] [--into DIR]
// The journal (N events of the projector's mixed workload: 90% usage, purchases, refunds,
// duplicates, conflicts, refills; 1000 orgs) is generated once into DIR (default
// /tmp/tally-bench-journal-N-S, the same journal projector_bench makes) and reused while complete.
// Replays it 3 times into fresh directories and prints the median:
//   bench replay_events_per_s <int> events/s
// plus, per run, the CPU rate (events per CPU-second of this process): on a shared machine the
// wall-clock rate measures the neighbours as much as the replay.
// Every run must print the same digest (checked), or the bench exits 1.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "audit/replay.h"
#include "log/journal.h"
#include "projections/testkit.h"

namespace tally {
namespace {

struct Args {
  std::size_t events = 2'000'000;
  int32_t partitions = 4;
  std::size_t batch = audit::replay_batch_events_max;
  uint64_t seed = 42;
  std::string journal;
  std::string into;
};

[[noreturn]] void die(const std::string& what, const Status& status) {
  std::fprintf(stderr, "replay_bench: %s: %s\n", what.c_str(), status.to_string().c_str());
  std::exit(1);
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
    else if (flag == "--partitions") args.partitions = static_cast<int32_t>(number());
    else if (flag == "--batch") args.batch = number();
    else if (flag == "--seed") args.seed = number();
    else if (flag == "--journal") args.journal = value;
    else if (flag == "--into") args.into = value;
    else {
      std::fprintf(stderr, "replay_bench: unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "replay_bench: flag %s has no value\n", argv[argc - 1]);
    std::exit(2);
  }
  if (args.journal.empty()) {
    args.journal = "/tmp/tally-bench-journal-" + std::to_string(args.events) + "-" + std::to_string(args.seed);
  }
  if (args.into.empty()) args.into = "/tmp/tally-replay-bench-views";
  return args;
}

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Generates the journal unless a complete one is there; returns its record count.
uint64_t ensure_journal(const Args& args) {
  const std::string complete = args.journal + "/bench-complete";
  if (!std::filesystem::exists(complete)) {
    std::filesystem::remove_all(args.journal);
    auto journal = take(Journal::open(args.journal, journal_options(args.partitions, 1)), "open journal");
    auto writer = take(journal->writer(journal_events_topic), "writer");
    testkit::WorkloadOptions options;  // as projector_bench, so both benches share one journal
    options.seed = args.seed;
    options.partitions = args.partitions;
    options.orgs = 1000;
    options.usage_permille = 900;
    options.step_ms_max = 2'600;  // the same workload as projector_bench's (same journal path)
    testkit::WorkloadGenerator generator(options);
    std::vector<AppendRequest> batch;
    uint64_t records = 0;
    const auto t0 = std::chrono::steady_clock::now();
    while (generator.generated() < args.events) {
      batch.clear();
      generator.generate(std::min<std::size_t>(20'000, args.events - generator.generated()), batch);
      for (const AppendRequest& r : batch) records += r.to_every_partition ? static_cast<uint64_t>(args.partitions) : 1;
      take(writer->append(batch), "append");
    }
    std::printf("# generated %llu records into %s in %.1f s\n", static_cast<unsigned long long>(records),
                args.journal.c_str(), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    std::ofstream(complete) << records << "\n";
  }
  uint64_t records = 0;
  std::ifstream(complete) >> records;
  return records;
}

}  // namespace
}  // namespace tally

int main(int argc, char** argv) {
  using namespace tally;
  const Args args = parse(argc, argv);
  const uint64_t records = ensure_journal(args);
  JournalOptions existing;
  existing.create_if_missing = false;
  auto journal = take(Journal::open(args.journal, existing), "open journal");

  std::vector<double> rates;
  std::string digest;
  for (int run = 0; run < 3; ++run) {
    std::filesystem::remove_all(args.into);
    auto reader = take(journal->reader(journal_events_topic), "reader");
    audit::ReplayOptions options;
    options.batch_events_max = args.batch;
    const double cpu0 = cpu_seconds();
    const auto wall0 = std::chrono::steady_clock::now();
    const audit::ReplayResult result = take(audit::replay(*reader, args.into, options), "replay");
    const double cpu = cpu_seconds() - cpu0;  // fold, commits and the digests read-back: all of it
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    if (result.events != records) {
      std::fprintf(stderr, "replay_bench: replayed %llu records, the journal has %llu\n",
                   static_cast<unsigned long long>(result.events), static_cast<unsigned long long>(records));
      return 1;
    }
    const std::string all = result.digests.at("all").to_hex();
    if (!digest.empty() && all != digest) {
      std::fprintf(stderr, "replay_bench: run %d digest %s differs from %s\n", run, all.c_str(), digest.c_str());
      return 1;
    }
    digest = all;
    const double rate = static_cast<double>(result.events) / wall;
    rates.push_back(rate);
    std::printf("# run %d: %llu events in %.2f s, %.0f events/s (cpu %.2f s, %.0f events/cpu-s), digest %s\n", run,
                static_cast<unsigned long long>(result.events), wall, rate, cpu,
                static_cast<double>(result.events) / cpu, all.c_str());
    std::fflush(stdout);
  }
  std::filesystem::remove_all(args.into);
  std::sort(rates.begin(), rates.end());
  std::printf("bench replay_events_per_s %lld events/s\n", static_cast<long long>(rates[1]));
  return 0;
}
