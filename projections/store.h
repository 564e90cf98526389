// The LMDB store of the projections (SPEC §6): one environment (a directory) holding every view,
// the outbox, the rejects and the consumed offsets, written by one Projector, read by any number of
// ViewReaders in any number of processes.
//
// CAVEATS (read these first)
//   - One directory is one store, written by at most one Projector at a time (projections/
//     projector.h takes an exclusive flock on "projector.lock"). Do not put it on a network
//     filesystem: LMDB needs working POSIX locks and mmap.
//   - LMDB forbids opening an environment twice in one process. StoreEnv::open() shares one
//     environment per directory per process (the registry of lmdb/env.h): a Projector and the
//     ViewReaders of `tally dev` use the same MDB_env. A read-only environment cannot be upgraded: open the Projector first if one
//     process does both.
//   - After fork() the child must not use a StoreEnv inherited from the parent (open() notices the
//     new pid and opens a fresh environment).
//   - Commits are durable: no MDB_NOSYNC, MDB_WRITEMAP or MDB_MAPASYNC. A crash at any moment
//     leaves the last committed batch, whole (MDB_NOMETASYNC only where the Projector is told to
//     defer meta syncs: a power loss may then leave the batch before; projections/projector.h).
//   - The map grows on MDB_MAP_FULL (the writer aborts, grows, retries the same batch). Growth waits
//     for the read transactions of this process (LMDB requires none be active); readers in other
//     processes adopt the new size when mdb_txn_begin() returns MDB_MAP_RESIZED.
//   - LMDB keys are at most 511 bytes (mdb_env_get_maxkeysize). Every key below fits: ids are at
//     most 128 bytes, idempotency keys 255; the usage roll-up key carries a digest of its free-text
//     fields (models and workspaces may be 1 KiB) instead of the text.
//   - Chunks ("history", "keys", "chain") are a storage detail: readers and digests see their records one
//     by one, as if each had its own key (org \0 sequence; partition offset), so the digests do not
//     depend on where batches happened to end.
//   - Digests (ViewReader::digests) cover fold results only. The outbox *sequence* is the order in
//     which one run happened to interleave partitions, so the outbox digest is per partition in
//     emission order, not per sequence number.
//
// LAYOUT (format_version 10). Integers in keys are big-endian so LMDB's byte order is numeric order;
// integers in values are little-endian (engine/state_codec.h's ByteWriter: 8 bytes, two's complement).
// Named databases:
//   "meta"        "format_version"   u32 BE store_format_version (checked on every open)
//                 "store_kind"       "tally.projections" (an environment without it is refused)
//                 "log_identity"     LogReader::identity() of the log these views were folded from
//                 "partition_count"  u32 BE, the log's partition count
//                 "map_size"         u64 BE, the map size the writer last used (bookkeeping)
//                 "stats"            u64 LE × 5: batches, applied, duplicate, conflict, rejected
//                 "outbox_next"      u64 BE, sequence of the next outbox entry (first is 1)
//                 "outbox_sent"      u64 BE, sequence of the last entry the emitter sent (absent = none;
//                                    Projector::record_outbox_sent)
//   "orgs"        org id                                 encode(OrgState)
//   "members"     org \0 member                          encode(MemberState)
//   "keys"        partition (u32 BE) offset (u64 BE)     a chunk (projections/records.h: append_framed) of
//                 of the first key of the chunk          keys one batch put on that partition (up to
//                                                        keys_chunk_bytes_max), in offset order; each
//                                                        record: offset (u64 LE),
//                                                        key digest (2 × u64 LE), encode(KeyRecord).
//                                                        The idempotency index: key digest =
//                                                        idempotency_digest(scope, idempotency key),
//                                                        scope = org id or "#<partition>"
//                                                        (global_key_scope). Puts on the last pages
//                                                        of that partition's run; the projector
//                                                        keeps a locator of every key's chunk in
//                                                        memory (projections/lmdb_ledger.h).
//   "purchases"   org \0 purchase key                    encode(PurchaseRecord)
//   "history"     org \0 sequence (u64 BE) of the first  a chunk (append_framed) of consecutive
//                 entry of the chunk                     entries of the org from that sequence on,
//                                                        each projections/records.h: HistoryEntry.
//                                                        One batch writes one chunk per org (more if
//                                                        it exceeds history_chunk_bytes_max); chunks
//                                                        are never rewritten.
//   "usage"       day (u64 BE, sign bit flipped) org \0  projections/records.h: UsageRollup (varints)
//                 digest (16 bytes) of (model, member,
//                 workspace, project, agent, provider,
//                 billing path). Day first: new cells
//                 land at the end of the tree.
//   "outbox"      sequence (u64 BE), dense from 1        str(signal id) + encoded Signal (TLS1)
//   "rejects"     partition (u32 BE) offset (u64 BE)     projections/records.h: RejectEntry
//   "partitions"  partition (u32 BE)                     i64 next offset, the partition's hash-chain
//                                                        head (32 bytes, engine/chain.h) and the
//                                                        records it chains (u64), then
//                                                        encode(PartitionState)
//   "chain"       partition (u32 BE) offset (u64 BE)     a chunk of the chain marks of the records one
//                 of the first record of the chunk       batch folded in that partition, in offset
//                                                        order; each record: varint (its offset minus
//                                                        the previous record's + 1, so 0 in a dense
//                                                        log) and its mark (u64 LE: chain_mark of the
//                                                        head after it). 9 bytes per event; lets a
//                                                        replay name the first record whose chain
//                                                        head differs (audit/verify.h). Chunks are
//                                                        never rewritten.
//   "payments"    payment ref of an applied purchase or  projections/records.h: encode_payment (org,
//                 auto-refill (its payment_ref: a Stripe  purchase key, paid_minor, fee_minor). The
//                 payment intent, charge or Checkout      first purchase with a ref keeps it. An
//                 Session id)                             index over "history", so not in the
//                                                        digests; it maps a refund that carries no
//                                                        Tally metadata to its purchase. Refs
//                                                        over payment_ref_indexed_bytes_max are
//                                                        not indexed (payment ids are ~30 bytes).
//   "org_rejects" org \0 partition (u32 BE) offset (u64 BE) u8 RejectPlacement (views.h) + the rejected
//                 of every rejected record; org is empty   event as a history entry (records.h:
//                 ("\0" + position) for a record with no   encode_org_reject). An index over
//                 readable org                           "rejects", derived from the fold's results
//                                                        (so not in the digests): an org's rejects,
//                                                        its early rejects (before it existed), and
//                                                        the records no org can claim.
//   "org_signals" org \0 outbox sequence (u64 BE)        u8 SignalKind: an index over "outbox" by org
//                                                        (not in the digests).
//   "grants"      org \0 grant id (the idempotency key   encode(Grant) (engine/state_codec.h): a grant
//                 of the event that made it)             with nothing left (SPEC §12). Written once,
//                                                        when it closes; the active grants are in
//                                                        the org's state ("orgs").
//
// History rule: an event gets a history entry of its org when it names a valid org id, the org
// exists after the fold and its home partition is the event's partition. Events of an org never
// created (e.g. its very first event rejected) and wrong-partition events are in "rejects" and
// "org_rejects" only (the former are an org's early rejects, shown before its history).
// "rejects" holds every record whose outcome is rejected (validation and business reasons);
// duplicates and conflicts change nothing and are in the org's history only.
// Roll-ups count applied usage only, in the UTC day of the event's own time.
//
// THREAD SAFETY: StoreEnv is thread-safe. A ReadTxn belongs to one thread at a time.
#pragma once

