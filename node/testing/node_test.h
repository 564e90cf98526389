// What the end-to-end tests through a Node share (test-only; header-only, as it needs Boost.Test):
// the options of a node a test starts, its API tokens, the start that fails the test when the
// node does not come up, and the node's journal opened ahead of it. Beside
// relay/testing/relay_harness.h, in the same namespace.
#pragma once

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "api/server_options.h"
#include "log/journal.h"
#include "node/node.h"

namespace tally::connectors::testing {

// A node for a test: its data in `data_dir`, the HTTP API on a free loopback port, and no ticker
// (a test that needs the partition clock to move appends its own ticks, or sets an interval).
inline NodeOptions test_node_options(std::string data_dir) {
  NodeOptions options;
  options.data_dir = std::move(data_dir);
  options.listen_port = 0;
  options.tick_interval_ms = 0;
  return options;
}

// An API token as `--token NAME:SECRET:SCOPE` gives it (scope "admin", "org:acme", …).
inline api::ApiToken node_token(std::string_view name, std::string_view secret, std::string_view scope) {
  const std::string spec = std::string(name) + ":" + std::string(secret) + ":" + std::string(scope);
  Result<api::ApiToken> token = api::parse_api_token(spec);
  BOOST_REQUIRE_MESSAGE(token.is_ok(), token.status().to_string());
  return std::move(token.value());
}

// Starts the node; the test fails here (REQUIRE), with the reason, if it does not start.
inline std::unique_ptr<Node> start_test_node(const NodeOptions& options) {
  Result<std::unique_ptr<Node>> started = Node::start(options);
  BOOST_REQUIRE_MESSAGE(started.is_ok(), started.status().to_string());
  return std::move(started.value());
}

// The embedded journal of a node's data dir (DATA/journal, with the partitions a new node makes),
// open for a test to append events before a node (or relay_node_child) runs on it.
struct NodeJournal {
  std::unique_ptr<Journal> journal;
  std::unique_ptr<LogWriter> events;  // the events topic

  explicit NodeJournal(const std::string& data_dir) {
    Result<std::unique_ptr<Journal>> opened = Journal::open(
        data_dir + "/journal", journal_options(node_partitions_default, node_signals_partitions_default));
    BOOST_REQUIRE_MESSAGE(opened.is_ok(), opened.status().to_string());
    journal = std::move(opened.value());
    Result<std::unique_ptr<LogWriter>> writer = journal->writer(journal_events_topic);
    BOOST_REQUIRE_MESSAGE(writer.is_ok(), writer.status().to_string());
    events = std::move(writer.value());
  }
};

}  // namespace tally::connectors::testing
