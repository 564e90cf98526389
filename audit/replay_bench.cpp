// replay_bench: how fast `tally replay` refolds a journal into fresh views, and how much anonymous
// memory the projector holds while it does. Not part of ctest (audit/memory_soak.sh drives it for
// the soak).
//   replay_bench [--workload mix|many-orgs] [--events N] [--partitions P] [--batch B] [--seed S]
//                [--journal DIR] [--into DIR] [--runs R] [--curve-keys K1,K2,...] [--max-ratio X]
// The journal (N events of the workload, projections/bench_journal.h: mix = 1,000 orgs, the
// projector_bench journal; many-orgs = 10,000 orgs x 5 members) is generated once into DIR (default
// /tmp/tally-bench-journal-[many-orgs-]N-S) in a CHILD process, and its distinct idempotency keys
// counted there too: the generator's memory never counts in this process's. Replays it R times
// (default 3) into fresh directories and prints the median:
//   bench replay_events_per_s <int> events/s              (mix)
//   bench replay_many_orgs_events_per_s <int> events/s    (many-orgs)
// and, from the first run (a fresh process: nothing folded before it), anonymous memory
// (bench::anon_bytes: /proc/self/status RssAnon, resident anonymous pages; LMDB's file maps are not
// anonymous) sampled after the last committed batch, the projector still open:
//   bench heap_anon_bytes[_many_orgs] <int> bytes
//   bench heap_bytes_per_key[_mix] <int> bytes            that over the distinct keys
// --curve-keys: anonymous memory when the first run's committed records hold each number of
// distinct keys (from the journal's key table, bench::KeyTable; exact to a batch), e.g. 5M,10M,20M:
//   bench heap_anon_bytes_at_5m_keys <int> bytes ...
//   bench heap_anon_last_vs_first_keys_ratio <x> ratio    (--max-ratio X: exit 1 if above X)
//   bench heap_bytes_per_added_key <x> bytes               (last - first) / (their keys' difference)
// plus, per run, the CPU rate (events per CPU-second of this process): on a shared machine the
// wall-clock rate measures the neighbours as much as the replay.
// Every run must print the same digest (checked), or the bench exits 1.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "audit/replay.h"
#include "log/journal.h"
#include "projections/bench_journal.h"

namespace tally {
namespace {

struct Args {
  std::size_t events = 2'000'000;
  int32_t partitions = 4;
  std::size_t batch = audit::replay_batch_events_max;
  uint64_t seed = 42;
  std::string journal;
  std::string into;
  int runs = 3;
  std::vector<uint64_t> curve_keys;
  double max_ratio = 0;  // 0: no limit
  bench::Workload workload = bench::Workload::mix;
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

std::vector<uint64_t> parse_list(const std::string& text) {
  std::vector<uint64_t> numbers;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    char* end = nullptr;
    const std::string item = text.substr(at, comma - at);
    numbers.push_back(std::strtoull(item.c_str(), &end, 10));
    if (item.empty() || *end != '\0' || numbers.back() == 0) {
      die("flag", Status::invalid("--curve-keys", "'" + item + "' is not a positive number"));
    }
    at = comma + 1;
  }
  return numbers;
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
    else if (flag == "--runs") args.runs = std::max(1, static_cast<int>(number()));
    else if (flag == "--curve-keys") args.curve_keys = parse_list(value);
    else if (flag == "--max-ratio") args.max_ratio = std::strtod(value.c_str(), nullptr);
    else if (flag == "--workload") args.workload = take(bench::parse_workload(value), "flag");
    else {
      std::fprintf(stderr, "replay_bench: unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "replay_bench: flag %s has no value\n", argv[argc - 1]);
    std::exit(2);
  }
  if (args.journal.empty()) args.journal = bench::journal_dir(args.workload, args.events, args.seed);
  if (args.into.empty()) args.into = "/tmp/tally-replay-bench-views";
  return args;
}

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Anonymous memory sampled after every committed batch of one replay (on_progress).
class MemoryProbe {
 public:
  MemoryProbe(const bench::KeyTable& keys, std::vector<uint64_t> curve_keys)
      : keys_(keys), curve_keys_(std::move(curve_keys)), at_curve_(curve_keys_.size(), 0),
        records_at_curve_(curve_keys_.size(), 0) {}

  void sample(const audit::ReplayProgress& progress) {
    const uint64_t anon = take(bench::anon_bytes(), "anonymous memory");
    peak_ = std::max(peak_, anon);
    if (at_end_ == 0 && progress.events_done >= progress.events_total) at_end_ = anon;
    const uint64_t keys = keys_.keys_after(progress.events_done);
    for (std::size_t i = 0; i < curve_keys_.size(); ++i) {
      if (at_curve_[i] == 0 && keys >= curve_keys_[i]) {
        at_curve_[i] = anon;
        records_at_curve_[i] = progress.events_done;
      }
    }
  }
  uint64_t at_end() const { return at_end_; }
  uint64_t peak() const { return peak_; }
  // Prints the curve; false if a point was never reached or the ratio is above max_ratio (> 0).
  bool report_curve(double max_ratio) const;

