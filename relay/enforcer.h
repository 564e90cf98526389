// The enforcement connector (SPEC §9): turns pause/resume/notify signals into signed webhooks to
// the platform (the scheme is in relay/webhook_signer.h).
//
// CAVEATS (read these first)
//   - Delivered at least once, in order per partition of the signals log (an org's signals share
//     a partition, so its pause never overtakes its resume). A delivery that fails (no answer,
//     non-2xx) is retried with capped backoff and a fresh timestamp and signature, the SAME body
//     and Tally-Webhook-Id, until the platform answers 2xx: enforcement is never dropped, so a
//     platform that stays down holds the partition's later signals back.
//   - Duplicates: the consumer drops a signal id it already delivered (relay/signal_consumer.h);
//     a crash between a delivery and recording it delivers it again, which the platform drops by
//     Tally-Webhook-Id.
//   - Kinds delivered: balance_exhausted, balance_restored, member_limit_exceeded,
//     member_limit_restored (pause/resume), auto_refill_disabled, balance_low (notify). Others
//     (recharge_requested, auto_refill_cap_reached) are skipped.
//
// Lifecycle: open() → run() on a thread → request_stop() → join.
// Thread safety: request_stop() from any thread; the rest from the running thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/status.h"
#include "log/log.h"
#include "outbound/http_client.h"
#include "relay/signal_consumer.h"
#include "relay/webhook_signer.h"

namespace tally::connectors {

inline constexpr int64_t enforcer_request_timeout_ms = 10'000;

struct EnforcerOptions {
  std::string url;     // the platform's endpoint, http:// or https://
  std::string secret;  // HMAC key shared with the platform, at least 16 bytes
  std::string progress_path;  // the consumer position, e.g. DIR/enforce.progress
  int64_t request_timeout_ms = enforcer_request_timeout_ms;
  // Delay between delivery attempts: RetryPolicy's backoff (attempts_max is ignored: the
  // enforcer keeps trying, see CAVEATS).
  RetryPolicy retry;
  // Signing time (Unix seconds). Empty: the system clock.
  std::function<int64_t()> now_s;
  // Failed attempts (with the status or transport error). Empty: stderr.
  std::function<void(const Status&)> on_error;
  // Each delivered signal (after the 2xx), on the connector's thread.
  std::function<void(const EnforcementSignal&, std::string_view action)> on_delivered;
};

// True for the kinds the enforcer delivers.
bool is_enforcement_kind(SignalKind kind);

// The webhook fields of a signal.
EnforcementSignal enforcement_signal(const SignalRecord& signal);

// Checks the options (field named).
Status validate(const EnforcerOptions& options);

class Enforcer {
 public:
  // Errors: validate()'s, and SignalConsumer::open's. `signals` must outlive the enforcer.
  static Result<std::unique_ptr<Enforcer>> open(LogReader& signals, EnforcerOptions options);

  void run();
  void request_stop() { consumer_->request_stop(); }
  Result<std::size_t> run_once(int timeout_ms) { return consumer_->run_once(handler(), timeout_ms); }
  const SignalConsumer& consumer() const { return *consumer_; }

 private:
  Enforcer(EnforcerOptions options, std::unique_ptr<SignalConsumer> consumer)
      : options_(std::move(options)), consumer_(std::move(consumer)) {}
  SignalHandler handler();
  Result<Handled> handle(const SignalRecord& signal);

  EnforcerOptions options_;
  std::unique_ptr<SignalConsumer> consumer_;
  HttpClient http_;
};

}  // namespace tally::connectors