#include <lmdb.h>

#include <array>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "engine/digest.h"
#include "engine/state.h"
#include "engine/status.h"
#include "engine/types.h"
#include "lmdb/env.h"

namespace tally::store {

// 10: "usage" cells are keyed by day first (day, org, names): a batch's new cells cluster on the
// pages of the clock's last days instead of dirtying a page in every org's run. Only the usage
// view's digest moves (its keys); a store of version 9 is refused (replay into a fresh dir).
// 9: SPEC §12 grants. Org states may end with a grants section (active grants, overdraft, expired
// and voided totals) and partition states with the grant expiry and warning indexes; "grants"
// holds the closed grants; history entries end with their fundings, and a grant_expired entry is
// written when the clock expires a grant. Every org with credit has a grant, so the view digests of
// every log change; payload digests do not (the grant terms enter them only when not the default).
// 8: org states may end with a holds section and partition states with a hold expiry index
// (SPEC §11; engine/state_codec.cpp). Both are written only while holds are active, so the view
// digests of a log without holds do not move, but a build of version 7 cannot read them.
// 7: usage roll-ups are also keyed by project, agent, provider and billing path (SPEC §14).
// 6: adds "org_rejects" and "org_signals" (derived indexes: the view digests of a log do not
// change; a store of version 5 lacks them for what it folded, so it is refused: replay).
// 5: the hash chain is SHA-256 (a 32-byte head in "partitions", moved out of the fold's state),
// and "chain" keeps a mark per record. 4: adds "payments". 3: "history" and "keys" values are
// chunks of records (2: one record per key; 1: "keys" kept the keys themselves, ordered by key).
inline constexpr uint32_t store_format_version = 10;
// A history chunk is closed once it holds this many bytes: a page read decodes at most one chunk
// ahead of its first entry.
inline constexpr std::size_t history_chunk_bytes_max = std::size_t{32} << 10;
// A "keys" chunk is closed before it would exceed this many bytes: it fits one 4 KiB page (LMDB
// puts a value this big alone on an overflow page), so a lookup of a key on disk reads one page
// and decodes at most ~90 records. (A bigger chunk still reads correctly, only slower.)
inline constexpr std::size_t keys_chunk_bytes_max = 4000;
inline constexpr std::size_t payment_ref_indexed_bytes_max = 255;  // "payments" keys (LMDB keys ≤ 511)
inline constexpr unsigned readers_max = 512;  // reader slots, all processes
inline constexpr std::size_t map_size_min_bytes = std::size_t{64} << 10;
inline constexpr std::size_t map_size_default_bytes = std::size_t{256} << 20;
inline constexpr std::size_t map_size_max_bytes = std::size_t{1} << 42;  // 4 TiB

enum class Db : int {
  meta = 0, orgs, members, keys, purchases, history, usage, outbox, rejects, partitions, payments, chain,
  org_rejects, org_signals, grants
};
inline constexpr int db_count = 15;
const char* db_name(Db db);

inline constexpr std::string_view meta_format_version = "format_version";
inline constexpr std::string_view meta_store_kind = "store_kind";
inline constexpr std::string_view store_kind = "tally.projections";
inline constexpr std::string_view meta_log_identity = "log_identity";
inline constexpr std::string_view meta_partition_count = "partition_count";
inline constexpr std::string_view meta_map_size = "map_size";
inline constexpr std::string_view meta_stats = "stats";
inline constexpr std::string_view meta_outbox_next = "outbox_next";
inline constexpr std::string_view meta_outbox_sent = "outbox_sent";

// ---- Key encodings (pure).
void put_u32_be(std::string& out, uint32_t v);
void put_u64_be(std::string& out, uint64_t v);
uint32_t get_u32_be(std::string_view in);  // REQUIRES: in.size() >= 4
uint64_t get_u64_be(std::string_view in);  // REQUIRES: in.size() >= 8

// `a \0 b` into `out` (cleared first).
void pair_key(std::string& out, std::string_view a, std::string_view b);
void history_key(std::string& out, std::string_view org, uint64_t sequence);
// The prefix of every history key of `org`: org \0.
void org_prefix(std::string& out, std::string_view org);
// org \0 position_key(position): the key of "org_rejects".
void org_position_key(std::string& out, std::string_view org, LogPosition position);
// day org \0 digest of the cell's names (model, member, workspace, project, agent, provider,
// billing path; projections/records.h UsageCellNames). `scratch` is reused for the digest (no
// allocation once warmed up).
struct UsageCellNames;  // projections/records.h
void usage_key(std::string& out, std::string_view org, int64_t day, const UsageCellNames& names,
               DigestBuilder& scratch);
// day org \0: the prefix of the org's cells of that day (for scans).
void usage_day_prefix(std::string& out, std::string_view org, int64_t day);
inline constexpr std::size_t usage_key_day_bytes = 8;
// The day of a usage key, or of any key of at least usage_key_day_bytes bytes.
int64_t usage_key_day(std::string_view key);
std::array<char, 8> outbox_key(uint64_t sequence);
// partition (u32 BE) offset (u64 BE): the key of "keys" and "rejects" entries.
std::array<char, 12> position_key(LogPosition position);
LogPosition key_position(std::string_view key);  // REQUIRES: key.size() == 12
// A key entry: key digest low, high (u64 LE each) + encode(KeyRecord).
void encode_key_entry(std::string& out, const Digest128& key, const KeyRecord& record);
bool decode_key_entry(std::string_view bytes, Digest128& key, KeyRecord& record);
// Appends one record to a "keys" chunk: offset (u64 LE) + the key entry.
void append_key_record(std::string& chunk, Offset offset, const Digest128& key, const KeyRecord& record);
// Splits one record of a "keys" chunk into its offset and key entry; false if malformed.
bool split_key_record(std::string_view record, Offset& offset, std::string_view& entry);
std::array<char, 4> partition_key(PartitionId partition);

using lmdb::from_val;
using lmdb::lmdb_error;  // "mdb_put(history): MDB_MAP_FULL: Environment mapsize limit reached"
using lmdb::to_val;

// The LMDB environment of one directory, shared per process (see CAVEATS).
class StoreEnv final : public lmdb::Env {
 public:
  enum class Mode { read_only, read_write };

