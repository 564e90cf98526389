// Verify: replay the log into a scratch store and compare it with the live views (SPEC §8).
//
// HOW A DIFFERENCE IS FOUND AND NAMED
//   1. The live views' per-partition next offsets are read once (a snapshot); the log is replayed
//      up to exactly those offsets, so a live projector that keeps running does not cause false
//      alarms. A log that now ends before them is itself a difference (records gone).
//   2. Per partition, the hash-chain head and record count are compared. The chain covers every
//      record's raw bytes and position and its outcome (engine/fold.cpp), so ANY altered byte of
//      any record changes the head: detection never depends on step 3.
//   3. For a partition that differs, the first differing event is located from what the views
//      keep per event: every org whose home partition differs has its history compared entry by
//      entry (by org + sequence) between the live and the replayed views, and the rejects
//      (dead letters, keyed by position) are compared too. Each mismatch yields a position; the
//      smallest offset per partition is reported, with the org and idempotency key the live views
//      recorded and what the log gives now. Because the fold is deterministic, no record before
//      the altered one can differ, so the named event is the altered record whenever its own
//      history or reject entry changed (amounts, keys, outcomes, an undecodable record), and
//      otherwise the first event visibly affected by it (e.g. a usage priced with an altered rate
//      card): the altered record is then at or before the named one.
//   4. An alteration that no view keeps (bytes of `source`, `correlation_id`, unused encoding
//      bytes) changes only the chain: verify fails and says so, without an event to name.
//   5. When the live views did not move during verification, every view's digest is compared as
//      well, and orgs whose state differs are listed (views edited behind the projector's back).
//
// THREAD SAFETY: one call at a time per LogReader; ViewReaders are thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "audit/replay.h"
#include "engine/status.h"
#include "engine/types.h"
#include "log/log.h"
#include "projections/views.h"

namespace tally::audit {

inline constexpr std::size_t verify_history_page_entries = 10'000;  // entries per history read
inline constexpr std::size_t verify_rejects_compared_max = 100'000;  // ViewReader::rejects page cap
inline constexpr std::size_t verify_orgs_listed_max = 20;           // differing orgs named in a report

// The first event of a partition whose recorded result differs.
struct FirstDifference {
  LogPosition position;
  std::string org_id;           // as the live views recorded it (else as the log gives it now)
  std::string idempotency_key;  // likewise; empty if neither side could decode the record
  std::string live;             // what the live views recorded there, or "nothing"
  std::string replayed;         // what folding the log as it is now records there, or "nothing"
};

struct PartitionCheck {
  PartitionId partition;
  Offset live_next_offset;      // the live views' snapshot
  Offset log_end_offset;        // the log's end when verify started
  uint64_t live_records = 0;
  uint64_t replayed_records = 0;
  Digest128 live_chain;
  Digest128 replayed_chain;
  std::optional<FirstDifference> first_difference;
  bool log_truncated() const { return log_end_offset < live_next_offset; }
  bool matches() const {
    return !log_truncated() && live_chain == replayed_chain && live_records == replayed_records;
  }
};

struct VerifyReport {
  std::vector<PartitionCheck> partitions;
  bool live_moved = false;                   // the live projector committed while we compared
  std::vector<std::string> differing_views;  // by digest (only when !live_moved)
  std::vector<std::string> differing_orgs;   // org state differs (only when !live_moved), first few
  uint64_t events = 0;                       // records replayed
  double elapsed_s = 0;
  bool ok() const;
};

struct VerifyOptions {
  // Where to replay. Empty: a new directory under the system temp dir, removed afterwards.
  // Given: must be new or empty, and is kept (for inspection).
  std::string scratch_dir;
  // Batch size, map size, stall timeout and progress of the replay (end_offsets is ignored: verify
  // sets it to the live views' snapshot).
  ReplayOptions replay;
};

// Compares the views `live` with a replay of `log`.
// Errors (operating errors only; differences are in the report): conflict (the views hold more
// partitions than the log has); the errors of replay() and of the ViewReader calls.
Result<VerifyReport> verify(ViewReader& live, LogReader& log, const VerifyOptions& options);

// Human-readable report, one partition per line, details indented, last line "verify: ok" or
// "verify: FAILED (...)".
std::string format_verify_report(const VerifyReport& report);

}  // namespace tally::audit
