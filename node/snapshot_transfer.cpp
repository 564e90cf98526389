#include "node/snapshot_transfer.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <optional>
#include <thread>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "engine/sha256.h"
#include "lmdb/env.h"
#include "outbound/http_client.h"

namespace tally {
namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Digits only, at most 18 of them (an offset or a byte count).
std::optional<int64_t> parse_count(std::string_view text) {
  int64_t value = 0;
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::string pieces_url(const std::string& base_url, PartitionId partition) {
  return base_url + "/api/v1/internal/partitions/" + std::to_string(partition.value) + "/snapshots";
}

Status unavailable(const std::string& message) { return Status::error(Status::Code::unavailable, message); }

// The sender's error answer, in a few words: its code and message if it is Tally's JSON error.
std::string answer_text(const connectors::HttpResponse& response) {
  std::string text = "HTTP " + std::to_string(response.status_code);
  boost::system::error_code ec;
  const boost::json::value body = boost::json::parse(response.body, ec);
  if (!ec && body.is_object() && body.as_object().contains("error")) {
    text += " " + boost::json::serialize(body.as_object().at("error"));
  }
  return text;
}

Result<SnapshotOffer> parse_offer(const std::string& body, PartitionId partition) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(body, ec);
  const boost::json::object* object = ec ? nullptr : value.if_object();
  const auto text = [&](const char* key) -> const boost::json::string* {
    const boost::json::value* member = object ? object->if_contains(key) : nullptr;
    return member ? member->if_string() : nullptr;
  };
  const auto count = [&](const char* key) -> std::optional<int64_t> {
    const boost::json::value* member = object ? object->if_contains(key) : nullptr;
    if (member == nullptr || !member->is_int64() || member->as_int64() < 0) return std::nullopt;
    return member->as_int64();
  };
  const boost::json::string* id = text("snapshot");
  const boost::json::string* sha256 = text("sha256");
  const boost::json::string* chain = text("chain");
  const boost::json::string* digest = text("digest");
  const std::optional<int64_t> bytes = count("bytes");
  const std::optional<int64_t> next_offset = count("next_offset");
  if (!id || !sha256 || !chain || !digest || !bytes || !next_offset || id->empty()) {
    return unavailable("the offer lacks the snapshot's id, size, SHA-256, offset, chain head or digest");
  }
  SnapshotOffer offer;
  offer.id = std::string(*id);
  offer.bytes = static_cast<uint64_t>(*bytes);
  offer.sha256_hex = std::string(*sha256);
  offer.info = store::SnapshotInfo{partition, Offset{*next_offset}, std::string(*chain), std::string(*digest)};
  return offer;
}

api::ApiResponse partition_error() {
  return api::ApiResponse::error(400, "bad_partition", "not a partition of the events log", "partition");
}

std::optional<PartitionId> partition_param(const api::ApiRequest& request, int32_t partition_count) {
  const std::optional<int64_t> value = parse_count(request.path_param("partition"));
  if (!value || *value >= partition_count) return std::nullopt;
  return PartitionId{static_cast<int32_t>(*value)};
}

// SHA-256 of the file at `path`, hex; empty if it cannot be read.
std::string file_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Sha256 hash;
  std::string block(1 << 20, '\0');
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    hash.update(block.data(), static_cast<std::size_t>(in.gcount()));
  }
  return in.eof() ? hash.finish().to_hex() : std::string();
}

// One piece: a 200 answer, after up to from.retry attempts of which all but the last met no answer,
// a 429 or a 5xx. Errors: unavailable (the last failure, named).
Result<connectors::HttpResponse> get_piece(connectors::HttpClient& client, const std::string& url,
                                           const std::vector<connectors::HttpHeader>& auth, const SnapshotFetch& from) {
  for (int32_t attempt = 1;; ++attempt) {
    auto got = client.get(url, auth, from.timeout_ms);
    if (got.is_ok() && got->status_code == 200) return got;
    const bool passing = !got.is_ok() || got->status_code == 429 || got->status_code >= 500;
    if (!passing || !from.retry.may_retry(attempt)) {
      return unavailable(got.is_ok() ? answer_text(got.value()) : got.status().message());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(from.retry.backoff_ms(attempt)));
  }
}

}  // namespace

Result<std::unique_ptr<SnapshotShelf>> SnapshotShelf::open(std::string dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) return Status::error(Status::Code::io_error, "cannot clear " + dir + ": " + ec.message());
  if (Status made = lmdb::create_private_dirs(dir); !made.is_ok()) return made;
  return std::unique_ptr<SnapshotShelf>(new SnapshotShelf(std::move(dir)));
}

void SnapshotShelf::drop_locked(std::map<int32_t, Copy>::iterator at) {
  std::error_code ec;
  std::filesystem::remove_all(at->second.path, ec);
  copies_.erase(at);
}

void SnapshotShelf::sweep_locked(int64_t now_ms) {
  for (auto at = copies_.begin(); at != copies_.end();) {
    auto next = std::next(at);
    if (now_ms - at->second.made_ms > snapshot_keep_ms) drop_locked(at);
    at = next;
  }
}

Result<SnapshotOffer> SnapshotShelf::offer(store::StoreEnv& env, PartitionId partition) {
  std::lock_guard lock(mutex_);
  sweep_locked(steady_ms());
  if (auto old = copies_.find(partition.value); old != copies_.end()) drop_locked(old);
  // An id no earlier process of this data dir handed out: its start time and a counter.
  const std::string id = "p" + std::to_string(partition.value) + "-" +
                         std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "-" +
                         std::to_string(++counter_);
  const std::string path = (std::filesystem::path(dir_) / id).string();
  // LMDB's copy reads one consistent transaction: describe the copy, not the live store.
  Status written = store::write_snapshot(env, path);
  Result<store::SnapshotInfo> info =
      written.is_ok() ? store::describe_snapshot(path, partition) : Result<store::SnapshotInfo>(written);
  std::error_code ec;
  const uintmax_t bytes = info.is_ok() ? std::filesystem::file_size(path + "/data.mdb", ec) : 0;
  const std::string sha256 = info.is_ok() && !ec ? file_sha256(path + "/data.mdb") : std::string();
  if (!info.is_ok() || sha256.empty()) {
    std::filesystem::remove_all(path, ec);
    return info.is_ok() ? Status::error(Status::Code::io_error, "cannot read " + path) : info.status();
  }
  copies_[partition.value] = Copy{id, path, static_cast<uint64_t>(bytes), steady_ms()};
  return SnapshotOffer{id, static_cast<uint64_t>(bytes), sha256, info.value()};
}

Result<std::string> SnapshotShelf::piece(const std::string& id, PartitionId partition, uint64_t from,
                                         std::size_t max) {
  std::lock_guard lock(mutex_);
  sweep_locked(steady_ms());
  auto at = copies_.find(partition.value);
  if (at == copies_.end() || at->second.id != id) {
    return Status::error(Status::Code::not_found, "no snapshot " + id + " of partition " +
                                                      std::to_string(partition.value) + " here (any more)");
  }
  const Copy& copy = at->second;
  if (from > copy.bytes) {
    return Status::error(Status::Code::invalid_argument, "from",
                         "beyond the snapshot's " + std::to_string(copy.bytes) + " bytes");
  }
  const std::size_t length = static_cast<std::size_t>(std::min<uint64_t>(max, copy.bytes - from));
  std::string out(length, '\0');
  std::ifstream in(copy.path + "/data.mdb", std::ios::binary);
  in.seekg(static_cast<std::streamoff>(from));
  in.read(out.data(), static_cast<std::streamsize>(length));
  if (!in) return Status::error(Status::Code::io_error, "cannot read " + copy.path);
  if (from + length == copy.bytes) drop_locked(at);
  return out;
}

