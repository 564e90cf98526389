#include "engine/fold_commerce.h"

#include "engine/limits.h"

namespace tally {
namespace {

std::string_view view(const flatbuffers::String* s) { return s ? s->string_view() : std::string_view(); }

}  // namespace

RejectReason apply_payment_customer_linked(OrgState& org, const fb::PaymentCustomerLinked& body) {
  org.payment_customer.assign(view(body.payment_customer()));
  return RejectReason::none;
}

RejectReason apply_workspace_billing_set(OrgState& org, const fb::WorkspaceBillingSet& body) {
  std::optional<BillingPath> path;
  if (body.billing_path() == fb::BillingPath::credits) path = BillingPath::credits;
  if (body.billing_path() == fb::BillingPath::byok) path = BillingPath::byok;
  const bool set = org.workspace_billing.set(view(body.workspace()), view(body.project()), path,
                                             limits::workspace_billing_settings_max);
  return set ? RejectReason::none : RejectReason::workspace_billing_full;
}

fb::BillingPath requested_billing_path(const OrgState& org, const fb::Usage& usage) {
  if (usage.billing_path() != fb::BillingPath::unset || org.workspace_billing.empty()) return usage.billing_path();
  const std::optional<BillingPath> set = org.workspace_billing.resolve(view(usage.workspace()), view(usage.project()));
  if (!set) return fb::BillingPath::unset;
  return *set == BillingPath::byok ? fb::BillingPath::byok : fb::BillingPath::credits;
}

const std::string& refill_customer(const OrgState& org) {
  return org.auto_refill.payment_customer.empty() ? org.payment_customer : org.auto_refill.payment_customer;
}

}  // namespace tally
