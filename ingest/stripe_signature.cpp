#include "ingest/stripe_signature.h"

#include <cassert>
#include <optional>
#include <vector>

#include "crypto/hmac.h"
#include "ingest/json_fields.h"

namespace tally::connectors {
namespace {

constexpr std::string_view header_field = "Stripe-Signature";

Status header_error(std::string message) { return Status::invalid(std::string(header_field), std::move(message)); }

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

Status verify_stripe_signature(std::string_view payload, std::string_view signature_header,
                               std::string_view webhook_secret, int64_t now_s, int64_t tolerance_s) {
  assert(!webhook_secret.empty());
  assert(tolerance_s >= 0);
  if (signature_header.size() > stripe_signature_header_bytes_max) return header_error("malformed header");

  std::optional<int64_t> timestamp;
  std::vector<std::string_view> v1_signatures;
  std::string_view rest = signature_header;
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    const std::size_t equals = item.find('=');
    if (equals == std::string_view::npos || equals == 0) return header_error("malformed header");
    const std::string_view key = item.substr(0, equals);
    const std::string_view value = item.substr(equals + 1);
    if (key == "t") {
      const std::optional<int64_t> t = parse_int64(value);
      if (timestamp.has_value() || !t.has_value() || *t < 0) return header_error("malformed header");
      timestamp = t;
    } else if (key == "v1") {
      v1_signatures.push_back(value);
    }
    // v0 and schemes we do not know are ignored: only v1 is trusted.
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (!timestamp.has_value()) return header_error("malformed header");
  if (v1_signatures.empty()) return header_error("no v1 signature");

  const std::string expected = timestamped_signature_hex(webhook_secret, *timestamp, payload);
  bool matched = false;
  // Every candidate is compared (no early exit) so timing does not reveal which one matched.
  for (std::string_view candidate : v1_signatures) {
    matched = constant_time_equals(expected, candidate) || matched;
  }
  if (!matched) return header_error("signature mismatch");

  // Stale or from the future: both are refused.
  if (*timestamp < now_s - tolerance_s || *timestamp > now_s + tolerance_s) {
    return header_error("timestamp outside tolerance");
  }
  return Status::ok();
}

std::string sign_stripe_payload(std::string_view payload, std::string_view webhook_secret,
                                int64_t timestamp_s) {
  return "t=" + std::to_string(timestamp_s) + ",v1=" +
         timestamped_signature_hex(webhook_secret, timestamp_s, payload);
}

}  // namespace tally::connectors
