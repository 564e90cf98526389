// The catalogue's cross-field rules (engine/catalogue.h: TableDesc::rule, TableDesc::history):
// what one field's descriptor cannot say because it depends on another field. Inline, so the
// validation walk of a body compiles them into its own code. Errors name the field as the checks
// of old did: a rejected record's detail is kept in the views.
// Pure; thread-safe. Included by catalogue.h only.
#pragma once

#include <string_view>

#include "engine/field_checks.h"
#include "engine/history_shown.h"
#include "tally/events_generated.h"

namespace tally::catalogue {
namespace rules_detail {

template <class Body>
const Body& as(const flatbuffers::Table& table) {
  return reinterpret_cast<const Body&>(table);  // a generated table is a flatbuffers::Table
}

inline std::string_view view(const flatbuffers::String* s) { return s ? s->string_view() : std::string_view(); }

}  // namespace rules_detail

// BillingModeChanged: at least one of plan and billing_mode.
inline bool billing_mode_changed_rule(const flatbuffers::Table& table, Status* fault) {
  const auto& b = rules_detail::as<fb::BillingModeChanged>(table);
  if (b.plan() == fb::Plan::unset && b.billing_mode() == fb::BillingMode::unset) {
    return checks::fail(fault, "billing_mode", "plan or billing_mode is required");
  }
  return true;
}

// AdminAdjustment: grant terms (SPEC §12) only on a positive adjustment, the one that makes a grant.
inline bool admin_adjustment_rule(const flatbuffers::Table& table, Status* fault) {
  const auto& a = rules_detail::as<fb::AdminAdjustment>(table);
  if (a.credits_micros() >= 0) return true;
  constexpr std::string_view message = "only for a positive adjustment (the one that makes a grant)";
  if (a.priority() != 50) return checks::fail(fault, "priority", std::string(message));
  if (a.expires_at_ms() != 0) return checks::fail(fault, "expires_at_ms", std::string(message));
  if (a.category() != fb::GrantCategory::promotional) return checks::fail(fault, "category", std::string(message));
  return true;
}

// Usage: a known meter; the model (llm_tokens) or sandbox class (sandbox_seconds) unless a cost is
// reported; each meter only its own counts.
inline bool usage_rule(const flatbuffers::Table& table, Status* fault) {
  const auto& u = rules_detail::as<fb::Usage>(table);
  const bool cost_reported = u.reported_cost_micros().has_value();
  switch (u.meter()) {
    case fb::Meter::llm_tokens:
      if (!checks::text(u.model(), "model", !cost_reported, fault)) return false;
      if (u.seconds() != 0) return checks::fail(fault, "seconds", "only for meter sandbox_seconds");
      return true;
    case fb::Meter::sandbox_seconds:
      if (!checks::text(u.sandbox_class(), "sandbox_class", !cost_reported, fault)) return false;
      if (u.input_tokens() != 0 || u.output_tokens() != 0 || u.cache_read_tokens() != 0 ||
          u.cache_write_tokens() != 0) {
        return checks::fail(fault, "input_tokens", "tokens only for meter llm_tokens");
      }
      return true;
    default:
      return checks::fail(fault, "meter", "must be llm_tokens or sandbox_seconds");
  }
}

// RateCardPublished: at most rate_card_entries_max models and classes together.
inline bool rate_card_rule(const flatbuffers::Table& table, Status* fault) {
  const auto& card = rules_detail::as<fb::RateCardPublished>(table);
  const std::size_t models = card.models() ? card.models()->size() : 0;
  const std::size_t classes = card.sandbox_classes() ? card.sandbox_classes()->size() : 0;
  if (models + classes > limits::rate_card_entries_max) return checks::fail(fault, "models", "more than 4096 entries");
  return true;
}

// AutoRefillConfigured: an enabled policy has a threshold and an amount.
inline bool auto_refill_configured_rule(const flatbuffers::Table& table, Status* fault) {
  const auto& b = rules_detail::as<fb::AutoRefillConfigured>(table);
  if (!b.enabled()) return true;
  return checks::positive(b.threshold_micros(), "threshold_micros", fault) &&
         checks::positive(b.refill_credits_micros(), "refill_credits_micros", fault);
}

// HoldEstimate: a known meter and what it prices (model or sandbox class), each meter only its own
// counts (SPEC §11: priced as usage is).
inline bool hold_estimate_rule(const flatbuffers::Table& table, Status* fault) {
  const auto& h = rules_detail::as<fb::HoldEstimate>(table);
  switch (h.meter()) {
    case fb::Meter::llm_tokens:
      if (!checks::text(h.model(), "model", true, fault)) return false;
      if (h.seconds() != 0) return checks::fail(fault, "seconds", "only for meter sandbox_seconds");
      return true;
    case fb::Meter::sandbox_seconds:
      if (!checks::text(h.sandbox_class(), "sandbox_class", true, fault)) return false;
      if (h.input_tokens() != 0 || h.max_output_tokens() != 0) {
        return checks::fail(fault, "input_tokens", "tokens only for meter llm_tokens");
      }
      return true;
    default:
      return checks::fail(fault, "meter", "must be llm_tokens or sandbox_seconds");
  }
}

// HoldPlaced: exactly one of amount_micros (>= 1) and estimate.
inline bool hold_placed_rule(const flatbuffers::Table& table, Status* fault) {
  const auto& h = rules_detail::as<fb::HoldPlaced>(table);
  if (h.estimate() != nullptr) {
    if (h.amount_micros() != 0) return checks::fail(fault, "estimate", "give amount_micros or estimate, not both");
    return true;
  }
  if (h.amount_micros() == 0) return checks::fail(fault, "amount_micros", "must be > 0 (or give an estimate)");
  return true;
}

// HoldExtended: at most one of add_micros and add_estimate.
inline bool hold_extended_rule(const flatbuffers::Table& table, Status* fault) {
  const auto& h = rules_detail::as<fb::HoldExtended>(table);
  if (h.add_estimate() != nullptr && h.add_micros() != 0) {
    return checks::fail(fault, "add_estimate", "give add_micros or add_estimate, not both");
  }
  return true;
}

// Usage shows the model, or the sandbox class for sandbox_seconds.
inline void usage_history(const flatbuffers::Table& table, HistoryText& out) {
  const auto& u = rules_detail::as<fb::Usage>(table);
  out.label = u.meter() == fb::Meter::sandbox_seconds ? rules_detail::view(u.sandbox_class())
                                                      : rules_detail::view(u.model());
}

// WorkspaceBillingSet shows the path it sets (none: "cleared") as its reason text.
inline void workspace_billing_history(const flatbuffers::Table& table, HistoryText& out) {
  const auto& b = rules_detail::as<fb::WorkspaceBillingSet>(table);
  switch (b.billing_path()) {
    case fb::BillingPath::credits: out.reason_text = "credits"; break;
    case fb::BillingPath::byok: out.reason_text = "byok"; break;
    default: out.reason_text = "cleared"; break;
  }
}

}  // namespace tally::catalogue
