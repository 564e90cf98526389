#include "outbound/stripe_client.h"

#include <chrono>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "outbound/stripe_form.h"

namespace tally::connectors {
namespace json = boost::json;
using namespace stripe_detail;
namespace {

void real_sleep(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::vector<std::pair<std::string, std::string>> metadata_member(const json::object& object) {
  std::vector<std::pair<std::string, std::string>> out;
  const json::value* value = object.if_contains("metadata");
  if (value == nullptr || !value->is_object()) return out;
  for (const auto& item : value->get_object()) {
    if (item.value().is_string()) out.emplace_back(std::string(item.key()), std::string(item.value().get_string()));
  }
  return out;
}

Status validate(const ChargeRequest& request) {
  if (request.customer.empty() == request.source.empty()) {
    return Status::invalid("customer", "exactly one of customer and source is required");
  }
  if (request.amount_minor <= 0) return Status::invalid("amount_minor", "must be greater than 0");
  if (!is_currency(request.currency)) return Status::invalid("currency", "must be 3 lower-case letters (ISO 4217)");
  if (request.idempotency_key.empty() || request.idempotency_key.size() > stripe_idempotency_key_bytes_max) {
    return Status::invalid("idempotency_key", "must be 1..255 bytes");
  }
  return check_metadata(request.metadata);
}

}  // namespace

StripeAnswer classify_stripe_answer(int32_t http_status, const std::string* should_retry) {
  if (http_status >= 200 && http_status < 300) return StripeAnswer::success;
  // Stripe's own hint beats our reading of the status code.
  if (should_retry != nullptr && *should_retry == "true") return StripeAnswer::retryable;
  if (should_retry != nullptr && *should_retry == "false") {
    return http_status == 402 ? StripeAnswer::declined : StripeAnswer::rejected;
  }
  if (http_status == 402) return StripeAnswer::declined;
  if (http_status == 409 || http_status == 429 || http_status >= 500) return StripeAnswer::retryable;
  return StripeAnswer::rejected;
}

StripeError parse_stripe_error(int32_t http_status, std::string_view body) {
  StripeError error;
  error.http_status = http_status;
  json::error_code ec;
  const json::value value = json::parse(json::string_view(body.data(), body.size()), ec);
  const json::object* object = !ec && value.is_object() ? &value.get_object() : nullptr;
  const json::value* inner = object != nullptr ? object->if_contains("error") : nullptr;
  if (inner != nullptr && inner->is_object()) {
    const json::object& e = inner->get_object();
    error.type = string_member(e, "type");
    error.code = string_member(e, "code");
    error.decline_code = string_member(e, "decline_code");
    error.message = string_member(e, "message");
  } else if (object != nullptr && object->contains("message")) {
    error.message = string_member(*object, "message");  // the emulator's unexpected-error shape
  } else {
    error.message = std::string(body.substr(0, 512));
  }
  return error;
}

std::string_view kind_name(ChargeOutcome::Kind kind) {
  switch (kind) {
    case ChargeOutcome::Kind::succeeded: return "succeeded";
    case ChargeOutcome::Kind::declined: return "declined";
    case ChargeOutcome::Kind::rejected: return "rejected";
    case ChargeOutcome::Kind::retries_exhausted: return "retries_exhausted";
  }
  return "unknown";
}

std::string ChargeOutcome::failure_code() const {
  if (kind == Kind::succeeded) return {};
  if (!error.decline_code.empty()) return error.decline_code;
  if (kind == Kind::retries_exhausted) return "timeout";
  if (!error.code.empty()) return error.code;
  return "http_" + std::to_string(error.http_status);
}

namespace {

// The form body of POST /v1/charges for `request`.
std::string charge_form(const ChargeRequest& request) {
  std::string form;
  append_form(form, "amount", std::to_string(request.amount_minor));
  append_form(form, "currency", request.currency);
  if (!request.customer.empty()) append_form(form, "customer", request.customer);
  if (!request.source.empty()) append_form(form, "source", request.source);
  if (!request.description.empty()) append_form(form, "description", request.description);
  append_metadata(form, "metadata", request.metadata);
  return form;
}

}  // namespace

StripeClient::StripeClient(StripeConfig config, SleepFunction sleep_ms)
    : config_(std::move(config)), sleep_ms_(sleep_ms ? std::move(sleep_ms) : SleepFunction(real_sleep)) {
  while (!config_.base_url.empty() && config_.base_url.back() == '/') config_.base_url.pop_back();
}

std::vector<HttpHeader> StripeClient::headers(std::string_view idempotency_key) const {
  std::vector<HttpHeader> out{{"Authorization", "Bearer " + config_.api_key},
                              {"Content-Type", "application/x-www-form-urlencoded"}};
  if (!idempotency_key.empty()) out.push_back({"Idempotency-Key", std::string(idempotency_key)});
  return out;
}

Result<ChargeOutcome> StripeClient::create_charge(const ChargeRequest& request) {
  if (Status s = validate(request); !s.is_ok()) return s;
  HttpRequest http_request;
  http_request.method = "POST";
  http_request.url = config_.base_url + "/v1/charges";
  http_request.headers = headers(request.idempotency_key);
  // The body is built once: every attempt must send identical parameters, or Stripe answers
  // "Keys for idempotent requests can only be used with the same parameters".
  http_request.body = charge_form(request);
  http_request.timeout_ms = config_.request_timeout_ms;
  return pay(http_request, [](const json::object& charge, ChargeOutcome& outcome) {
    outcome.charge_id = string_member(charge, "id");
    outcome.amount_minor = int_member(charge, "amount");
    outcome.currency = string_member(charge, "currency");
    return !outcome.charge_id.empty();
  });
}

namespace {

// The declined answer of one attempt: Stripe names the failed charge in its error object.
void read_decline(const HttpResponse& r, ChargeOutcome& outcome) {
  outcome.kind = ChargeOutcome::Kind::declined;
  json::error_code ec;
  const json::value body = json::parse(json::string_view(r.body.data(), r.body.size()), ec);
  const json::value* error = !ec && body.is_object() ? body.get_object().if_contains("error") : nullptr;
  if (error != nullptr && error->is_object()) outcome.charge_id = string_member(error->get_object(), "charge");
}

}  // namespace

Result<ChargeOutcome> StripeClient::pay(const HttpRequest& http_request, const ReadPayment& read_success) {
  ChargeOutcome outcome;
  for (int32_t attempt = 1;; ++attempt) {
    outcome.attempts = attempt;
    Result<HttpResponse> response = http_.send(http_request);
    StripeAnswer answer = StripeAnswer::retryable;
    if (!response.is_ok()) {
      if (http_.last_failure() == HttpFailure::invalid_request) return response.status();  // bad base_url
      outcome.error = StripeError{0, "", "", "", response.status().to_string()};
      outcome.replayed = false;
    } else {
      const HttpResponse& r = response.value();
      const std::string* replayed = r.header("idempotent-replayed");
      outcome.replayed = replayed != nullptr && *replayed == "true";
      answer = classify_stripe_answer(r.status_code, r.header("stripe-should-retry"));
      if (answer == StripeAnswer::success) {
        json::error_code ec;
        const json::value body = json::parse(json::string_view(r.body.data(), r.body.size()), ec);
        if (!ec && body.is_object() && read_success(body.get_object(), outcome)) {
          if (outcome.kind == ChargeOutcome::Kind::retries_exhausted) outcome.kind = ChargeOutcome::Kind::succeeded;
          if (outcome.kind == ChargeOutcome::Kind::succeeded) outcome.error = StripeError{};
          return outcome;
        }
        // Money may have moved and we cannot tell: treat like a lost answer and ask again with
        // the same key, which returns the stored result.
        outcome.error = StripeError{r.status_code, "", "", "", "unreadable success body"};
        answer = StripeAnswer::retryable;
      } else {
        outcome.error = parse_stripe_error(r.status_code, r.body);
        if (answer == StripeAnswer::declined) {
          read_decline(r, outcome);
          return outcome;
        }
        if (answer == StripeAnswer::rejected) {
          outcome.kind = ChargeOutcome::Kind::rejected;
          return outcome;
        }
      }
    }
    // Retryable.
    if (!config_.retry.may_retry(attempt)) {
      outcome.kind = ChargeOutcome::Kind::retries_exhausted;
      return outcome;
    }
    sleep_ms_(config_.retry.backoff_ms(attempt));
  }
}

Result<ChargeOutcome> StripeClient::create_charge(std::string customer, int64_t amount_minor, std::string currency,
                                                  std::string idempotency_key,
                                                  std::vector<std::pair<std::string, std::string>> metadata) {
  ChargeRequest request;
  request.customer = std::move(customer);
  request.amount_minor = amount_minor;
  request.currency = std::move(currency);
  request.idempotency_key = std::move(idempotency_key);
  request.metadata = std::move(metadata);
  return create_charge(request);
}

Result<std::string> StripeClient::create_customer(std::string_view source_token) {
  if (source_token.empty()) return Status::invalid("source", "must not be empty");
  std::string form;
  append_form(form, "source", source_token);
  Result<HttpResponse> response =
      http_.post(config_.base_url + "/v1/customers", headers({}), std::move(form), config_.request_timeout_ms);
  if (!response.is_ok()) return response.status();
  if (response->status_code < 200 || response->status_code >= 300) {
    return stripe_status(parse_stripe_error(response->status_code, response->body));
  }
  json::error_code ec;
  const json::value body = json::parse(response->body, ec);
  const std::string id = !ec && body.is_object() ? string_member(body.get_object(), "id") : std::string();
  if (id.empty()) return Status::error(Status::Code::corruption, "customer response without an id");
  return id;
}

Result<std::vector<ChargeSummary>> StripeClient::list_charges(std::string_view customer) {
  std::string url = config_.base_url + "/v1/charges?limit=" + std::to_string(stripe_charges_listed_max);
  if (!customer.empty()) url += "&customer=" + url_encode(customer);
  Result<HttpResponse> response = http_.get(url, headers({}), config_.request_timeout_ms);
  if (!response.is_ok()) return response.status();
  if (response->status_code < 200 || response->status_code >= 300) {
    return stripe_status(parse_stripe_error(response->status_code, response->body));
  }
  json::error_code ec;
  const json::value body = json::parse(response->body, ec);
  const json::value* data = !ec && body.is_object() ? body.get_object().if_contains("data") : nullptr;
  if (data == nullptr || !data->is_array()) return Status::error(Status::Code::corruption, "charge list without data");
  std::vector<ChargeSummary> out;
  for (const json::value& item : data->get_array()) {
    if (!item.is_object()) continue;
    const json::object& charge = item.get_object();
    ChargeSummary summary;
    summary.id = string_member(charge, "id");
    summary.amount_minor = int_member(charge, "amount");
    summary.currency = string_member(charge, "currency");
    summary.status = string_member(charge, "status");
    summary.paid = bool_member(charge, "paid");
    summary.metadata = metadata_member(charge);
    out.push_back(std::move(summary));
  }
  return out;
}

}  // namespace tally::connectors
