// The fold rules of SPEC §14 (buying credits, who pays per workspace), beside engine/fold.cpp,
// which calls them. Pure, as the fold is.
#pragma once

#include <string>

#include "engine/state.h"
#include "tally/events_generated.h"

namespace tally {

// PaymentCustomerLinked: remembers the org's customer at the payment provider (the latest link
// wins: a customer deleted at Stripe is replaced by linking a new one). Never rejected.
RejectReason apply_payment_customer_linked(OrgState& org, const fb::PaymentCustomerLinked& body);

// WorkspaceBillingSet: sets or (billing_path unset) removes the setting of (workspace, project).
// Rejected workspace_billing_full when a new setting would exceed
// limits::workspace_billing_settings_max; removing an absent setting is applied (no change).
RejectReason apply_workspace_billing_set(OrgState& org, const fb::WorkspaceBillingSet& body);

// The path a usage event asks to be billed by: its own billing_path, else its (workspace, project)
// setting, else its workspace's; unset when none (then the org's mode decides, engine/pricing.h).
fb::BillingPath requested_billing_path(const OrgState& org, const fb::Usage& usage);

// The customer a refill request charges: the policy's payment_customer, else the org's linked
// customer (the card saved at checkout becomes the auto-refill's payment method).
const std::string& refill_customer(const OrgState& org);

}  // namespace tally
