// Signals: level changes the fold emits (SPEC §5), their ids and their encoding (schemas/signals.fbs).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/ids.h"
#include "engine/money.h"
#include "engine/types.h"

namespace tally {

enum class SignalKind : uint8_t {
  balance_low = 0,
  balance_exhausted = 1,
  balance_restored = 2,
  recharge_requested = 3,
  auto_refill_cap_reached = 4,
  auto_refill_disabled = 5,
  member_limit_exceeded = 6,
  member_limit_restored = 7,
  grant_expiring = 8,  // SPEC §12
  grant_expired = 9,
};
inline constexpr int signal_kind_count = 10;

const char* signal_kind_name(SignalKind kind);

struct Signal {
  SignalKind kind = SignalKind::balance_low;
  OrgId org_id;
  MemberId member_id;        // member signals only; empty for the org's
  LogPosition position;      // of the event that caused it
  int64_t occurred_at_ms = 0;
  Micros balance_micros;
  Micros threshold_micros;
  Micros refill_credits_micros;
  std::string payment_customer;
  Micros monthly_limit_micros;
  Micros member_used_micros;
  std::string_view pause_reason;  // static strings
  std::string_view cap_period;    // "day" or "month"
  std::string grant_id;           // grant signals (SPEC §12): the grant
  Micros grant_micros;            // grant_expiring: its credit left; grant_expired: what expired
  int64_t expires_at_ms = 0;      // grant signals

  bool is_grant_signal() const { return kind == SignalKind::grant_expiring || kind == SignalKind::grant_expired; }
  // "partition:offset:kind:org" plus ":member" for member signals and ":grant" for grant signals.
  // Stable across re-emission.
  std::string id() const;
};

// Encodes a signal as a FlatBuffers Signal table with identifier "TLS1".
std::string encode_signal(const Signal& signal);

}  // namespace tally
