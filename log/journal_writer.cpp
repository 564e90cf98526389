// The journal's LogWriter: each append() call is committed durably in one LMDB write transaction,
// which it shares with the appends of other threads made at the same time (group commit).
#include <algorithm>
#include <cassert>
#include <functional>
#include <vector>

#include "engine/limits.h"
#include "engine/partitioner.h"
#include "log/journal_env.h"
#include "log/journal_format.h"

namespace tally {
namespace {

class CursorCloser {
 public:
  explicit CursorCloser(MDB_cursor* cursor) : cursor_(cursor) {}
  ~CursorCloser() { mdb_cursor_close(cursor_); }
  CursorCloser(const CursorCloser&) = delete;
  CursorCloser& operator=(const CursorCloser&) = delete;

 private:
  MDB_cursor* cursor_;
};

class JournalWriter final : public LogWriter {
 public:
  JournalWriter(std::shared_ptr<JournalEnv> env, JournalTopicInfo topic, std::function<int64_t()> clock)
      : env_(std::move(env)), topic_(std::move(topic)), clock_(std::move(clock)) {}

  int32_t partition_count() const override { return topic_.partitions; }

  Result<std::vector<LogPosition>> append(std::span<const AppendRequest> records) override {
    std::vector<int32_t> partition_of(records.size(), -1);  // -1: every partition
    std::size_t total = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
      Status valid = validate(records[i], i);
      if (!valid.is_ok()) return valid;
      if (records[i].to_every_partition) {
        total += static_cast<std::size_t>(topic_.partitions);
      } else {
        partition_of[i] = partition_for_key(records[i].key, topic_.partitions);
        total += 1;
      }
    }
    if (total > journal_append_records_max) {
      return Status::invalid("records", std::to_string(total) + " records in one append, more than the " +
                                            std::to_string(journal_append_records_max) + " one transaction takes");
    }
    std::vector<LogPosition> positions;
    if (total == 0) return positions;
    // One reading of the clock per call: every record of it gets the same append time (raised per
    // partition to that partition's last stamp, so stamps never go back).
    const int64_t now_ms = clock_();
    // Group-committed: concurrent appends share one transaction and one fsync, and each returns
    // once it is durable.
    Status written = env_->write_grouped(
        [&](MDB_txn* txn, bool& map_full) {
          return write_records(txn, map_full, records, partition_of, total, now_ms, positions);
        },
        total);
    if (!written.is_ok()) return written;
    env_->notify_appended();
    return positions;
  }

 private:
  Status validate(const AppendRequest& record, std::size_t index) const {
    const std::string field = "records[" + std::to_string(index) + "]";
    if (record.key.empty() && !record.to_every_partition) {
      return Status::invalid(field + ".key", "empty key: a record needs its org id as key, or to_every_partition");
    }
    if (record.key.size() > journal_record_key_bytes_max) {
      return Status::invalid(field + ".key", std::to_string(record.key.size()) + " bytes, more than the " +
                                                 std::to_string(journal_record_key_bytes_max) + "-byte limit");
    }
    if (record.value.size() > limits::event_bytes_max) {
      return Status::error(Status::Code::too_large,
                           field + ".value: " + std::to_string(record.value.size()) + " bytes, more than the " +
                               std::to_string(limits::event_bytes_max) + "-byte record limit");
    }
    return Status::ok();
  }

  Status write_records(MDB_txn* txn, bool& map_full, std::span<const AppendRequest> records,
                       const std::vector<int32_t>& partition_of, std::size_t total, int64_t now_ms,
                       std::vector<LogPosition>& positions) const {
    positions.clear();
    positions.reserve(total);
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn, env_->records_dbi(), &cursor);
    if (rc != MDB_SUCCESS) return lmdb_error("journal: mdb_cursor_open", rc);
    CursorCloser closer(cursor);
    // Next offset and append time per partition, read from the log once per transaction (another
    // process may have appended since our last transaction, with a clock ahead of ours).
    std::vector<int64_t> next(static_cast<std::size_t>(topic_.partitions), -1);
    std::vector<int64_t> stamp(static_cast<std::size_t>(topic_.partitions), now_ms);
    auto put = [&](int32_t partition, const AppendRequest& record) -> Status {
      int64_t& offset = next[static_cast<std::size_t>(partition)];
      if (offset < 0) {
        auto tail = journal_tail(cursor, topic_.id, partition);
        if (!tail.is_ok()) return tail.status();
        offset = tail->end_offset;
        stamp[static_cast<std::size_t>(partition)] = std::max(now_ms, tail->last_appended_at_ms);
      }
      auto key = journal_format::record_key(topic_.id, partition, offset);
      MDB_val k{key.size(), key.data()};
      MDB_val v{journal_format::record_value_size(record.key, record.value), nullptr};
      const int put_rc = mdb_cursor_put(cursor, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);
      if (put_rc == MDB_KEYEXIST) {
        return Status::error(Status::Code::corruption, "journal: offset " + std::to_string(offset) +
                                                           " of partition " + std::to_string(partition) +
                                                           " is already taken");
      }
      if (put_rc != MDB_SUCCESS) {
        map_full = put_rc == MDB_MAP_FULL;
        return lmdb_error("journal: mdb_cursor_put", put_rc);
      }
      journal_format::encode_record_value(static_cast<char*>(v.mv_data), stamp[static_cast<std::size_t>(partition)],
                                          record.key, record.value);
      positions.push_back(LogPosition{PartitionId{partition}, Offset{offset}});
      ++offset;
      return Status::ok();
    };
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (partition_of[i] >= 0) {
        Status status = put(partition_of[i], records[i]);
        if (!status.is_ok()) return status;
        continue;
      }
      for (int32_t partition = 0; partition < topic_.partitions; ++partition) {
        Status status = put(partition, records[i]);
        if (!status.is_ok()) return status;
      }
    }
    assert(positions.size() == total);
    return Status::ok();
  }

  std::shared_ptr<JournalEnv> env_;
  JournalTopicInfo topic_;
  std::function<int64_t()> clock_;
};

}  // namespace

std::unique_ptr<LogWriter> make_journal_writer(std::shared_ptr<JournalEnv> env, JournalTopicInfo topic,
                                               std::function<int64_t()> clock) {
  return std::make_unique<JournalWriter>(std::move(env), std::move(topic), std::move(clock));
}

}  // namespace tally
