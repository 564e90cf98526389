// Test support for the relay tests (recharge, enforcement, ingest, crashes): temporary data dirs,
// waiting on conditions with deadlines, scripted events of one org, and reads of the views, the
// signals log and the Stripe emulator's charges. Test-only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <ostream>
#include <optional>
#include <string>
#include <vector>

#include "engine/state.h"
#include "engine/status.h"
#include "log/log.h"
#include "outbound/stripe_client.h"
#include "projections/views.h"
#include "relay/signal_record.h"
#include "tests/support/temp_dir.h"

namespace tally {
// For Boost.Test's messages.
inline std::ostream& operator<<(std::ostream& out, SignalKind kind) { return out << signal_kind_name(kind); }
inline std::ostream& operator<<(std::ostream& out, Outcome outcome) { return out << outcome_name(outcome); }
}  // namespace tally

namespace tally::connectors::testing {

inline constexpr int64_t wait_timeout_ms_default = 30'000;
inline constexpr int64_t micros = 1'000'000;  // per credit

// Scratch directories, shared with every folder's tests (tests/support/temp_dir.h).
using TempDir = tally::test_support::TempDir;

int64_t now_ms();

// Re-checks `condition` every few milliseconds until it holds (true) or `timeout_ms` passes
// (false). The check is the synchronisation; the short pause only keeps the loop from spinning.
bool wait_until(const std::function<bool()>& condition, int64_t timeout_ms = wait_timeout_ms_default);

// Appends the events of one org (and the global rate card), with unique idempotency keys.
// Prices: model "claude-sonnet-4" at 15 credits per 1M output tokens, markup 1.5×, so
// usage_output_tokens(2'000'000) bills 45 credits.
class OrgScript {
 public:
  OrgScript(LogWriter& log, std::string org) : log_(log), org_(std::move(org)) {}
  Status rate_card(int64_t version = 1);
  Status open();
  Status purchase(int64_t credits);
  Status auto_refill(int64_t threshold_credits, int64_t refill_credits, const std::string& customer,
                     int32_t max_per_day = 3);
  Status usage_output_tokens(int64_t tokens, const std::string& member = "");
  Status member_limit(const std::string& member, int64_t credits);
  Status member_limit_cleared(const std::string& member);
  const std::string& org() const { return org_; }

 private:
  Status append(std::string encoded, bool global = false);
  std::string next_key(const char* kind);
  LogWriter& log_;
  std::string org_;
  int counter_ = 0;
};

std::optional<OrgState> org_state(ViewReader& views, const std::string& org);
// Every history entry of the org, in order.
std::vector<HistoryEntry> history(ViewReader& views, const std::string& org);
std::size_t count_history(ViewReader& views, const std::string& org, const std::string& type,
                          Outcome outcome = Outcome::applied);

// Every record of the journal's "signals" topic, decoded (this process opens the journal too).
std::vector<SignalRecord> read_signals(const std::string& journal_dir);

// The signals-log offset (partition 0) a connector recorded in its progress file, or -1: a
// connector has caught up once it equals read_signals(…).size().
int64_t recorded_offset(const std::string& progress_path);

// Charges in the emulator account whose metadata has key = value.
std::size_t charges_with_metadata(StripeClient& client, const std::string& key, const std::string& value);

// A name unique in this run ("prefix-<pid>-<n>").
std::string unique_name(const std::string& prefix);

// Child processes (crash tests): spawn `argv`, wait for exit with a deadline.
pid_t spawn(const std::vector<std::string>& argv);
// Waits for `pid` to exit; returns its wait status, or nullopt on timeout (the child is left running).
std::optional<int> wait_exit(pid_t pid, int64_t timeout_ms = wait_timeout_ms_default);

}  // namespace tally::connectors::testing
