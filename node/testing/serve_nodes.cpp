#include "node/testing/serve_nodes.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <stdexcept>

#include "tests/support/text_file.h"

extern char** environ;

namespace tally::testing {

using connectors::HttpResponse;

void ServeNode::start() {
  const std::string log_path = options_.data_dir + ".log";
  // A restart with the same data dir appends to the same log: only what this process writes counts.
  const std::size_t log_start = std::filesystem::exists(log_path) ? log().size() : 0;
  std::vector<std::string> argv = {
      options_.tally_binary, "serve", "--kafka", options_.brokers, "--group", options_.group,
      "--node-id", options_.id, "--data", options_.data_dir, "--listen", "127.0.0.1:0",
      "--tick-interval-ms", "0", "--group-session-timeout-ms", std::to_string(options_.session_timeout_ms),
      "--token", std::string("admin:") + serve_admin_secret + ":admin"};
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  env.insert(env.end(), options_.extra_env.begin(), options_.extra_env.end());
  std::vector<char*> args, envp;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  args.push_back(nullptr);
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const int spawned = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) throw std::runtime_error("cannot run " + options_.tally_binary);
  const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
  const bool up = eventually(
      [&] {
        std::smatch match;
        const std::string text = log();
        if (text.size() < log_start) return false;
        const std::string written = text.substr(log_start);
        if (!std::regex_search(written, match, listening)) return false;
        port_ = static_cast<uint16_t>(std::stoi(match[1].str()));
        return true;
      },
      std::chrono::seconds(60));
  if (!up) throw std::runtime_error(options_.id + " did not start: " + log());
}

void ServeNode::signal(int sig) const {
  if (pid_ <= 0 || ::kill(pid_, sig) != 0) throw std::runtime_error(options_.id + ": kill failed");
}

void ServeNode::kill_now(int sig) {
  if (pid_ <= 0) return;
  ::kill(pid_, sig);
  if (sig == SIGKILL) ::kill(pid_, SIGCONT);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = 0;
}

int ServeNode::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ServeNode::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::optional<HttpResponse> ServeNode::get(const std::string& path) {
  auto response = http_.get(url(path), {{"Authorization", std::string("Bearer ") + serve_admin_secret}}, 15'000);
  if (!response.is_ok()) return std::nullopt;
  return response.value();
}

HttpResponse ServeNode::post_events(const std::string& body) {
  auto response = http_.post(url("/api/v1/events"),
                             {{"Authorization", std::string("Bearer ") + serve_admin_secret},
                              {"Content-Type", "application/json"}},
                             body, 30'000);
  if (!response.is_ok()) throw std::runtime_error(options_.id + ": POST events: " + response.status().to_string());
  if (response->status_code != 202) {
    throw std::runtime_error(options_.id + ": POST events: " + std::to_string(response->status_code) + " " +
                             response->body);
  }
  return response.value();
}

std::optional<ServeNode::Scrape> ServeNode::scrape() {
  std::optional<HttpResponse> metrics = get("/metrics");
  if (!metrics || metrics->status_code != 200) return std::nullopt;
  Scrape scrape;
  static const std::regex owned("tally_partition_owned\\{partition=\"([0-9]+)\"\\} 1");
  static const std::regex lag("tally_consumer_lag\\{partition=\"([0-9]+)\"\\} ([0-9]+)");
  static const std::regex next_offset("tally_projector_next_offset\\{partition=\"([0-9]+)\"\\} ([0-9]+)");
  const std::string& text = metrics->body;
  for (std::sregex_iterator it(text.begin(), text.end(), owned), end; it != end; ++it) {
    scrape.owned.insert(std::stoi((*it)[1].str()));
  }
  for (std::sregex_iterator it(text.begin(), text.end(), lag), end; it != end; ++it) {
    scrape.lag[std::stoi((*it)[1].str())] = std::stoll((*it)[2].str());
  }
  for (std::sregex_iterator it(text.begin(), text.end(), next_offset), end; it != end; ++it) {
    scrape.next_offset[std::stoi((*it)[1].str())] = std::stoll((*it)[2].str());
  }
  return scrape;
}

std::string ServeNode::log() const { return test_support::read_text_file(options_.data_dir + ".log"); }

bool settled(const std::vector<ServeNode*>& nodes, int32_t partitions) {
  std::map<int32_t, int> owners;
  for (ServeNode* node : nodes) {
    auto scrape = node->scrape();
    if (!scrape || scrape->owned.empty()) return false;
    for (int32_t p : scrape->owned) ++owners[p];
  }
  if (owners.size() != static_cast<std::size_t>(partitions)) return false;
  for (const auto& [p, count] : owners) {
    if (count != 1) return false;
  }
  return true;
}

bool caught_up(const std::vector<ServeNode*>& nodes, int32_t partitions) {
  std::set<int32_t> done;
  for (ServeNode* node : nodes) {
    auto scrape = node->scrape();
    if (!scrape) return false;
    for (int32_t p : scrape->owned) {
      if (scrape->lag.count(p) != 0 && scrape->lag[p] == 0) done.insert(p);
    }
  }
  return done.size() == static_cast<std::size_t>(partitions);
}

std::string ownership_report(const std::vector<ServeNode*>& nodes) {
  std::string report;
  for (ServeNode* node : nodes) {
    auto scrape = node->scrape();
    report += node->id() + ":";
    if (!scrape) {
      report += " unreachable;";
      continue;
    }
    for (int32_t p : scrape->owned) report += " " + std::to_string(p) + "(lag " + std::to_string(scrape->lag[p]) + ")";
    report += ";";
  }
  return report;
}

}  // namespace tally::testing
