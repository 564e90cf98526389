#include "relay/enforcer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace tally::connectors {
namespace {

constexpr std::size_t webhook_secret_bytes_min = 16;

int64_t system_now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool is_member_kind(SignalKind kind) {
  return kind == SignalKind::member_limit_exceeded || kind == SignalKind::member_limit_restored;
}

}  // namespace

bool is_enforcement_kind(SignalKind kind) {
  switch (kind) {
    case SignalKind::balance_exhausted:
    case SignalKind::balance_restored:
    case SignalKind::member_limit_exceeded:
    case SignalKind::member_limit_restored:
    case SignalKind::auto_refill_disabled:
    case SignalKind::balance_low:
      return true;
    case SignalKind::recharge_requested:
    case SignalKind::auto_refill_cap_reached:
    case SignalKind::grant_expiring:  // SPEC §12: notices, nothing to pause or resume
    case SignalKind::grant_expired:
      return false;
  }
  return false;
}

EnforcementSignal enforcement_signal(const SignalRecord& signal) {
  EnforcementSignal out;
  out.signal_id = signal.signal_id;
  out.kind = signal_kind_name(signal.kind);
  out.org_id = signal.org_id;
  out.member_id = signal.member_id;
  out.pause_reason = signal.pause_reason;
  out.balance_micros = signal.balance_micros;
  out.occurred_at_ms = signal.occurred_at_ms;
  if (is_member_kind(signal.kind)) {
    out.monthly_limit_micros = signal.monthly_limit_micros;
    out.member_used_micros = signal.member_used_micros;
  }
  return out;
}

Status validate(const EnforcerOptions& options) {
  if (options.url.rfind("http://", 0) != 0 && options.url.rfind("https://", 0) != 0) {
    return Status::invalid("url", "must be an http:// or https:// URL");
  }
  if (options.secret.size() < webhook_secret_bytes_min) {
    return Status::invalid("secret", "must be at least " + std::to_string(webhook_secret_bytes_min) + " bytes");
  }
  if (options.progress_path.empty()) return Status::invalid("progress_path", "is required");
  if (options.request_timeout_ms <= 0) return Status::invalid("request_timeout_ms", "must be > 0");
  if (options.retry.backoff_ms_initial <= 0 || options.retry.backoff_ms_max < options.retry.backoff_ms_initial) {
    return Status::invalid("retry", "backoff_ms_initial must be > 0 and <= backoff_ms_max");
  }
  return Status::ok();
}

Result<std::unique_ptr<Enforcer>> Enforcer::open(LogReader& signals, EnforcerOptions options) {
  if (Status s = validate(options); !s.is_ok()) return s;
  if (!options.now_s) options.now_s = system_now_s;
  auto consumer = SignalConsumer::open(signals, {"enforce", options.progress_path, options.on_error});
  if (!consumer.is_ok()) return consumer.status();
  return std::unique_ptr<Enforcer>(new Enforcer(std::move(options), std::move(consumer.value())));
}

SignalHandler Enforcer::handler() {
  return [this](const SignalRecord& signal) { return handle(signal); };
}

void Enforcer::run() { consumer_->run(handler()); }

Result<Handled> Enforcer::handle(const SignalRecord& signal) {
  if (!is_enforcement_kind(signal.kind)) return Handled::skipped;
  const EnforcementSignal webhook = enforcement_signal(signal);
  const std::string body = webhook_body(webhook);
  for (int32_t retry = 0;; ++retry) {
    if (retry > 0) {
      // Capped: retry numbers past 30 would only overflow the doubling; the cap holds anyway.
      if (!consumer_->waker().sleep_for(options_.retry.backoff_ms(std::min(retry, 30)))) {
        return Status::error(Status::Code::unavailable, "stopped while delivering " + signal.signal_id);
      }
    }
    HttpRequest request;
    request.url = options_.url;
    request.headers = webhook_headers(options_.secret, webhook.signal_id, options_.now_s(), body);
    request.body = body;
    request.timeout_ms = options_.request_timeout_ms;
    auto response = http_.send(request);
    if (response.is_ok() && response->status_code >= 200 && response->status_code < 300) {
      if (options_.on_delivered) options_.on_delivered(webhook, webhook_action(webhook.kind));
      return Handled::acted;
    }
    const std::string why = response.is_ok() ? "HTTP " + std::to_string(response->status_code)
                                              : response.status().to_string();
    const Status failed = Status::error(Status::Code::unavailable, "webhook " + signal.signal_id + " to " +
                                                                      options_.url + ": " + why + " (retrying)");
    if (options_.on_error) {
      options_.on_error(failed);
    } else {
      std::fprintf(stderr, "tally enforce: %s\n", failed.to_string().c_str());
    }
    if (!response.is_ok() && response.status().code() == Status::Code::invalid_argument) {
      return response.status();  // a bad URL or header: the consumer reports and backs off
    }
  }
}

}  // namespace tally::connectors
