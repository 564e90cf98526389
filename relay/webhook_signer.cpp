#include "relay/webhook_signer.h"

#include <cassert>
#include <charconv>
#include <cstdlib>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "crypto/hmac.h"

namespace tally::connectors {

std::string_view webhook_action(std::string_view kind) {
  if (kind == "balance_exhausted" || kind == "member_limit_exceeded") return "pause";
  if (kind == "balance_restored" || kind == "member_limit_restored") return "resume";
  return "notify";
}

std::string credits_decimal(int64_t micros) {
  // Work on the unsigned magnitude: -INT64_MIN does not fit in int64.
  const bool negative = micros < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(micros) : static_cast<uint64_t>(micros);
  std::string fraction = std::to_string(magnitude % 1'000'000);
  fraction.insert(0, 6 - fraction.size(), '0');
  return (negative ? "-" : "") + std::to_string(magnitude / 1'000'000) + "." + fraction;
}

std::string webhook_body(const EnforcementSignal& signal) {
  const bool member_scope = !signal.member_id.empty();
  boost::json::object body;
  body["signal_id"] = signal.signal_id;
  body["kind"] = signal.kind;
  body["action"] = webhook_action(signal.kind);
  body["scope"] = member_scope ? "member" : "org";
  body["org_id"] = signal.org_id;
  body["member_id"] = signal.member_id;
  body["pause_reason"] = signal.pause_reason;
  body["balance_micros"] = signal.balance_micros;
  body["balance"] = credits_decimal(signal.balance_micros);
  body["occurred_at_ms"] = signal.occurred_at_ms;
  if (signal.monthly_limit_micros) body["monthly_limit_micros"] = *signal.monthly_limit_micros;
  if (signal.member_used_micros) body["member_used_micros"] = *signal.member_used_micros;
  return boost::json::serialize(body);
}

std::string webhook_signature(std::string_view secret, int64_t timestamp_s, std::string_view body) {
  return std::string(webhook_signature_scheme) + "=" + timestamped_signature_hex(secret, timestamp_s, body);
}

std::vector<HttpHeader> webhook_headers(std::string_view secret, std::string_view signal_id, int64_t timestamp_s,
                                        std::string_view body) {
  return {{"Content-Type", "application/json"},
          {"Tally-Webhook-Id", std::string(signal_id)},
          {"Tally-Timestamp", std::to_string(timestamp_s)},
          {"Tally-Signature", webhook_signature(secret, timestamp_s, body)}};
}

Status verify_webhook(std::string_view secret, std::string_view timestamp, std::string_view signature,
                      std::string_view body, int64_t now_s, int64_t tolerance_s) {
  assert(!secret.empty());
  assert(tolerance_s >= 0);
  int64_t timestamp_s = -1;
  const char* const timestamp_end = timestamp.data() + timestamp.size();
  const auto [parsed_end, parse_error] = std::from_chars(timestamp.data(), timestamp_end, timestamp_s);
  if (parse_error != std::errc() || parsed_end != timestamp_end || timestamp_s < 0) {
    return Status::invalid("Tally-Timestamp", "malformed header");
  }

  std::vector<std::string_view> candidates;
  std::string_view rest = signature;
  while (true) {
    const std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    const std::size_t equals = item.find('=');
    if (equals == std::string_view::npos || equals == 0) return Status::invalid("Tally-Signature", "malformed header");
    if (item.substr(0, equals) == webhook_signature_scheme) candidates.push_back(item.substr(equals + 1));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (candidates.empty()) return Status::invalid("Tally-Signature", "no v1 signature");

  const std::string expected = timestamped_signature_hex(secret, timestamp_s, body);
  bool matched = false;
  for (std::string_view candidate : candidates) matched = constant_time_equals(expected, candidate) || matched;
  if (!matched) return Status::invalid("Tally-Signature", "signature mismatch");
  if (timestamp_s < now_s - tolerance_s || timestamp_s > now_s + tolerance_s) {
    return Status::invalid("Tally-Timestamp", "timestamp outside tolerance");
  }
  return Status::ok();
}

}  // namespace tally::connectors
