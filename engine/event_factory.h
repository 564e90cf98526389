// Builds encoded events (FlatBuffers envelopes, identifier "TLE1") from C++ values. Used by the
// recharge connector (AutoRefill, PaymentFailed), the demo, the bench and tests. Pure.
// The builders do not validate: fold and validate_event() judge what they produce.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/state.h"
#include "tally/events_generated.h"

namespace tally {

struct EventHeader {
  std::string_view idempotency_key;
  std::string_view org_id;  // empty for rate cards and partition ticks
  int64_t occurred_at_ms = 0;
  std::string_view source = {};
  std::string_view correlation_id = {};
};

// SPEC §12: the terms of the grant a credit-adding event makes; nullopt category: the body's own
// default (paid for purchases and auto-refills, promotional for the others).
struct GrantTermsFields {
  int32_t priority = 50;
  int64_t expires_at_ms = 0;  // 0 = never
  std::optional<fb::GrantCategory> category = std::nullopt;
};

struct PaymentFields {
  int64_t credits_micros = 0;
  int64_t paid_minor = 0;
  std::string_view currency = "usd";
  int64_t fee_minor = 0;
  int32_t bundles = 1;
  std::string_view payment_ref = {};
  GrantTermsFields grant = {};
};

struct UsageFields {
  std::string_view member_id = {};
  std::string_view workspace = {};
  std::string_view project = {};
  std::string_view agent_id = {};
  std::string_view session_id = {};
  fb::Meter meter = fb::Meter::llm_tokens;
  std::string_view model = {};
  std::string_view sandbox_class = {};
  std::string_view provider = {};
  fb::BillingPath billing_path = fb::BillingPath::unset;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_read_tokens = 0;
  int64_t cache_write_tokens = 0;
  int64_t seconds = 0;
  std::optional<int64_t> reported_cost_micros = std::nullopt;
  std::string_view hold_id = {};  // SPEC §11: the hold this usage captures
  bool hold_final = false;
};

// A hold's estimate (SPEC §11).
struct HoldEstimateFields {
  fb::Meter meter = fb::Meter::llm_tokens;
  std::string_view model = {};
  std::string_view sandbox_class = {};
  int64_t input_tokens = 0;
  int64_t max_output_tokens = 0;
  int64_t seconds = 0;
};

// A HoldPlaced: exactly one of amount_micros (> 0) and estimate is meant to be set.
struct HoldFields {
  std::string_view member_id = {};
  std::string_view workspace = {};
  int64_t amount_micros = 0;
  std::optional<HoldEstimateFields> estimate = std::nullopt;
  int64_t ttl_ms = 60'000;
  bool allow_partial = false;
  int64_t min_micros = 0;
};

struct RateCardFields {
  int64_t version = 1;
  int32_t markup_bp = 10000;
  int32_t byok_fee_bp = 0;
  std::vector<std::pair<std::string, ModelPrice>> models;
  std::vector<std::pair<std::string, int64_t>> sandbox_classes;  // class, µcr per hour
};

std::string make_org_opened(const EventHeader& h, Plan plan, BillingMode mode);
std::string make_billing_mode_changed(const EventHeader& h, std::optional<Plan> plan, std::optional<BillingMode> mode);
std::string make_signup_allocation(const EventHeader& h, int64_t credits_micros, const GrantTermsFields& grant = {});
std::string make_purchase(const EventHeader& h, const PaymentFields& payment);
std::string make_auto_refill(const EventHeader& h, const PaymentFields& payment, std::string_view signal_id);
std::string make_payment_failed(const EventHeader& h, std::string_view signal_id, std::string_view code,
                                std::string_view message);
std::string make_refund(const EventHeader& h, std::string_view purchase_key, int64_t credits_micros, bool force,
                        std::string_view reason = {});
std::string make_admin_adjustment(const EventHeader& h, int64_t credits_micros, std::string_view reason,
                                  std::string_view operator_id, bool force, const GrantTermsFields& grant = {});
// SPEC §12. A CreditGranted (its grant id is h.idempotency_key) and a GrantVoided (0 = all left).
std::string make_credit_granted(const EventHeader& h, int64_t credits_micros, const GrantTermsFields& grant,
                                std::string_view reason, std::string_view operator_id);
std::string make_grant_voided(const EventHeader& h, std::string_view grant_id, int64_t credits_micros,
                              std::string_view reason = {});
std::string make_usage(const EventHeader& h, const UsageFields& usage);
// The hold id of a HoldPlaced is h.idempotency_key.
std::string make_hold_placed(const EventHeader& h, const HoldFields& hold);
std::string make_hold_extended(const EventHeader& h, std::string_view hold_id, int64_t add_micros, int64_t ttl_ms,
                               const std::optional<HoldEstimateFields>& add_estimate = std::nullopt);
std::string make_hold_released(const EventHeader& h, std::string_view hold_id);
std::string make_rate_card(const EventHeader& h, const RateCardFields& card);
std::string make_auto_refill_configured(const EventHeader& h, const AutoRefillPolicy& policy);
std::string make_auto_refill_disabled(const EventHeader& h, std::string_view reason = {});
std::string make_low_balance_threshold_set(const EventHeader& h, int64_t threshold_micros);
std::string make_member_limit_set(const EventHeader& h, std::string_view member_id, int64_t monthly_limit_micros);
std::string make_member_limit_cleared(const EventHeader& h, std::string_view member_id);
std::string make_tick(const EventHeader& h);
std::string make_payment_customer_linked(const EventHeader& h, std::string_view payment_customer);
// `path` nullopt removes the setting of (workspace, project).
std::string make_workspace_billing_set(const EventHeader& h, std::string_view workspace, std::string_view project,
                                       std::optional<BillingPath> path);

}  // namespace tally
