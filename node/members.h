// Who owns which events partition, across the nodes of one consumer group (SPEC §13): each node
// announces its HTTP address and the partitions it owns on the `<prefix>.members` topic (keyed by
// node id: a compacted topic keeps the last announcement of every node), and reads every node's
// announcements back to answer "which node serves partition P".
//
// CAVEATS (read these first)
//   - Advisory, like the group's assignment (log/kafka_group.h): a read forwarded to the node an
//     announcement names may find it no longer the owner (it answers 503 not_owner, the caller
//     retries). Nothing here decides ownership; the consumer group does.
//   - An announcement is fresh while it was received within stale_ms (this node's steady clock,
//     never the announcer's: clocks of machines differ). A node that stops announcing (killed,
//     stopped) drops out of the table after stale_ms.
//   - When two fresh announcements list a partition (a hand-over in flight, a zombie), the one
//     received last wins.
//   - The topic must exist (create it with cleanup.policy=compact, any partition count).
//
// Lifecycle: open() → (announce_now() on every ownership change) → destroy (announces that it
// owns nothing, so the others stop forwarding to it at once).
// THREAD SAFETY: every method from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/status.h"
#include "engine/types.h"
#include "log/kafka_log.h"

namespace tally {

inline constexpr std::string_view kafka_members_kind = "members";
inline constexpr int members_announce_interval_ms_default = 1'000;
inline constexpr int members_stale_ms_default = 5'000;

struct MembersOptions {
  KafkaOptions kafka;                  // the topic is kafka_topic(kafka, kafka_members_kind)
  std::string node_id;                 // this node: the announcement's key
  std::string url;                     // this node's API base URL, e.g. "http://10.0.0.2:8080"
  std::function<std::vector<int32_t>()> owned;  // the partitions this node owns now (ascending)
  int announce_interval_ms = members_announce_interval_ms_default;
  int stale_ms = members_stale_ms_default;
};

// One node's announcement, as JSON on the topic: {"node_id","url","partitions":[…],"at_ms"}.
struct MemberAnnouncement {
  std::string node_id;
  std::string url;
  std::vector<int32_t> partitions;
  int64_t at_ms = 0;  // the announcer's clock: informational only
};
std::string encode_announcement(const MemberAnnouncement& announcement);
// Errors: invalid_argument naming the field that is missing or of the wrong type.
Result<MemberAnnouncement> decode_announcement(std::string_view json);

class Members {
 public:
  // Opens a writer and a reader of the members topic and starts the thread that reads every
  // announcement and announces this node every announce_interval_ms.
  // Errors: invalid_argument (empty node id or url, intervals not positive), those of
  //   KafkaWriter::open and KafkaReader::open (not_found: no members topic).
  static Result<std::unique_ptr<Members>> open(MembersOptions options);
  ~Members();
  Members(const Members&) = delete;
  Members& operator=(const Members&) = delete;

  // Announces this node's ownership now (after an assignment change), on the members thread.
  void announce_now();
  // The URL of the node that owns `partition` by the fresh announcements (the last received that
  // lists it), nullopt if none does.
  std::optional<std::string> owner_url(PartitionId partition) const;
  // The URL of the other node that announced `partition` last (fresh or not: the owner it had
  // before this node, when a partition moves here), nullopt if none did.
  std::optional<std::string> previous_owner_url(PartitionId partition) const;
  // The fresh announcements by node id (for /metrics and tests).
  std::map<std::string, MemberAnnouncement> members() const;

  struct Impl;

 private:
  explicit Members(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally
