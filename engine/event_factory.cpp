#include "event_factory.h"

namespace tally {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

Offset<flatbuffers::String> text(FlatBufferBuilder& b, std::string_view s) {
  return s.empty() ? Offset<flatbuffers::String>() : b.CreateString(s.data(), s.size());
}

template <typename BuildBody>
std::string envelope(const EventHeader& h, fb::Body type, BuildBody&& build_body) {
  FlatBufferBuilder b(256);
  auto key = text(b, h.idempotency_key);
  auto org = text(b, h.org_id);
  auto source = text(b, h.source);
  auto correlation = text(b, h.correlation_id);
  Offset<void> body = build_body(b);
  fb::EnvelopeBuilder e(b);
  e.add_idempotency_key(key);
  e.add_org_id(org);
  e.add_occurred_at_ms(h.occurred_at_ms);
  e.add_source(source);
  e.add_correlation_id(correlation);
  e.add_body_type(type);
  e.add_body(body);
  fb::FinishEnvelopeBuffer(b, e.Finish());
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

fb::Plan fb_plan(Plan p) { return p == Plan::enterprise ? fb::Plan::enterprise : fb::Plan::pro; }
fb::BillingMode fb_mode(BillingMode m) {
  switch (m) {
    case BillingMode::byok: return fb::BillingMode::byok;
    case BillingMode::deferred: return fb::BillingMode::deferred;
    default: return fb::BillingMode::credits;
  }
}

fb::GrantCategory category_or(const GrantTermsFields& g, fb::GrantCategory body_default) {
  return g.category.value_or(body_default);
}

}  // namespace

std::string make_org_opened(const EventHeader& h, Plan plan, BillingMode mode) {
  return envelope(h, fb::Body::OrgOpened,
                  [&](FlatBufferBuilder& b) { return fb::CreateOrgOpened(b, fb_plan(plan), fb_mode(mode)).Union(); });
}

std::string make_billing_mode_changed(const EventHeader& h, std::optional<Plan> plan, std::optional<BillingMode> mode) {
  return envelope(h, fb::Body::BillingModeChanged, [&](FlatBufferBuilder& b) {
    return fb::CreateBillingModeChanged(b, plan ? fb_plan(*plan) : fb::Plan::unset,
                                        mode ? fb_mode(*mode) : fb::BillingMode::unset)
        .Union();
  });
}

std::string make_signup_allocation(const EventHeader& h, int64_t credits_micros, const GrantTermsFields& g) {
  return envelope(h, fb::Body::SignupAllocation, [&](FlatBufferBuilder& b) {
    return fb::CreateSignupAllocation(b, credits_micros, g.priority, g.expires_at_ms,
                                      category_or(g, fb::GrantCategory::promotional))
        .Union();
  });
}

std::string make_purchase(const EventHeader& h, const PaymentFields& p) {
  return envelope(h, fb::Body::Purchase, [&](FlatBufferBuilder& b) {
    auto currency = text(b, p.currency);
    auto ref = text(b, p.payment_ref);
    return fb::CreatePurchase(b, p.credits_micros, p.paid_minor, currency, p.fee_minor, p.bundles, ref,
                              p.grant.priority, p.grant.expires_at_ms, category_or(p.grant, fb::GrantCategory::paid))
        .Union();
  });
}

std::string make_auto_refill(const EventHeader& h, const PaymentFields& p, std::string_view signal_id) {
  return envelope(h, fb::Body::AutoRefill, [&](FlatBufferBuilder& b) {
    auto currency = text(b, p.currency);
    auto ref = text(b, p.payment_ref);
    auto signal = text(b, signal_id);
    return fb::CreateAutoRefill(b, p.credits_micros, p.paid_minor, currency, p.fee_minor, p.bundles, ref, signal,
                                p.grant.priority, p.grant.expires_at_ms, category_or(p.grant, fb::GrantCategory::paid))
        .Union();
  });
}

std::string make_payment_failed(const EventHeader& h, std::string_view signal_id, std::string_view code,
                                std::string_view message) {
  return envelope(h, fb::Body::PaymentFailed, [&](FlatBufferBuilder& b) {
    auto signal = text(b, signal_id);
    auto c = text(b, code);
    auto m = text(b, message);
    return fb::CreatePaymentFailed(b, signal, c, m).Union();
  });
}

std::string make_refund(const EventHeader& h, std::string_view purchase_key, int64_t credits_micros, bool force,
                        std::string_view reason) {
  return envelope(h, fb::Body::Refund, [&](FlatBufferBuilder& b) {
    auto key = text(b, purchase_key);
    auto r = text(b, reason);
    return fb::CreateRefund(b, key, credits_micros, force, r).Union();
  });
}

std::string make_admin_adjustment(const EventHeader& h, int64_t credits_micros, std::string_view reason,
                                  std::string_view operator_id, bool force, const GrantTermsFields& g) {
  return envelope(h, fb::Body::AdminAdjustment, [&](FlatBufferBuilder& b) {
    auto r = text(b, reason);
    auto op = text(b, operator_id);
    return fb::CreateAdminAdjustment(b, credits_micros, r, op, force, g.priority, g.expires_at_ms,
                                     category_or(g, fb::GrantCategory::promotional))
        .Union();
  });
}

std::string make_credit_granted(const EventHeader& h, int64_t credits_micros, const GrantTermsFields& g,
                                std::string_view reason, std::string_view operator_id) {
  return envelope(h, fb::Body::CreditGranted, [&](FlatBufferBuilder& b) {
    auto r = text(b, reason);
    auto op = text(b, operator_id);
    return fb::CreateCreditGranted(b, credits_micros, category_or(g, fb::GrantCategory::promotional), g.priority,
                                   g.expires_at_ms, r, op)
        .Union();
  });
}

std::string make_grant_voided(const EventHeader& h, std::string_view grant_id, int64_t credits_micros,
                              std::string_view reason) {
  return envelope(h, fb::Body::GrantVoided, [&](FlatBufferBuilder& b) {
    auto id = text(b, grant_id);
    auto r = text(b, reason);
    return fb::CreateGrantVoided(b, id, credits_micros, r).Union();
  });
}

std::string make_usage(const EventHeader& h, const UsageFields& u) {
  return envelope(h, fb::Body::Usage, [&](FlatBufferBuilder& b) {
    auto member = text(b, u.member_id);
    auto workspace = text(b, u.workspace);
    auto project = text(b, u.project);
    auto agent = text(b, u.agent_id);
    auto session = text(b, u.session_id);
    auto model = text(b, u.model);
    auto sandbox_class = text(b, u.sandbox_class);
    auto provider = text(b, u.provider);
    auto hold_id = text(b, u.hold_id);
    fb::UsageBuilder ub(b);
    ub.add_member_id(member);
    ub.add_workspace(workspace);
    ub.add_project(project);
    ub.add_agent_id(agent);
    ub.add_session_id(session);
    ub.add_meter(u.meter);
    ub.add_model(model);
    ub.add_sandbox_class(sandbox_class);
    ub.add_provider(provider);
    ub.add_billing_path(u.billing_path);
    ub.add_input_tokens(u.input_tokens);
    ub.add_output_tokens(u.output_tokens);
    ub.add_cache_read_tokens(u.cache_read_tokens);
    ub.add_cache_write_tokens(u.cache_write_tokens);
    ub.add_seconds(u.seconds);
    if (u.reported_cost_micros) ub.add_reported_cost_micros(*u.reported_cost_micros);
    if (!u.hold_id.empty()) ub.add_hold_id(hold_id);
    if (u.hold_final) ub.add_hold_final(true);
    return ub.Finish().Union();
  });
}

namespace {

Offset<fb::HoldEstimate> hold_estimate(FlatBufferBuilder& b, const std::optional<HoldEstimateFields>& e) {
  if (!e) return {};
  auto model = text(b, e->model);
  auto sandbox_class = text(b, e->sandbox_class);
  return fb::CreateHoldEstimate(b, e->meter, model, sandbox_class, e->input_tokens, e->max_output_tokens,
                                e->seconds);
}

}  // namespace

std::string make_hold_placed(const EventHeader& h, const HoldFields& hold) {
  return envelope(h, fb::Body::HoldPlaced, [&](FlatBufferBuilder& b) {
    auto member = text(b, hold.member_id);
    auto workspace = text(b, hold.workspace);
    auto estimate = hold_estimate(b, hold.estimate);
    return fb::CreateHoldPlaced(b, member, workspace, hold.amount_micros, estimate, hold.ttl_ms, hold.allow_partial,
                                hold.min_micros)
        .Union();
  });
}

std::string make_hold_extended(const EventHeader& h, std::string_view hold_id, int64_t add_micros, int64_t ttl_ms,
                               const std::optional<HoldEstimateFields>& add_estimate) {
  return envelope(h, fb::Body::HoldExtended, [&](FlatBufferBuilder& b) {
    auto id = text(b, hold_id);
    auto estimate = hold_estimate(b, add_estimate);
    return fb::CreateHoldExtended(b, id, add_micros, estimate, ttl_ms).Union();
  });
}

std::string make_hold_released(const EventHeader& h, std::string_view hold_id) {
  return envelope(h, fb::Body::HoldReleased, [&](FlatBufferBuilder& b) {
    auto id = text(b, hold_id);
    return fb::CreateHoldReleased(b, id).Union();
  });
}

std::string make_rate_card(const EventHeader& h, const RateCardFields& card) {
  return envelope(h, fb::Body::RateCardPublished, [&](FlatBufferBuilder& b) {
    std::vector<flatbuffers::Offset<fb::ModelPrice>> models;
    for (const auto& [name, price] : card.models) {
      auto n = text(b, name);
      models.push_back(fb::CreateModelPrice(b, n, price.input_per_mtok_micros, price.output_per_mtok_micros,
                                            price.cache_read_per_mtok_micros, price.cache_write_per_mtok_micros));
    }
    std::vector<flatbuffers::Offset<fb::SandboxClassPrice>> classes;
    for (const auto& [name, per_hour] : card.sandbox_classes) {
      auto n = text(b, name);
      classes.push_back(fb::CreateSandboxClassPrice(b, n, per_hour));
    }
    auto m = b.CreateVector(models);
    auto c = b.CreateVector(classes);
    return fb::CreateRateCardPublished(b, card.version, card.markup_bp, card.byok_fee_bp, m, c).Union();
  });
}

std::string make_auto_refill_configured(const EventHeader& h, const AutoRefillPolicy& p) {
  return envelope(h, fb::Body::AutoRefillConfigured, [&](FlatBufferBuilder& b) {
    auto customer = text(b, p.payment_customer);
    return fb::CreateAutoRefillConfigured(b, p.enabled, p.threshold_micros.value(), p.refill_credits_micros.value(),
                                          p.max_per_day, p.max_per_month, customer, p.refill_bundles)
        .Union();
  });
}

std::string make_auto_refill_disabled(const EventHeader& h, std::string_view reason) {
  return envelope(h, fb::Body::AutoRefillDisabled, [&](FlatBufferBuilder& b) {
    auto r = text(b, reason);
    return fb::CreateAutoRefillDisabled(b, r).Union();
  });
}

std::string make_low_balance_threshold_set(const EventHeader& h, int64_t threshold_micros) {
  return envelope(h, fb::Body::LowBalanceThresholdSet,
                  [&](FlatBufferBuilder& b) { return fb::CreateLowBalanceThresholdSet(b, threshold_micros).Union(); });
}

std::string make_member_limit_set(const EventHeader& h, std::string_view member_id, int64_t monthly_limit_micros) {
  return envelope(h, fb::Body::MemberLimitSet, [&](FlatBufferBuilder& b) {
    auto m = text(b, member_id);
    return fb::CreateMemberLimitSet(b, m, monthly_limit_micros).Union();
  });
}

std::string make_member_limit_cleared(const EventHeader& h, std::string_view member_id) {
  return envelope(h, fb::Body::MemberLimitCleared, [&](FlatBufferBuilder& b) {
    auto m = text(b, member_id);
    return fb::CreateMemberLimitCleared(b, m).Union();
  });
}

std::string make_tick(const EventHeader& h) {
  return envelope(h, fb::Body::Tick, [&](FlatBufferBuilder& b) { return fb::CreateTick(b).Union(); });
}

std::string make_payment_customer_linked(const EventHeader& h, std::string_view payment_customer) {
  return envelope(h, fb::Body::PaymentCustomerLinked, [&](FlatBufferBuilder& b) {
    auto c = text(b, payment_customer);
    return fb::CreatePaymentCustomerLinked(b, c).Union();
  });
}

std::string make_workspace_billing_set(const EventHeader& h, std::string_view workspace, std::string_view project,
                                       std::optional<BillingPath> path) {
  return envelope(h, fb::Body::WorkspaceBillingSet, [&](FlatBufferBuilder& b) {
    auto w = text(b, workspace);
    auto p = text(b, project);
    const auto fb_path = path ? static_cast<fb::BillingPath>(*path) : fb::BillingPath::unset;
    return fb::CreateWorkspaceBillingSet(b, w, p, fb_path).Union();
  });
}

}  // namespace tally
