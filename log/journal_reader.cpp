// The journal's LogReader. Each poll() walks the seeked partitions with one LMDB cursor in a short
// read transaction and copies the records into a reusable arena, so the returned views stay valid
// until the next poll() while no read transaction stays open between polls: an open read
// transaction would pin old pages (the file grows) and block map growth by writers of this process.
#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "log/journal_env.h"
#include "log/journal_format.h"

namespace tally {
namespace {

using Clock = std::chrono::steady_clock;

// Bytes of one poll's records. Grows by doubling (views are made only after the last append) and
// keeps its capacity between polls; unlike std::vector it does not zero what it is about to overwrite.
class Arena {
 public:
  char* data() { return data_.get(); }
  std::size_t size() const { return size_; }
  void clear() { size_ = 0; }
  // Reserves `bytes` more and returns where they start.
  std::size_t append(std::size_t bytes) {
    if (size_ + bytes > capacity_) {
      const std::size_t capacity = std::max({capacity_ * 2, size_ + bytes, std::size_t{64} * 1024});
      std::unique_ptr<char[]> grown(new char[capacity]);
      if (size_ != 0) std::memcpy(grown.get(), data_.get(), size_);
      data_ = std::move(grown);
      capacity_ = capacity;
    }
    const std::size_t at = size_;
    size_ += bytes;
    return at;
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

class JournalReader final : public LogReader {
 public:
  JournalReader(std::shared_ptr<JournalEnv> env, JournalTopicInfo topic, std::string identity)
      : txn_(env),
        env_(std::move(env)),
        topic_(std::move(topic)),
        identity_(std::move(identity)),
        next_(static_cast<std::size_t>(topic_.partitions), -1) {}

  int32_t partition_count() const override { return topic_.partitions; }
  std::string identity() const override { return identity_; }

  Status seek(PartitionId partition, Offset offset) override {
    if (partition.value < 0 || partition.value >= topic_.partitions) {
      return Status::invalid("partition", "partition " + std::to_string(partition.value) + " is not in 0.." +
                                              std::to_string(topic_.partitions - 1));
    }
    if (offset.value < 0) return Status::invalid("offset", "must not be negative");
    next_[static_cast<std::size_t>(partition.value)] = offset.value;
    return Status::ok();
  }

  Status poll(std::vector<LogRecord>& out, std::size_t records_max, int timeout_ms) override {
    out.clear();
    if (records_max == 0) return Status::invalid("records_max", "must be at least 1");
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
    for (;;) {
      // Read the notification state before the log, so an append between the two is not missed.
      const uint64_t sequence = env_->append_sequence();
      auto txnid = env_->last_txnid();
      if (!txnid.is_ok()) return txnid.status();
      Status read = read_available(out, records_max);
      if (!read.is_ok() || !out.empty()) return read;
      for (;;) {
        const Clock::time_point now = Clock::now();
        if (now >= deadline) return Status::ok();
        // Same-process appends wake us at once; other processes' appends are seen at the next check.
        env_->wait_for_append(sequence,
                              std::min(deadline, now + std::chrono::milliseconds(journal_foreign_append_check_ms)));
        if (env_->append_sequence() != sequence) break;
        auto current = env_->last_txnid();
        if (!current.is_ok()) return current.status();
        if (current.value() != txnid.value()) break;
      }
    }
  }

  Result<Offset> end_offset(PartitionId partition) override {
    if (partition.value < 0 || partition.value >= topic_.partitions) {
      return Status::invalid("partition", "partition " + std::to_string(partition.value) + " is not in 0.." +
                                              std::to_string(topic_.partitions - 1));
    }
    Status begun = txn_.begin();
    if (!begun.is_ok()) return begun;
    auto end = journal_end_offset(txn_.cursor(), topic_.id, partition.value);
    txn_.end();
    if (!end.is_ok()) return end.status();
    return Offset{end.value()};
  }

 private:
  struct Span {
    int32_t partition;
    int64_t offset;
    std::size_t key_at;
    std::size_t key_size;
    std::size_t value_at;
    std::size_t value_size;
    int64_t appended_at_ms;
    std::size_t damage_at;
    std::size_t damage_size;  // 0: an intact record
  };

  // Copies bytes into the arena; returns where they start.
  std::size_t copy(std::string_view bytes) {
    const std::size_t at = arena_.append(bytes.size());
    if (!bytes.empty()) std::memcpy(arena_.data() + at, bytes.data(), bytes.size());
    return at;
  }

  // A record, or a damaged frame as a record with damage (the frame's bytes as its value): the
  // partition moves on past it (SPEC §10), and what the projector makes of it is the same on every
  // read, so a replay sees the same reject.
  void add_span(int32_t partition, int64_t offset, std::string_view frame) {
    const auto record = journal_format::decode_record_value(frame);
    if (record) {
      const std::size_t key_at = copy(record->key);
      const std::size_t value_at = copy(record->value);
      spans_.push_back(Span{partition, offset, key_at, record->key.size(), value_at, record->value.size(),
                            record->appended_at_ms, 0, 0});
      return;
    }
    const std::string damage = "damaged journal frame: " + journal_format::frame_damage(frame);
    const std::size_t value_at = copy(frame);
    const std::size_t damage_at = copy(damage);
    spans_.push_back(Span{partition, offset, value_at, 0, value_at, frame.size(),
                          journal_format::frame_appended_at(frame).value_or(0), damage_at, damage.size()});
  }

  Status read_available(std::vector<LogRecord>& out, std::size_t records_max) {
    arena_.clear();
    spans_.clear();
    Status begun = txn_.begin();
    if (!begun.is_ok()) return begun;
    Status status = Status::ok();
    const int32_t partitions = topic_.partitions;
    for (int32_t i = 0; i < partitions && spans_.size() < records_max && status.is_ok(); ++i) {
      const int32_t partition = (first_partition_ + i) % partitions;
      if (next_[static_cast<std::size_t>(partition)] >= 0) status = read_partition(partition, records_max);
    }
    txn_.end();
    // Start with the next partition next time, so that one busy partition cannot starve others.
    first_partition_ = (first_partition_ + 1) % partitions;
    if (!status.is_ok()) return status;
    out.reserve(spans_.size());
    const char* base = arena_.data();
    for (const Span& span : spans_) {
      out.push_back(LogRecord{LogPosition{PartitionId{span.partition}, Offset{span.offset}},
                              std::string_view(base + span.key_at, span.key_size),
                              std::string_view(base + span.value_at, span.value_size), span.appended_at_ms,
                              std::string_view(base + span.damage_at, span.damage_size)});
    }
    return Status::ok();
  }

  Status read_partition(int32_t partition, std::size_t records_max) {
    int64_t& next = next_[static_cast<std::size_t>(partition)];
    auto start = journal_format::record_key(topic_.id, partition, next);
    MDB_val k{start.size(), start.data()};
    MDB_val v;
    MDB_cursor* cursor = txn_.cursor();
    int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    for (; rc == MDB_SUCCESS && spans_.size() < records_max; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      const auto key = journal_format::decode_record_key({static_cast<const char*>(k.mv_data), k.mv_size});
      if (!key || key->topic_id != topic_.id || key->partition != partition) break;
      assert(key->offset >= next);
      add_span(partition, key->offset, {static_cast<const char*>(v.mv_data), v.mv_size});
      next = key->offset + 1;
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return lmdb_error("journal: mdb_cursor_get", rc);
    return Status::ok();
  }

  JournalReadTxn txn_;
  std::shared_ptr<JournalEnv> env_;
  JournalTopicInfo topic_;
  std::string identity_;
  std::vector<int64_t> next_;  // next offset to read per partition; -1: not seeked
  int32_t first_partition_ = 0;
  Arena arena_;
  std::vector<Span> spans_;
};

}  // namespace

std::unique_ptr<LogReader> make_journal_reader(std::shared_ptr<JournalEnv> env, JournalTopicInfo topic,
                                               std::string identity) {
  return std::make_unique<JournalReader>(std::move(env), std::move(topic), std::move(identity));
}

}  // namespace tally
