// Test support: a PaymentProvider (api/commerce.h) in memory, recording what it was asked, and a
// CommerceOptions around it: 100 credits for 10000 minor units of usd, a fee of 2.9% + 30.
// Thread-safe (the server's handler threads call it).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/commerce.h"

namespace tally::api::testing {

class FakePayments final : public PaymentProvider {
 public:
  Result<std::string> create_customer(const std::string& org_id, const std::string& idempotency_key) override {
    std::lock_guard lock(mutex_);
    if (failure_) return *failure_;
    customer_calls.push_back(org_id);
    auto [it, created] = customers_by_key_.emplace(idempotency_key, "cus_fake" + std::to_string(customers_by_key_.size() + 1));
    return it->second;
  }
  Result<CheckoutLink> create_checkout(const CheckoutOrder& order) override {
    std::lock_guard lock(mutex_);
    if (failure_) return *failure_;
    orders.push_back(order);
    const std::string id = "cs_fake" + std::to_string(orders.size());
    return CheckoutLink{id, "https://checkout.example/" + id};
  }
  Result<std::optional<PaymentCard>> saved_card(const std::string& customer) override {
    std::lock_guard lock(mutex_);
    if (failure_) return *failure_;
    const auto it = cards_.find(customer);
    if (it == cards_.end()) return std::optional<PaymentCard>();
    return std::optional<PaymentCard>(it->second);
  }

  void save_card(const std::string& customer, PaymentCard card) {
    std::lock_guard lock(mutex_);
    cards_[customer] = std::move(card);
  }
  // Every call fails with `status` from now on (nullopt: they succeed again).
  void fail_with(std::optional<Status> status) {
    std::lock_guard lock(mutex_);
    failure_ = std::move(status);
  }
  std::vector<CheckoutOrder> checkout_orders() {
    std::lock_guard lock(mutex_);
    return orders;
  }
  std::vector<std::string> customer_orgs() {
    std::lock_guard lock(mutex_);
    return customer_calls;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> customers_by_key_;
  std::map<std::string, PaymentCard> cards_;
  std::optional<Status> failure_;
  std::vector<CheckoutOrder> orders;
  std::vector<std::string> customer_calls;
};

inline CommerceOptions fake_commerce(std::shared_ptr<FakePayments> provider) {
  CommerceOptions options;
  options.offer = BundleOffer{Micros{100'000'000}, 10'000, "usd", 290, 30};
  options.price_id = "price_fake_bundle";
  options.provider = std::move(provider);
  options.key_scope = "test";
  return options;
}

}  // namespace tally::api::testing
