#include "relay/signal_record.h"

#include <cstring>
#include <memory>

#include "tally/signals_generated.h"

namespace tally::connectors {
namespace {

std::string str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

Status not_a_signal(std::string_view why) {
  return Status::error(Status::Code::corruption, "not a signal: " + std::string(why));
}

}  // namespace

Result<SignalRecord> decode_signal_record(std::string_view bytes) {
  if (bytes.size() >= FLATBUFFERS_MAX_BUFFER_SIZE) return not_a_signal("larger than any FlatBuffer");
  // Log buffers carry no alignment promise; FlatBuffers reads scalars in place.
  std::unique_ptr<uint8_t[]> aligned(new uint8_t[bytes.size() + 1]);
  std::memcpy(aligned.get(), bytes.data(), bytes.size());
  flatbuffers::Verifier verifier(aligned.get(), bytes.size());
  if (!fb::VerifySignalBuffer(verifier)) return not_a_signal("FlatBuffers verification failed (identifier TLS1)");
  const fb::Signal* s = fb::GetSignal(aligned.get());
  const auto kind = static_cast<int>(s->kind());
  if (kind < 0 || kind >= signal_kind_count) return not_a_signal("unknown kind " + std::to_string(kind));
  SignalRecord out;
  out.signal_id = str(s->signal_id());
  out.kind = static_cast<SignalKind>(kind);
  out.org_id = str(s->org_id());
  out.member_id = str(s->member_id());
  out.position = LogPosition{PartitionId{s->partition()}, Offset{s->offset()}};
  out.occurred_at_ms = s->occurred_at_ms();
  out.balance_micros = s->balance_micros();
  out.threshold_micros = s->threshold_micros();
  out.refill_credits_micros = s->refill_credits_micros();
  out.payment_customer = str(s->payment_customer());
  out.monthly_limit_micros = s->monthly_limit_micros();
  out.member_used_micros = s->member_used_micros();
  out.pause_reason = str(s->pause_reason());
  out.cap_period = str(s->cap_period());
  if (out.signal_id.empty()) return not_a_signal("no signal_id");
  if (out.org_id.empty()) return not_a_signal("no org_id");
  return out;
}

}  // namespace tally::connectors
