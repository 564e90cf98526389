// StripeClient's calls for buying credits (SPEC §14): see outbound/stripe_client.h.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "outbound/stripe_client.h"
#include "outbound/stripe_form.h"

namespace tally::connectors {
namespace json = boost::json;
using namespace stripe_detail;

namespace {

Status check_key(std::string_view idempotency_key) {
  if (idempotency_key.empty() || idempotency_key.size() > stripe_idempotency_key_bytes_max) {
    return Status::invalid("idempotency_key", "must be 1..255 bytes");
  }
  return Status::ok();
}

// "line_items[2][price_data][unit_amount]".
std::string line_field(std::size_t i, std::string_view rest) {
  return "line_items[" + std::to_string(i) + "]" + std::string(rest);
}

Status validate(const CheckoutRequest& r) {
  if (r.customer.empty()) return Status::invalid("customer", "is required");
  if (r.success_url.empty()) return Status::invalid("success_url", "is required");
  if (r.cancel_url.empty()) return Status::invalid("cancel_url", "is required");
  if (r.line_items.empty() || r.line_items.size() > stripe_line_items_max) {
    return Status::invalid("line_items", "must hold 1..100 items");
  }
  for (std::size_t i = 0; i < r.line_items.size(); ++i) {
    const CheckoutLineItem& item = r.line_items[i];
    if (item.quantity < 1) return Status::invalid(line_field(i, "[quantity]"), "must be >= 1");
    if (!item.price.empty()) continue;
    if (item.name.empty()) return Status::invalid(line_field(i, "[price_data][product_data][name]"), "is required");
    if (item.unit_amount_minor < 0) return Status::invalid(line_field(i, "[price_data][unit_amount]"), "must be >= 0");
    if (!is_currency(item.currency)) {
      return Status::invalid(line_field(i, "[price_data][currency]"), "must be 3 lower-case letters (ISO 4217)");
    }
  }
  if (Status s = check_metadata(r.metadata); !s.is_ok()) return s;
  return check_key(r.idempotency_key);
}

std::string checkout_form(const CheckoutRequest& r) {
  std::string form;
  append_form(form, "mode", "payment");
  append_form(form, "customer", r.customer);
  if (!r.client_reference_id.empty()) append_form(form, "client_reference_id", r.client_reference_id);
  for (std::size_t i = 0; i < r.line_items.size(); ++i) {
    const CheckoutLineItem& item = r.line_items[i];
    if (!item.price.empty()) {
      append_form(form, line_field(i, "[price]"), item.price);
    } else {
      append_form(form, line_field(i, "[price_data][currency]"), item.currency);
      append_form(form, line_field(i, "[price_data][unit_amount]"), std::to_string(item.unit_amount_minor));
      append_form(form, line_field(i, "[price_data][product_data][name]"), item.name);
    }
    append_form(form, line_field(i, "[quantity]"), std::to_string(item.quantity));
  }
  append_form(form, "success_url", r.success_url);
  append_form(form, "cancel_url", r.cancel_url);
  if (r.save_for_off_session) append_form(form, "payment_intent_data[setup_future_usage]", "off_session");
  append_metadata(form, "metadata", r.metadata);
  return form;
}

PriceInfo price_of(const json::object& price) {
  PriceInfo out;
  out.id = string_member(price, "id");
  out.product = string_member(price, "product");
  out.unit_amount_minor = int_member(price, "unit_amount");
  out.currency = string_member(price, "currency");
  out.active = bool_member(price, "active");
  out.one_time = string_member(price, "type") == "one_time";
  return out;
}

// The card of a PaymentMethod object; nullopt when it is not a card.
std::optional<SavedCard> card_of(const json::object& payment_method) {
  const json::object* card = object_member(payment_method, "card");
  if (card == nullptr || string_member(payment_method, "id").empty()) return std::nullopt;
  SavedCard out;
  out.payment_method = string_member(payment_method, "id");
  out.brand = string_member(*card, "brand");
  out.last4 = string_member(*card, "last4");
  out.exp_month = static_cast<int32_t>(int_member(*card, "exp_month"));
  out.exp_year = static_cast<int32_t>(int_member(*card, "exp_year"));
  return out;
}

}  // namespace

Result<HttpResponse> StripeClient::call(const HttpRequest& request) {
  for (int32_t attempt = 1;; ++attempt) {
    Result<HttpResponse> response = http_.send(request);
    std::string why;
    if (response.is_ok()) {
      const HttpResponse& r = response.value();
      if (classify_stripe_answer(r.status_code, r.header("stripe-should-retry")) != StripeAnswer::retryable) return response;
      why = "HTTP " + std::to_string(r.status_code) + ": " + parse_stripe_error(r.status_code, r.body).message;
    } else {
      if (http_.last_failure() == HttpFailure::invalid_request) return response.status();  // bad base_url
      why = response.status().to_string();
    }
    if (!config_.retry.may_retry(attempt)) {
      return Status::error(Status::Code::unavailable,
                           "Stripe did not answer after " + std::to_string(attempt) + " attempts: " + why);
    }
    sleep_ms_(config_.retry.backoff_ms(attempt));
  }
}

Result<json::object> StripeClient::call_object(const HttpRequest& request) {
  Result<HttpResponse> response = call(request);
  if (!response.is_ok()) return response.status();
  if (response->status_code < 200 || response->status_code >= 300) {
    return stripe_status(parse_stripe_error(response->status_code, response->body));
  }
  json::error_code ec;
  json::value body = json::parse(response->body, ec);
  if (ec || !body.is_object()) return Status::error(Status::Code::corruption, "Stripe answered with no JSON object");
  return std::move(body.get_object());
}

Result<std::string> StripeClient::create_org_customer(std::string_view org_id, std::string_view idempotency_key) {
  if (org_id.empty()) return Status::invalid("org_id", "is required");
  if (Status s = check_key(idempotency_key); !s.is_ok()) return s;
  HttpRequest request{"POST", config_.base_url + "/v1/customers", headers(idempotency_key), {}, config_.request_timeout_ms};
  append_form(request.body, "description", "Tally org " + std::string(org_id));
  append_form(request.body, "metadata[org_id]", org_id);
  Result<json::object> customer = call_object(request);
  if (!customer.is_ok()) return customer.status();
  std::string id = string_member(customer.value(), "id");
  if (id.empty()) return Status::error(Status::Code::corruption, "customer answer without an id");
  return id;
}

Result<CheckoutSession> StripeClient::create_checkout_session(const CheckoutRequest& r) {
  if (Status s = validate(r); !s.is_ok()) return s;
  HttpRequest request{"POST", config_.base_url + "/v1/checkout/sessions", headers(r.idempotency_key), checkout_form(r),
                      config_.request_timeout_ms};
  Result<json::object> session = call_object(request);
  if (!session.is_ok()) return session.status();
  CheckoutSession out{string_member(session.value(), "id"), string_member(session.value(), "url")};
  if (out.id.empty() || out.url.empty()) return Status::error(Status::Code::corruption, "Checkout Session without id or url");
  return out;
}

Result<std::optional<SavedCard>> StripeClient::saved_card(std::string_view customer) {
  if (customer.empty()) return Status::invalid("customer", "is required");
  const HttpRequest get_customer{"GET", config_.base_url + "/v1/customers/" + url_encode(customer), headers({}), {},
                                 config_.request_timeout_ms};
  Result<HttpResponse> answer = call(get_customer);
  if (!answer.is_ok()) return answer.status();
  if (answer->status_code == 404) return std::optional<SavedCard>();
  if (answer->status_code < 200 || answer->status_code >= 300) {
    return stripe_status(parse_stripe_error(answer->status_code, answer->body));
  }
  json::error_code ec;
  const json::value body = json::parse(answer->body, ec);
  const json::object* settings = !ec && body.is_object() ? object_member(body.get_object(), "invoice_settings") : nullptr;
  const json::value* chosen = settings != nullptr ? settings->if_contains("default_payment_method") : nullptr;
  if (chosen != nullptr && chosen->is_object()) return card_of(chosen->get_object());  // expanded
  std::string url = config_.base_url;
  if (chosen != nullptr && chosen->is_string() && !chosen->get_string().empty()) {
    url += "/v1/payment_methods/" + url_encode(std::string_view(chosen->get_string()));
  } else {
    url += "/v1/payment_methods?customer=" + url_encode(customer) + "&type=card&limit=1";
  }
  Result<HttpResponse> listed = call(HttpRequest{"GET", url, headers({}), {}, config_.request_timeout_ms});
  if (!listed.is_ok()) return listed.status();
  if (listed->status_code == 404) return std::optional<SavedCard>();
  if (listed->status_code < 200 || listed->status_code >= 300) {
    return stripe_status(parse_stripe_error(listed->status_code, listed->body));
  }
  const json::value found = json::parse(listed->body, ec);
  if (ec || !found.is_object()) return Status::error(Status::Code::corruption, "payment method answer is no JSON object");
  const json::value* data = found.get_object().if_contains("data");
  if (data == nullptr) return card_of(found.get_object());  // one payment method
  if (!data->is_array()) return Status::error(Status::Code::corruption, "payment method list without data");
  for (const json::value& item : data->get_array()) {
    if (item.is_object()) return card_of(item.get_object());
  }
  return std::optional<SavedCard>();
}

Result<PriceInfo> StripeClient::retrieve_price(std::string_view price_id) {
  if (price_id.empty()) return Status::invalid("price", "is required");
  Result<json::object> price = call_object(HttpRequest{"GET", config_.base_url + "/v1/prices/" + url_encode(price_id),
                                                       headers({}), {}, config_.request_timeout_ms});
  if (!price.is_ok()) return price.status();
  return price_of(price.value());
}

Result<PriceInfo> StripeClient::find_or_create_price(std::string_view product, int64_t unit_amount_minor,
                                                     std::string_view currency, std::string_view idempotency_key) {
  if (product.empty()) return Status::invalid("product", "is required");
  if (unit_amount_minor <= 0) return Status::invalid("unit_amount", "must be > 0");
  if (!is_currency(currency)) return Status::invalid("currency", "must be 3 lower-case letters (ISO 4217)");
  if (Status s = check_key(idempotency_key); !s.is_ok()) return s;
  const std::string list_url = config_.base_url + "/v1/prices?product=" + url_encode(product) +
                               "&currency=" + url_encode(currency) + "&type=one_time&active=true&limit=" +
                               std::to_string(stripe_prices_listed_max);
  Result<json::object> listed = call_object(HttpRequest{"GET", list_url, headers({}), {}, config_.request_timeout_ms});
  if (!listed.is_ok()) return listed.status();
  const json::value* data = listed->if_contains("data");
  if (data != nullptr && data->is_array()) {
    for (const json::value& item : data->get_array()) {
      if (!item.is_object()) continue;
      PriceInfo price = price_of(item.get_object());
      if (price.active && price.one_time && price.currency == currency && price.unit_amount_minor == unit_amount_minor) {
        return price;
      }
    }
  }
  HttpRequest create{"POST", config_.base_url + "/v1/prices", headers(idempotency_key), {}, config_.request_timeout_ms};
  append_form(create.body, "product", product);
  append_form(create.body, "currency", currency);
  append_form(create.body, "unit_amount", std::to_string(unit_amount_minor));
  append_form(create.body, "metadata[created_by]", "tally");
  Result<json::object> created = call_object(create);
  if (!created.is_ok()) return created.status();
  return price_of(created.value());
}

Result<ChargeOutcome> StripeClient::create_payment_intent(const PaymentIntentRequest& r) {
  if (r.customer.empty()) return Status::invalid("customer", "is required");
  if (r.payment_method.empty()) return Status::invalid("payment_method", "is required");
  if (r.amount_minor <= 0) return Status::invalid("amount_minor", "must be greater than 0");
  if (!is_currency(r.currency)) return Status::invalid("currency", "must be 3 lower-case letters (ISO 4217)");
  if (Status s = check_key(r.idempotency_key); !s.is_ok()) return s;
  if (Status s = check_metadata(r.metadata); !s.is_ok()) return s;
  HttpRequest request{"POST", config_.base_url + "/v1/payment_intents", headers(r.idempotency_key), {},
                      config_.request_timeout_ms};
  append_form(request.body, "amount", std::to_string(r.amount_minor));
  append_form(request.body, "currency", r.currency);
  append_form(request.body, "customer", r.customer);
  append_form(request.body, "payment_method", r.payment_method);
  append_form(request.body, "off_session", "true");
  append_form(request.body, "confirm", "true");
  if (!r.description.empty()) append_form(request.body, "description", r.description);
  append_metadata(request.body, "metadata", r.metadata);
  return pay(request, [](const json::object& intent, ChargeOutcome& outcome) {
    outcome.payment_intent = string_member(intent, "id");
    outcome.charge_id = string_member(intent, "latest_charge");
    outcome.amount_minor = int_member(intent, "amount");
    outcome.currency = string_member(intent, "currency");
    const std::string status = string_member(intent, "status");
    if (status != "succeeded") {
      outcome.kind = ChargeOutcome::Kind::declined;
      outcome.error = StripeError{200, "card_error", status, "", "the payment intent is " + status};
    }
    return !outcome.payment_intent.empty();
  });
}

}  // namespace tally::connectors
