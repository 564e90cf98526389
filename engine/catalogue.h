// The event catalogue: every event body described once (SPEC §3, schemas/events.fbs).
//
// For each body: its canonical JSON type name, whether it belongs to an org, and each field
// (engine/field_descriptor.h) — JSON name, kind, range, unit, what the payload digest takes of it,
// what its history entry shows. One description drives:
//   - JSON <-> FlatBuffers (engine/event_json.cpp, tally_codec),
//   - validation (engine/validate.cpp: validate_envelope),
//   - the payload digest (engine/payload_digest.cpp),
//   - the history text of an entry (engine/history_text.cpp, used by projections/).
// Adding an event type: append the table to schemas/events.fbs, add its entry here (fields in
// schema order), and give it a fold rule (engine/fold.cpp). The build checks that every field of
// the schema is described, with its name, kind and slot (catalogue.cpp).
//
// Compatibility: payload digests and rejection details of existing ledgers must not move. A field
// appended to an existing body takes Digest::when_present (or Digest::skip); an existing field's
// rule, order or message never changes.
//
// Pure (tally_core); constant data, thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "engine/catalogue_rules.h"
#include "engine/field_descriptor.h"
#include "tally/events_generated.h"
#include "tally/signals_generated.h"

namespace tally::catalogue {

// ---- Enums -----------------------------------------------------------------------------------

inline constexpr EnumDesc plan_enum{&fb::EnumNamesPlan, static_cast<int8_t>(fb::Plan::MAX), true};
inline constexpr EnumDesc billing_mode_enum{&fb::EnumNamesBillingMode, static_cast<int8_t>(fb::BillingMode::MAX), true};
inline constexpr EnumDesc billing_path_enum{&fb::EnumNamesBillingPath, static_cast<int8_t>(fb::BillingPath::MAX), true};
inline constexpr EnumDesc meter_enum{&fb::EnumNamesMeter, static_cast<int8_t>(fb::Meter::MAX), true};
inline constexpr EnumDesc grant_category_enum{&fb::EnumNamesGrantCategory, static_cast<int8_t>(fb::GrantCategory::MAX),
                                              false};
inline constexpr EnumDesc signal_kind_enum{&fb::EnumNamesSignalKind, static_cast<int8_t>(fb::SignalKind::MAX), false};

// ---- Bodies, in schema order -------------------------------------------------------------------

// SPEC §12: the terms of the grant a credit-adding body makes. Appended to bodies that ledgers
// already hold: each enters the payload digest only when it differs from its default (so an event
// that does not give it keeps its digest, and one that gives the default is the same event).
constexpr FieldDesc grant_priority(uint16_t slot) {
  return int32("priority", slot, Unit::count).range(0, 100).defaults_to(50).digest_as(Digest::when_present);
}
constexpr FieldDesc grant_expires_at(uint16_t slot) {
  return int64("expires_at_ms", slot, Unit::unix_ms).after_event().digest_as(Digest::when_present);
}
constexpr FieldDesc grant_category(uint16_t slot, fb::GrantCategory default_category) {
  return enumeration("category", slot, grant_category_enum)
      .defaults_to(static_cast<int8_t>(default_category))
      .digest_as(Digest::when_present);
}


inline constexpr FieldDesc org_opened_fields[] = {
    enumeration("plan", fb::OrgOpened::VT_PLAN, plan_enum).required().chosen(),
    enumeration("billing_mode", fb::OrgOpened::VT_BILLING_MODE, billing_mode_enum).required().chosen(),
};
inline constexpr TableDesc org_opened{.name = "OrgOpened", .fields = org_opened_fields};

inline constexpr FieldDesc billing_mode_changed_fields[] = {
    enumeration("plan", fb::BillingModeChanged::VT_PLAN, plan_enum),
    enumeration("billing_mode", fb::BillingModeChanged::VT_BILLING_MODE, billing_mode_enum),
};
inline constexpr TableDesc billing_mode_changed{
    .name = "BillingModeChanged", .fields = billing_mode_changed_fields, .rule = billing_mode_changed_rule};

inline constexpr FieldDesc signup_allocation_fields[] = {
    int64("credits_micros", fb::SignupAllocation::VT_CREDITS_MICROS, Unit::micros).positive(),
    grant_priority(fb::SignupAllocation::VT_PRIORITY),
    grant_expires_at(fb::SignupAllocation::VT_EXPIRES_AT_MS),
    grant_category(fb::SignupAllocation::VT_CATEGORY, fb::GrantCategory::promotional),
};
inline constexpr TableDesc signup_allocation{.name = "SignupAllocation", .fields = signup_allocation_fields};

// Purchase and AutoRefill check currency after fee and bundles (validation order of old).
// The grant terms (SPEC §12) were appended: checked last.
inline constexpr uint8_t purchase_check_order[] = {0, 1, 3, 4, 2, 5, rule_step, 6, 7, 8};
inline constexpr uint8_t auto_refill_check_order[] = {0, 1, 3, 4, 2, 5, 6, rule_step, 7, 8, 9};

inline constexpr FieldDesc purchase_fields[] = {
    int64("credits_micros", fb::Purchase::VT_CREDITS_MICROS, Unit::micros).positive(),
    int64("paid_minor", fb::Purchase::VT_PAID_MINOR, Unit::minor).non_negative().shown_as(Shown::paid_minor),
    text("currency", fb::Purchase::VT_CURRENCY).required().currency().shown_as(Shown::currency),
    int64("fee_minor", fb::Purchase::VT_FEE_MINOR, Unit::minor).non_negative().shown_as(Shown::fee_minor),
    int32("bundles", fb::Purchase::VT_BUNDLES, Unit::count).range(1, limits::bundles_max),
    text("payment_ref", fb::Purchase::VT_PAYMENT_REF).shown_as(Shown::payment_ref),
    grant_priority(fb::Purchase::VT_PRIORITY),
    grant_expires_at(fb::Purchase::VT_EXPIRES_AT_MS),
    grant_category(fb::Purchase::VT_CATEGORY, fb::GrantCategory::paid),
};
inline constexpr TableDesc purchase{
    .name = "Purchase", .fields = purchase_fields, .check_order = purchase_check_order};

inline constexpr FieldDesc auto_refill_fields[] = {
    int64("credits_micros", fb::AutoRefill::VT_CREDITS_MICROS, Unit::micros).positive(),
    int64("paid_minor", fb::AutoRefill::VT_PAID_MINOR, Unit::minor).non_negative().shown_as(Shown::paid_minor),
    text("currency", fb::AutoRefill::VT_CURRENCY).required().currency().shown_as(Shown::currency),
    int64("fee_minor", fb::AutoRefill::VT_FEE_MINOR, Unit::minor).non_negative().shown_as(Shown::fee_minor),
    int32("bundles", fb::AutoRefill::VT_BUNDLES, Unit::count).range(1, limits::bundles_max),
    text("payment_ref", fb::AutoRefill::VT_PAYMENT_REF).shown_as(Shown::payment_ref),
    text("signal_id", fb::AutoRefill::VT_SIGNAL_ID).required().shown_as(Shown::reason_text),
    grant_priority(fb::AutoRefill::VT_PRIORITY),
    grant_expires_at(fb::AutoRefill::VT_EXPIRES_AT_MS),
    grant_category(fb::AutoRefill::VT_CATEGORY, fb::GrantCategory::paid),
};
inline constexpr TableDesc auto_refill{
    .name = "AutoRefill", .fields = auto_refill_fields, .check_order = auto_refill_check_order};

inline constexpr FieldDesc payment_failed_fields[] = {
    text("signal_id", fb::PaymentFailed::VT_SIGNAL_ID).required(),
    text("code", fb::PaymentFailed::VT_CODE).required().shown_as(Shown::reason_text),
    text("message", fb::PaymentFailed::VT_MESSAGE),
};
inline constexpr TableDesc payment_failed{.name = "PaymentFailed", .fields = payment_failed_fields};

inline constexpr FieldDesc refund_fields[] = {
    text("purchase_key", fb::Refund::VT_PURCHASE_KEY)
        .required()
        .bytes_max(limits::idempotency_key_bytes_max)
        .shown_as(Shown::payment_ref),
    int64("credits_micros", fb::Refund::VT_CREDITS_MICROS, Unit::micros).positive(),
    boolean("force", fb::Refund::VT_FORCE),
    text("reason", fb::Refund::VT_REASON).shown_as(Shown::reason_text),
};
inline constexpr TableDesc refund{.name = "Refund", .fields = refund_fields};

// An operator correction without who and why cannot be audited: reason and operator required.
inline constexpr FieldDesc admin_adjustment_fields[] = {
    int64("credits_micros", fb::AdminAdjustment::VT_CREDITS_MICROS, Unit::micros).nonzero(),
    text("reason", fb::AdminAdjustment::VT_REASON).required().shown_as(Shown::reason_text),
    text("operator", fb::AdminAdjustment::VT_OPERATOR_).required(),
    boolean("force", fb::AdminAdjustment::VT_FORCE),
    grant_priority(fb::AdminAdjustment::VT_PRIORITY),
    grant_expires_at(fb::AdminAdjustment::VT_EXPIRES_AT_MS),
    grant_category(fb::AdminAdjustment::VT_CATEGORY, fb::GrantCategory::promotional),
};
inline constexpr TableDesc admin_adjustment{
    .name = "AdminAdjustment", .fields = admin_adjustment_fields, .rule = admin_adjustment_rule};

// meter, model and sandbox_class are the rule's: model (llm_tokens) or sandbox_class
// (sandbox_seconds) is required unless a cost is reported, and each meter takes only its counts.
// hold_id (16) comes last: appended after ledgers held usage, it cannot change an old detail.
inline constexpr uint8_t usage_check_order[] = {0, 1, 2, 3, 4, 8, 10, 11, 12, 13, 14, 15, 9, rule_step, 16};
inline constexpr FieldDesc usage_fields[] = {
    id("member_id", fb::Usage::VT_MEMBER_ID).shown_as(Shown::member_id),
    text("workspace", fb::Usage::VT_WORKSPACE).shown_as(Shown::workspace),
    text("project", fb::Usage::VT_PROJECT),
    text("agent_id", fb::Usage::VT_AGENT_ID),
    text("session_id", fb::Usage::VT_SESSION_ID),
    enumeration("meter", fb::Usage::VT_METER, meter_enum).required().by_rule(),
    text("model", fb::Usage::VT_MODEL).by_rule(),
    text("sandbox_class", fb::Usage::VT_SANDBOX_CLASS).by_rule(),
    text("provider", fb::Usage::VT_PROVIDER),
    enumeration("billing_path", fb::Usage::VT_BILLING_PATH, billing_path_enum).shown_as(Shown::billing_path),
    int64("input_tokens", fb::Usage::VT_INPUT_TOKENS, Unit::tokens).non_negative(),
    int64("output_tokens", fb::Usage::VT_OUTPUT_TOKENS, Unit::tokens).non_negative(),
    int64("cache_read_tokens", fb::Usage::VT_CACHE_READ_TOKENS, Unit::tokens).non_negative(),
    int64("cache_write_tokens", fb::Usage::VT_CACHE_WRITE_TOKENS, Unit::tokens).non_negative(),
    int64("seconds", fb::Usage::VT_SECONDS, Unit::seconds).non_negative(),
    optional_int64("reported_cost_micros", fb::Usage::VT_REPORTED_COST_MICROS, Unit::micros)
        .non_negative()
        .digest_as(Digest::presence_and_value),
    text("hold_id", fb::Usage::VT_HOLD_ID)
        .bytes_max(limits::idempotency_key_bytes_max)
        .digest_as(Digest::when_present)
        .shown_as(Shown::payment_ref),
    boolean("hold_final", fb::Usage::VT_HOLD_FINAL).digest_as(Digest::when_present),
};
inline constexpr TableDesc usage{.name = "Usage",
                                 .fields = usage_fields,
                                 .check_order = usage_check_order,
                                 .rule = usage_rule,
                                 .history = usage_history};

// A model name too long is reported as "model", not "models[i].model": kept, existing ledgers
// hold that detail. A sandbox class name was never limited (beyond the record's size): kept too.
inline constexpr FieldDesc model_price_fields[] = {
    text("model", fb::ModelPrice::VT_MODEL).required().bare_name_in_length_error(),
    int64("input_per_mtok_micros", fb::ModelPrice::VT_INPUT_PER_MTOK_MICROS, Unit::micros).non_negative(),
    int64("output_per_mtok_micros", fb::ModelPrice::VT_OUTPUT_PER_MTOK_MICROS, Unit::micros).non_negative(),
    int64("cache_read_per_mtok_micros", fb::ModelPrice::VT_CACHE_READ_PER_MTOK_MICROS, Unit::micros).non_negative(),
    int64("cache_write_per_mtok_micros", fb::ModelPrice::VT_CACHE_WRITE_PER_MTOK_MICROS, Unit::micros).non_negative(),
};
inline constexpr TableDesc model_price{
    .name = "ModelPrice", .fields = model_price_fields, .sort_keys = {0, 0}, .sort_key_count = 1};

inline constexpr FieldDesc sandbox_class_price_fields[] = {
    text("class", fb::SandboxClassPrice::VT_SANDBOX_CLASS)
        .named_in_schema("sandbox_class")
        .required()
        .bytes_max(limits::event_bytes_max),
    int64("per_hour_micros", fb::SandboxClassPrice::VT_PER_HOUR_MICROS, Unit::micros).non_negative(),
};
inline constexpr TableDesc sandbox_class_price{
    .name = "SandboxClassPrice", .fields = sandbox_class_price_fields, .sort_keys = {0, 1}, .sort_key_count = 2};

inline constexpr uint8_t rate_card_check_order[] = {0, 1, 2, rule_step, 3, 4};
inline constexpr FieldDesc rate_card_published_fields[] = {
    int64("version", fb::RateCardPublished::VT_VERSION, Unit::version).positive(),
    int32("markup_bp", fb::RateCardPublished::VT_MARKUP_BP, Unit::basis_points).range(1, limits::basis_points_max),
    int32("byok_fee_bp", fb::RateCardPublished::VT_BYOK_FEE_BP, Unit::basis_points).range(0, limits::basis_points_max),
    list("models", fb::RateCardPublished::VT_MODELS, model_price),
    list("sandbox_classes", fb::RateCardPublished::VT_SANDBOX_CLASSES, sandbox_class_price),
};
inline constexpr TableDesc rate_card_published{.name = "RateCardPublished",
                                               .fields = rate_card_published_fields,
                                               .check_order = rate_card_check_order,
                                               .rule = rate_card_rule};

// threshold and refill amounts are > 0 when enabled (the rule, first), >= 0 otherwise.
inline constexpr uint8_t auto_refill_configured_check_order[] = {rule_step, 1, 2, 3, 4, 5, 6};
inline constexpr FieldDesc auto_refill_configured_fields[] = {
    boolean("enabled", fb::AutoRefillConfigured::VT_ENABLED),
    int64("threshold_micros", fb::AutoRefillConfigured::VT_THRESHOLD_MICROS, Unit::micros).non_negative(),
    int64("refill_credits_micros", fb::AutoRefillConfigured::VT_REFILL_CREDITS_MICROS, Unit::micros).non_negative(),
    int32("max_per_day", fb::AutoRefillConfigured::VT_MAX_PER_DAY, Unit::count).non_negative(),
    int32("max_per_month", fb::AutoRefillConfigured::VT_MAX_PER_MONTH, Unit::count).non_negative(),
    text("payment_customer", fb::AutoRefillConfigured::VT_PAYMENT_CUSTOMER),
    int32("refill_bundles", fb::AutoRefillConfigured::VT_REFILL_BUNDLES, Unit::count)
        .range(0, limits::bundles_max)
        .digest_as(Digest::when_present),
};
inline constexpr TableDesc auto_refill_configured{.name = "AutoRefillConfigured",
                                                  .fields = auto_refill_configured_fields,
                                                  .check_order = auto_refill_configured_check_order,
                                                  .rule = auto_refill_configured_rule};

inline constexpr FieldDesc auto_refill_disabled_fields[] = {
    text("reason", fb::AutoRefillDisabled::VT_REASON).shown_as(Shown::reason_text),
};
inline constexpr TableDesc auto_refill_disabled{.name = "AutoRefillDisabled", .fields = auto_refill_disabled_fields};

inline constexpr FieldDesc low_balance_threshold_set_fields[] = {
    int64("threshold_micros", fb::LowBalanceThresholdSet::VT_THRESHOLD_MICROS, Unit::micros).non_negative(),
};
inline constexpr TableDesc low_balance_threshold_set{
    .name = "LowBalanceThresholdSet", .fields = low_balance_threshold_set_fields};

inline constexpr FieldDesc member_limit_set_fields[] = {
    id("member_id", fb::MemberLimitSet::VT_MEMBER_ID).required().shown_as(Shown::member_id),
    int64("monthly_limit_micros", fb::MemberLimitSet::VT_MONTHLY_LIMIT_MICROS, Unit::micros).positive(),
};
inline constexpr TableDesc member_limit_set{.name = "MemberLimitSet", .fields = member_limit_set_fields};

inline constexpr FieldDesc member_limit_cleared_fields[] = {
    id("member_id", fb::MemberLimitCleared::VT_MEMBER_ID).required().shown_as(Shown::member_id),
};
inline constexpr TableDesc member_limit_cleared{.name = "MemberLimitCleared", .fields = member_limit_cleared_fields};

inline constexpr TableDesc tick{.name = "Tick", .fields = {}};

inline constexpr FieldDesc payment_customer_linked_fields[] = {
    text("payment_customer", fb::PaymentCustomerLinked::VT_PAYMENT_CUSTOMER)
        .required()
        .bytes_max(limits::idempotency_key_bytes_max)
        .shown_as(Shown::payment_ref),
};
inline constexpr TableDesc payment_customer_linked{
    .name = "PaymentCustomerLinked", .fields = payment_customer_linked_fields};

inline constexpr FieldDesc workspace_billing_set_fields[] = {
    text("workspace", fb::WorkspaceBillingSet::VT_WORKSPACE).required().shown_as(Shown::workspace),
    text("project", fb::WorkspaceBillingSet::VT_PROJECT),
    enumeration("billing_path", fb::WorkspaceBillingSet::VT_BILLING_PATH, billing_path_enum),
};
inline constexpr TableDesc workspace_billing_set{
    .name = "WorkspaceBillingSet", .fields = workspace_billing_set_fields, .history = workspace_billing_history};

// SPEC §11. meter, model and sandbox_class are the rule's, as for usage.
inline constexpr uint8_t hold_estimate_check_order[] = {3, 4, 5, rule_step};
inline constexpr FieldDesc hold_estimate_fields[] = {
    enumeration("meter", fb::HoldEstimate::VT_METER, meter_enum).required().by_rule(),
    text("model", fb::HoldEstimate::VT_MODEL).by_rule(),
    text("sandbox_class", fb::HoldEstimate::VT_SANDBOX_CLASS).by_rule(),
    int64("input_tokens", fb::HoldEstimate::VT_INPUT_TOKENS, Unit::tokens).non_negative(),
    int64("max_output_tokens", fb::HoldEstimate::VT_MAX_OUTPUT_TOKENS, Unit::tokens).non_negative(),
    int64("seconds", fb::HoldEstimate::VT_SECONDS, Unit::seconds).non_negative(),
};
inline constexpr TableDesc hold_estimate{.name = "HoldEstimate",
                                         .fields = hold_estimate_fields,
                                         .check_order = hold_estimate_check_order,
                                         .rule = hold_estimate_rule};

inline constexpr uint8_t hold_placed_check_order[] = {0, 1, 2, 3, 4, 6, rule_step};
inline constexpr FieldDesc hold_placed_fields[] = {
    id("member_id", fb::HoldPlaced::VT_MEMBER_ID).shown_as(Shown::member_id),
    text("workspace", fb::HoldPlaced::VT_WORKSPACE).shown_as(Shown::workspace),
    int64("amount_micros", fb::HoldPlaced::VT_AMOUNT_MICROS, Unit::micros).non_negative(),
    nested("estimate", fb::HoldPlaced::VT_ESTIMATE, hold_estimate),
    int64("ttl_ms", fb::HoldPlaced::VT_TTL_MS, Unit::unix_ms).range(limits::hold_ttl_min_ms, limits::hold_ttl_max_ms),
    boolean("allow_partial", fb::HoldPlaced::VT_ALLOW_PARTIAL),
    int64("min_micros", fb::HoldPlaced::VT_MIN_MICROS, Unit::micros).non_negative(),
};
inline constexpr TableDesc hold_placed{.name = "HoldPlaced", .fields = hold_placed_fields, .rule = hold_placed_rule};

inline constexpr FieldDesc hold_extended_fields[] = {
    text("hold_id", fb::HoldExtended::VT_HOLD_ID)
        .required()
        .bytes_max(limits::idempotency_key_bytes_max)
        .shown_as(Shown::payment_ref),
    int64("add_micros", fb::HoldExtended::VT_ADD_MICROS, Unit::micros).non_negative(),
    nested("add_estimate", fb::HoldExtended::VT_ADD_ESTIMATE, hold_estimate),
    int64("ttl_ms", fb::HoldExtended::VT_TTL_MS, Unit::unix_ms).range(limits::hold_ttl_min_ms, limits::hold_ttl_max_ms),
};
inline constexpr TableDesc hold_extended{
    .name = "HoldExtended", .fields = hold_extended_fields, .rule = hold_extended_rule};

inline constexpr FieldDesc hold_released_fields[] = {
    text("hold_id", fb::HoldReleased::VT_HOLD_ID)
        .required()
        .bytes_max(limits::idempotency_key_bytes_max)
        .shown_as(Shown::payment_ref),
};
inline constexpr TableDesc hold_released{.name = "HoldReleased", .fields = hold_released_fields};

// SPEC §12: credit granted by an operator, with its terms; reason and operator required, as for an
// adjustment.
inline constexpr FieldDesc credit_granted_fields[] = {
    int64("credits_micros", fb::CreditGranted::VT_CREDITS_MICROS, Unit::micros).positive(),
    // A new body: its terms are digested as they are (the grant_* helpers' when_present is for
    // fields appended to bodies ledgers held before).
    grant_category(fb::CreditGranted::VT_CATEGORY, fb::GrantCategory::promotional).digest_as(Digest::value),
    grant_priority(fb::CreditGranted::VT_PRIORITY).digest_as(Digest::value),
    grant_expires_at(fb::CreditGranted::VT_EXPIRES_AT_MS).digest_as(Digest::value),
    text("reason", fb::CreditGranted::VT_REASON).required().shown_as(Shown::reason_text),
    text("operator", fb::CreditGranted::VT_OPERATOR_).required(),
};
inline constexpr TableDesc credit_granted{.name = "CreditGranted", .fields = credit_granted_fields};

inline constexpr FieldDesc grant_voided_fields[] = {
    text("grant_id", fb::GrantVoided::VT_GRANT_ID)
        .required()
        .bytes_max(limits::idempotency_key_bytes_max)
        .shown_as(Shown::payment_ref),
    int64("credits_micros", fb::GrantVoided::VT_CREDITS_MICROS, Unit::micros).non_negative(),
    text("reason", fb::GrantVoided::VT_REASON).shown_as(Shown::reason_text),
};
inline constexpr TableDesc grant_voided{.name = "GrantVoided", .fields = grant_voided_fields};

// Whether an event belongs to an org (envelope org_id).
enum class OrgRule : uint8_t {
  required,
  optional,  // absent: the event is about the partition (a tick)
  none,      // a global event, written to every partition; org_id must be empty
};

struct BodyDesc {
  fb::Body type = fb::Body::NONE;
  std::string_view name;             // canonical JSON `type`
  const TableDesc* table = nullptr;  // nullptr for NONE
  OrgRule org = OrgRule::required;
};

// Indexed by fb::Body.
inline constexpr std::array<BodyDesc, static_cast<std::size_t>(fb::Body::MAX) + 1> bodies = {{
    {fb::Body::NONE, "", nullptr},
    {fb::Body::OrgOpened, "org_opened", &org_opened},
    {fb::Body::BillingModeChanged, "billing_mode_changed", &billing_mode_changed},
    {fb::Body::SignupAllocation, "signup_allocation", &signup_allocation},
    {fb::Body::Purchase, "purchase", &purchase},
    {fb::Body::AutoRefill, "auto_refill", &auto_refill},
    {fb::Body::PaymentFailed, "payment_failed", &payment_failed},
    {fb::Body::Refund, "refund", &refund},
    {fb::Body::AdminAdjustment, "admin_adjustment", &admin_adjustment},
    {fb::Body::Usage, "usage", &usage},
    {fb::Body::RateCardPublished, "rate_card_published", &rate_card_published, OrgRule::none},
    {fb::Body::AutoRefillConfigured, "auto_refill_configured", &auto_refill_configured},
    {fb::Body::AutoRefillDisabled, "auto_refill_disabled", &auto_refill_disabled},
    {fb::Body::LowBalanceThresholdSet, "low_balance_threshold_set", &low_balance_threshold_set},
    {fb::Body::MemberLimitSet, "member_limit_set", &member_limit_set},
    {fb::Body::MemberLimitCleared, "member_limit_cleared", &member_limit_cleared},
    {fb::Body::Tick, "tick", &tick, OrgRule::optional},
    {fb::Body::PaymentCustomerLinked, "payment_customer_linked", &payment_customer_linked},
    {fb::Body::WorkspaceBillingSet, "workspace_billing_set", &workspace_billing_set},
    {fb::Body::HoldPlaced, "hold_placed", &hold_placed},
    {fb::Body::HoldExtended, "hold_extended", &hold_extended},
    {fb::Body::HoldReleased, "hold_released", &hold_released},
    {fb::Body::CreditGranted, "credit_granted", &credit_granted},
    {fb::Body::GrantVoided, "grant_voided", &grant_voided},
}};

// An explicit check order lists every field that has a check (nested tables included) and the
// rule: a step left out would never run. Sort keys name text or int64 fields. Nested tables too.
constexpr bool check_order_complete(const TableDesc& t) {
  if (t.fields.size() > fields_per_table_max) return false;
  for (uint8_t k = 0; k < t.sort_key_count; ++k) {  // the digest sorts lists by text or int64 keys
    if (t.sort_keys[k] >= t.fields.size()) return false;
    const Kind kind = t.fields[t.sort_keys[k]].kind;
    if (kind != Kind::text && kind != Kind::int64) return false;
  }
  for (const FieldDesc& f : t.fields) {
    if ((f.kind == Kind::table || f.kind == Kind::table_list) && !check_order_complete(*f.table)) return false;
  }
  if (t.check_order.empty()) return true;
  const auto listed = [&](std::size_t step) {
    for (uint8_t s : t.check_order) {
      if (s == step) return true;
    }
    return false;
  };
  for (std::size_t i = 0; i < t.fields.size(); ++i) {
    const FieldDesc& f = t.fields[i];
    const bool checked = (f.check != Check::none && f.check != Check::by_rule) || f.kind == Kind::table ||
                         f.kind == Kind::table_list;
    if (checked && !listed(i)) return false;
  }
  return listed(rule_step);
}

constexpr bool catalogue_is_consistent() {
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    if (static_cast<std::size_t>(bodies[i].type) != i) return false;
    if (i > 0 && !check_order_complete(*bodies[i].table)) return false;
  }
  return true;
}
static_assert(catalogue_is_consistent(),
              "one catalogue entry per body of schemas/events.fbs, in union order, each field checked");

