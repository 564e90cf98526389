#include "projections/bench_journal.h"

#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "engine/memory_ledger.h"
#include "log/journal.h"

namespace tally::bench {
namespace {

constexpr std::size_t generate_batch_events = 20'000;  // events per append() while generating
constexpr std::size_t poll_records_max = 10'000;
constexpr int poll_timeout_ms = 1'000;

Status io_error(const std::string& message) { return Status::error(Status::Code::io_error, message); }

// Runs `work` in a forked child and waits for it: whatever the child allocates dies with it.
Status in_child(const std::string& what, const std::function<Status()>& work) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) return io_error(what + ": fork failed");
  if (pid == 0) {
    const Status status = work();
    if (!status.is_ok()) std::fprintf(stderr, "%s: %s\n", what.c_str(), status.to_string().c_str());
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(status.is_ok() ? 0 : 1);
  }
  int child_status = 0;
  if (waitpid(pid, &child_status, 0) != pid) return io_error(what + ": waitpid failed");
  if (!WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0) return io_error(what + " failed (child process)");
  return Status::ok();
}

Status generate(const std::string& dir, const testkit::WorkloadOptions& options, std::size_t events) {
  std::filesystem::remove_all(dir);
  auto journal = Journal::open(dir, journal_options(options.partitions, 1));
  if (!journal.is_ok()) return journal.status();
  auto writer = journal.value()->writer(journal_events_topic);
  if (!writer.is_ok()) return writer.status();
  testkit::WorkloadGenerator generator(options);
  std::vector<AppendRequest> batch;
  uint64_t records = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (generator.generated() < events) {
    batch.clear();
    generator.generate(std::min(generate_batch_events, events - generator.generated()), batch);
    for (const AppendRequest& r : batch) records += r.to_every_partition ? static_cast<uint64_t>(options.partitions) : 1;
    if (auto appended = writer.value()->append(batch); !appended.is_ok()) return appended.status();
  }
  std::printf("# generated %llu records (%d orgs x %d members) into %s in %.1f s\n",
              static_cast<unsigned long long>(records), options.orgs, options.members_per_org, dir.c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::ofstream(dir + "/bench-complete") << records << "\n";
  return Status::ok();
}

// Folds the whole journal into MemoryLedger in poll order, writing "records keys" rows to `path`.
Status count_keys(const std::string& dir, const std::string& path) {
  JournalOptions existing;
  existing.create_if_missing = false;
  auto journal = Journal::open(dir, existing);
  if (!journal.is_ok()) return journal.status();
  auto reader = journal.value()->reader(journal_events_topic);
  if (!reader.is_ok()) return reader.status();
  LogReader& log = *reader.value();
  uint64_t records = 0;
  std::ifstream(dir + "/bench-complete") >> records;
  for (int32_t p = 0; p < log.partition_count(); ++p) {
    if (Status s = log.seek(PartitionId{p}, Offset{0}); !s.is_ok()) return s;
  }
  MemoryLedger ledger;
  FoldResult result;
  std::vector<LogRecord> out;
  std::string rows;
  uint64_t seen = 0, next_row = key_table_step_records;
  while (seen < records) {
    if (Status s = log.poll(out, poll_records_max, poll_timeout_ms); !s.is_ok()) return s;
    if (out.empty()) return io_error(dir + ": the journal ends at " + std::to_string(seen) + " records");
    for (const LogRecord& r : out) {
      apply(ledger, RecordContext{r.position, r.appended_at_ms, log.partition_count()}, r.value, result);
      if (++seen == next_row || seen == records) {
        rows += std::to_string(seen) + " " + std::to_string(ledger.key_count()) + "\n";
        next_row += key_table_step_records;
      }
    }
  }
  std::ofstream(path + ".tmp") << rows;
  std::filesystem::rename(path + ".tmp", path);
  return Status::ok();
}

}  // namespace

Result<Workload> parse_workload(const std::string& text) {
  if (text == "mix") return Workload::mix;
  if (text == "many-orgs") return Workload::many_orgs;
  return Status::invalid("--workload", "is '" + text + "'; expected mix or many-orgs");
}

const char* figure_suffix(Workload workload) { return workload == Workload::mix ? "" : "_many_orgs"; }

testkit::WorkloadOptions workload_options(Workload workload, uint64_t seed, int32_t partitions) {
  testkit::WorkloadOptions options;
  options.seed = seed;
  options.partitions = partitions;
  options.orgs = workload == Workload::mix ? 1'000 : 10'000;
  options.members_per_org = 5;
  options.usage_permille = 900;
  options.step_ms_max = 2'600;  // 2M events span about a month
  return options;
}

std::string journal_dir(Workload workload, std::size_t events, uint64_t seed) {
  const std::string kind = workload == Workload::mix ? "" : "many-orgs-";
  return "/tmp/tally-bench-journal-" + kind + std::to_string(events) + "-" + std::to_string(seed);
}

Result<uint64_t> ensure_journal(const std::string& dir, const testkit::WorkloadOptions& options, std::size_t events) {
  const std::string complete = dir + "/bench-complete";
  if (!std::filesystem::exists(complete)) {
    if (Status s = in_child("generate " + dir, [&] { return generate(dir, options, events); }); !s.is_ok()) return s;
  }
  uint64_t records = 0;
  if (!(std::ifstream(complete) >> records) || records == 0) return io_error(complete + ": no record count");
  return records;
}

uint64_t KeyTable::keys_after(uint64_t records) const {
  const auto after = std::upper_bound(records_at.begin(), records_at.end(), records);
  if (after == records_at.begin()) return 0;
  return keys[static_cast<std::size_t>(after - records_at.begin()) - 1];
}

Result<KeyTable> key_table(const std::string& journal_dir) {
  const std::string path = journal_dir + "/bench-keys";
  if (!std::filesystem::exists(path)) {
    if (Status s = in_child("count keys of " + journal_dir, [&] { return count_keys(journal_dir, path); });
        !s.is_ok()) {
      return s;
    }
  }
  KeyTable table;
  std::ifstream in(path);
  uint64_t records = 0, keys = 0;
  while (in >> records >> keys) {
    table.records_at.push_back(records);
    table.keys.push_back(keys);
  }
  if (table.keys.empty()) return io_error(path + ": no rows");
  return table;
}

Result<uint64_t> lmdb_used_bytes(const std::string& dir) {
  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env); rc != 0) return io_error(std::string("mdb_env_create: ") + mdb_strerror(rc));
  // Read-only and without the lock file: nothing of this process's other handles is touched.
  int rc = mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOLOCK, 0);
  MDB_envinfo info{};
  MDB_stat stat{};
  if (rc == 0) rc = mdb_env_info(env, &info);
  if (rc == 0) rc = mdb_env_stat(env, &stat);
  mdb_env_close(env);
  if (rc != 0) return io_error("mdb_env_open/info(" + dir + "): " + mdb_strerror(rc));
  return (static_cast<uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize;
}

Result<uint64_t> anon_bytes() {
  std::ifstream status("/proc/self/status");
  std::string field;
  while (status >> field) {
    if (field == "RssAnon:") {
      uint64_t kib = 0;
      if (status >> kib) return kib * 1024;
      break;
    }
  }
  return io_error("/proc/self/status: no RssAnon");
}

}  // namespace tally::bench