 private:
  const bench::KeyTable& keys_;
  std::vector<uint64_t> curve_keys_;
  std::vector<uint64_t> at_curve_;  // anonymous bytes when the keys first reached curve_keys_[i]
  std::vector<uint64_t> records_at_curve_;
  uint64_t at_end_ = 0;             // after the last committed batch, the projector still open
  uint64_t peak_ = 0;
};

// 5000000 → "5m", 500000 → "500k".
std::string short_count(uint64_t n) {
  if (n % 1'000'000 == 0) return std::to_string(n / 1'000'000) + "m";
  if (n % 1'000 == 0) return std::to_string(n / 1'000) + "k";
  return std::to_string(n);
}

bool MemoryProbe::report_curve(double max_ratio) const {
  if (curve_keys_.empty()) return true;
  for (std::size_t i = 0; i < curve_keys_.size(); ++i) {
    if (at_curve_[i] == 0) {
      std::fprintf(stderr, "replay_bench: the journal holds %llu distinct keys, fewer than %llu (--curve-keys)\n",
                   static_cast<unsigned long long>(keys_.total_keys()),
                   static_cast<unsigned long long>(curve_keys_[i]));
      return false;
    }
    std::printf("bench heap_anon_bytes_at_%s_keys %llu bytes\n", short_count(curve_keys_[i]).c_str(),
                static_cast<unsigned long long>(at_curve_[i]));
    std::printf("# at %s keys: %llu records committed, %.1f anonymous bytes per key\n",
                short_count(curve_keys_[i]).c_str(), static_cast<unsigned long long>(records_at_curve_[i]),
                static_cast<double>(at_curve_[i]) / static_cast<double>(curve_keys_[i]));
  }
  const double ratio = static_cast<double>(at_curve_.back()) / static_cast<double>(at_curve_.front());
  std::printf("bench heap_anon_%s_vs_%s_keys_ratio %.2f ratio\n", short_count(curve_keys_.back()).c_str(),
              short_count(curve_keys_.front()).c_str(), ratio);
  // What each key adds once the batches' buffers are at their size: the memory that grows with the
  // life of the ledger.
  if (curve_keys_.size() > 1) {
    std::printf("bench heap_bytes_per_added_key %.1f bytes\n",
                (static_cast<double>(at_curve_.back()) - static_cast<double>(at_curve_.front())) /
                    static_cast<double>(curve_keys_.back() - curve_keys_.front()));
  }
  std::fflush(stdout);
  if (max_ratio > 0 && ratio > max_ratio) {
    std::fprintf(stderr, "replay_bench: anonymous memory grew %.2fx from %s to %s keys, more than %.2fx\n", ratio,
                 short_count(curve_keys_.front()).c_str(), short_count(curve_keys_.back()).c_str(), max_ratio);
    return false;
  }
  return true;
}

}  // namespace
}  // namespace tally

int main(int argc, char** argv) {
  using namespace tally;
  const Args args = parse(argc, argv);
  // Before any LMDB environment or thread of this process: both fork (bench_journal.h).
  const uint64_t records = take(bench::ensure_journal(args.journal, bench::workload_options(args.workload, args.seed,
                                                                                            args.partitions),
                                                      args.events),
                                "journal");
  const bench::KeyTable keys = take(bench::key_table(args.journal), "key table");
  const uint64_t anon_before = take(bench::anon_bytes(), "anonymous memory");
  JournalOptions existing;
  existing.create_if_missing = false;
  auto journal = take(Journal::open(args.journal, existing), "open journal");

  MemoryProbe probe(keys, args.curve_keys);
  std::vector<double> rates;
  std::string digest;
  for (int run = 0; run < args.runs; ++run) {
    std::filesystem::remove_all(args.into);
    auto reader = take(journal->reader(journal_events_topic), "reader");
    audit::ReplayOptions options;
    options.batch_events_max = args.batch;
    if (run == 0) options.on_progress = [&](const audit::ReplayProgress& p) { probe.sample(p); };
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
  const bool mix = args.workload == bench::Workload::mix;
  std::printf("bench %s %lld events/s\n", mix ? "replay_events_per_s" : "replay_many_orgs_events_per_s",
              static_cast<long long>(rates[rates.size() / 2]));
  const std::string suffix = bench::figure_suffix(args.workload);
  std::printf("bench heap_anon_bytes%s %llu bytes\n", suffix.c_str(), static_cast<unsigned long long>(probe.at_end()));
  // heap_bytes_per_key is the many-orgs figure (issue 19); the mix's carries its name.
  std::printf("bench heap_bytes_per_key%s %.0f bytes\n", mix ? "_mix" : "",
              static_cast<double>(probe.at_end()) / static_cast<double>(std::max<uint64_t>(keys.total_keys(), 1)));
  std::printf("# anonymous memory: %llu bytes before the replays, %llu at the end of the first, peak %llu; "
              "%llu distinct keys in %llu records\n",
              static_cast<unsigned long long>(anon_before), static_cast<unsigned long long>(probe.at_end()),
              static_cast<unsigned long long>(probe.peak()), static_cast<unsigned long long>(keys.total_keys()),
              static_cast<unsigned long long>(records));
  return probe.report_curve(args.max_ratio) ? 0 : 1;
}
