// A signal as the connectors read it from the signals log: the encoded FlatBuffers Signal
// (schemas/signals.fbs, identifier "TLS1") decoded into owned values.
//
// engine/signals.h's Signal is the fold's output type (static string_views, no signal id field);
// this is the consumer's view of the same record, with the id exactly as the fold wrote it.
// Thread safety: plain values and a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/signals.h"
#include "engine/status.h"
#include "engine/types.h"

namespace tally::connectors {

struct SignalRecord {
  std::string signal_id;  // "partition:offset:kind:org[:member]"
  SignalKind kind = SignalKind::balance_low;
  std::string org_id;
  std::string member_id;
  LogPosition position;   // of the event that caused it
  int64_t occurred_at_ms = 0;
  int64_t balance_micros = 0;
  int64_t threshold_micros = 0;
  int64_t refill_credits_micros = 0;
  std::string payment_customer;
  int64_t monthly_limit_micros = 0;
  int64_t member_used_micros = 0;
  std::string pause_reason;
  std::string cap_period;
};

// Decodes one encoded signal. Errors: corruption ("not a signal: …") when the bytes fail
// FlatBuffers verification, carry an unknown kind, or lack the signal id or org id.
Result<SignalRecord> decode_signal_record(std::string_view bytes);

}  // namespace tally::connectors
