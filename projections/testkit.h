// Test support for the projector's tests and bench (not linked into the product):
//   - MemoryLog: an in-memory LogReader/LogWriter (a vector of records per partition);
//   - WorkloadGenerator: a seeded, mixed, realistic event stream (usage, purchases, refunds,
//     duplicates, conflicts, member limits, auto-refill answered like the recharge connector would);
//   - Reference: the same records folded with MemoryLedger, and what every view should hold.
// Deterministic: the same seed gives the same records, byte for byte.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/chain.h"
#include "engine/fold.h"
#include "engine/memory_ledger.h"
#include "log/log.h"
#include "projections/outcome_board.h"
#include "projections/views.h"

namespace tally::testkit {

// ---- MemoryLog

class MemoryLog {
 public:
  explicit MemoryLog(int32_t partitions, std::string identity = "memory:test");
  int32_t partitions() const { return static_cast<int32_t>(partitions_.size()); }
  const std::string& identity() const { return identity_; }

  // Appends to partition_for_key(key), or to every partition if key is empty. Each record is
  // stamped with the log's append time (LogRecord::appended_at_ms) as the journal does: the clock,
  // never below the partition's previous stamp.
  std::vector<LogPosition> append(std::string_view key, std::string_view value);
  LogPosition append_to(PartitionId partition, std::string_view key, std::string_view value);
  // The same with a given append time, stored as it is (a fixture's recorded time).
  LogPosition append_to(PartitionId partition, std::string_view key, std::string_view value, int64_t appended_at_ms);
  // The clock of append times, Unix ms (default: the system clock).
  void set_clock(std::function<int64_t()> clock);
  int64_t appended_at(LogPosition position) const;
  void append_all(const std::vector<AppendRequest>& requests);
  // Drops records from `size` on (a truncated log, for tests of the startup checks).
  void truncate(PartitionId partition, std::size_t size);

  // Every record in append order across partitions (the order a single-threaded fold sees).
  std::vector<LogPosition> append_order() const;
  std::string value(LogPosition position) const;
  std::size_t size(PartitionId partition) const;

  // A reader; poll() hands out at most `chunk_max` records of one partition before moving to the
  // next, so partitions interleave.
  std::unique_ptr<LogReader> reader(std::size_t chunk_max = 64);
  std::unique_ptr<LogWriter> writer();

 private:
  friend class MemoryLogReader;
  std::string identity_;
  mutable std::mutex mutex_;
  std::condition_variable appended_;
  struct Stored {
    std::string value;
    int64_t appended_at_ms = 0;
  };
  LogPosition append_locked(PartitionId partition, std::string_view value, int64_t appended_at_ms);  // under mutex_
  std::vector<std::deque<Stored>> partitions_;
  std::function<int64_t()> clock_;
  std::vector<LogPosition> append_order_;
};

// ---- WorkloadGenerator

struct WorkloadOptions {
  uint64_t seed = 1;
  int32_t partitions = 4;
  int orgs = 40;
  int members_per_org = 5;
  int usage_permille = 900;           // share of usage among org events
  // 2020-01-31T22:00:00Z: months roll over early, and years of events stay behind the clock of
  // the log they are appended to (an event ahead of its append time is rejected: SPEC §2).
  int64_t start_ms = 1'580'508'000'000;
  int64_t step_ms_max = 300'000;      // event time advances by 0..step_ms_max per event
  bool answer_refills = true;         // answer recharge_requested like the recharge connector
};

class WorkloadGenerator {
 public:
  explicit WorkloadGenerator(const WorkloadOptions& options);
  // Appends the next `count` records to `out` (not cleared). The first call starts with a rate
  // card in every partition and the org openings.
  void generate(std::size_t count, std::vector<AppendRequest>& out);
  std::size_t generated() const { return generated_; }

 private:
  std::string org_id(int index) const;
  void emit(std::vector<AppendRequest>& out, std::string key, std::string value);
  void emit_everywhere(std::vector<AppendRequest>& out, std::string value);
  void org_event(std::vector<AppendRequest>& out);
  std::string usage_event(const std::string& org, const std::string& key);
  void remember(const std::string& org, const std::string& key, const std::string& value);
  int64_t next_time();
  uint64_t roll(uint64_t n) { return rng_() % n; }

