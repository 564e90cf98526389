#include "validate.h"

#include <string>

#include "limits.h"
#include "tally/events_generated.h"

namespace tally {
namespace {

using flatbuffers::String;

std::size_t size_of(const String* s) { return s ? s->size() : 0; }

Status check_text(const String* s, const char* field, bool required,
                  std::size_t max = limits::text_field_bytes_max) {
  if (required && size_of(s) == 0) return Status::invalid(field, "is required");
  if (size_of(s) > max) return Status::invalid(field, "longer than " + std::to_string(max) + " bytes");
  return Status::ok();
}

Status check_id(const String* s, const char* field, bool required) {
  if (size_of(s) == 0) return required ? Status::invalid(field, "is required") : Status::ok();
  if (!is_valid_id(s->string_view())) {
    return Status::invalid(field, "must be 1..128 bytes of [A-Za-z0-9._@+-]");
  }
  return Status::ok();
}

Status positive(int64_t v, const char* field) {
  return v > 0 ? Status::ok() : Status::invalid(field, "must be > 0");
}
Status non_negative(int64_t v, const char* field) {
  return v >= 0 ? Status::ok() : Status::invalid(field, "must be >= 0");
}

#define TALLY_CHECK(expr)            \
  do {                               \
    Status status_ = (expr);         \
    if (!status_.is_ok()) return status_; \
  } while (0)

template <typename T>
Status check_payment(const T& p) {
  TALLY_CHECK(positive(p.credits_micros(), "credits_micros"));
  TALLY_CHECK(non_negative(p.paid_minor(), "paid_minor"));
  TALLY_CHECK(non_negative(p.fee_minor(), "fee_minor"));
  if (p.bundles() < 1 || p.bundles() > limits::bundles_max) {
    return Status::invalid("bundles", "must be 1..10");
  }
  const String* currency = p.currency();
  if (size_of(currency) != 3) return Status::invalid("currency", "must be a 3-letter ISO 4217 code");
  for (char c : currency->string_view()) {
    if (c < 'a' || c > 'z') return Status::invalid("currency", "must be lower case letters");
  }
  return check_text(p.payment_ref(), "payment_ref", false);
}

Status check_usage(const fb::Usage& u) {
  TALLY_CHECK(check_id(u.member_id(), "member_id", false));
  TALLY_CHECK(check_text(u.workspace(), "workspace", false));
  TALLY_CHECK(check_text(u.project(), "project", false));
  TALLY_CHECK(check_text(u.agent_id(), "agent_id", false));
  TALLY_CHECK(check_text(u.session_id(), "session_id", false));
  TALLY_CHECK(check_text(u.provider(), "provider", false));
  TALLY_CHECK(non_negative(u.input_tokens(), "input_tokens"));
  TALLY_CHECK(non_negative(u.output_tokens(), "output_tokens"));
  TALLY_CHECK(non_negative(u.cache_read_tokens(), "cache_read_tokens"));
  TALLY_CHECK(non_negative(u.cache_write_tokens(), "cache_write_tokens"));
  TALLY_CHECK(non_negative(u.seconds(), "seconds"));
  if (u.reported_cost_micros().has_value()) {
    TALLY_CHECK(non_negative(*u.reported_cost_micros(), "reported_cost_micros"));
  }
  switch (u.billing_path()) {
    case fb::BillingPath::unset: case fb::BillingPath::credits: case fb::BillingPath::byok: break;
    default: return Status::invalid("billing_path", "unknown value");
  }
  switch (u.meter()) {
    case fb::Meter::llm_tokens:
      TALLY_CHECK(check_text(u.model(), "model", !u.reported_cost_micros().has_value()));
      if (u.seconds() != 0) return Status::invalid("seconds", "only for meter sandbox_seconds");
      return Status::ok();
    case fb::Meter::sandbox_seconds:
      TALLY_CHECK(check_text(u.sandbox_class(), "sandbox_class", !u.reported_cost_micros().has_value()));
      if (u.input_tokens() != 0 || u.output_tokens() != 0 || u.cache_read_tokens() != 0 ||
          u.cache_write_tokens() != 0) {
        return Status::invalid("input_tokens", "tokens only for meter llm_tokens");
      }
      return Status::ok();
    default:
      return Status::invalid("meter", "must be llm_tokens or sandbox_seconds");
  }
}

Status check_bp(int32_t v, const char* field, int32_t min) {
  if (v < min || v > limits::basis_points_max) {
    return Status::invalid(field, "must be " + std::to_string(min) + ".." + std::to_string(limits::basis_points_max));
  }
  return Status::ok();
}

Status check_rate_card(const fb::RateCardPublished& card) {
  TALLY_CHECK(positive(card.version(), "version"));
  TALLY_CHECK(check_bp(card.markup_bp(), "markup_bp", 1));
  TALLY_CHECK(check_bp(card.byok_fee_bp(), "byok_fee_bp", 0));
  const std::size_t models = card.models() ? card.models()->size() : 0;
  const std::size_t classes = card.sandbox_classes() ? card.sandbox_classes()->size() : 0;
  if (models + classes > limits::rate_card_entries_max) {
    return Status::invalid("models", "more than 4096 entries");
  }
  for (std::size_t i = 0; i < models; ++i) {
    const auto* m = card.models()->Get(static_cast<flatbuffers::uoffset_t>(i));
    const std::string at = "models[" + std::to_string(i) + "].";
    if (size_of(m->model()) == 0) return Status::invalid(at + "model", "is required");
    TALLY_CHECK(check_text(m->model(), "model", true));
    if (m->input_per_mtok_micros() < 0) return Status::invalid(at + "input_per_mtok_micros", "must be >= 0");
    if (m->output_per_mtok_micros() < 0) return Status::invalid(at + "output_per_mtok_micros", "must be >= 0");
    if (m->cache_read_per_mtok_micros() < 0) return Status::invalid(at + "cache_read_per_mtok_micros", "must be >= 0");
    if (m->cache_write_per_mtok_micros() < 0) return Status::invalid(at + "cache_write_per_mtok_micros", "must be >= 0");
  }
  for (std::size_t i = 0; i < classes; ++i) {
    const auto* c = card.sandbox_classes()->Get(static_cast<flatbuffers::uoffset_t>(i));
    const std::string at = "sandbox_classes[" + std::to_string(i) + "].";
    if (size_of(c->sandbox_class()) == 0) return Status::invalid(at + "class", "is required");
    if (c->per_hour_micros() < 0) return Status::invalid(at + "per_hour_micros", "must be >= 0");
  }
  return Status::ok();
}

bool known_plan(fb::Plan p) { return p == fb::Plan::unset || p == fb::Plan::pro || p == fb::Plan::enterprise; }
bool known_mode(fb::BillingMode m) {
  return m == fb::BillingMode::unset || m == fb::BillingMode::credits || m == fb::BillingMode::byok ||
         m == fb::BillingMode::deferred;
}

Status check_body(const fb::Envelope& e) {
  switch (e.body_type()) {
    case fb::Body::OrgOpened: {
      const auto* b = e.body_as_OrgOpened();
      if (!known_plan(b->plan()) || b->plan() == fb::Plan::unset) return Status::invalid("plan", "must be pro or enterprise");
      if (!known_mode(b->billing_mode()) || b->billing_mode() == fb::BillingMode::unset) {
        return Status::invalid("billing_mode", "must be credits, byok or deferred");
      }
      return Status::ok();
    }
    case fb::Body::BillingModeChanged: {
      const auto* b = e.body_as_BillingModeChanged();
      if (!known_plan(b->plan())) return Status::invalid("plan", "unknown value");
      if (!known_mode(b->billing_mode())) return Status::invalid("billing_mode", "unknown value");
      if (b->plan() == fb::Plan::unset && b->billing_mode() == fb::BillingMode::unset) {
        return Status::invalid("billing_mode", "plan or billing_mode is required");
      }
      return Status::ok();
    }
    case fb::Body::SignupAllocation:
      return positive(e.body_as_SignupAllocation()->credits_micros(), "credits_micros");
    case fb::Body::Purchase:
      return check_payment(*e.body_as_Purchase());
    case fb::Body::AutoRefill: {
      const auto* b = e.body_as_AutoRefill();
      TALLY_CHECK(check_payment(*b));
      return check_text(b->signal_id(), "signal_id", true);
    }
    case fb::Body::PaymentFailed: {
      const auto* b = e.body_as_PaymentFailed();
      TALLY_CHECK(check_text(b->signal_id(), "signal_id", true));
      TALLY_CHECK(check_text(b->code(), "code", true));
      return check_text(b->message(), "message", false);
    }
    case fb::Body::Refund: {
      const auto* b = e.body_as_Refund();
      TALLY_CHECK(check_text(b->purchase_key(), "purchase_key", true, limits::idempotency_key_bytes_max));
      TALLY_CHECK(positive(b->credits_micros(), "credits_micros"));
      return check_text(b->reason(), "reason", false);
    }
    case fb::Body::AdminAdjustment: {
      const auto* b = e.body_as_AdminAdjustment();
      if (b->credits_micros() == 0) return Status::invalid("credits_micros", "must not be 0");
      TALLY_CHECK(check_text(b->reason(), "reason", true));
      return check_text(b->operator_(), "operator", true);
    }
    case fb::Body::Usage:
      return check_usage(*e.body_as_Usage());
    case fb::Body::RateCardPublished:
      return check_rate_card(*e.body_as_RateCardPublished());
    case fb::Body::AutoRefillConfigured: {
      const auto* b = e.body_as_AutoRefillConfigured();
      if (b->enabled()) {
        TALLY_CHECK(positive(b->threshold_micros(), "threshold_micros"));
        TALLY_CHECK(positive(b->refill_credits_micros(), "refill_credits_micros"));
      } else {
        TALLY_CHECK(non_negative(b->threshold_micros(), "threshold_micros"));
        TALLY_CHECK(non_negative(b->refill_credits_micros(), "refill_credits_micros"));
      }
      TALLY_CHECK(non_negative(b->max_per_day(), "max_per_day"));
      TALLY_CHECK(non_negative(b->max_per_month(), "max_per_month"));
      return check_text(b->payment_customer(), "payment_customer", false);
    }
    case fb::Body::AutoRefillDisabled:
      return check_text(e.body_as_AutoRefillDisabled()->reason(), "reason", false);
    case fb::Body::LowBalanceThresholdSet:
      return non_negative(e.body_as_LowBalanceThresholdSet()->threshold_micros(), "threshold_micros");
    case fb::Body::MemberLimitSet: {
      const auto* b = e.body_as_MemberLimitSet();
      TALLY_CHECK(check_id(b->member_id(), "member_id", true));
      return positive(b->monthly_limit_micros(), "monthly_limit_micros");
    }
    case fb::Body::MemberLimitCleared:
      return check_id(e.body_as_MemberLimitCleared()->member_id(), "member_id", true);
    case fb::Body::Tick:
      return Status::ok();
    default:
      return Status::invalid("type", "unknown event type");
  }
}

}  // namespace

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > limits::org_id_bytes_max) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '@' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status validate_envelope(const fb::Envelope& e) {
  if (e.schema_version() != 1) {
    return Status::invalid("schema_version", "unsupported version " + std::to_string(e.schema_version()));
  }
  const std::size_t key_size = size_of(e.idempotency_key());
  if (key_size == 0) return Status::invalid("idempotency_key", "is required");
  if (key_size > limits::idempotency_key_bytes_max) {
    return Status::invalid("idempotency_key", "longer than 255 bytes");
  }
  if (e.body_type() == fb::Body::NONE || e.body() == nullptr) return Status::invalid("type", "missing event body");
  const bool global = e.body_type() == fb::Body::RateCardPublished;
  if (global && size_of(e.org_id()) != 0) {
    return Status::invalid("org_id", "must be empty for rate_card_published (a global event)");
  }
  const bool org_optional = global || e.body_type() == fb::Body::Tick;
  TALLY_CHECK(check_id(e.org_id(), "org_id", !org_optional));
  if (e.occurred_at_ms() < 0) return Status::invalid("occurred_at_ms", "must be >= 0");
  TALLY_CHECK(check_text(e.source(), "source", false));
  TALLY_CHECK(check_text(e.correlation_id(), "correlation_id", false));
  return check_body(e);
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
