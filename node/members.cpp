#include "node/members.h"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>

namespace tally {

namespace json = boost::json;

namespace {

using Clock = std::chrono::steady_clock;

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string encode_announcement(const MemberAnnouncement& a) {
  json::object o;
  o["node_id"] = a.node_id;
  o["url"] = a.url;
  json::array partitions;
  for (int32_t p : a.partitions) partitions.emplace_back(p);
  o["partitions"] = std::move(partitions);
  o["at_ms"] = a.at_ms;
  return json::serialize(o);
}

Result<MemberAnnouncement> decode_announcement(std::string_view text) {
  boost::system::error_code ec;
  const json::value value = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !value.is_object()) return Status::invalid("announcement", "not a JSON object");
  const json::object& o = value.as_object();
  MemberAnnouncement a;
  const auto text_field = [&](const char* name, std::string& out) -> Status {
    const json::value* v = o.if_contains(name);
    if (v == nullptr || !v->is_string() || v->as_string().empty()) return Status::invalid(name, "must be a non-empty string");
    out = std::string(v->as_string());
    return Status::ok();
  };
  if (Status s = text_field("node_id", a.node_id); !s.is_ok()) return s;
  if (Status s = text_field("url", a.url); !s.is_ok()) return s;
  const json::value* partitions = o.if_contains("partitions");
  if (partitions == nullptr || !partitions->is_array()) return Status::invalid("partitions", "must be an array");
  for (const json::value& p : partitions->as_array()) {
    if (!p.is_int64() || p.as_int64() < 0 || p.as_int64() > INT32_MAX) {
      return Status::invalid("partitions", "must hold partition numbers");
    }
    a.partitions.push_back(static_cast<int32_t>(p.as_int64()));
  }
  const json::value* at = o.if_contains("at_ms");
  if (at != nullptr && at->is_int64()) a.at_ms = at->as_int64();
  return a;
}

struct Members::Impl {
  MembersOptions options;
  std::unique_ptr<KafkaWriter> writer;
  std::unique_ptr<KafkaReader> reader;
  std::thread thread;

  mutable std::mutex mutex;
  bool stop = false;  // the thread looks at it (and at `announce`) between polls of at most 100 ms
  bool announce = true;  // the first announcement goes out at once
  struct Seen {
    MemberAnnouncement announcement;
    Clock::time_point received;
    uint64_t order = 0;  // receipt order: the last received wins a contested partition
  };
  std::map<std::string, Seen> seen;  // by node id
  std::map<int32_t, std::pair<std::string, std::string>> last_claim;  // partition -> (node id, url) of its last announcer
  uint64_t received = 0;

  bool fresh(const Seen& s, Clock::time_point now) const {
    return now - s.received <= std::chrono::milliseconds(options.stale_ms);
  }

  Status publish(std::vector<int32_t> partitions) {
    MemberAnnouncement a{options.node_id, options.url, std::move(partitions), unix_ms()};
    AppendRequest request{options.node_id, encode_announcement(a), false};
    auto appended = writer->append(std::span<const AppendRequest>(&request, 1));
    return appended.is_ok() ? Status::ok() : appended.status();
  }

  void report(const Status& status) {
    if (options.kafka.on_client_error) options.kafka.on_client_error("members: " + status.to_string());
  }

  void run() {
    std::vector<LogRecord> records;
    auto next_announce = Clock::now();
    for (;;) {
      {
        std::unique_lock lock(mutex);
        if (stop) break;
        if (announce) {
          announce = false;
          next_announce = Clock::now();
        }
      }
      if (Clock::now() >= next_announce) {
        if (Status s = publish(options.owned ? options.owned() : std::vector<int32_t>{}); !s.is_ok()) report(s);
        next_announce = Clock::now() + std::chrono::milliseconds(options.announce_interval_ms);
      }
      const auto until_announce =
          std::chrono::duration_cast<std::chrono::milliseconds>(next_announce - Clock::now()).count();
      const int wait_ms = static_cast<int>(std::clamp<int64_t>(until_announce, 0, 100));
      if (Status s = reader->poll(records, 1'000, wait_ms); !s.is_ok()) {
        report(s);
        continue;
      }
      const auto now = Clock::now();
      std::lock_guard lock(mutex);
      for (const LogRecord& record : records) {
        Result<MemberAnnouncement> a = decode_announcement(record.value);
        if (!a.is_ok()) continue;  // not ours to judge: another tool's record on the topic
        for (int32_t p : a->partitions) last_claim[p] = {a->node_id, a->url};
        Seen& s = seen[a->node_id];
        s.announcement = std::move(a.value());
        s.received = now;
        s.order = ++received;
      }
    }
  }
};

Members::Members(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Members>> Members::open(MembersOptions options) {
  if (options.node_id.empty()) return Status::invalid("node_id", "a node needs an id to announce itself");
  if (options.url.empty()) return Status::invalid("url", "a node needs an address the others can forward reads to");
  if (options.announce_interval_ms <= 0 || options.stale_ms <= options.announce_interval_ms) {
    return Status::invalid("stale_ms", "must exceed announce_interval_ms, both positive");
  }
  auto impl = std::make_unique<Impl>();
  const std::string topic = kafka_topic(options.kafka, kafka_members_kind);
  auto writer = KafkaWriter::open(options.kafka, topic);
  if (!writer.is_ok()) return writer.status();
  auto reader = KafkaReader::open(options.kafka, topic);
  if (!reader.is_ok()) return reader.status();
  for (int32_t p = 0; p < reader.value()->partition_count(); ++p) {
    if (Status s = reader.value()->seek(PartitionId{p}, Offset{0}); !s.is_ok()) return s;
  }
  impl->options = std::move(options);
  impl->writer = std::move(writer.value());
  impl->reader = std::move(reader.value());
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Members>(new Members(std::move(impl)));
}

Members::~Members() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stop = true;
  }
  if (impl_->thread.joinable()) impl_->thread.join();
  // Leaving: the others stop forwarding here at once instead of after stale_ms.
  if (Status s = impl_->publish({}); !s.is_ok()) impl_->report(s);
}

void Members::announce_now() {
  std::lock_guard lock(impl_->mutex);
  impl_->announce = true;
}

std::optional<std::string> Members::owner_url(PartitionId partition) const {
  std::lock_guard lock(impl_->mutex);
  const auto now = Clock::now();
  const Impl::Seen* best = nullptr;
  for (const auto& [id, s] : impl_->seen) {
    if (!impl_->fresh(s, now)) continue;
    const auto& ps = s.announcement.partitions;
    if (std::find(ps.begin(), ps.end(), partition.value) == ps.end()) continue;
    if (best == nullptr || s.order > best->order) best = &s;
  }
  if (best == nullptr) return std::nullopt;
  return best->announcement.url;
}

std::optional<std::string> Members::previous_owner_url(PartitionId partition) const {
  std::lock_guard lock(impl_->mutex);
  const auto it = impl_->last_claim.find(partition.value);
  if (it == impl_->last_claim.end() || it->second.first == impl_->options.node_id) return std::nullopt;
  return it->second.second;
}

std::map<std::string, MemberAnnouncement> Members::members() const {
  std::lock_guard lock(impl_->mutex);
  std::map<std::string, MemberAnnouncement> out;
  const auto now = Clock::now();
  for (const auto& [id, s] : impl_->seen) {
    if (impl_->fresh(s, now)) out[id] = s.announcement;
  }
  return out;
}

}  // namespace tally