  WorkloadOptions options_;
  std::mt19937_64 rng_;
  std::size_t generated_ = 0;
  uint64_t sequence_ = 0;
  int64_t now_ms_ = 0;
  int64_t rate_card_version_ = 0;
  // Mirror fold: to learn the signal ids the connector would answer (dense offsets assumed).
  MemoryLedger mirror_;
  FoldResult mirror_result_;
  std::vector<int64_t> next_offset_;
  std::deque<std::pair<std::size_t, std::string>> refill_queue_;  // (due at generated_, signal id)
  std::map<std::string, std::vector<std::string>> purchases_;    // org -> purchase keys
  std::deque<std::pair<std::string, std::string>> recent_;       // (org, value) for duplicates
  bool started_ = false;
};

// ---- A log with everything a producer can get wrong mixed in.
// The generator's workload (`orgs` orgs) in rounds of `per_round` records, each round followed by
// copies of real events in wrong partitions, a "ghost" org whose first events may land in a wrong
// partition (rejected before it exists), an event stamped a day ahead of the log and bytes that do
// not decode; so strays come before, between and after the real events of their orgs. Every
// record's append time is `clock_ms`. Deterministic in `seed`.
void append_mixed_log(MemoryLog& log, uint64_t seed, int orgs, std::size_t per_round, int64_t clock_ms);

// ---- Reference: expected views from folding the same records with MemoryLedger.

struct ExpectedHistory {
  Outcome outcome;
  RejectReason reason;
  Micros amount_micros;
  Micros balance_after_micros;
  LogPosition position;
  bool operator==(const ExpectedHistory&) const = default;
};

class Reference {
 public:
  Reference() = default;
  // Folds every record of `log` in append order.
  explicit Reference(const MemoryLog& log);
  // Folds records given in an order (each partition's records in offset order), with their append
  // times, as the projector does (a damaged record as a damaged_record reject), and chains them.
  void fold(const LogRecord& record, int32_t partition_count);
  void fold(const RecordContext& context, std::string_view record);

  const MemoryLedger& ledger() const { return ledger_; }
  // The hash chain of every partition folded (engine/chain.h), as the projector computes it.
  const std::map<int32_t, ChainHead>& chains() const { return chains_; }
  // Org states as the views store them (history_entries filled in).
  std::map<std::string, OrgState> orgs() const;
  const std::map<std::string, std::vector<ExpectedHistory>>& history() const { return history_; }
  const std::map<int32_t, std::vector<std::string>>& signal_ids() const { return signal_ids_; }
  const std::map<LogPosition, RejectReason>& rejects() const { return rejects_; }
  // Every record's outcome, as the projector publishes it (projections/outcome_board.h).
  const std::map<LogPosition, RecordOutcome>& outcomes() const { return record_outcomes_; }
  // Every rejected record's org ("" when none can be read) and where it stands in its views.
  const std::map<LogPosition, std::pair<std::string, RejectPlacement>>& reject_placements() const { return placements_; }
  const std::map<std::string, int64_t>& debited_by_org() const { return debited_; }
  uint64_t outcome_count(Outcome outcome) const { return outcomes_[static_cast<std::size_t>(outcome)]; }
  uint64_t records() const { return records_; }

 private:
  // Records what result_ says about the record at `position` (history, rejects, signals).
  void record_result(LogPosition position);

  MemoryLedger ledger_;
  FoldResult result_;
  std::map<int32_t, ChainHead> chains_;
  std::map<std::string, std::vector<ExpectedHistory>> history_;
  std::map<int32_t, std::vector<std::string>> signal_ids_;
  std::map<LogPosition, RejectReason> rejects_;
  std::map<LogPosition, RecordOutcome> record_outcomes_;
  std::map<LogPosition, std::pair<std::string, RejectPlacement>> placements_;
  std::map<std::string, int64_t> debited_;
  uint64_t outcomes_[4] = {0, 0, 0, 0};
  uint64_t records_ = 0;
};

// The seed of a randomised test: TALLY_SEED if set, else `fallback`. Printed by the caller.
uint64_t test_seed(uint64_t fallback);

}  // namespace tally::testkit
