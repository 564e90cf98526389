// The embedded journal: a durable, append-only log for one machine, in its own LMDB environment
// (a directory), with the same model as Kafka: named topics, each with a fixed number of
// partitions, each partition a dense sequence of offsets 0, 1, 2, ...  `tally dev` runs on it.
//
// CAVEATS (read these first)
//   - One directory is one journal. Open it in any number of processes at once (`tally dev` in one,
//     `tally produce --journal DIR` in another); LMDB's writer lock serialises appends across
//     processes. Do not put it on a network filesystem: LMDB needs working POSIX locks and mmap.
//   - Within one process, every Journal::open() of the same directory shares one LMDB environment
//     (LMDB forbids opening an environment twice in one process). The first open's map sizes win.
//   - After fork(), the child must not use any journal object inherited from the parent; it opens
//     the journal again (the shared-environment registry notices the new pid).
//   - A topic's partition count is fixed when the topic is created: the partition of an org is
//     partition_for_key(org, count), so changing the count would scatter an org's events.
//   - Appends are durable when acknowledged: append() returns once an fsynced LMDB write
//     transaction holds its records (no MDB_NOSYNC, no MDB_NOMETASYNC, no MDB_WRITEMAP).
//     Throughput comes from batching, not from weaker commits: records batched into one call, and
//     group commit — appends of this process made while a commit is under way (any threads, any
//     topics) wait and go together into the next transaction, one fsync for all, each answered
//     once it is durable. A single append still costs one durable commit (journal_commit_ms of
//     `log_bench --only commits`): that is the floor of a ?wait=1 round trip on a given disk.
//   - The map grows on demand (MDB_MAP_FULL: abort, grow, retry the same batch) up to
//     JournalOptions::map_size_max_bytes; growth waits for in-flight reads of this process.
//   - Nothing is ever deleted: the journal is the source of truth (SPEC §1). Disk use grows with it.
//
// LAYOUT (format_version 2). Two named LMDB databases in the environment:
//   "meta"     key (ASCII)              value
//              "format_version"         u32 big-endian, = journal_format_version
//              "journal_id"             36 ASCII chars, a random UUID (v4) made once at creation
//              "topic:" + name          u32 BE topic id, u32 BE partition count
//   "records"  key: 16 bytes            value: a frame
//              u32 BE topic id          u64 BE appended_at_ms (two's complement) | u16 BE key
//              u32 BE partition         length n | n bytes record key (org id, may be empty) |
//              u64 BE offset            record value bytes (the rest)
//   appended_at_ms is the append time (SPEC §3): the writer's clock (JournalOptions::clock) read
//   once per append() call, raised to the partition's previous stamp when the clock went back, so
//   the stamps of a partition never decrease.
//   A frame whose lengths do not add up (shorter than its header, a key length past its end) is a
//   damaged record: readers return it as LogRecord::damage, never as an error, and `tally journal
//   check` (log/journal_check.h) lists them without changing anything.
//   Version 1 (before append times) is refused with a message saying so: its records have no
//   append time, and the fold judges event times against it; there is no conversion.
//   Big-endian keys make LMDB's byte order the log order: a cursor walks a partition in offsets.
//   Offsets are dense: the next offset of a partition is the last stored offset + 1 (or 0).
//
// THREAD SAFETY: Journal is thread-safe. Writers are thread-safe (LogWriter contract); a reader is
// used by one thread at a time (LogReader contract). Writers and readers keep the environment open
// and may outlive the Journal that made them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "log/log.h"

