#include "relay/testing/relay_harness.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <span>
#include <stdexcept>
#include <thread>

#include "engine/event_factory.h"
#include "log/journal.h"

extern char** environ;

namespace tally::connectors::testing {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool wait_until(const std::function<bool()>& condition, int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() > deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string OrgScript::next_key(const char* kind) { return org_ + "-" + kind + "-" + std::to_string(++counter_); }

Status OrgScript::append(std::string encoded, bool global) {
  AppendRequest request{global ? std::string() : org_, std::move(encoded), global};
  auto appended = log_.append(std::span<const AppendRequest>(&request, 1));
  return appended.is_ok() ? Status::ok() : appended.status();
}

Status OrgScript::rate_card(int64_t version) {
  RateCardFields card;
  card.version = version;
  card.markup_bp = 15'000;
  card.models.push_back({"claude-sonnet-4", ModelPrice{3'000'000, 15'000'000, 300'000, 3'750'000}});
  const std::string key = "rate-card-" + std::to_string(version);
  return append(make_rate_card({key, "", now_ms(), "test"}, card), true);
}

Status OrgScript::open() {
  const std::string key = next_key("open");
  return append(make_org_opened({key, org_, now_ms(), "test"}, Plan::pro, BillingMode::credits));
}

Status OrgScript::purchase(int64_t credits) {
  const std::string key = next_key("purchase");
  PaymentFields payment;
  payment.credits_micros = credits * micros;
  payment.paid_minor = credits * 100;
  payment.payment_ref = key;
  return append(make_purchase({key, org_, now_ms(), "test"}, payment));
}

Status OrgScript::auto_refill(int64_t threshold_credits, int64_t refill_credits, const std::string& customer,
                              int32_t max_per_day) {
  const std::string key = next_key("auto-refill");
  AutoRefillPolicy policy;
  policy.enabled = true;
  policy.threshold_micros = Micros{threshold_credits * micros};
  policy.refill_credits_micros = Micros{refill_credits * micros};
  policy.max_per_day = max_per_day;
  policy.payment_customer = customer;
  return append(make_auto_refill_configured({key, org_, now_ms(), "test"}, policy));
}

Status OrgScript::usage_output_tokens(int64_t tokens, const std::string& member) {
  const std::string key = next_key("usage");
  UsageFields usage;
  usage.member_id = member;
  usage.model = "claude-sonnet-4";
  usage.provider = "anthropic";
  usage.output_tokens = tokens;
  return append(make_usage({key, org_, now_ms(), "test"}, usage));
}

Status OrgScript::member_limit(const std::string& member, int64_t credits) {
  const std::string key = next_key("limit");
  return append(make_member_limit_set({key, org_, now_ms(), "test"}, member, credits * micros));
}

Status OrgScript::member_limit_cleared(const std::string& member) {
  const std::string key = next_key("limit-cleared");
  return append(make_member_limit_cleared({key, org_, now_ms(), "test"}, member));
}

std::optional<OrgState> org_state(ViewReader& views, const std::string& org) {
  auto found = views.org(OrgId::make(org).value());  // the tests' own org ids
  if (!found.is_ok() || !found->has_value()) return std::nullopt;
  return found->value().state;
}

std::vector<HistoryEntry> history(ViewReader& views, const std::string& org) {
  std::vector<HistoryEntry> out;
  const Status status = views.for_each_history(OrgId::make(org).value(), INT64_MIN, INT64_MAX, [&](const HistoryEntry& entry) {
    out.push_back(entry);
    return true;
  });
  if (!status.is_ok()) throw std::runtime_error(status.to_string());
  return out;
}

std::size_t count_history(ViewReader& views, const std::string& org, const std::string& type, Outcome outcome) {
  std::size_t count = 0;
  for (const HistoryEntry& entry : history(views, org)) {
    if (entry.type == type && entry.outcome == outcome) ++count;
  }
  return count;
}

int64_t recorded_offset(const std::string& progress_path) {
  std::ifstream in(progress_path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("offset 0 ", 0) == 0) return std::stoll(line.substr(9));
  }
  return -1;
}

std::vector<SignalRecord> read_signals(const std::string& journal_dir) {
  JournalOptions options;
  options.create_if_missing = false;
  auto journal = Journal::open(journal_dir, options);
  if (!journal.is_ok()) throw std::runtime_error(journal.status().to_string());
  auto reader = journal.value()->reader(journal_signals_topic);
  if (!reader.is_ok()) throw std::runtime_error(reader.status().to_string());
  for (int32_t p = 0; p < reader.value()->partition_count(); ++p) {
    if (Status s = reader.value()->seek(PartitionId{p}, Offset{0}); !s.is_ok()) throw std::runtime_error(s.to_string());
  }
  std::vector<SignalRecord> out;
  std::vector<LogRecord> records;
  for (;;) {
    if (Status s = reader.value()->poll(records, 1000, 0); !s.is_ok()) throw std::runtime_error(s.to_string());
    if (records.empty()) return out;
    for (const LogRecord& record : records) {
      auto signal = decode_signal_record(record.value);
      if (!signal.is_ok()) throw std::runtime_error(signal.status().to_string());
      out.push_back(std::move(signal.value()));
    }
  }
}

std::size_t charges_with_metadata(StripeClient& client, const std::string& key, const std::string& value) {
  auto listed = client.list_charges();
  if (!listed.is_ok()) throw std::runtime_error(listed.status().to_string());
  std::size_t count = 0;
  for (const ChargeSummary& charge : listed.value()) {
    for (const auto& [k, v] : charge.metadata) {
      if (k == key && v == value && charge.status == "succeeded") ++count;
    }
  }
  return count;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

pid_t spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) {
    throw std::runtime_error("posix_spawn " + argv[0] + " failed");
  }
  return pid;
}

std::optional<int> wait_exit(pid_t pid, int64_t timeout_ms) {
  std::optional<int> result;
  wait_until(
      [&] {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) result = status;
        return result.has_value();
      },
      timeout_ms);
  return result;
}

}  // namespace tally::connectors::testing
