// Snapshots of one partition's store (SPEC §13, catch-up when a partition moves): the previous
// owner copies its store (LMDB's own consistent copy, compacted), the new owner checks the copy
// against the digest and chain head the sender announced and restores it into its own, still
// empty, store of that partition in one write transaction, then folds on from the snapshot's
// offset.
//
// CAVEATS
//   - A snapshot is a whole LMDB file: its size is the partition's views. Nodes move it in pieces
//     (node/snapshot_transfer.h).
//   - LMDB trusts its file: open only a copy whose bytes were checked (the transfer's SHA-256).
//   - restore refuses a target that already folded records of its partition: a node that has its
//     own earlier store for the partition resumes from that (cheaper than any transfer).
//   - Verification is against what the sender said (digest of every view, chain head): it catches
//     a damaged or truncated transfer, not a sender that folded wrongly (the audit does that).
// THREAD SAFETY: free functions; the stores they name must not be written meanwhile (restore:
// no Projector open on the target).
#pragma once

#include <cstdint>
#include <string>

#include "engine/sha256.h"
#include "engine/digest.h"
#include "engine/status.h"
#include "engine/types.h"
#include "projections/store.h"

namespace tally::store {

struct SnapshotInfo {
  PartitionId partition;
  Offset next_offset;     // the records below it are in the snapshot
  std::string chain_hex;  // the partition's chain head (engine/chain.h), hex
  std::string digest_hex; // view_digests "all", hex
};

// Copies `env` (a partition's store) into `dir`/data.mdb (made, 0700; must not hold a store).
// Errors: io_error / LMDB errors of mdb_env_copy2.
Status write_snapshot(StoreEnv& env, const std::string& dir);

// What the store in `dir` holds for `partition`: its offset, chain head and digest.
// Errors: not_found (no store, or the partition was never folded there); corruption; LMDB errors.
Result<SnapshotInfo> describe_snapshot(const std::string& dir, PartitionId partition);
// The same for an open store.
Result<SnapshotInfo> describe_store(StoreEnv& env, PartitionId partition);

// Checks the snapshot in `dir` against `expected` (offset, chain head, digest), then copies every
// record of it into `target` in one write transaction.
// Errors: corruption (the snapshot is not what `expected` says: the message names what differs);
//   conflict (`target` has folded records of the partition already); LMDB errors.
Status restore_snapshot(const std::string& dir, const SnapshotInfo& expected, StoreEnv& target);

}  // namespace tally::store
