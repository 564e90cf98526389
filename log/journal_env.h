// Internal: the LMDB environment behind every Journal of one directory in one process (one
// lmdb::Env, shared through the process-wide registry of lmdb/env.h), and the rules for touching
// it safely:
//   - every transaction of this process runs under map_mutex() held shared; changing the map size
//     (growth on MDB_MAP_FULL, adopting another process's growth on MDB_MAP_RESIZED) holds it
//     exclusive, because LMDB requires that no transaction of the process is active then;
//   - write transactions of this process are serialised by write_mutex_ before LMDB's own
//     cross-process writer lock, so growth never races another writer of the process;
//   - appends are group-committed (write_grouped): a thread that finds no commit under way leads
//     one, taking every body queued by then into a single write transaction (one fsync for all);
//     the threads that queued meanwhile sleep until it is durable, and one of them leads the next.
//   - in-process appends bump a sequence and wake readers; appends by other processes are seen
//     through LMDB's last committed transaction id.
// Only log/journal*.cpp include this header (it includes lmdb.h).
#pragma once

#include <lmdb.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "lmdb/env.h"
#include "log/journal.h"
#include "log/log.h"

namespace tally {

struct JournalTopicInfo {
  std::string name;
  uint32_t id = 0;
  int32_t partitions = 0;
};

using lmdb::lmdb_error;  // journal messages name the call as "journal: <call>"

class JournalEnv final : public lmdb::Env {
 public:
  // Returns the environment of `dir` for this process, opening it if no Journal of this process
  // has it open. Errors: not_found (no journal and !options.create_if_missing), io_error.
  static Result<std::shared_ptr<JournalEnv>> acquire(const std::string& dir, const JournalOptions& options);

  MDB_dbi meta_dbi() const { return meta_dbi_; }
  bool read_only() const { return read_only_; }
  MDB_dbi records_dbi() const { return records_dbi_; }

  // The body of a write transaction. It may run more than once (after map growth) and must start
  // from scratch each time. It returns ok to commit; otherwise the transaction is aborted, and if
  // it set `map_full` (an LMDB call returned MDB_MAP_FULL) the map grows and the body runs again.
  using WriteBody = std::function<Status(MDB_txn* txn, bool& map_full)>;
  // Runs `body` in one durable write transaction. Errors: the body's; too_large (map at
  // map_size_max_bytes); unavailable (opened read-only); io_error.
  Status write(const WriteBody& body);

  // Like write(), but `body` may share its transaction (and its fsync) with the bodies of other
  // threads calling write_grouped at the same time; returns once that transaction is durable.
  // Bodies run in arrival order, each seeing what the earlier ones put. A failing body (other than
  // MDB_MAP_FULL) fails only its own call: the others are committed without it. `records` (the
  // records the body puts) bounds a group at journal_append_records_max records.
  Status write_grouped(const WriteBody& body, std::size_t records);
  // Bodies queued for the next group (tests).
  std::size_t queued_writes();

  // Runs `body` in a short read transaction. Errors: the body's; io_error.
  Status read(const std::function<Status(MDB_txn* txn)>& body);

  // Topic metadata. Errors: not_found, corruption, io_error.
  Result<JournalTopicInfo> find_topic(std::string_view name);

  // Append notification (see the header comment).
  uint64_t append_sequence();
  void notify_appended();
  // Waits until append_sequence() != seen or `until`, whichever comes first.
  void wait_for_append(uint64_t seen, std::chrono::steady_clock::time_point until);
  // LMDB's last committed transaction id (any process, any topic).
  Result<uint64_t> last_txnid();

 private:
  explicit JournalEnv(std::string canonical_dir) : lmdb::Env(std::move(canonical_dir)) {}
  static Result<std::shared_ptr<JournalEnv>> create(const std::string& dir, const JournalOptions& options);
  Status grow_map();
  struct GroupedWrite;
  void commit_group(std::vector<GroupedWrite*>& group);

  MDB_dbi meta_dbi_ = 0;
  MDB_dbi records_dbi_ = 0;
  std::size_t map_size_max_bytes_ = 0;
  bool read_only_ = false;
  std::mutex write_mutex_;
  std::mutex notify_mutex_;
  std::condition_variable notify_cv_;
  uint64_t append_sequence_ = 0;  // guarded by notify_mutex_
  std::mutex group_mutex_;        // guards the two below
  std::vector<GroupedWrite*> group_queue_;  // waiting for the next group, in arrival order
  bool group_leading_ = false;              // a thread is committing a group
};

// A read transaction handle that keeps its LMDB reader slot between uses (mdb_txn_reset /
// mdb_txn_renew), with one cursor on the records database. Used by one thread at a time.
class JournalReadTxn {
 public:
  explicit JournalReadTxn(std::shared_ptr<JournalEnv> env) : env_(std::move(env)) {}
  ~JournalReadTxn();
  JournalReadTxn(const JournalReadTxn&) = delete;
  JournalReadTxn& operator=(const JournalReadTxn&) = delete;

  // Starts a snapshot. REQUIRES: not active. Errors: io_error.
  Status begin();
  // Ends the snapshot: everything read through cursor() becomes invalid. No-op if not active.
  void end();
  MDB_cursor* cursor() const { return cursor_; }
  JournalEnv& env() const { return *env_; }

 private:
  std::shared_ptr<JournalEnv> env_;
  std::shared_lock<std::shared_mutex> lock_;
  MDB_txn* txn_ = nullptr;
  MDB_cursor* cursor_ = nullptr;
  bool active_ = false;
};

// The end of a partition: the offset its next record gets (last stored offset + 1, or 0) and the
// append time of its last record (INT64_MIN when it has none, or its frame is too short to say).
struct JournalTail {
  int64_t end_offset = 0;
  int64_t last_appended_at_ms = INT64_MIN;
};
// `cursor` is on the records database. Errors: io_error.
Result<JournalTail> journal_tail(MDB_cursor* cursor, uint32_t topic_id, int32_t partition);
Result<int64_t> journal_end_offset(MDB_cursor* cursor, uint32_t topic_id, int32_t partition);

// `clock`: Unix ms of an append (log/journal.h, LAYOUT). REQUIRES: clock is set.
std::unique_ptr<LogWriter> make_journal_writer(std::shared_ptr<JournalEnv> env, JournalTopicInfo topic,
                                               std::function<int64_t()> clock);
std::unique_ptr<LogReader> make_journal_reader(std::shared_ptr<JournalEnv> env, JournalTopicInfo topic,
                                               std::string identity);

}  // namespace tally
