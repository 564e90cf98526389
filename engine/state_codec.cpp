#include "state_codec.h"

#include <limits>

namespace tally {

ByteWriter& ByteWriter::str(std::string_view s) {
  i64(static_cast<int64_t>(s.size()));
  out_.append(s);
  return *this;
}

bool ByteReader::u8(uint8_t& v) {
  if (in_.empty()) return false;
  v = static_cast<uint8_t>(in_[0]);
  in_.remove_prefix(1);
  return true;
}

bool ByteReader::i64(int64_t& v) {
  if (in_.size() < 8) return false;
  v = static_cast<int64_t>(get_le64(in_.data()));
  in_.remove_prefix(8);
  return true;
}

bool ByteReader::u64(uint64_t& v) {
  int64_t s = 0;
  if (!i64(s)) return false;
  v = static_cast<uint64_t>(s);
  return true;
}

bool ByteReader::i32(int32_t& v) {
  int64_t s = 0;
  if (!i64(s) || s < std::numeric_limits<int32_t>::min() || s > std::numeric_limits<int32_t>::max()) return false;
  v = static_cast<int32_t>(s);
  return true;
}

bool ByteReader::micros(Micros& v) {
  int64_t value = 0;
  if (!i64(value)) return false;
  v = Micros(value);
  return true;
}

bool ByteReader::boolean(bool& v) {
  uint8_t b = 0;
  if (!u8(b) || b > 1) return false;
  v = b == 1;
  return true;
}

bool ByteReader::str_view(std::string_view& s) {
  int64_t size = 0;
  if (!i64(size) || size < 0 || static_cast<uint64_t>(size) > in_.size()) return false;
  s = in_.substr(0, static_cast<std::size_t>(size));
  in_.remove_prefix(static_cast<std::size_t>(size));
  return true;
}

bool ByteReader::str(std::string& s) {
  std::string_view v;
  if (!str_view(v)) return false;
  s.assign(v);
  return true;
}

namespace {

bool enum_u8(ByteReader& r, uint8_t min, uint8_t max, uint8_t& v) { return r.u8(v) && v >= min && v <= max; }

bool format(ByteReader& r) {
  uint8_t version = 0;
  return r.u8(version) && version == state_format_version;
}

// The SPEC §14 part of an org: a trailing section, written only when it holds something, so
// that every org without it keeps the bytes (and the views their digests) of format 1.
// Layout: u8 org_commerce_section | str payment_customer | i32 refill_bundles | u64 count |
// count × (str workspace, str project, u8 path).
constexpr uint8_t org_commerce_section = 1;

void encode_commerce(ByteWriter& w, const OrgState& o) {
  if (o.payment_customer.empty() && o.auto_refill.refill_bundles == 0 && o.workspace_billing.empty()) return;
  w.u8(org_commerce_section).str(o.payment_customer).i32(o.auto_refill.refill_bundles);
  w.u64(o.workspace_billing.size());
  for (const auto& [key, path] : o.workspace_billing.settings()) w.str(key.first).str(key.second).u8(static_cast<uint8_t>(path));
}

bool decode_commerce(ByteReader& r, OrgState& o) {
  uint64_t count = 0;
  if (!r.str(o.payment_customer) || !r.i32(o.auto_refill.refill_bundles) || !r.u64(count)) return false;
  WorkspaceBilling::Map settings;
  for (uint64_t i = 0; i < count; ++i) {
    std::string workspace, project;
    uint8_t path = 0;
    if (!r.str(workspace) || !r.str(project) || !enum_u8(r, 1, 2, path)) return false;
    settings.emplace(WorkspaceBilling::Key(std::move(workspace), std::move(project)), static_cast<BillingPath>(path));
  }
  o.workspace_billing = WorkspaceBilling(std::move(settings));
  return true;
}

// The SPEC §11 part of an org: its active holds, a trailing section written only while it has
// some, so that an org that never held keeps its bytes (and the views their digests).
// Layout: u8 org_holds_section | micros held | u64 count | count × (str hold id, str member,
// str workspace, micros granted, micros remaining, i64 placed_at_ms, i64 expires_at_ms).
constexpr uint8_t org_holds_section = 2;

void encode_holds(ByteWriter& w, const OrgState& o) {
  if (o.holds.empty() && o.held_micros == Micros{}) return;
  w.u8(org_holds_section).micros(o.held_micros).u64(o.holds.size());
  for (const auto& [id, h] : o.holds) {
    w.str(id).str(h.member_id).str(h.workspace).micros(h.granted_micros).micros(h.remaining_micros);
    w.i64(h.placed_at_ms).i64(h.expires_at_ms);
  }
}

bool decode_holds(ByteReader& r, OrgState& o) {
  uint64_t count = 0;
  if (!r.micros(o.held_micros) || !r.u64(count)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    std::string id;
    Hold h;
    if (!r.str(id) || !r.str(h.member_id) || !r.str(h.workspace) || !r.micros(h.granted_micros) ||
        !r.micros(h.remaining_micros) || !r.i64(h.placed_at_ms) || !r.i64(h.expires_at_ms)) {
      return false;
    }
    o.holds.emplace(std::move(id), std::move(h));
  }
  return true;
}

// A grant (SPEC §12), in an org's section and as a closed grant of the "grants" view.
// Layout: str id | u8 source | u8 category | i32 priority | i64 expires_at_ms | i64 effective_at_ms |
// i64 offset | micros original, remaining, consumed, expired, voided, refunded | u8 expiring_signaled |
// i64 paid_minor | str currency.
void encode_grant(ByteWriter& w, const Grant& g) {
  w.str(g.id).u8(g.source).u8(static_cast<uint8_t>(g.category)).i32(g.priority);
  w.i64(g.expires_at_ms).i64(g.effective_at_ms).i64(g.offset);
  w.micros(g.original_micros).micros(g.remaining_micros).micros(g.consumed_micros);
  w.micros(g.expired_micros).micros(g.voided_micros).micros(g.refunded_micros);
  w.u8(g.expiring_signaled).i64(g.paid_minor).str(g.currency);
}

bool decode_grant(ByteReader& r, Grant& g) {
  uint8_t category = 0;
  const bool ok = r.str(g.id) && r.u8(g.source) && enum_u8(r, 0, 1, category) && r.i32(g.priority) &&
                  r.i64(g.expires_at_ms) && r.i64(g.effective_at_ms) && r.i64(g.offset) &&
                  r.micros(g.original_micros) && r.micros(g.remaining_micros) && r.micros(g.consumed_micros) &&
                  r.micros(g.expired_micros) && r.micros(g.voided_micros) && r.micros(g.refunded_micros) &&
                  r.boolean(g.expiring_signaled) && r.i64(g.paid_minor) && r.str(g.currency);
  g.category = static_cast<GrantCategory>(category);
  return ok;
}

// The SPEC §12 part of an org: its active grants, overdraft and the expired and voided totals, a
// trailing section written only when one of them is not empty or zero.
// Layout: u8 org_grants_section | micros overdraft | micros expired | micros voided | u64 count |
// count × grant (encode_grant), in draw-down order.
constexpr uint8_t org_grants_section = 3;

void encode_grants(ByteWriter& w, const OrgState& o) {
  if (o.grants.empty() && o.overdraft_micros == Micros{} && o.totals.expired_micros == Micros{} &&
      o.totals.voided_micros == Micros{}) {
    return;
  }
  w.u8(org_grants_section).micros(o.overdraft_micros).micros(o.totals.expired_micros);
  w.micros(o.totals.voided_micros).u64(o.grants.size());
  for (const Grant& g : o.grants) encode_grant(w, g);
}

bool decode_grants(ByteReader& r, OrgState& o) {
  uint64_t count = 0;
  if (!r.micros(o.overdraft_micros) || !r.micros(o.totals.expired_micros) || !r.micros(o.totals.voided_micros) ||
      !r.u64(count)) {
    return false;
  }
  for (uint64_t i = 0; i < count; ++i) {
    if (!decode_grant(r, o.grants.emplace_back())) return false;
  }
  return true;
}

// The trailing sections, each optional, in order: commerce, holds, grants.
bool decode_sections(ByteReader& r, OrgState& o) {
  o.payment_customer.clear();
  o.auto_refill.refill_bundles = 0;
  o.workspace_billing = WorkspaceBilling{};
  o.holds.clear();
  o.held_micros = Micros{};
  o.grants.clear();
  o.overdraft_micros = Micros{};
  o.totals.expired_micros = Micros{};
  o.totals.voided_micros = Micros{};
  uint8_t last = 0;
  while (!r.done()) {
    uint8_t section = 0;
    if (!r.u8(section) || section <= last) return false;
    last = section;
    if (section == org_commerce_section) {
      if (!decode_commerce(r, o)) return false;
    } else if (section == org_holds_section) {
      if (!decode_holds(r, o)) return false;
    } else if (section == org_grants_section) {
      if (!decode_grants(r, o)) return false;
    } else {
      return false;
    }
  }
  return true;
}

// Partition state's SPEC §11 section: the expiry index of active holds, written only while
// non-empty. Layout: u8 partition_holds_section | u64 count | count × (i64 expires_at_ms, str org,
// str hold id).
constexpr uint8_t partition_holds_section = 1;
// SPEC §12: the grant expiry and warning indexes, written only while one is not empty.
// Layout: u8 partition_grants_section | 2 × (u64 count | count × (i64 at_ms, i64 offset, str org,
// str grant id)): expiries, then warnings.
constexpr uint8_t partition_grants_section = 2;

void encode_dues(ByteWriter& w, const std::set<GrantDue, std::less<>>& dues) {
  w.u64(dues.size());
  for (const auto& [at_ms, offset, org, grant_id] : dues) w.i64(at_ms).i64(offset).str(org).str(grant_id);
}

bool decode_dues(ByteReader& r, std::set<GrantDue, std::less<>>& dues) {
  uint64_t count = 0;
  if (!r.u64(count)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    int64_t at_ms = 0, offset = 0;
    std::string org, grant_id;
    if (!r.i64(at_ms) || !r.i64(offset) || !r.str(org) || !r.str(grant_id)) return false;
    dues.emplace(at_ms, offset, std::move(org), std::move(grant_id));
  }
  return true;
}

}  // namespace

std::string encode(const OrgState& o) {
  std::string out;
  out.reserve(256);
  ByteWriter w(out);
  w.u8(state_format_version).i32(o.home_partition.value);
  w.u8(static_cast<uint8_t>(o.plan)).u8(static_cast<uint8_t>(o.mode));
  w.u8(o.opened).micros(o.balance_micros);
  w.micros(o.totals.allocated_micros).micros(o.totals.purchased_micros).micros(o.totals.used_micros);
  w.micros(o.totals.tracked_cost_micros).micros(o.totals.refunded_micros).micros(o.totals.adjusted_micros);
  w.micros(o.low_balance_threshold_micros);
  const AutoRefillPolicy& p = o.auto_refill;
  w.u8(p.enabled).micros(p.threshold_micros).micros(p.refill_credits_micros).i32(p.max_per_day).i32(p.max_per_month);
  w.str(p.payment_customer);
  w.u8(o.refill_pending).str(o.pending_signal_id).i64(o.refill_day).i32(o.refills_in_day);
  w.i64(o.refill_month).i32(o.refills_in_month).i64(o.cap_signaled_day).i64(o.cap_signaled_month);
  w.u8(o.waiting_on_cap).u8(o.is_low).u8(o.is_exhausted).u64(o.history_entries).i64(o.last_occurred_at_ms);
  encode_commerce(w, o);
  encode_holds(w, o);
  encode_grants(w, o);
  return out;
}

bool decode(std::string_view bytes, OrgState& o) {
  ByteReader r(bytes);
  uint8_t plan = 0, mode = 0;
  AutoRefillPolicy& p = o.auto_refill;
  const bool ok = format(r) && r.i32(o.home_partition.value) && enum_u8(r, 1, 2, plan) && enum_u8(r, 1, 3, mode) &&
                  r.boolean(o.opened) && r.micros(o.balance_micros) && r.micros(o.totals.allocated_micros) &&
                  r.micros(o.totals.purchased_micros) && r.micros(o.totals.used_micros) &&
                  r.micros(o.totals.tracked_cost_micros) && r.micros(o.totals.refunded_micros) &&
                  r.micros(o.totals.adjusted_micros) && r.micros(o.low_balance_threshold_micros) &&
                  r.boolean(p.enabled) &&
                  r.micros(p.threshold_micros) && r.micros(p.refill_credits_micros) && r.i32(p.max_per_day) &&
                  r.i32(p.max_per_month) && r.str(p.payment_customer) && r.boolean(o.refill_pending) &&
                  r.str(o.pending_signal_id) && r.i64(o.refill_day) && r.i32(o.refills_in_day) &&
                  r.i64(o.refill_month) && r.i32(o.refills_in_month) && r.i64(o.cap_signaled_day) &&
                  r.i64(o.cap_signaled_month) && r.boolean(o.waiting_on_cap) && r.boolean(o.is_low) &&
                  r.boolean(o.is_exhausted) && r.u64(o.history_entries) && r.i64(o.last_occurred_at_ms) &&
                  decode_sections(r, o);
  o.plan = static_cast<Plan>(plan);
  o.mode = static_cast<BillingMode>(mode);
  return ok;
}

std::string encode(const MemberState& m) {
  std::string out;
  ByteWriter(out).u8(state_format_version).u8(m.has_limit).micros(m.monthly_limit_micros).i64(m.month)
      .micros(m.used_micros).u8(m.exceeded);
  return out;
}

bool decode(std::string_view bytes, MemberState& m) {
  ByteReader r(bytes);
  return format(r) && r.boolean(m.has_limit) && r.micros(m.monthly_limit_micros) && r.i64(m.month) &&
         r.micros(m.used_micros) && r.boolean(m.exceeded) && r.done();
}

std::string encode(const KeyRecord& k) {
  std::string out;
  append_encoded(out, k);
  return out;
}

void encode_to(char* out, const KeyRecord& k) {
  out[0] = static_cast<char>(state_format_version);
  put_le64(out + 1, k.payload_digest.low);
  put_le64(out + 9, k.payload_digest.high);
  out[17] = static_cast<char>(k.outcome);
  out[18] = static_cast<char>(k.reason);
}

void append_encoded(std::string& out, const KeyRecord& k) {
  char bytes[encoded_key_record_bytes];
  encode_to(bytes, k);
  out.append(bytes, sizeof bytes);
}

bool decode(std::string_view bytes, KeyRecord& k) {
  ByteReader r(bytes);
  uint8_t outcome = 0, reason = 0;
  const bool ok = format(r) && r.u64(k.payload_digest.low) && r.u64(k.payload_digest.high) &&
                  enum_u8(r, 0, 3, outcome) && r.u8(reason) && r.done();
  k.outcome = static_cast<Outcome>(outcome);
  k.reason = static_cast<RejectReason>(reason);
  return ok;
}

std::string encode(const PurchaseRecord& p) {
  std::string out;
  ByteWriter(out).u8(state_format_version).micros(p.credits_micros).micros(p.refunded_micros);
  return out;
}

bool decode(std::string_view bytes, PurchaseRecord& p) {
  ByteReader r(bytes);
  return format(r) && r.micros(p.credits_micros) && r.micros(p.refunded_micros) && r.done();
}

std::string encode(const Grant& g) {
  std::string out;
  ByteWriter w(out);
  w.u8(state_format_version);
  encode_grant(w, g);
  return out;
}

bool decode(std::string_view bytes, Grant& g) {
  ByteReader r(bytes);
  return format(r) && decode_grant(r, g) && r.done();
}

std::string encode(const PartitionState& s) {
  std::string out;
  ByteWriter w(out);
  w.u8(state_format_version).i64(s.clock_ms);
  const RateCard& c = s.rate_card;
  w.i64(c.version).i32(c.markup_bp).i32(c.byok_fee_bp).u64(c.models.size());
  for (const auto& [name, m] : c.models) {
    w.str(name).i64(m.input_per_mtok_micros).i64(m.output_per_mtok_micros);
    w.i64(m.cache_read_per_mtok_micros).i64(m.cache_write_per_mtok_micros);
  }
  w.u64(c.sandbox_per_hour_micros.size());
  for (const auto& [name, price] : c.sandbox_per_hour_micros) w.str(name).i64(price);
  w.u64(s.members_over_limit.size());
  for (const auto& [org, member] : s.members_over_limit) w.str(org).str(member);
  w.u64(s.cap_waiting_orgs.size());
  for (const auto& org : s.cap_waiting_orgs) w.str(org);
  if (!s.hold_expiries.empty()) {
    w.u8(partition_holds_section).u64(s.hold_expiries.size());
    for (const auto& [expires_at_ms, org, hold_id] : s.hold_expiries) w.i64(expires_at_ms).str(org).str(hold_id);
  }
  if (!s.grant_expiries.empty() || !s.grant_warnings.empty()) {
    w.u8(partition_grants_section);
    encode_dues(w, s.grant_expiries);
    encode_dues(w, s.grant_warnings);
  }
  return out;
}

bool decode(std::string_view bytes, PartitionState& s) {
  ByteReader r(bytes);
  s = PartitionState{};
  RateCard& c = s.rate_card;
  uint64_t count = 0;
  if (!format(r) || !r.i64(s.clock_ms) || !r.i64(c.version) || !r.i32(c.markup_bp) || !r.i32(c.byok_fee_bp) ||
      !r.u64(count)) {
    return false;
  }
  for (uint64_t i = 0; i < count; ++i) {
    std::string name;
    ModelPrice m;
    if (!r.str(name) || !r.i64(m.input_per_mtok_micros) || !r.i64(m.output_per_mtok_micros) ||
        !r.i64(m.cache_read_per_mtok_micros) || !r.i64(m.cache_write_per_mtok_micros)) {
      return false;
    }
    c.models.emplace(std::move(name), m);
  }
  if (!r.u64(count)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    std::string name;
    int64_t price = 0;
    if (!r.str(name) || !r.i64(price)) return false;
    c.sandbox_per_hour_micros.emplace(std::move(name), price);
  }
  if (!r.u64(count)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    std::string org, member;
    if (!r.str(org) || !r.str(member)) return false;
    s.members_over_limit.emplace(std::move(org), std::move(member));
  }
  if (!r.u64(count)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    std::string org;
    if (!r.str(org)) return false;
    s.cap_waiting_orgs.insert(std::move(org));
  }
  uint8_t last = 0;
  while (!r.done()) {
    uint8_t section = 0;
    if (!r.u8(section) || section <= last) return false;
    last = section;
    if (section == partition_holds_section) {
      if (!r.u64(count)) return false;
      for (uint64_t i = 0; i < count; ++i) {
        int64_t expires_at_ms = 0;
        std::string org, hold_id;
        if (!r.i64(expires_at_ms) || !r.str(org) || !r.str(hold_id)) return false;
        s.hold_expiries.emplace(expires_at_ms, std::move(org), std::move(hold_id));
      }
    } else if (section == partition_grants_section) {
      if (!decode_dues(r, s.grant_expiries) || !decode_dues(r, s.grant_warnings)) return false;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace tally
