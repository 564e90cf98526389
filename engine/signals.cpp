#include "signals.h"

#include "tally/signals_generated.h"

namespace tally {

const char* signal_kind_name(SignalKind kind) {
  switch (kind) {
    case SignalKind::balance_low: return "balance_low";
    case SignalKind::balance_exhausted: return "balance_exhausted";
    case SignalKind::balance_restored: return "balance_restored";
    case SignalKind::recharge_requested: return "recharge_requested";
    case SignalKind::auto_refill_cap_reached: return "auto_refill_cap_reached";
    case SignalKind::auto_refill_disabled: return "auto_refill_disabled";
    case SignalKind::member_limit_exceeded: return "member_limit_exceeded";
    case SignalKind::member_limit_restored: return "member_limit_restored";
    case SignalKind::grant_expiring: return "grant_expiring";
    case SignalKind::grant_expired: return "grant_expired";
  }
  return "unknown";
}

std::string Signal::id() const {
  std::string id = position.to_string();
  id += ':';
  id += signal_kind_name(kind);
  id += ':';
  id += org_id.str();
  if (!member_id.empty()) {
    id += ':';
    id += member_id.str();
  }
  if (is_grant_signal()) {
    id += ':';
    id += grant_id;
  }
  return id;
}

std::string encode_signal(const Signal& s) {
  flatbuffers::FlatBufferBuilder builder(256);
  auto id = builder.CreateString(s.id());
  auto org = builder.CreateString(s.org_id.str());
  auto member = builder.CreateString(s.member_id.str());
  auto customer = builder.CreateString(s.payment_customer);
  auto pause = builder.CreateString(s.pause_reason.data(), s.pause_reason.size());
  auto period = builder.CreateString(s.cap_period.data(), s.cap_period.size());
  // Grant fields only on grant signals: the other kinds keep the bytes they always had.
  const bool grant = s.is_grant_signal();
  const auto grant_id = grant ? builder.CreateString(s.grant_id) : flatbuffers::Offset<flatbuffers::String>();
  fb::SignalBuilder b(builder);
  b.add_signal_id(id);
  b.add_kind(static_cast<fb::SignalKind>(s.kind));
  b.add_org_id(org);
  b.add_member_id(member);
  b.add_partition(s.position.partition.value);
  b.add_offset(s.position.offset.value);
  b.add_occurred_at_ms(s.occurred_at_ms);
  b.add_balance_micros(s.balance_micros.value());
  b.add_threshold_micros(s.threshold_micros.value());
  b.add_refill_credits_micros(s.refill_credits_micros.value());
  b.add_payment_customer(customer);
  b.add_monthly_limit_micros(s.monthly_limit_micros.value());
  b.add_member_used_micros(s.member_used_micros.value());
  b.add_pause_reason(pause);
  b.add_cap_period(period);
  if (grant) {
    b.add_grant_id(grant_id);
    b.add_grant_micros(s.grant_micros.value());
    b.add_expires_at_ms(s.expires_at_ms);
  }
  fb::FinishSignalBuffer(builder, b.Finish());
  return std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
}

}  // namespace tally
