// Membership of `tally serve` nodes in one Kafka consumer group (SPEC §13): which node owns which
// events partition. The group decides ownership only; the node reads each partition it owns with
// its own KafkaReader, seeked from the offset stored in that partition's LMDB environment.
//
// CAVEATS (read these first)
//   - Ownership is advisory, never a fence. A member learns that it lost a partition only when its
//     poll thread runs: a node stopped (SIGSTOP, a long GC-like pause) past session.timeout.ms, or a
//     poll thread held past max.poll.interval.ms, keeps believing it owns its partitions while the
//     group has already given them to another node. Two nodes may so fold one partition for a while;
//     SPEC §13 makes that harmless (deterministic fold, signal ids as positions, idempotency keys).
//     Nothing here stops such a zombie from writing; whatever it writes must stay idempotent.
//   - In a healthy group a partition is never owned by two members at once: with cooperative-sticky
//     a partition moves in two rebalances, the old owner's on_revoked (which returns only when the
//     node has closed the partition) and then the new owner's on_assigned. Between the two nobody
//     owns it (typically one rebalance delay; group.initial.rebalance.delay.ms on a real broker).
//   - on_lost means the assignment was taken away (session expired, max.poll.interval.ms exceeded,
//     fenced generation): the partitions may already be folded elsewhere, so the node closes them
//     without finishing anything. on_revoked means a graceful hand-over.
//   - Heartbeats come from librdkafka's own threads, not from the poll thread: a stopped process is
//     detected through session.timeout.ms, a stuck poll thread (or a callback running too long)
//     through max.poll.interval.ms, after which librdkafka leaves the group and the member later
//     gets on_lost for everything it owned, then rejoins.
//   - Kafka-committed offsets (commit_lag) are for lag monitoring only and are never read back as
//     positions: this member never consumes. Its partitions are paused as soon as they are assigned
//     (rd_kafka_pause_partitions); a record fetched before the pause takes effect is dropped unread.
//   - commit_lag is asynchronous and best-effort: a commit refused (rebalance in progress, older
//     generation, coordinator moving) is reported through KafkaOptions::on_client_error and not
//     retried; the next commit_lag carries newer offsets anyway. It commits only partitions owned at
//     the call, so that a node never overwrites the lag of a partition's new owner.
//   - Static membership (group_instance_id, KIP-345) is optional: a node that restarts within
//     session.timeout.ms gets its partitions back without a rebalance, but neither close() nor an
//     exceeded max.poll.interval.ms then leaves the group (KIP-345), so its partitions move only
//     after session.timeout.ms. librdkafka 2.0.2's
//     mock cluster ignores group.instance.id (tests cover dynamic membership only).
//   - The cooperative protocol is expected (partition.assignment.strategy=cooperative-sticky); if the
//     group runs the eager one (an eager assignment_strategy), every rebalance revokes everything
//     and assigns it again: the callbacks stay correct, hand-overs just move every partition.
//   - Transient errors (disconnects, coordinator moves, commit failures) are retried by librdkafka
//     and reported to KafkaOptions::on_client_error, as for the other Kafka clients.
//
// THREAD SAFETY: owned(), commit_lag() and close() may be called from any thread, except that
// close() (and the destructor) must not be called from a callback. The callbacks run on the
// member's poll thread, one at a time, in the order the group's changes happen.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/status.h"
#include "engine/types.h"
#include "log/kafka_log.h"

namespace tally {

struct KafkaGroupOptions {
  std::string group_id;                 // the consumer group every node of one deployment joins
  std::string group_instance_id;        // static membership (KIP-345); empty: dynamic membership
  // Failure detection (librdkafka's properties of the same names). REQUIRES: heartbeat_interval_ms <
  // session_timeout_ms <= max_poll_interval_ms. The broker bounds session_timeout_ms with its
  // group.min/max.session.timeout.ms.
  int session_timeout_ms = 45'000;
  int heartbeat_interval_ms = 3'000;
  int max_poll_interval_ms = 300'000;   // also bounds how long one callback may run
  int poll_wait_ms = 100;               // one wait of the poll thread; bounds close()'s reaction time
  // "cooperative-sticky" (the design); "range" or "roundrobin" (eager) only to interoperate with an
  // eager group, or in tests of the eager path.
  std::string assignment_strategy = "cooperative-sticky";

  // The group's changes, on the poll thread, each with the partitions that changed (never empty,
  // ascending). on_assigned: the member owns them from now on; the node opens them. on_revoked:
  // the node finishes or aborts its in-flight batch for them and closes them before returning; the
  // group moves them only after it returns. on_lost: they may already be owned elsewhere; the node
  // closes them without waiting. Empty functions are allowed (the change is only recorded).
  std::function<void(std::vector<PartitionId> added)> on_assigned;
  std::function<void(std::vector<PartitionId> removed)> on_revoked;
  std::function<void(std::vector<PartitionId> lost)> on_lost;

  // Tests only: called on the poll thread before each poll. Blocking in it stalls the member the
  // way a stuck node would (librdkafka's heartbeats go on: see CAVEATS).
  std::function<void()> before_poll_for_testing;
};

class KafkaGroupMember {
 public:
  // Joins group.group_id on kafka_topic(options, kafka_events_kind), which must exist, and starts
  // the poll thread; the first on_assigned comes once the group has settled (a few seconds).
  // options.group_id (the readers' client name) is not used.
  // Errors: invalid_argument (empty group id, timeouts out of order or not positive, bad
  //   property), not_found (no events topic), unavailable (brokers unreachable within
  //   options.timeout_ms), io_error.
  static Result<std::unique_ptr<KafkaGroupMember>> open(const KafkaOptions& options, KafkaGroupOptions group);
  // Closes (see close()). REQUIRES: not called from a callback.
  ~KafkaGroupMember();
  KafkaGroupMember(const KafkaGroupMember&) = delete;
  KafkaGroupMember& operator=(const KafkaGroupMember&) = delete;

  // The partitions assigned to this member, ascending: a partition enters before its on_assigned
  // runs and leaves after its on_revoked or on_lost has returned. Empty after close().
  std::vector<PartitionId> owned() const;

  // Commits each (partition, next offset to fold) to the group for lag monitoring, asynchronously;
  // pairs of partitions not owned now are skipped. Errors: invalid_argument (a partition outside
  // the topic, a negative offset), unavailable (closed, or librdkafka refused the request at once).
  // A commit that fails later is reported through KafkaOptions::on_client_error.
  Status commit_lag(const std::vector<std::pair<PartitionId, Offset>>& next_offsets);

  // Leaves the group cleanly: on_revoked for everything owned, then rd_kafka_consumer_close (which
  // sends LeaveGroup unless group_instance_id is set), then stops the poll thread. Idempotent.
  // REQUIRES: not called from a callback (it waits for the poll thread).
  void close();

  // The partition count of the events topic, read at open().
  int32_t partition_count() const;

  struct Impl;

 private:
  explicit KafkaGroupMember(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally
