// A partition's snapshot moved between nodes in pieces (node/snapshot_transfer.h): the receiver
// assembles it on disk from many pieces and the restored store folds on to the sender's views;
// a copy that was replaced, already sent whole, or asked for wrongly is refused with the reason.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "api/testing/api_stack.h"
#include "api/testing/http_test.h"
#include "node/snapshot_transfer.h"
#include "outbound/http_client.h"
#include "projections/partitioned_layout.h"
#include "projections/partitioned_projector.h"
#include "projections/testkit.h"
#include "projections/view_checks.h"
#include "projections/views.h"
#include "tests/support/temp_dir.h"

using namespace tally;
using testkit::MemoryLog;
using testkit::all_digest;
using testkit::drain;
using testkit::ok;
using test_support::TempDir;
namespace http = tally::api::testing;

namespace {

constexpr int32_t partitions = 4;
const PartitionId moved{1};
constexpr std::size_t piece_bytes = 64 * 1024;

// The sender: a node's folded stores and its HTTP server with the snapshot routes.
struct Sender {
  TempDir dir;
  MemoryLog log{partitions};
  std::unique_ptr<PartitionedProjector> projector;
  std::unique_ptr<SnapshotShelf> shelf;
  std::unique_ptr<api::testing::ApiStack> server;

  // Applied to every piece the sender answers (a damaged network or disk, in a test).
  std::function<void(api::ApiResponse& piece)> damage;

  explicit Sender(std::size_t events) {
    testkit::append_generated(log, 31, events, 0);
    projector = testkit::open_partitioned(dir.sub("views"), log, false);
    drain(*projector);
    shelf = ok(SnapshotShelf::open(dir.sub("shelf")));
    api::testing::ApiStackOptions options;
    options.tokens = {http::admin_caller(), http::owner_caller()};
    options.before_start = [this](api::HttpServer& http_server) {
      for (api::Route& route : snapshot_routes(*shelf, partitions, [this](PartitionId p) { return projector->store(p); })) {
        route.handler = [this, inner = std::move(route.handler)](const api::ApiRequest& request) {
          api::ApiResponse response = inner(request);
          if (damage && response.content_type == "application/octet-stream") damage(response);
          return response;
        };
        ok(http_server.add_route(std::move(route)));
      }
    };
    server = ok(api::testing::ApiStack::start(options));
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }
  SnapshotFetch fetch() const {
    SnapshotFetch fetch;
    fetch.base_url = url();
    fetch.token = std::string(http::admin_token);
    fetch.chunk_bytes = piece_bytes;
    return fetch;
  }
};

std::string offer_id(http::HttpClient& client, PartitionId partition) {
  const http::HttpReply reply = client.send(
      "POST", "/api/v1/internal/partitions/" + std::to_string(partition.value) + "/snapshots", http::admin_token);
  BOOST_REQUIRE_MESSAGE(reply.status == 201, reply.body);
  return std::string(reply.json().at("snapshot").as_string());
}

std::string piece_target(const std::string& id, uint64_t from, std::size_t bytes) {
  return "/api/v1/internal/partitions/" + std::to_string(moved.value) + "/snapshots/" + id +
         "?from=" + std::to_string(from) + "&bytes=" + std::to_string(bytes);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_snapshot_fetched_in_many_pieces_folds_on_to_the_senders_views) {
  Sender sender(8'000);
  TempDir here;
  const store::SnapshotInfo announced = ok(fetch_snapshot(sender.fetch(), moved, here.sub("in")));
  // The store did not fit one piece: the receiver asked for several and put them together.
  const uintmax_t bytes = std::filesystem::file_size(here.sub("in") + "/data.mdb");
  BOOST_TEST(bytes > 3 * piece_bytes, "the snapshot has " << bytes << " bytes");
  BOOST_TEST(announced.next_offset.value == static_cast<int64_t>(sender.log.size(moved)));

  auto target = testkit::open_partitioned(here.sub("views"), sender.log, true);
  ok(store::restore_snapshot(here.sub("in"), announced, *target->store(moved)));
  ok(target->add(moved));
  testkit::append_generated(sender.log, 31, 2'000, 8'000);
  const std::size_t refolded = drain(*target);
  BOOST_TEST(refolded == sender.log.size(moved) - static_cast<std::size_t>(announced.next_offset.value));
  drain(*sender.projector);
  sender.projector.reset();
  target.reset();
  BOOST_TEST(all_digest(partition_store_dir(here.sub("views"), moved)) ==
             all_digest(partition_store_dir(sender.dir.sub("views"), moved)));
}

BOOST_AUTO_TEST_CASE(a_partition_larger_than_an_http_answer_may_be_moves_whole) {
  Sender sender(220'000);
  TempDir here;
  SnapshotFetch fetch = sender.fetch();
  fetch.chunk_bytes = snapshot_chunk_bytes_max;
  const store::SnapshotInfo announced = ok(fetch_snapshot(fetch, moved, here.sub("in")));
  const uintmax_t bytes = std::filesystem::file_size(here.sub("in") + "/data.mdb");
  BOOST_TEST(bytes > connectors::http_response_bytes_max, "the snapshot has " << bytes << " bytes");
  auto target = testkit::open_partitioned(here.sub("views"), sender.log, true);
  ok(store::restore_snapshot(here.sub("in"), announced, *target->store(moved)));
  target.reset();
  BOOST_TEST(all_digest(partition_store_dir(here.sub("views"), moved)) ==
             ok(store::describe_store(*sender.projector->store(moved), moved)).digest_hex);
}

BOOST_AUTO_TEST_CASE(a_piece_damaged_on_the_way_is_caught_before_the_copy_is_opened) {
  Sender sender(8'000);
  int pieces = 0;
  sender.damage = [&pieces](api::ApiResponse& piece) {
    std::string& body = piece.body;
    if (++pieces == 2) body[body.size() / 2] = static_cast<char>(body[body.size() / 2] ^ 0x5a);
  };
  TempDir here;
  const Status refused = fetch_snapshot(sender.fetch(), moved, here.sub("in")).status();
  BOOST_TEST((refused.code() == Status::Code::corruption), refused.to_string());
  BOOST_TEST(refused.message().find("SHA-256") != std::string::npos, refused.to_string());
  BOOST_TEST(pieces > 2);
  BOOST_TEST(!std::filesystem::exists(here.sub("in") + "/data.mdb"));  // nothing left for LMDB to open

  // A piece shorter than asked for is not damage: the next piece starts where it ended.
  pieces = 0;
  sender.damage = [&pieces](api::ApiResponse& piece) {
    if (++pieces == 1) piece.body.resize(piece.body.size() - 1);
  };
  const store::SnapshotInfo whole = ok(fetch_snapshot(sender.fetch(), moved, here.sub("again")));
  BOOST_TEST(whole.next_offset.value == static_cast<int64_t>(sender.log.size(moved)));
  BOOST_TEST(pieces > 2);
}

BOOST_AUTO_TEST_CASE(a_piece_that_fails_for_a_moment_is_asked_for_again_and_a_lasting_failure_ends_the_fetch) {
  Sender sender(8'000);
  int pieces = 0;
  const auto fail_as = [](api::ApiResponse& piece, int status) {
    piece = api::ApiResponse::error(status, status == 404 ? "no_snapshot" : "snapshot_failed", "injected");
  };
  // The second piece fails once (a 503): the fetch goes on and the copy is whole.
  sender.damage = [&](api::ApiResponse& piece) {
    if (++pieces == 2) fail_as(piece, 503);
  };
  TempDir here;
  SnapshotFetch fetch = sender.fetch();
  fetch.retry.backoff_ms_initial = 1;
  const store::SnapshotInfo announced = ok(fetch_snapshot(fetch, moved, here.sub("once")));
  auto target = testkit::open_partitioned(here.sub("views"), sender.log, true);
  ok(store::restore_snapshot(here.sub("once"), announced, *target->store(moved)));
  target.reset();
  BOOST_TEST(all_digest(partition_store_dir(here.sub("views"), moved)) == announced.digest_hex);

  // Every answer fails: the piece is asked for as often as the policy allows, then the fetch ends.
  pieces = 0;
  sender.damage = [&](api::ApiResponse& piece) {
    ++pieces;
    fail_as(piece, 503);
  };
  const Status lasting = fetch_snapshot(fetch, moved, here.sub("lasting")).status();
  BOOST_TEST((lasting.code() == Status::Code::unavailable));
  BOOST_TEST(lasting.message().find("503") != std::string::npos, lasting.to_string());
  BOOST_TEST(pieces == fetch.retry.attempts_max);

  // A copy that is gone (404) is not asked for again.
  pieces = 0;
  sender.damage = [&](api::ApiResponse& piece) {
    ++pieces;
    fail_as(piece, 404);
  };
  BOOST_TEST((fetch_snapshot(fetch, moved, here.sub("gone")).status().code() == Status::Code::unavailable));
  BOOST_TEST(pieces == 1);
}

BOOST_AUTO_TEST_CASE(a_copy_once_sent_whole_or_replaced_by_a_newer_offer_is_gone) {
  Sender sender(3'000);
  http::HttpClient client(sender.server->port());
  const std::string first = offer_id(client, moved);
  const std::string second = offer_id(client, moved);
  BOOST_TEST(first != second);
  // The newer offer of the partition replaced the older copy.
  http::HttpReply reply = client.send("GET", piece_target(first, 0, piece_bytes), http::admin_token);
  BOOST_TEST(reply.status == 404);
  BOOST_TEST(http::code_of(reply) == "no_snapshot");
  // The whole copy in one piece: served once, then dropped from the shelf.
  reply = client.send("GET", piece_target(second, 0, snapshot_chunk_bytes_max), http::admin_token);
  BOOST_REQUIRE(reply.status == 200);
  BOOST_TEST(reply.header("Content-Type") == "application/octet-stream");
  BOOST_TEST(reply.body.size() > piece_bytes);
  BOOST_TEST(client.send("GET", piece_target(second, 0, piece_bytes), http::admin_token).status == 404);
  BOOST_TEST(std::filesystem::is_empty(sender.dir.sub("shelf")));
}

BOOST_AUTO_TEST_CASE(bad_requests_name_the_field_and_only_admins_may_ask) {
  Sender sender(1'000);
  http::HttpClient client(sender.server->port());
  const std::string id = offer_id(client, moved);
  const auto field = [&](const std::string& target) {
    const http::HttpReply reply = client.send("GET", target, http::admin_token);
    BOOST_TEST(reply.status == 400, target << ": " << reply.body);
    return http::field_of(reply);
  };
  const std::string base = "/api/v1/internal/partitions/1/snapshots/" + id;
  BOOST_TEST(field(base + "?bytes=10") == "from");
  BOOST_TEST(field(base + "?from=0") == "bytes");
  BOOST_TEST(field(base + "?from=0&bytes=0") == "bytes");
  BOOST_TEST(field(base + "?from=0&bytes=" + std::to_string(snapshot_chunk_bytes_max + 1)) == "bytes");
  BOOST_TEST(field(base + "?from=999999999&bytes=10") == "from");
  BOOST_TEST(field("/api/v1/internal/partitions/4/snapshots/" + id + "?from=0&bytes=10") == "partition");
  BOOST_TEST(client.send("POST", "/api/v1/internal/partitions/9/snapshots", http::admin_token).status == 400);
  BOOST_TEST(client.send("POST", "/api/v1/internal/partitions/1/snapshots", http::owner_token).status == 403);
  BOOST_TEST(client.send("GET", base + "?from=0&bytes=10", http::owner_token).status == 403);
  BOOST_TEST(client.send("GET", base + "?from=0&bytes=10").status == 401);

  // A fetch that meets an error answer reports it and writes no store.
  SnapshotFetch fetch = sender.fetch();
  fetch.token = std::string(http::owner_token);
  TempDir here;
  const Status refused = fetch_snapshot(fetch, moved, here.sub("in")).status();
  BOOST_TEST((refused.code() == Status::Code::unavailable));
  BOOST_TEST(refused.message().find("403") != std::string::npos, refused.to_string());
  BOOST_TEST(!std::filesystem::exists(here.sub("in") + "/data.mdb"));
}

BOOST_AUTO_TEST_CASE(a_partition_the_sender_never_folded_has_no_snapshot) {
  TempDir dir;
  MemoryLog log(partitions);
  auto projector = testkit::open_partitioned(dir.sub("views"), log, false);
  auto shelf = ok(SnapshotShelf::open(dir.sub("shelf")));
  const Status none = shelf->offer(*projector->store(moved), moved).status();
  BOOST_TEST((none.code() == Status::Code::not_found), none.to_string());
  BOOST_TEST(std::filesystem::is_empty(dir.sub("shelf")));
}
