// Moving a partition's snapshot from the node that owned it to the node taking it on (SPEC §13,
// catch-up), in pieces, so neither side holds a whole store in memory whatever its size.
//
//   POST /api/v1/internal/partitions/{partition}/snapshots            (admin)
//     the sender copies its store of the partition (projections/store_snapshot.h) onto its shelf
//     and answers {"partition", "snapshot": id, "bytes", "sha256", "next_offset", "chain", "digest"}
//   GET  /api/v1/internal/partitions/{partition}/snapshots/{snapshot}?from=B&bytes=N   (admin)
//     bytes [B, B+N) of that copy (N ≤ snapshot_chunk_bytes_max), application/octet-stream
//
// The receiver appends the pieces to a file on disk and checks its size and SHA-256 before LMDB
// opens it (LMDB trusts its file: a damaged page can crash the reader), then restore_snapshot
// checks the copy against the offset, chain head and view digest the sender announced before
// anything moves.
//
// CAVEATS
//   - The shelf keeps one copy per partition (a newer offer of the partition replaces it) and drops
//     a copy once its last piece was served or snapshot_keep_ms after it was made; a receiver that
//     takes longer, or whose sender restarted, fails and folds from offset 0 (never wrong).
//   - A copy is as large as the partition's views: the shelf's directory needs that much disk.
// THREAD SAFETY: SnapshotShelf is thread-safe. fetch_snapshot is a free function (its own client).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/http_types.h"
#include "engine/status.h"
#include "engine/types.h"
#include "outbound/http_client.h"
#include "projections/store.h"
#include "projections/store_snapshot.h"

namespace tally {

inline constexpr std::size_t snapshot_chunk_bytes_max = 4 * 1024 * 1024;  // below the client's 8 MiB cap
inline constexpr int64_t snapshot_keep_ms = 30 * 60 * 1000;  // as long as a catch-up may take (node.h)
inline constexpr int64_t snapshot_request_timeout_ms = 30'000;

// A copy of a partition's store, made for one receiver.
struct SnapshotOffer {
  std::string id;
  uint64_t bytes = 0;
  std::string sha256_hex;  // of the copy's file
  store::SnapshotInfo info;
};

class SnapshotShelf {
 public:
  // Copies live in `dir` (made 0700); whatever an earlier process left there is removed.
  static Result<std::unique_ptr<SnapshotShelf>> open(std::string dir);

  // Copies `env` (the store of `partition`) onto the shelf. Errors: not_found (the store folded no
  // record of the partition); io_error / LMDB errors of the copy.
  Result<SnapshotOffer> offer(store::StoreEnv& env, PartitionId partition);

  // Bytes [from, from + max) of the copy `id` (fewer at its end). The copy is dropped once a piece
  // reaching its end was read. Errors: not_found (no such copy, or it was dropped);
  // invalid_argument, field "from" (beyond the copy); io_error.
  Result<std::string> piece(const std::string& id, PartitionId partition, uint64_t from, std::size_t max);

 private:
  struct Copy {
    std::string id;
    std::string path;  // the copy's directory
    uint64_t bytes = 0;
    int64_t made_ms = 0;
  };
  explicit SnapshotShelf(std::string dir) : dir_(std::move(dir)) {}
  void drop_locked(std::map<int32_t, Copy>::iterator at);
  void sweep_locked(int64_t now_ms);

  const std::string dir_;
  std::mutex mutex_;
  std::map<int32_t, Copy> copies_;  // by partition
  uint64_t counter_ = 0;
};

// The two routes above, over `shelf`; `store_of` gives this node's store of a partition (nullptr:
// none). `partition_count` bounds {partition}.
std::vector<api::Route> snapshot_routes(SnapshotShelf& shelf, int32_t partition_count,
                                        std::function<std::shared_ptr<store::StoreEnv>(PartitionId)> store_of);

struct SnapshotFetch {
  std::string base_url;  // the sender's API, e.g. http://10.0.0.2:8080
  std::string token;     // an admin token the sender knows
  std::size_t chunk_bytes = snapshot_chunk_bytes_max;
  int64_t timeout_ms = snapshot_request_timeout_ms;  // per request
  // Each piece is asked for again after a failure that may pass (no answer, 429, 5xx), so one
  // dropped connection does not cost a whole transfer.
  connectors::RetryPolicy retry{3, 200, 2'000, 0};
};

// Asks the sender for a snapshot of `partition` and writes it to `dir`/data.mdb (dir made 0700;
// must not hold a store), one piece at a time. Returns what the sender announced, for
// restore_snapshot to check the copy against. Errors: unavailable (the sender did not answer, or
// answered an error, after the retries a piece is allowed: the message says which), corruption (the pieces do not add up to the size
// and SHA-256 announced), io_error.
Result<store::SnapshotInfo> fetch_snapshot(const SnapshotFetch& from, PartitionId partition, const std::string& dir);

}  // namespace tally
