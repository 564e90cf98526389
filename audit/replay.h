// Replay: refold the events log from offset 0 into a fresh LMDB environment with the projector,
// and report what a replay proves: each partition's hash-chain head and the digest of every view
// (SPEC §8). The same log gives the same report, byte for byte, on every machine and every run.
//
// CAVEATS (read these first)
//   - The target directory must be new or empty: replaying on top of other views would mix two
//     folds. check_empty_dir() says so before anything is written.
//   - Replay stops at fixed end offsets (the log's ends when it starts, or the ones given), so a log
//     that keeps growing still gives a defined answer; records appended later are not folded.
//   - A Kafka log from which retention deleted old records cannot be replayed: the reader reports
//     the missing offset (not_found) and replay fails rather than fold a suffix.
//   - Durable commits like the live projector; speed comes from bigger batches
//     (ReplayOptions::batch_events_max), never from weaker commits.
//
// THREAD SAFETY: replay() runs on the caller's thread and calls on_progress from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/digest.h"
#include "engine/status.h"
#include "engine/types.h"
#include "log/log.h"
#include "projections/views.h"

namespace tally::audit {

inline constexpr std::size_t replay_batch_events_max = 50'000;     // records per LMDB write txn
inline constexpr std::size_t replay_map_size_bytes = std::size_t{1} << 30;  // initial map; grows
// A log that delivers nothing for this long before its end offsets are reached is an error
// (a broker gone, a partition deleted), not a reason to wait forever.
inline constexpr int replay_stall_timeout_ms = 30'000;

struct ReplayProgress {
  uint64_t events_done = 0;   // records committed to the new views
  uint64_t events_total = 0;  // sum over partitions of (end offset - 0): exact for the journal
  double elapsed_s = 0;
};

struct ReplayOptions {
  // Where to stop in each partition (index = partition; the record at end is not folded). Empty:
  // each partition's end offset when replay starts. Longer than the log's partition count: an
  // invalid_argument.
  std::vector<Offset> end_offsets;
  std::size_t batch_events_max = replay_batch_events_max;
  std::size_t map_size_bytes = replay_map_size_bytes;
  int stall_timeout_ms = replay_stall_timeout_ms;
  // Called after every committed batch and once at the end, on the replaying thread.
  std::function<void(const ReplayProgress&)> on_progress;
};

struct ReplayResult {
  // Every partition of the log, ascending; a partition with no records has next_offset 0, an
  // all-zero chain and 0 records.
  std::vector<PartitionView> partitions;
  // ViewReader::digests() of the new views: one per view, and "all".
  std::map<std::string, Digest128> digests;
  std::vector<Offset> end_offsets;  // where each partition stopped
  uint64_t events = 0;
  double elapsed_s = 0;
};

// ok if `dir` does not exist or is an empty directory.
// Errors: invalid_argument (field "into": not empty, or not a directory; the message says which).
Status check_empty_dir(const std::string& dir);

// Folds `log` from offset 0 of every partition up to the end offsets into a new store in
// `into_dir` (created) and reads back chain heads and view digests.
// Errors: invalid_argument (into_dir not empty, end_offsets longer than the partitions);
//   unavailable (the log stalled for stall_timeout_ms before the end offsets); errors of
//   Projector::open/start/run_once, ViewReader::open and the reader's poll and end_offset.
// REQUIRES: nobody else reads `log` while replay runs (it seeks every partition).
Result<ReplayResult> replay(LogReader& log, const std::string& into_dir, const ReplayOptions& options);

// The report `tally replay` prints, one fact a line, the digest of all views last:
//   partition <p> next_offset <n> records <n> chain <hex>
//   view <name> <hex>            (each view, by name)
//   digest <hex>
std::string format_replay_report(const ReplayResult& result);

}  // namespace tally::audit