// ---- Envelope and signal (JSON only: their checks are validate.cpp's, their bytes signals.cpp's)

// schema_version, type and body are the codec's own.
inline constexpr FieldDesc envelope_fields[] = {
    text("idempotency_key", fb::Envelope::VT_IDEMPOTENCY_KEY).required().bytes_max(limits::idempotency_key_bytes_max),
    id("org_id", fb::Envelope::VT_ORG_ID),
    int64("occurred_at_ms", fb::Envelope::VT_OCCURRED_AT_MS, Unit::unix_ms).required().non_negative(),
    text("source", fb::Envelope::VT_SOURCE),
    text("correlation_id", fb::Envelope::VT_CORRELATION_ID),
};
inline constexpr TableDesc envelope{.name = "Envelope", .fields = envelope_fields};

inline constexpr FieldDesc signal_fields[] = {
    text("signal_id", fb::Signal::VT_SIGNAL_ID),
    enumeration("kind", fb::Signal::VT_KIND, signal_kind_enum),
    text("org_id", fb::Signal::VT_ORG_ID),
    text("member_id", fb::Signal::VT_MEMBER_ID),
    int32("partition", fb::Signal::VT_PARTITION, Unit::count),
    int64("offset", fb::Signal::VT_OFFSET, Unit::count),
    int64("occurred_at_ms", fb::Signal::VT_OCCURRED_AT_MS, Unit::unix_ms),
    int64("balance_micros", fb::Signal::VT_BALANCE_MICROS, Unit::micros),
    int64("threshold_micros", fb::Signal::VT_THRESHOLD_MICROS, Unit::micros),
    int64("refill_credits_micros", fb::Signal::VT_REFILL_CREDITS_MICROS, Unit::micros),
    text("payment_customer", fb::Signal::VT_PAYMENT_CUSTOMER),
    int64("monthly_limit_micros", fb::Signal::VT_MONTHLY_LIMIT_MICROS, Unit::micros),
    int64("member_used_micros", fb::Signal::VT_MEMBER_USED_MICROS, Unit::micros),
    text("pause_reason", fb::Signal::VT_PAUSE_REASON),
    text("cap_period", fb::Signal::VT_CAP_PERIOD),
    // SPEC §12, grant signals only; when_present: left out of the JSON of the other kinds.
    text("grant_id", fb::Signal::VT_GRANT_ID).digest_as(Digest::when_present),
    int64("grant_micros", fb::Signal::VT_GRANT_MICROS, Unit::micros).digest_as(Digest::when_present),
    int64("expires_at_ms", fb::Signal::VT_EXPIRES_AT_MS, Unit::unix_ms).digest_as(Digest::when_present),
};
inline constexpr TableDesc signal{.name = "Signal", .fields = signal_fields};

// ---- Lookups (catalogue.cpp) -----------------------------------------------------------------

// The entry of a body type; nullptr for NONE and for a type from a newer schema.
const BodyDesc* find_body(fb::Body type);
// The entry whose JSON `type` is `name`; nullptr if none.
const BodyDesc* find_body(std::string_view name);
// The canonical JSON type name of a body type; "" for NONE and unknown types.
std::string_view body_type_name(fb::Body type);

// "pro, enterprise": the names of an enum's values a producer may write (unset never).
std::string enum_choices(const EnumDesc& e);
// "pro or enterprise", "credits, byok or deferred": the same as a phrase.
std::string enum_alternatives(const EnumDesc& e);

}  // namespace tally::catalogue
