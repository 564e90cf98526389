#include "projections/records.h"

#include <array>
#include <cstring>

#include "engine/catalogue.h"
#include "engine/state_codec.h"

namespace tally::store {
namespace {

// ---- LEB128 varints, zigzag for signed values.
void put_var(std::string& out, uint64_t v) {
  char bytes[10];  // 64 bits in 7-bit groups
  std::size_t n = 0;
  while (v >= 0x80) {
    bytes[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  bytes[n++] = static_cast<char>(v);
  out.append(bytes, n);
}
// Zigzag for signed values, and text as its length then its bytes, written in place: the caller
// reserves room for the worst case (`bound`) and the string is trimmed to what was written,
// instead of one append per field.
class RawWriter {
 public:
  static constexpr std::size_t var_max = 10;  // bytes of one varint, at most
  static constexpr std::size_t text_bound(std::string_view s) { return var_max + s.size(); }
  RawWriter(std::string& out, std::size_t bound) : out_(out), start_(out.size()) {
    out_.resize(start_ + bound);
    at_ = out_.data() + start_;
  }
  ~RawWriter() { out_.resize(static_cast<std::size_t>(at_ - out_.data())); }
  RawWriter(const RawWriter&) = delete;
  RawWriter& operator=(const RawWriter&) = delete;

  void byte(uint8_t b) { *at_++ = static_cast<char>(b); }
  void var(uint64_t v) {
    while (v >= 0x80) {
      *at_++ = static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    *at_++ = static_cast<char>(v);
  }
  void zig(int64_t v) { var((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void zig(Micros v) { zig(v.value()); }
  void raw(std::string_view s) {  // REQUIRES: room for s.size() bytes in the bound
    std::memcpy(at_, s.data(), s.size());
    at_ += s.size();
  }
  void text(std::string_view s) {
    var(s.size());
    if (!s.empty()) std::memcpy(at_, s.data(), s.size());
    at_ += s.size();
  }

 private:
  std::string& out_;
  std::size_t start_;
  char* at_;
};

class VarReader {
 public:
  explicit VarReader(std::string_view in) : in_(in) {}
  bool var(uint64_t& v) {
    v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      const auto byte = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      v |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }
  bool zig(int64_t& v) {
    uint64_t u = 0;
    if (!var(u)) return false;
    v = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
    return true;
  }
  bool zig(Micros& v) {
    int64_t value = 0;
    if (!zig(value)) return false;
    v = Micros(value);
    return true;
  }
  bool u8(uint8_t& v) {
    if (in_.empty()) return false;
    v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool text(std::string& s) {
    uint64_t size = 0;
    if (!var(size) || size > in_.size()) return false;
    s.assign(in_.substr(0, static_cast<std::size_t>(size)));
    in_.remove_prefix(static_cast<std::size_t>(size));
    return true;
  }
  bool done() const { return in_.empty(); }
  std::size_t remaining() const { return in_.size(); }

 private:
  std::string_view in_;
};

}  // namespace

static_assert(catalogue::bodies.size() <= grant_expired_body_type, "grant_expired is no event body type");
static_assert(catalogue::bodies.size() <= hold_expired_body_type, "hold_expired is no event body type");

std::string_view body_type_name(uint8_t body_type) {
  if (body_type == hold_expired_body_type) return "hold_expired";
  if (body_type == grant_expired_body_type) return "grant_expired";
  if (body_type >= catalogue::bodies.size()) return "unknown";
  return catalogue::bodies[body_type].name;
}

uint8_t body_type_from_name(std::string_view name) {
  if (name == "hold_expired") return hold_expired_body_type;
  if (name == "grant_expired") return grant_expired_body_type;
  const catalogue::BodyDesc* body = catalogue::find_body(name);
  return body ? static_cast<uint8_t>(body->type) : 0;
}

std::string_view billing_path_name(BillingPathCode code) {
  switch (code) {
    case BillingPathCode::none: return "";
    case BillingPathCode::credits: return "credits";
    case BillingPathCode::byok: return "byok";
    case BillingPathCode::invoiced: return "invoiced";
  }
  return "";
}

namespace {
BillingPathCode billing_path_code(std::string_view name) {
  if (name == "credits") return BillingPathCode::credits;
  if (name == "byok") return BillingPathCode::byok;
  if (name == "invoiced") return BillingPathCode::invoiced;
  return BillingPathCode::none;
}
}  // namespace

// Layout: format u8 | body type u8 | occurred_at zig | outcome u8 | reason u8 | partition var |
// offset var | amount zig | balance_after zig | key text | detail text | billing path u8 |
// rate card version zig | tracked zig | debited zig | model text | member text | workspace text |
// payment_ref text | paid zig | fee zig | currency text | reason_text text | fundings (var count,
// then count × (grant id text, micros zig); format 9 of the store).
HistoryFields history_fields(const HistoryEntry& e, std::string& fundings_scratch) {
  HistoryFields f;
  f.body_type = body_type_from_name(e.type);
  f.idempotency_key = e.idempotency_key;
  f.outcome = e.outcome;
  f.reason = e.reason;
  f.detail = e.detail;
  f.amount_micros = e.amount_micros;
  f.balance_after_micros = e.balance_after_micros;
  f.occurred_at_ms = e.occurred_at_ms;
  f.position = e.position;
  f.rate_card_version = e.rate_card_version;
  f.tracked_cost_micros = e.tracked_cost_micros;
  f.debited_micros = e.debited_micros;
  f.billing_path = billing_path_code(e.billing_path);
  f.model = e.model;
  f.member_id = e.member_id;
  f.workspace = e.workspace;
  f.payment_ref = e.payment_ref;
  f.paid_minor = e.paid_minor;
  f.fee_minor = e.fee_minor;
  f.currency = e.currency;
  f.reason_text = e.reason_text;
  fundings_scratch.clear();
  encode_fundings(fundings_scratch, e.fundings);
  f.fundings = fundings_scratch;
  return f;
}

namespace {
template <class Fundings>
void encode_fundings_of(std::string& out, const Fundings& fundings) {
  std::size_t bound = RawWriter::var_max;
  for (const auto& f : fundings) bound += RawWriter::text_bound(f.grant_id) + RawWriter::var_max;
  RawWriter w(out, bound);
  w.var(fundings.size());
  for (const auto& f : fundings) {
    w.text(f.grant_id);
    w.zig(f.micros);
  }
}
}  // namespace

void encode_fundings(std::string& out, const std::vector<HistoryEntry::Funding>& fundings) {
  encode_fundings_of(out, fundings);
}
void encode_fundings(std::string& out, std::span<const FoldResult::Funding> fundings) {
  encode_fundings_of(out, fundings);
}

void append_history(std::string& out, const HistoryFields& e) {
  constexpr std::size_t v = RawWriter::var_max;
  const auto t = [](std::string_view s) { return RawWriter::text_bound(s); };
  RawWriter w(out, 6 + 11 * v + t(e.idempotency_key) + t(e.detail) + t(e.model) + t(e.member_id) +
                       t(e.workspace) + t(e.payment_ref) + t(e.currency) + t(e.reason_text) + e.fundings.size());
  w.byte(record_format_version);
  w.byte(e.body_type);
  w.zig(e.occurred_at_ms);
  w.byte(static_cast<uint8_t>(e.outcome));
  w.byte(static_cast<uint8_t>(e.reason));
  w.var(static_cast<uint64_t>(e.position.partition.value));
  w.var(static_cast<uint64_t>(e.position.offset.value));
  w.zig(e.amount_micros);
  w.zig(e.balance_after_micros);
  w.text(e.idempotency_key);
  w.text(e.detail);
  w.byte(static_cast<uint8_t>(e.billing_path));
  w.zig(e.rate_card_version);
  w.zig(e.tracked_cost_micros);
  w.zig(e.debited_micros);
  w.text(e.model);
  w.text(e.member_id);
  w.text(e.workspace);
  w.text(e.payment_ref);
  w.zig(e.paid_minor);
  w.zig(e.fee_minor);
  w.text(e.currency);
  w.text(e.reason_text);
  if (e.fundings.empty()) {
    w.var(0);
  } else {
    w.raw(e.fundings);
  }
}

bool peek_history(std::string_view bytes, uint8_t& body_type, int64_t& occurred_at_ms) {
  VarReader r(bytes);
  uint8_t format = 0;
  return r.u8(format) && format == record_format_version && r.u8(body_type) && r.zig(occurred_at_ms);
}

void append_framed(std::string& out, std::string_view record) {
  put_var(out, record.size());
  out.append(record);
}

bool FramedReader::next(std::string_view& record) {
  if (rest_.empty()) return false;
  VarReader r(rest_);
  uint64_t size = 0;
  const std::size_t before = rest_.size();
  if (!r.var(size)) {
    malformed_ = true;
    return false;
  }
  const std::size_t header = before - r.remaining();
  if (size > before - header) {
    malformed_ = true;
    return false;
  }
  record = rest_.substr(header, static_cast<std::size_t>(size));
  rest_.remove_prefix(header + static_cast<std::size_t>(size));
  return true;
}

bool decode_history(std::string_view bytes, uint64_t sequence, HistoryEntry& e) {
  VarReader r(bytes);
  uint8_t format = 0, type = 0, outcome = 0, reason = 0, path = 0;
  uint64_t partition = 0, offset = 0;
  if (!r.u8(format) || format != record_format_version || !r.u8(type) || !r.zig(e.occurred_at_ms) ||
      !r.u8(outcome) || outcome > static_cast<uint8_t>(Outcome::rejected) || !r.u8(reason) || !r.var(partition) ||
      partition > INT32_MAX || !r.var(offset) || offset > INT64_MAX) {
    return false;
  }
  e.sequence = sequence;
  e.type.assign(body_type_name(type));
  e.outcome = static_cast<Outcome>(outcome);
  e.reason = static_cast<RejectReason>(reason);
  e.position = LogPosition{PartitionId{static_cast<int32_t>(partition)}, Offset{static_cast<int64_t>(offset)}};
  if (!r.zig(e.amount_micros) || !r.zig(e.balance_after_micros) || !r.text(e.idempotency_key) || !r.text(e.detail) ||
      !r.u8(path) || path > static_cast<uint8_t>(BillingPathCode::invoiced)) {
    return false;
  }
  e.billing_path.assign(billing_path_name(static_cast<BillingPathCode>(path)));
  uint64_t fundings = 0;
  if (!r.zig(e.rate_card_version) || !r.zig(e.tracked_cost_micros) || !r.zig(e.debited_micros) || !r.text(e.model) ||
      !r.text(e.member_id) || !r.text(e.workspace) || !r.text(e.payment_ref) || !r.zig(e.paid_minor) ||
      !r.zig(e.fee_minor) || !r.text(e.currency) || !r.text(e.reason_text) || !r.var(fundings) ||
      fundings > r.remaining()) {
    return false;
  }
  e.fundings.resize(static_cast<std::size_t>(fundings));
  for (HistoryEntry::Funding& f : e.fundings) {
    if (!r.text(f.grant_id) || !r.zig(f.micros)) return false;
  }
  return r.done();
}

UsageCellNames names_of(const UsageRollup& u) {
  return UsageCellNames{u.model, u.member_id, u.workspace, u.project, u.agent_id, u.provider, u.billing_path};
}

// Layout: format u8 (usage_record_format_version) | events, debited, tracked, input, output, cache
// read, cache write, seconds (zigzag varints) | model, member, workspace, project, agent, provider,
// billing path (texts).
void encode_usage(std::string& out, const UsageRollup& u) { encode_usage(out, u, names_of(u)); }

void encode_usage(std::string& out, const UsageRollup& u, const UsageCellNames& n) {
  out.clear();
  const std::string_view texts[] = {n.model, n.member_id, n.workspace, n.project, n.agent_id, n.provider, n.billing_path};
  std::size_t bound = 1 + 8 * RawWriter::var_max;
  for (std::string_view text : texts) bound += RawWriter::text_bound(text);
  RawWriter w(out, bound);
  w.byte(usage_record_format_version);
  for (int64_t v : {u.events, u.debited_micros.value(), u.tracked_cost_micros.value(), u.input_tokens, u.output_tokens,
                    u.cache_read_tokens, u.cache_write_tokens, u.seconds}) {
    w.zig(v);
  }
  for (std::string_view text : texts) w.text(text);
}

bool decode_usage(std::string_view bytes, UsageRollup& u) {
  VarReader r(bytes);
  uint8_t format = 0;
  return r.u8(format) && format == usage_record_format_version && r.zig(u.events) && r.zig(u.debited_micros) &&
         r.zig(u.tracked_cost_micros) && r.zig(u.input_tokens) && r.zig(u.output_tokens) &&
         r.zig(u.cache_read_tokens) && r.zig(u.cache_write_tokens) && r.zig(u.seconds) && r.text(u.model) &&
         r.text(u.member_id) && r.text(u.workspace) && r.text(u.project) && r.text(u.agent_id) && r.text(u.provider) &&
         r.text(u.billing_path) && r.done();
}

namespace {
bool add_saturating(int64_t& total, int64_t delta) {
  if (__builtin_add_overflow(total, delta, &total)) {
    total = delta > 0 ? INT64_MAX : INT64_MIN;
    return false;
  }
  return true;
}
bool add_saturating(Micros& total, Micros delta) {
  int64_t value = total.value();
  const bool exact = add_saturating(value, delta.value());
  total = Micros(value);
  return exact;
}
}  // namespace

bool add_usage(UsageRollup& u, const UsageRollup& d) {
  bool exact = add_saturating(u.events, d.events);
  exact &= add_saturating(u.debited_micros, d.debited_micros);
  exact &= add_saturating(u.tracked_cost_micros, d.tracked_cost_micros);
  exact &= add_saturating(u.input_tokens, d.input_tokens);
  exact &= add_saturating(u.output_tokens, d.output_tokens);
  exact &= add_saturating(u.cache_read_tokens, d.cache_read_tokens);
  exact &= add_saturating(u.cache_write_tokens, d.cache_write_tokens);
  exact &= add_saturating(u.seconds, d.seconds);
  return exact;
}

void encode_reject(std::string& out, std::string_view org_id, std::string_view idempotency_key, RejectReason reason,
                   std::string_view detail) {
  out.clear();
  ByteWriter w(out);
  w.u8(record_format_version).str(org_id).str(idempotency_key).u8(static_cast<uint8_t>(reason)).str(detail);
}

bool decode_reject(std::string_view bytes, RejectEntry& e) {
  ByteReader r(bytes);
  uint8_t format = 0, reason = 0;
  if (!r.u8(format) || format != record_format_version || !r.str(e.org_id) || !r.str(e.idempotency_key) ||
      !r.u8(reason) || !r.str(e.detail) || !r.done()) {
    return false;
  }
  e.reason = static_cast<RejectReason>(reason);
  return true;
}

void encode_org_reject(std::string& out, RejectPlacement placement, const HistoryFields& fields) {
  out.clear();
  out.push_back(static_cast<char>(placement));
  append_history(out, fields);
}

bool decode_org_reject(std::string_view bytes, RejectPlacement& placement, HistoryEntry& entry) {
  if (bytes.empty() || static_cast<uint8_t>(bytes[0]) > static_cast<uint8_t>(RejectPlacement::no_org)) return false;
  placement = static_cast<RejectPlacement>(bytes[0]);
  entry.early = placement == RejectPlacement::before_org;
  return decode_history(bytes.substr(1), 0, entry);
}

void encode_payment(std::string& out, std::string_view org_id, std::string_view purchase_key, int64_t paid_minor,
                    int64_t fee_minor) {
  out.clear();
  ByteWriter(out).u8(record_format_version).str(org_id).str(purchase_key).i64(paid_minor).i64(fee_minor);
}

bool decode_payment(std::string_view bytes, PaymentPurchase& p) {
  ByteReader r(bytes);
  uint8_t format = 0;
  return r.u8(format) && format == record_format_version && r.str(p.org_id) && r.str(p.purchase_key) &&
         r.i64(p.paid_minor) && r.i64(p.fee_minor) && r.done();
}

void encode_outbox(std::string& out, std::string_view signal_id, std::string_view signal_bytes) {
  out.clear();
  ByteWriter(out).str(signal_id);
  out.append(signal_bytes);
}

bool decode_outbox(std::string_view bytes, std::string_view& signal_id, std::string_view& signal_bytes) {
  if (bytes.size() < 8) return false;
  ByteReader r(bytes);
  if (!r.str_view(signal_id)) return false;
  signal_bytes = bytes.substr(8 + signal_id.size());
  return true;
}

void encode_partition(std::string& out, Offset next_offset, const ChainHead& chain, std::string_view encoded_state) {
  out.clear();
  ByteWriter(out).i64(next_offset.value);
  out.append(reinterpret_cast<const char*>(chain.head.bytes.data()), chain.head.bytes.size());
  ByteWriter(out).u64(chain.records);
  out.append(encoded_state);
}

bool decode_partition(std::string_view bytes, Offset& next_offset, ChainHead& chain, PartitionState& state) {
  constexpr std::size_t head_bytes = sizeof(chain.head.bytes);
  constexpr std::size_t fixed_bytes = 8 + head_bytes + 8;
  if (bytes.size() < fixed_bytes) return false;
  ByteReader r(bytes.substr(0, 8));
  if (!r.i64(next_offset.value) || next_offset.value < 0) return false;
  std::memcpy(chain.head.bytes.data(), bytes.data() + 8, head_bytes);
  ByteReader records(bytes.substr(8 + head_bytes, 8));
  if (!records.u64(chain.records)) return false;
  return decode(bytes.substr(fixed_bytes), state);
}

void append_chain_mark(std::string& chunk, Offset& expected, Offset offset, uint64_t mark) {
  put_var(chunk, static_cast<uint64_t>(offset.value - expected.value));
  char bytes[8];
  for (std::size_t i = 0; i < 8; ++i) bytes[i] = static_cast<char>((mark >> (8 * i)) & 0xff);
  chunk.append(bytes, sizeof bytes);
  expected = Offset{offset.value + 1};
}

bool ChainChunkReader::next(Offset& offset, uint64_t& mark) {
  if (rest_.empty()) return false;
  VarReader r(rest_);
  uint64_t gap = 0;
  if (!r.var(gap) || r.remaining() < 8 || gap > static_cast<uint64_t>(INT64_MAX - expected_.value)) {
    malformed_ = true;
    return false;
  }
  rest_.remove_prefix(rest_.size() - r.remaining());
  mark = 0;
  for (std::size_t i = 8; i-- > 0;) mark = (mark << 8) | static_cast<uint8_t>(rest_[i]);
  rest_.remove_prefix(8);
  offset = Offset{expected_.value + static_cast<int64_t>(gap)};
  expected_ = Offset{offset.value + 1};
  return true;
}

void encode_stats(std::string& out, const StoredStats& s) {
  out.clear();
  ByteWriter w(out);
  w.u64(s.batches);
  for (uint64_t count : s.outcomes) w.u64(count);
  w.u64(s.hold_late);
}

bool decode_stats(std::string_view bytes, StoredStats& s) {
  ByteReader r(bytes);
  if (!r.u64(s.batches)) return false;
  for (uint64_t& count : s.outcomes) {
    if (!r.u64(count)) return false;
  }
  s.hold_late = 0;
  if (r.done()) return true;  // written before hold_late was counted
  return r.u64(s.hold_late) && r.done();
}

}  // namespace tally::store
