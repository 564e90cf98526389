// Verify: replay the log into a scratch store and compare it with the live views (SPEC §8).
//
// HOW A DIFFERENCE IS FOUND AND NAMED
//   1. The live views' per-partition next offsets are read once (a snapshot); the log is replayed
//      up to exactly those offsets, so a live projector that keeps running does not cause false
//      alarms. A log that now ends before them is itself a difference (records gone).
//   2. Per partition, the SHA-256 hash-chain head and record count are compared. The chain covers
//      every record's raw bytes, position, append time and outcome (engine/chain.h), so ANY altered,
//      inserted or dropped record changes the head, and nobody can forge one that keeps it:
//      detection never depends on steps 3 and 4.
//   3. For a partition that differs, the first record whose chain breaks is found from the "chain"
//      view, which keeps a mark (8 bytes of the head) after every record: the first offset whose
//      mark differs between the live views and the replay, or that one side lacks, is the altered
//      (or first missing or inserted) record itself — whatever was altered, a field no view shows
//      (`source`, `correlation_id`, unused encoding bytes) or the append time included.
//   4. That record is described from what the views keep per event: every org whose home partition
//      differs has its history compared entry by entry between the live and the replayed views,
//      and the rejects (dead letters, keyed by position) too, so the report says what the live
//      views recorded for it and what the log gives now — or that both record the same (the
//      alteration is in bytes no view keeps). Without chain marks (never for a store of this
//      format) the first visibly differing event is named instead.
//   5. When the live views did not move during verification, every view's digest is compared as
//      well, and orgs whose state differs are listed (views edited behind the projector's back).
//
// THREAD SAFETY: one call at a time per LogReader; ViewReaders are thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "audit/first_difference.h"
#include "audit/replay.h"
#include "engine/status.h"
#include "engine/types.h"
#include "log/log.h"
#include "projections/views.h"

namespace tally::audit {

inline constexpr std::size_t verify_orgs_listed_max = 20;           // differing orgs named in a report

struct PartitionCheck {
  PartitionId partition;
  Offset live_next_offset;      // the live views' snapshot
  Offset log_end_offset;        // the log's end when verify started
  uint64_t live_records = 0;
  uint64_t replayed_records = 0;
  Digest256 live_chain;
  Digest256 replayed_chain;
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