std::vector<api::Route> snapshot_routes(SnapshotShelf& shelf, int32_t partition_count,
                                        std::function<std::shared_ptr<store::StoreEnv>(PartitionId)> store_of) {
  api::Route offer;
  offer.method = api::HttpMethod::post;
  offer.pattern = "/api/v1/internal/partitions/{partition}/snapshots";
  offer.auth = api::RouteAuth::admin();
  offer.handler = [&shelf, partition_count, store_of](const api::ApiRequest& request) -> api::ApiResponse {
    const std::optional<PartitionId> partition = partition_param(request, partition_count);
    if (!partition) return partition_error();
    std::shared_ptr<store::StoreEnv> store = store_of(*partition);
    Result<SnapshotOffer> made = store ? shelf.offer(*store, *partition)
                                       : Result<SnapshotOffer>(Status::error(Status::Code::not_found, "no store"));
    if (!made.is_ok() && made.status().code() == Status::Code::not_found) {
      return api::ApiResponse::error(404, "no_snapshot", "this node has folded no record of that partition");
    }
    if (!made.is_ok()) return api::ApiResponse::error(503, "snapshot_failed", made.status().to_string());
    boost::json::object body;
    body["partition"] = partition->value;
    body["snapshot"] = made->id;
    body["bytes"] = static_cast<int64_t>(made->bytes);
    body["sha256"] = made->sha256_hex;
    body["next_offset"] = made->info.next_offset.value;
    body["chain"] = made->info.chain_hex;
    body["digest"] = made->info.digest_hex;
    return api::ApiResponse::json(201, boost::json::serialize(body));
  };
  api::Route piece;
  piece.method = api::HttpMethod::get;
  piece.pattern = "/api/v1/internal/partitions/{partition}/snapshots/{snapshot}";
  piece.auth = api::RouteAuth::admin();
  piece.handler = [&shelf, partition_count](const api::ApiRequest& request) -> api::ApiResponse {
    const std::optional<PartitionId> partition = partition_param(request, partition_count);
    if (!partition) return partition_error();
    const std::optional<int64_t> from = parse_count(request.query_param("from").value_or(""));
    if (!from) return api::ApiResponse::error(400, "invalid_argument", "a byte offset is required", "from");
    const std::optional<int64_t> bytes = parse_count(request.query_param("bytes").value_or(""));
    if (!bytes || *bytes < 1 || static_cast<uint64_t>(*bytes) > snapshot_chunk_bytes_max) {
      return api::ApiResponse::error(400, "invalid_argument",
                                     "a piece is 1 to " + std::to_string(snapshot_chunk_bytes_max) + " bytes", "bytes");
    }
    Result<std::string> read = shelf.piece(std::string(request.path_param("snapshot")), *partition,
                                           static_cast<uint64_t>(*from), static_cast<std::size_t>(*bytes));
    if (!read.is_ok()) {
      switch (read.status().code()) {
        case Status::Code::not_found:
          return api::ApiResponse::error(404, "no_snapshot", read.status().message());
        case Status::Code::invalid_argument:
          return api::ApiResponse::error(400, "invalid_argument", read.status().message(), "from");
        default:
          return api::ApiResponse::error(503, "snapshot_failed", read.status().to_string());
      }
    }
    api::ApiResponse response;
    response.status = 200;
    response.content_type = "application/octet-stream";
    response.body = std::move(read.value());
    return response;
  };
  return {std::move(offer), std::move(piece)};
}

Result<store::SnapshotInfo> fetch_snapshot(const SnapshotFetch& from, PartitionId partition, const std::string& dir) {
  const std::vector<connectors::HttpHeader> auth{{"Authorization", "Bearer " + from.token}};
  connectors::HttpClient client;
  auto offered = client.post(pieces_url(from.base_url, partition), auth, "", from.timeout_ms);
  if (!offered.is_ok()) return unavailable(offered.status().message());
  if (offered->status_code != 201) return unavailable("offer: " + answer_text(offered.value()));
  Result<SnapshotOffer> offer = parse_offer(offered->body, partition);
  if (!offer.is_ok()) return offer.status();

  if (Status made = lmdb::create_private_dirs(dir); !made.is_ok()) return made;
  const std::string path = dir + "/data.mdb";
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::error(Status::Code::io_error, "cannot write " + path);
  std::error_code ec;
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  const std::size_t chunk = std::clamp<std::size_t>(from.chunk_bytes, 1, snapshot_chunk_bytes_max);
  const std::string url = pieces_url(from.base_url, partition) + "/" + connectors::url_encode(offer->id) +
                          "?bytes=" + std::to_string(chunk) + "&from=";
  Sha256 hash;
  for (uint64_t written = 0; written < offer->bytes;) {
    auto got = get_piece(client, url + std::to_string(written), auth, from);
    if (!got.is_ok()) return unavailable("piece at " + std::to_string(written) + ": " + got.status().message());
    if (got->body.empty() || got->body.size() > chunk || written + got->body.size() > offer->bytes) {
      return Status::error(Status::Code::corruption, "the piece at " + std::to_string(written) + " has " +
                                                         std::to_string(got->body.size()) + " bytes, not what " +
                                                         std::to_string(offer->bytes) + " announced allows");
    }
    hash.update(got->body);
    out.write(got->body.data(), static_cast<std::streamsize>(got->body.size()));
    if (!out) return Status::error(Status::Code::io_error, "cannot write " + path);
    written += got->body.size();
  }
  out.close();
  if (!out) return Status::error(Status::Code::io_error, "cannot write " + path);
  if (const std::string received = hash.finish().to_hex(); received != offer->sha256_hex) {
    std::filesystem::remove(path, ec);
    return Status::error(Status::Code::corruption, "the pieces' SHA-256 " + received + " is not the announced " +
                                                       offer->sha256_hex);
  }
  return offer->info;
}

}  // namespace tally
