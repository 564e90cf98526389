#include "validate.h"

#include <array>
#include <string>
#include <utility>

#include "limits.h"
#include "tally/events_generated.h"

namespace tally {
namespace {

using flatbuffers::String;

// Every check returns true if the value passes, and otherwise sets *fault to the Status naming the
// field and returns false: a valid event (the common case) never builds a Status or a string.

std::size_t size_of(const String* s) { return s ? s->size() : 0; }

[[gnu::cold, gnu::noinline]] bool fail(Status* fault, std::string field, std::string message) {
  *fault = Status::invalid(std::move(field), std::move(message));
  return false;
}

[[gnu::always_inline]] inline bool check_text(const String* s, const char* field, bool required, Status* fault,
                std::size_t max = limits::text_field_bytes_max) {
  const std::size_t size = size_of(s);
  if (size > 0 && size <= max) return true;
  if (required && size == 0) return fail(fault, field, "is required");
  if (size > max) return fail(fault, field, "longer than " + std::to_string(max) + " bytes");
  return true;
}

[[gnu::always_inline]] inline bool check_id(const String* s, const char* field, bool required, Status* fault) {
  if (size_of(s) == 0) return required ? fail(fault, field, "is required") : true;
  if (!is_valid_id(s->string_view())) return fail(fault, field, "must be 1..128 bytes of [A-Za-z0-9._@+-]");
  return true;
}

[[gnu::always_inline]] inline bool positive(int64_t v, const char* field, Status* fault) {
  return v > 0 || fail(fault, field, "must be > 0");
}
[[gnu::always_inline]] inline bool non_negative(int64_t v, const char* field, Status* fault) {
  return v >= 0 || fail(fault, field, "must be >= 0");
}

template <typename T>
bool check_payment(const T& p, Status* fault) {
  if (!positive(p.credits_micros(), "credits_micros", fault) || !non_negative(p.paid_minor(), "paid_minor", fault) ||
      !non_negative(p.fee_minor(), "fee_minor", fault)) {
    return false;
  }
  if (p.bundles() < 1 || p.bundles() > limits::bundles_max) return fail(fault, "bundles", "must be 1..10");
  const String* currency = p.currency();
  if (size_of(currency) != 3) return fail(fault, "currency", "must be a 3-letter ISO 4217 code");
  for (char c : currency->string_view()) {
    if (c < 'a' || c > 'z') return fail(fault, "currency", "must be lower case letters");
  }
  return check_text(p.payment_ref(), "payment_ref", false, fault);
}

bool check_usage(const fb::Usage& u, Status* fault) {
  if (!check_id(u.member_id(), "member_id", false, fault) ||
      !check_text(u.workspace(), "workspace", false, fault) ||
      !check_text(u.project(), "project", false, fault) ||
      !check_text(u.agent_id(), "agent_id", false, fault) ||
      !check_text(u.session_id(), "session_id", false, fault) ||
      !check_text(u.provider(), "provider", false, fault) ||
      !non_negative(u.input_tokens(), "input_tokens", fault) ||
      !non_negative(u.output_tokens(), "output_tokens", fault) ||
      !non_negative(u.cache_read_tokens(), "cache_read_tokens", fault) ||
      !non_negative(u.cache_write_tokens(), "cache_write_tokens", fault) ||
      !non_negative(u.seconds(), "seconds", fault)) {
    return false;
  }
  const auto reported = u.reported_cost_micros();
  if (reported.has_value() && !non_negative(*reported, "reported_cost_micros", fault)) return false;
  switch (u.billing_path()) {
    case fb::BillingPath::unset: case fb::BillingPath::credits: case fb::BillingPath::byok: break;
    default: return fail(fault, "billing_path", "unknown value");
  }
  switch (u.meter()) {
    case fb::Meter::llm_tokens:
      if (!check_text(u.model(), "model", !reported.has_value(), fault)) return false;
      if (u.seconds() != 0) return fail(fault, "seconds", "only for meter sandbox_seconds");
      return true;
    case fb::Meter::sandbox_seconds:
      if (!check_text(u.sandbox_class(), "sandbox_class", !reported.has_value(), fault)) return false;
      if (u.input_tokens() != 0 || u.output_tokens() != 0 || u.cache_read_tokens() != 0 ||
          u.cache_write_tokens() != 0) {
        return fail(fault, "input_tokens", "tokens only for meter llm_tokens");
      }
      return true;
    default:
      return fail(fault, "meter", "must be llm_tokens or sandbox_seconds");
  }
}

bool check_bp(int32_t v, const char* field, int32_t min, Status* fault) {
  if (v < min || v > limits::basis_points_max) {
    return fail(fault, field, "must be " + std::to_string(min) + ".." + std::to_string(limits::basis_points_max));
  }
  return true;
}

bool check_rate_card(const fb::RateCardPublished& card, Status* fault) {
  if (!positive(card.version(), "version", fault) || !check_bp(card.markup_bp(), "markup_bp", 1, fault) ||
      !check_bp(card.byok_fee_bp(), "byok_fee_bp", 0, fault)) {
    return false;
  }
  const std::size_t models = card.models() ? card.models()->size() : 0;
  const std::size_t classes = card.sandbox_classes() ? card.sandbox_classes()->size() : 0;
  if (models + classes > limits::rate_card_entries_max) return fail(fault, "models", "more than 4096 entries");
  const auto at = [](const char* list, std::size_t i, const char* field) {
    return std::string(list) + "[" + std::to_string(i) + "]." + field;
  };
  for (std::size_t i = 0; i < models; ++i) {
    const auto* m = card.models()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (size_of(m->model()) == 0) return fail(fault, at("models", i, "model"), "is required");
    if (!check_text(m->model(), "model", true, fault)) return false;
    if (m->input_per_mtok_micros() < 0) return fail(fault, at("models", i, "input_per_mtok_micros"), "must be >= 0");
    if (m->output_per_mtok_micros() < 0) return fail(fault, at("models", i, "output_per_mtok_micros"), "must be >= 0");
    if (m->cache_read_per_mtok_micros() < 0) {
      return fail(fault, at("models", i, "cache_read_per_mtok_micros"), "must be >= 0");
    }
    if (m->cache_write_per_mtok_micros() < 0) {
      return fail(fault, at("models", i, "cache_write_per_mtok_micros"), "must be >= 0");
    }
  }
  for (std::size_t i = 0; i < classes; ++i) {
    const auto* c = card.sandbox_classes()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (size_of(c->sandbox_class()) == 0) return fail(fault, at("sandbox_classes", i, "class"), "is required");
    if (c->per_hour_micros() < 0) return fail(fault, at("sandbox_classes", i, "per_hour_micros"), "must be >= 0");
  }
  return true;
}

bool known_plan(fb::Plan p) { return p == fb::Plan::unset || p == fb::Plan::pro || p == fb::Plan::enterprise; }
bool known_mode(fb::BillingMode m) {
  return m == fb::BillingMode::unset || m == fb::BillingMode::credits || m == fb::BillingMode::byok ||
         m == fb::BillingMode::deferred;
}

bool check_body(const fb::Envelope& e, Status* fault) {
  switch (e.body_type()) {
    case fb::Body::OrgOpened: {
      const auto* b = e.body_as_OrgOpened();
      if (!known_plan(b->plan()) || b->plan() == fb::Plan::unset) return fail(fault, "plan", "must be pro or enterprise");
      if (!known_mode(b->billing_mode()) || b->billing_mode() == fb::BillingMode::unset) {
        return fail(fault, "billing_mode", "must be credits, byok or deferred");
      }
      return true;
    }
    case fb::Body::BillingModeChanged: {
      const auto* b = e.body_as_BillingModeChanged();
      if (!known_plan(b->plan())) return fail(fault, "plan", "unknown value");
      if (!known_mode(b->billing_mode())) return fail(fault, "billing_mode", "unknown value");
      if (b->plan() == fb::Plan::unset && b->billing_mode() == fb::BillingMode::unset) {
        return fail(fault, "billing_mode", "plan or billing_mode is required");
      }
      return true;
    }
    case fb::Body::SignupAllocation:
      return positive(e.body_as_SignupAllocation()->credits_micros(), "credits_micros", fault);
    case fb::Body::Purchase:
      return check_payment(*e.body_as_Purchase(), fault);
    case fb::Body::AutoRefill: {
      const auto* b = e.body_as_AutoRefill();
      return check_payment(*b, fault) && check_text(b->signal_id(), "signal_id", true, fault);
    }
    case fb::Body::PaymentFailed: {
      const auto* b = e.body_as_PaymentFailed();
      return check_text(b->signal_id(), "signal_id", true, fault) && check_text(b->code(), "code", true, fault) &&
             check_text(b->message(), "message", false, fault);
    }
    case fb::Body::Refund: {
      const auto* b = e.body_as_Refund();
      return check_text(b->purchase_key(), "purchase_key", true, fault, limits::idempotency_key_bytes_max) &&
             positive(b->credits_micros(), "credits_micros", fault) &&
             check_text(b->reason(), "reason", false, fault);
    }
    case fb::Body::AdminAdjustment: {
      const auto* b = e.body_as_AdminAdjustment();
      if (b->credits_micros() == 0) return fail(fault, "credits_micros", "must not be 0");
      return check_text(b->reason(), "reason", true, fault) && check_text(b->operator_(), "operator", true, fault);
    }
    case fb::Body::Usage:
      return check_usage(*e.body_as_Usage(), fault);
    case fb::Body::RateCardPublished:
      return check_rate_card(*e.body_as_RateCardPublished(), fault);
    case fb::Body::AutoRefillConfigured: {
      const auto* b = e.body_as_AutoRefillConfigured();
      if (b->enabled()) {
        if (!positive(b->threshold_micros(), "threshold_micros", fault) ||
            !positive(b->refill_credits_micros(), "refill_credits_micros", fault)) {
          return false;
        }
      } else if (!non_negative(b->threshold_micros(), "threshold_micros", fault) ||
                 !non_negative(b->refill_credits_micros(), "refill_credits_micros", fault)) {
        return false;
      }
      return non_negative(b->max_per_day(), "max_per_day", fault) &&
             non_negative(b->max_per_month(), "max_per_month", fault) &&
             check_text(b->payment_customer(), "payment_customer", false, fault);
    }
    case fb::Body::AutoRefillDisabled:
      return check_text(e.body_as_AutoRefillDisabled()->reason(), "reason", false, fault);
    case fb::Body::LowBalanceThresholdSet:
      return non_negative(e.body_as_LowBalanceThresholdSet()->threshold_micros(), "threshold_micros", fault);
    case fb::Body::MemberLimitSet: {
      const auto* b = e.body_as_MemberLimitSet();
      return check_id(b->member_id(), "member_id", true, fault) &&
             positive(b->monthly_limit_micros(), "monthly_limit_micros", fault);
    }
    case fb::Body::MemberLimitCleared:
      return check_id(e.body_as_MemberLimitCleared()->member_id(), "member_id", true, fault);
    case fb::Body::Tick:
      return true;
    default:
      return fail(fault, "type", "unknown event type");
  }
}

bool check_envelope(const fb::Envelope& e, Status* fault) {
  if (e.schema_version() != 1) {
    return fail(fault, "schema_version", "unsupported version " + std::to_string(e.schema_version()));
  }
  const std::size_t key_size = size_of(e.idempotency_key());
  if (key_size == 0) return fail(fault, "idempotency_key", "is required");
  if (key_size > limits::idempotency_key_bytes_max) return fail(fault, "idempotency_key", "longer than 255 bytes");
  if (e.body_type() == fb::Body::NONE || e.body() == nullptr) return fail(fault, "type", "missing event body");
  const bool global = e.body_type() == fb::Body::RateCardPublished;
  if (global && size_of(e.org_id()) != 0) {
    return fail(fault, "org_id", "must be empty for rate_card_published (a global event)");
  }
  const bool org_optional = global || e.body_type() == fb::Body::Tick;
  if (!check_id(e.org_id(), "org_id", !org_optional, fault)) return false;
  if (e.occurred_at_ms() < 0) return fail(fault, "occurred_at_ms", "must be >= 0");
  return check_text(e.source(), "source", false, fault) &&
         check_text(e.correlation_id(), "correlation_id", false, fault) && check_body(e, fault);
}

// The bytes of an org or member id: [A-Za-z0-9._@+-].
constexpr std::array<bool, 256> id_bytes = [] {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = '0'; c <= '9'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("._@+-")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

}  // namespace

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > limits::org_id_bytes_max) return false;
  for (char c : id) {
    if (!id_bytes[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

Status validate_envelope(const fb::Envelope& e) {
  Status fault;
  if (check_envelope(e, &fault)) return Status::ok();
  return fault;
}

Status validate_event(std::string_view bytes, const fb::Envelope** envelope) {
  if (bytes.size() > limits::event_bytes_max) {
    return Status::error(Status::Code::too_large, "record larger than 64 KiB");
  }
  if (bytes.size() < 8 || !fb::EnvelopeBufferHasIdentifier(bytes.data())) {
    return Status::error(Status::Code::corruption, "not a Tally event (file identifier TLE1 missing)");
  }
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (!fb::VerifyEnvelopeBuffer(verifier)) {
    return Status::error(Status::Code::corruption, "malformed or truncated FlatBuffers event");
  }
  const fb::Envelope* e = fb::GetEnvelope(bytes.data());
  if (envelope) *envelope = e;
  return validate_envelope(*e);
}

}  // namespace tally
