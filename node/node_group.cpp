// Node, several nodes (SPEC §13): the consumer group, the members table, taking partitions on and
// giving them up, and the routing of reads to an org's owner.
#include "node/node.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "api/projector_metrics.h"
#include "outbound/http_client.h"
#include "projections/partitioned_layout.h"
#include "projections/store_snapshot.h"

namespace tally {
namespace {

constexpr int64_t forward_timeout_ms = 10'000;  // a read forwarded to the org's owner

// Several nodes: a read of an org this node does not own, sent to the node that does, with the
// caller's token and a Tally-Forwarded header (a forwarded read is never forwarded again).
api::ApiResponse forward_read(const std::string& base_url, const api::ApiRequest& request, const std::string& node_id) {
  using connectors::HttpClient;
  using connectors::HttpHeader;
  using connectors::HttpResponse;
  using connectors::url_encode;
  std::string url = base_url + request.path;
  for (std::size_t i = 0; i < request.query.size(); ++i) {
    url += (i == 0 ? "?" : "&") + url_encode(request.query[i].first) + "=" + url_encode(request.query[i].second);
  }
  std::vector<HttpHeader> headers{{std::string(api::http_forwarded_header), node_id}};
  for (const auto& [name, value] : request.headers) {
    if (name == "authorization" || name == "accept" || name == "if-none-match") headers.push_back({name, value});
  }
  thread_local HttpClient client;  // one connection pool per blocking thread
  Result<HttpResponse> answer = client.get(url, std::move(headers), forward_timeout_ms);
  if (!answer.is_ok()) {
    api::ApiResponse failed = api::ApiResponse::error(502, "owner_unreachable",
                                                      "the node that owns this org did not answer: " +
                                                          answer.status().message());
    failed.headers.emplace_back("Retry-After", "1");
    return failed;
  }
  api::ApiResponse response;
  response.status = answer->status_code;
  response.body = std::move(answer->body);
  if (const std::string* type = answer->header("content-type")) response.content_type = *type;
  for (const char* name : {"retry-after", "etag", "cache-control"}) {
    if (const std::string* value = answer->header(name)) response.headers.emplace_back(name, *value);
  }
  return response;
}

}  // namespace

void Node::take_on(const std::vector<PartitionId>& partitions) {
  for (PartitionId p : partitions) {
    catch_up(p);
    if (Status s = projector_->add(p); !s.is_ok()) {
      record_error("projector", s);
      continue;
    }
    if (Status s = start_emitter(p); !s.is_ok()) record_error("emitter", s);
  }
  if (Members* members = members_ready_.load()) members->announce_now();
}

void Node::give_up(const std::vector<PartitionId>& partitions, bool graceful) {
  for (PartitionId p : partitions) {
    stop_emitter(p);
    projector_->remove(p, graceful);
  }
  if (Members* members = members_ready_.load()) members->announce_now();
}

Status Node::join_group(const NodeOptions& options) {
  KafkaOptions kafka;
  kafka.brokers = options.kafka_brokers;
  kafka.topic_prefix = options.topic_prefix;
  kafka.client_id = "tally-" + options.node_id;
  if (options.on_role_error) {
    kafka.on_client_error = [callback = options.on_role_error](std::string_view message) {
      callback("group", Status::error(Status::Code::unavailable, std::string(message)));
    };
  }
  on_catchup_error_ = role_error(options, "catch-up");
  data_dir_ = options.data_dir;
  // Nodes fetch each other's snapshots with the first admin token they share.
  for (const api::ApiToken& token : options.tokens) {
    if (std::find(token.scopes.begin(), token.scopes.end(), "admin") != token.scopes.end()) {
      internal_token_ = token.secret;
      break;
    }
  }
  MembersOptions members;
  members.kafka = kafka;
  members.node_id = options.node_id;
  members.url = !options.advertise_url.empty()
                    ? options.advertise_url
                    : "http://" + options.listen_host + ":" + std::to_string(server_ ? server_->port() : 0);
  members.owned = [this] { return projector_->partitions(); };
  members.announce_interval_ms = options.members_announce_interval_ms;
  members.stale_ms = options.members_stale_ms;
  auto opened = Members::open(std::move(members));
  if (!opened.is_ok()) return Status::error(opened.status().code(), opened.status().field(),
                                            "members topic: " + opened.status().message());
  members_ = std::move(opened.value());
  members_ready_ = members_.get();

  KafkaGroupOptions group;
  group.group_id = options.group;
  group.session_timeout_ms = options.group_session_timeout_ms;
  group.heartbeat_interval_ms = options.group_heartbeat_interval_ms;
  group.max_poll_interval_ms = options.group_max_poll_interval_ms;
  group.on_assigned = [this](std::vector<PartitionId> added) { take_on(added); };
  group.on_revoked = [this](std::vector<PartitionId> removed) { give_up(removed, true); };
  group.on_lost = [this](std::vector<PartitionId> lost) { give_up(lost, false); };
  auto member = KafkaGroupMember::open(kafka, std::move(group));
  if (!member.is_ok()) return Status::error(member.status().code(), member.status().field(),
                                            "consumer group: " + member.status().message());
  group_ = std::move(member.value());
  return Status::ok();
}

std::optional<api::ReadRouting> Node::read_routing(const NodeOptions& options) {
  if (options.group.empty() || !projector_) return std::nullopt;
  api::ReadRouting routing;
  routing.partition_count = projector_->partition_count();
  routing.owner = [this](PartitionId partition) -> std::optional<std::string> {
    if (projector_->partition(partition)) return std::nullopt;
    Members* members = members_ready_.load();
    std::optional<std::string> url = members ? members->owner_url(partition) : std::nullopt;
    return url.value_or("");
  };
  routing.forward = [node_id = options.node_id](const std::string& base_url, const api::ApiRequest& request) {
    return forward_read(base_url, request, node_id);
  };
  return routing;
}

void Node::append_metrics(std::string& out) {
  api::append_projector_metrics(projector_->metrics(), out);
  // Which partitions this node projects and serves (all, unless it is one of a group).
  out += "# HELP tally_partition_owned 1 if this node owns the events partition (SPEC 13).\n"
         "# TYPE tally_partition_owned gauge\n";
  const std::vector<int32_t> owned = projector_->partitions();
  for (int32_t p = 0; p < projector_->partition_count(); ++p) {
    const bool here = std::binary_search(owned.begin(), owned.end(), p);
    out += "tally_partition_owned{partition=\"" + std::to_string(p) + "\"} " + (here ? "1" : "0") + "\n";
  }
  out += "# TYPE tally_partition_catchups_total counter\n";
  for (const auto& [source, count] : {std::pair{"own_store", &catchups_own_}, {"snapshot", &catchups_snapshot_},
                                      {"log", &catchups_log_}}) {
    out += std::string("tally_partition_catchups_total{source=\"") + source + "\"} " +
           std::to_string(count->load()) + "\n";
  }
  out += "tally_snapshot_failures_total " + std::to_string(snapshot_failures_.load()) + "\n";
}

void Node::catch_up(PartitionId partition) {
  std::shared_ptr<store::StoreEnv> store = projector_->store(partition);
  if (!store) return;
  if (store::describe_store(*store, partition).is_ok()) {
    ++catchups_own_;  // resumes from its own earlier store
    return;
  }
  Members* members = members_ready_.load();
  const std::optional<std::string> from = members ? members->previous_owner_url(partition) : std::nullopt;
  if (!from || internal_token_.empty()) {
    ++catchups_log_;
    return;
  }
  const std::string p = std::to_string(partition.value);
  const std::string dir = (std::filesystem::path(data_dir_) / "snapshots" /
                           ("in-" + p + "-" + std::to_string(++snapshot_counter_)))
                              .string();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  SnapshotFetch fetch;
  fetch.base_url = *from;
  fetch.token = internal_token_;
  Result<store::SnapshotInfo> fetched = fetch_snapshot(fetch, partition, dir);
  const Status restored = fetched.is_ok() ? store::restore_snapshot(dir, fetched.value(), *store) : fetched.status();
  std::filesystem::remove_all(dir, ec);
  if (!restored.is_ok()) {
    ++snapshot_failures_;
    ++catchups_log_;
    const Status status = Status::error(Status::Code::unavailable, "partition " + p + ": no snapshot from " + *from +
                                                                       " (" + restored.to_string() +
                                                                       "); folding it from offset 0");
    if (on_catchup_error_) {
      on_catchup_error_(status);
    } else {
      std::fprintf(stderr, "tally catch-up: %s\n", status.to_string().c_str());
    }
    return;
  }
  ++catchups_snapshot_;
}

Status Node::add_snapshot_routes() {
  Result<std::unique_ptr<SnapshotShelf>> shelf =
      SnapshotShelf::open((std::filesystem::path(data_dir_) / "snapshots" / "out").string());
  if (!shelf.is_ok()) return shelf.status();
  snapshot_shelf_ = std::move(shelf.value());
  for (api::Route& route : snapshot_routes(*snapshot_shelf_, projector_->partition_count(),
                                           [this](PartitionId p) { return projector_->store(p); })) {
    if (Status s = server_->add_route(std::move(route)); !s.is_ok()) return s;
  }
  return Status::ok();
}

}  // namespace tally
