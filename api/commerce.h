// Buying credits over the API (SPEC §14): what the price, checkout and payment-method routes need
// from outside api/. The payment provider (Stripe) sits behind an interface, so api/ holds no HTTP
// client: node/ gives the server one built on outbound/'s Stripe client.
//
// Caveats first:
//  - Provider calls block (network): the routes that make them run on the blocking pool.
//  - A provider is shared by every handler thread: implementations must be thread-safe.
//  - Errors: unavailable (the provider did not answer; the routes say 503) or invalid_argument
//    with the provider's message (it refused; the routes say 502). Nothing is appended to the
//    ledger for a checkout: its Purchase comes with the provider's completion webhook.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/bundle_price.h"
#include "engine/status.h"

namespace tally::api {

// A checkout of `quote.bundles` bundles, as the provider is asked to make it.
struct CheckoutOrder {
  std::string org_id;
  std::string customer;  // the org's customer at the provider
  std::string price_id;  // the bundle's price at the provider
  BundleQuote quote;
  std::string currency;
  std::string success_url;
  std::string cancel_url;
  // Names the org, the bundles and the credits (and paid/fee): the completion webhook's Purchase
  // is built from them (ingest/stripe_events.h).
  std::vector<std::pair<std::string, std::string>> metadata;
  std::string idempotency_key;
};

struct CheckoutLink {
  std::string session_id;
  std::string url;
};

// The card a customer saved (what a billing page shows).
struct PaymentCard {
  std::string payment_method;
  std::string brand;
  std::string last4;
  int32_t exp_month = 0;
  int32_t exp_year = 0;
};

class PaymentProvider {
 public:
  virtual ~PaymentProvider() = default;
  // Creates the org's customer; the same `idempotency_key` gives the same customer (a retried
  // first checkout makes one).
  virtual Result<std::string> create_customer(const std::string& org_id, const std::string& idempotency_key) = 0;
  // A hosted checkout: the bundle price × quantity, the fee as its own line, the card saved for
  // off-session charges (auto-refill), the order's metadata.
  virtual Result<CheckoutLink> create_checkout(const CheckoutOrder& order) = 0;
  // The customer's saved card; nullopt when it has none.
  virtual Result<std::optional<PaymentCard>> saved_card(const std::string& customer) = 0;
};

struct CommerceOptions {
  BundleOffer offer;     // credits per bundle, its price and currency, the platform fee
  std::string price_id;  // the provider's price of one bundle (configured, or made at start)
  std::shared_ptr<PaymentProvider> provider;
  // Scopes the provider idempotency keys of customers (two ledgers on one Stripe account must not
  // share them): e.g. a digest of the events log's identity.
  std::string key_scope;
};

}  // namespace tally::api
