#include "node/commerce.h"

#include "engine/digest.h"

namespace tally {
namespace {

using connectors::StripeClient;

class StripePayments final : public api::PaymentProvider {
 public:
  explicit StripePayments(connectors::StripeConfig config) : config_(std::move(config)) {}

  Result<std::string> create_customer(const std::string& org_id, const std::string& idempotency_key) override {
    return client().create_org_customer(org_id, idempotency_key);
  }

  Result<api::CheckoutLink> create_checkout(const api::CheckoutOrder& order) override {
    connectors::CheckoutRequest request;
    request.customer = order.customer;
    request.client_reference_id = order.org_id;
    request.line_items.push_back(connectors::CheckoutLineItem{order.price_id, "", 0, "", order.quote.bundles});
    if (order.quote.fee_minor > 0) {
      request.line_items.push_back(
          connectors::CheckoutLineItem{"", "Platform fee", order.quote.fee_minor, order.currency, 1});
    }
    request.success_url = order.success_url;
    request.cancel_url = order.cancel_url;
    request.save_for_off_session = true;
    request.metadata = order.metadata;
    request.idempotency_key = order.idempotency_key;
    Result<connectors::CheckoutSession> session = client().create_checkout_session(request);
    if (!session.is_ok()) return session.status();
    return api::CheckoutLink{session->id, session->url};
  }

  Result<std::optional<api::PaymentCard>> saved_card(const std::string& customer) override {
    Result<std::optional<connectors::SavedCard>> card = client().saved_card(customer);
    if (!card.is_ok()) return card.status();
    if (!card->has_value()) return std::optional<api::PaymentCard>();
    const connectors::SavedCard& c = card->value();
    return std::optional<api::PaymentCard>(api::PaymentCard{c.payment_method, c.brand, c.last4, c.exp_month, c.exp_year});
  }

 private:
  // A client per call: StripeClient is not thread-safe, and handlers run on several threads.
  StripeClient client() const { return StripeClient(config_); }
  connectors::StripeConfig config_;
};

// The configured price must be what the settings sell: one-time, active, same currency and amount.
Result<BundleOffer> checked_price(const connectors::PriceInfo& price, BundleOffer offer) {
  const std::string what = "price " + price.id + " at Stripe ";
  if (!price.one_time) return Status::invalid("price_id", what + "is recurring: checkout sells one-time prices");
  if (!price.active) return Status::invalid("price_id", what + "is not active");
  if (price.currency != offer.currency) {
    return Status::invalid("price_id", what + "is in " + price.currency + ", not " + offer.currency);
  }
  if (offer.unit_amount_minor != price.unit_amount_minor) {
    return Status::invalid("price_id", what + "costs " + std::to_string(price.unit_amount_minor) +
                                           " minor units, not the bundle's " + std::to_string(offer.unit_amount_minor));
  }
  return offer;
}

}  // namespace

std::shared_ptr<api::PaymentProvider> stripe_payment_provider(connectors::StripeConfig config) {
  return std::make_shared<StripePayments>(std::move(config));
}

Result<api::CommerceOptions> start_commerce(const CommerceSettings& settings, const std::string& key_scope) {
  if (settings.price_id.empty() == settings.product_id.empty()) {
    return Status::invalid("price_id", "give the bundle's Stripe price or its product, one of them");
  }
  StripeClient stripe(settings.stripe);
  api::CommerceOptions options;
  if (!settings.price_id.empty()) {
    Result<connectors::PriceInfo> price = stripe.retrieve_price(settings.price_id);
    if (!price.is_ok()) {
      if (price.status().code() == Status::Code::unavailable) return price.status();
      return Status::invalid("price_id", "Stripe: " + price.status().message());
    }
    Result<BundleOffer> offer = checked_price(price.value(), settings.offer);
    if (!offer.is_ok()) return offer.status();
    options.offer = offer.value();
    options.price_id = price->id;
  } else {
    // One price per (ledger, product, amount, currency), whatever the length of the product id.
    const std::string what = settings.product_id + ":" + std::to_string(settings.offer.unit_amount_minor) + ":" +
                             settings.offer.currency;
    Result<connectors::PriceInfo> price =
        stripe.find_or_create_price(settings.product_id, settings.offer.unit_amount_minor, settings.offer.currency,
                                    "tally-price:" + key_scope + ":" + murmur3_128(what.data(), what.size()).to_hex());
    if (!price.is_ok()) {
      if (price.status().code() == Status::Code::unavailable) return price.status();
      return Status::invalid("product_id", "Stripe: " + price.status().message());
    }
    options.offer = settings.offer;
    options.price_id = price->id;
  }
  if (Status s = validate(options.offer); !s.is_ok()) return s;
  options.provider = stripe_payment_provider(settings.stripe);
  options.key_scope = key_scope;
  return options;
}

}  // namespace tally