  // Opens (read_write: creates the directory and every database if missing) the store in `dir`.
  // `map_size_bytes` is a floor (read_write): LMDB keeps the larger of it, the stored "map_size"
  // and what the file already holds.
  // Errors: not_found (read_only and no store in dir); corruption (format version differs; the
  //   message says which); invalid_argument (dir holds another LMDB environment, e.g. a journal);
  //   unavailable (read_write asked while this process holds the store read-only); io_error (the
  //   LMDB or file call and its error text).
  static Result<std::shared_ptr<StoreEnv>> open(const std::string& dir, Mode mode, std::size_t map_size_bytes);

  MDB_dbi dbi(Db db) const { return dbis_[static_cast<std::size_t>(db)]; }
  bool read_only() const { return mode_ == Mode::read_only; }

  // Grows the map to at least `bytes` (rounded up to whole pages). Waits for this process's read
  // transactions to end. REQUIRES: read_write, and no write transaction is active.
  Status set_map_size(std::size_t bytes);

 private:
  StoreEnv(std::string dir, Mode mode) : lmdb::Env(std::move(dir)), mode_(mode) {}
  Status open_env(std::size_t map_size_bytes);
  Status open_databases();
  Status check_store_kind(MDB_txn* txn, MDB_dbi& meta) const;
  Status check_format_version(MDB_txn* txn) const;
  Status wrong_version(std::string_view stored_bytes) const;
  Mode mode_;
  std::array<MDB_dbi, db_count> dbis_{};
};

// A read transaction of the store (lmdb::ReadTxn: adopts a map grown by another process, holds the
// map lock shared while it lives). Move-only; aborts on destruction.
class ReadTxn {
 public:
  static Result<ReadTxn> begin(StoreEnv& env);
  MDB_txn* get() const { return txn_.get(); }
  // Returns MDB_SUCCESS or MDB_NOTFOUND into `rc`; value points into the map until the txn ends.
  int get(Db db, std::string_view key, std::string_view& value) const { return txn_.get(env_->dbi(db), key, value); }

 private:
  ReadTxn(StoreEnv& env, lmdb::ReadTxn txn) : env_(&env), txn_(std::move(txn)) {}
  StoreEnv* env_;
  lmdb::ReadTxn txn_;
};

}  // namespace tally::store