namespace tally {

// 2: every frame starts with its append time. 1: no append time (refused).
inline constexpr uint32_t journal_format_version = 2;
inline constexpr std::string_view journal_events_topic = "events";
inline constexpr std::string_view journal_signals_topic = "signals";
inline constexpr std::size_t journal_topic_name_bytes_max = 64;   // [A-Za-z0-9._-]
inline constexpr std::size_t journal_topics_max = 64;
inline constexpr std::size_t journal_record_key_bytes_max = 1024;  // org ids and signal ids
// Records in one append() call, after to_every_partition expansion: bounds one write transaction.
inline constexpr std::size_t journal_append_records_max = 262'144;
inline constexpr unsigned journal_readers_max = 512;              // open readers, all processes
// How often a waiting reader re-checks for appends made by other processes (same-process appends
// wake it at once).
inline constexpr int journal_foreign_append_check_ms = 5;

struct JournalTopic {
  std::string name;
  int32_t partitions = 0;  // 1..limits::partitions_max
};

struct JournalOptions {
  // Created if missing; checked if present (a different partition count is an error). Topics not
  // listed here stay readable and writable with their stored counts.
  std::vector<JournalTopic> topics;
  // Create the directory and a new journal in it if there is none. If false, a missing journal is
  // not_found.
  bool create_if_missing = true;
  // Initial LMDB map size. LMDB keeps the larger of this and what the file already needs.
  std::size_t map_size_bytes = std::size_t{64} << 20;
  // Growth doubles the map up to this size; past it append() fails with too_large.
  std::size_t map_size_max_bytes = std::size_t{1} << 40;
  // Open the files read-only (MDB_RDONLY): readers only, nothing is created or written (topics
  // listed must exist; writer() fails with unavailable). For checks of a journal that must not
  // change (`tally journal check`). A read-write open of the same directory in this process
  // afterwards fails with unavailable while the read-only one is open.
  bool read_only = false;
  // The clock of append times, Unix ms (empty: the system clock). Tests set it to go back and see
  // the stamps stay monotonic. The writers of a Journal take the clock of the open that made it.
  std::function<int64_t()> clock = {};
};

// The usual topics of a ledger: "events" and "signals".
JournalOptions journal_options(int32_t events_partitions, int32_t signals_partitions);

class JournalEnv;  // internal: the shared LMDB environment (log/journal_env.h)

class Journal {
 public:
  // Opens (or creates) the journal in directory `dir`. A directory it creates (and its missing
  // parents) is made 0700, the files 0600: a journal is ledger data, for its owner only.
  // Errors: invalid_argument (bad topic name or count, map sizes, a topic whose stored partition
  //   count differs from the one asked for: field "topics[i].partitions");
  //   not_found (no journal and !create_if_missing or read_only; read_only and a listed topic
  //   missing); unavailable (read-write asked while this process has it open read_only);
  //   corruption (another format version: the message names both, damaged meta); io_error
  //   (directory or LMDB failures, message names the call and the errno text).
  static Result<std::unique_ptr<Journal>> open(const std::string& dir, const JournalOptions& options);

  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // The random id made at creation: the same across reopen, different for every new journal.
  const std::string& id() const { return id_; }
  const std::string& dir() const { return dir_; }

  // Partition count of `topic`. Errors: not_found (no such topic), io_error.
  Result<int32_t> partition_count(std::string_view topic) const;

  // An appender for `topic`. Errors: not_found (no such topic), unavailable (opened read_only),
  // io_error.
  // Its append() errors: invalid_argument (field "records[i].key": empty without
  //   to_every_partition, or over journal_record_key_bytes_max; "records": more than
  //   journal_append_records_max after expansion); too_large ("records[i].value" over
  //   limits::event_bytes_max, or the map is at map_size_max_bytes); corruption; io_error.
  //   Nothing of a failed call is appended.
  Result<std::unique_ptr<LogWriter>> writer(std::string_view topic) const;

  // A reader for `topic`; identity() is "journal:<id>/<topic>". Errors: not_found, io_error.
  // poll() copies the records of one short read transaction into a buffer the reader reuses; the
  // views stay valid until the next poll() or seek(). (Measured against keeping the read
  // transaction open and returning views into the map: that is 10-20% less CPU per record, but an
  // open read transaction blocks map growth in this process — a deadlock if the thread holding the
  // views appends — and pins pages that writers could reuse.)
  // A damaged frame is returned as a record with LogRecord::damage set (the reader goes on past
  // it). Its poll() errors: io_error (and corruption from LMDB itself). It waits for records
  // with a condition variable (appends of this process) and re-checks every
  // journal_foreign_append_check_ms (appends of other processes); it never spins.
  Result<std::unique_ptr<LogReader>> reader(std::string_view topic) const;

 private:
  Journal(std::shared_ptr<JournalEnv> env, std::string dir, std::string id, std::function<int64_t()> clock,
          bool read_only);
  std::shared_ptr<JournalEnv> env_;
  std::function<int64_t()> clock_;
  bool read_only_;  // opened with JournalOptions::read_only (the environment may be shared read-write)
  std::string dir_;
  std::string id_;
};

}  // namespace tally
