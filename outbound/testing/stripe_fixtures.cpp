#include "outbound/testing/stripe_fixtures.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "outbound/testing/stripe_fixture_checks.h"

namespace tally::connectors::testing {
namespace json = boost::json;

namespace {

ReceiverResponse stripe_error(int status, std::string_view type, std::string_view message, std::string_view param = {},
                              std::string_view code = {}) {
  json::object error{{"type", type}, {"message", message}};
  if (!param.empty()) error["param"] = param;
  if (!code.empty()) error["code"] = code;
  return ReceiverResponse{status, json::serialize(json::object{{"error", std::move(error)}}), {}};
}

ReceiverResponse ok_json(const json::value& value) { return ReceiverResponse{200, json::serialize(value), {}}; }

// The route pattern of a path: "/v1/customers/cus_1" -> "/v1/customers/{id}".
std::string route_of(std::string_view path) {
  for (std::string_view collection : {"/v1/customers/", "/v1/payment_methods/", "/v1/prices/"}) {
    if (path.starts_with(collection) && path.size() > collection.size() &&
        path.find('/', collection.size()) == std::string_view::npos) {
      return std::string(collection) + "{id}";
    }
  }
  return std::string(path);
}

std::string param_of(const FormParams& params, std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

json::object metadata_of(const FormParams& params, std::string_view prefix) {
  json::object out;
  const std::string head = std::string(prefix) + "[";
  for (const auto& [key, value] : params) {
    if (key.starts_with(head) && key.back() == ']' && key.find('[', head.size()) == std::string::npos) {
      out[key.substr(head.size(), key.size() - head.size() - 1)] = value;
    }
  }
  return out;
}

}  // namespace

std::string StripeCall::param(std::string_view name) const { return param_of(params, name); }

bool StripeCall::has(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return true;
  }
  return false;
}

class StripeFixtureServer::State {
 public:
  mutable std::mutex mutex;
  json::object fixtures;  // resource -> example object
  std::vector<StripeCall> calls;
  std::vector<std::string> violations;
  std::map<std::string, json::object> customers, sessions, prices, payment_methods;
  std::map<std::string, std::vector<std::string>> saved;  // customer -> payment methods, newest last
  struct Stored {
    std::string request;  // method, path and parameters
    ReceiverResponse response;
  };
  std::map<std::string, Stored> idempotency;
  std::string next_decline;
  int counter = 0;

  json::object example(std::string_view resource) const { return fixtures.at(resource).as_object(); }
  std::string new_id(std::string_view prefix) { return std::string(prefix) + "_fx" + std::to_string(++counter); }

  ReceiverResponse route(const std::string& method, const std::string& route, const std::string& path,
                         const FormParams& params);
  ReceiverResponse create_customer(const FormParams& params);
  ReceiverResponse get_customer(const std::string& id);
  ReceiverResponse create_session(const FormParams& params);
  ReceiverResponse list_payment_methods(const FormParams& params);
  ReceiverResponse create_price(const FormParams& params);
  ReceiverResponse list_prices(const FormParams& params);
  ReceiverResponse create_payment_intent(const FormParams& params);
  json::object price_object(std::string id, std::string product, int64_t amount, std::string currency);
};

json::object StripeFixtureServer::State::price_object(std::string id, std::string product, int64_t amount,
                                                      std::string currency) {
  json::object price = example("price");
  price["id"] = std::move(id);
  price["product"] = std::move(product);
  price["unit_amount"] = amount;
  price["unit_amount_decimal"] = std::to_string(amount);
  price["currency"] = std::move(currency);
  price["type"] = "one_time";
  price["recurring"] = nullptr;
  price["transform_quantity"] = nullptr;
  return price;
}

ReceiverResponse StripeFixtureServer::State::create_customer(const FormParams& params) {
  json::object customer = example("customer");
  const std::string id = new_id("cus");
  customer["id"] = id;
  customer["description"] = param_of(params, "description");
  customer["metadata"] = metadata_of(params, "metadata");
  customer["discount"] = nullptr;
  customer["invoice_settings"].as_object()["default_payment_method"] = nullptr;
  customers[id] = customer;
  return ok_json(customer);
}

ReceiverResponse StripeFixtureServer::State::get_customer(const std::string& id) {
  const auto it = customers.find(id);
  if (it == customers.end()) {
    return stripe_error(404, "invalid_request_error", "No such customer: '" + id + "'", "id", "resource_missing");
  }
  return ok_json(it->second);
}

ReceiverResponse StripeFixtureServer::State::create_session(const FormParams& params) {
  const std::string customer = param_of(params, "customer");
  if (!customer.empty() && customers.count(customer) == 0) {
    return stripe_error(400, "invalid_request_error", "No such customer: '" + customer + "'", "customer", "resource_missing");
  }
  int64_t total = 0;
  std::string currency;
  for (int i = 0;; ++i) {
    const std::string line = "line_items[" + std::to_string(i) + "]";
    const std::string quantity = param_of(params, line + "[quantity]");
    const std::string price_id = param_of(params, line + "[price]");
    const std::string amount = param_of(params, line + "[price_data][unit_amount]");
    if (quantity.empty() && price_id.empty() && amount.empty()) break;
    int64_t unit = 0;
    if (!price_id.empty()) {
      const auto price = prices.find(price_id);
      if (price == prices.end()) {
        return stripe_error(400, "invalid_request_error", "No such price: '" + price_id + "'", line + "[price]", "resource_missing");
      }
      unit = price->second.at("unit_amount").as_int64();
      currency = std::string(price->second.at("currency").as_string());
    } else {
      unit = amount.empty() ? 0 : std::stoll(amount);
      if (currency.empty()) currency = param_of(params, line + "[price_data][currency]");
    }
    total += unit * (quantity.empty() ? 1 : std::stoll(quantity));
  }
  json::object session = example("checkout.session");
  const std::string id = "cs_test_" + new_id("a");
  session["id"] = id;
  session["url"] = "https://checkout.stripe.com/c/pay/" + id;
  session["mode"] = param_of(params, "mode");
  session["customer"] = customer.empty() ? json::value(nullptr) : json::value(customer);
  const std::string reference = param_of(params, "client_reference_id");
  session["client_reference_id"] = reference.empty() ? json::value(nullptr) : json::value(reference);
  session["success_url"] = param_of(params, "success_url");
  session["cancel_url"] = param_of(params, "cancel_url");
  session["metadata"] = metadata_of(params, "metadata");
  session["amount_subtotal"] = total;
  session["amount_total"] = total;
  session["currency"] = currency;
  session["total_details"] = json::object{{"amount_discount", 0}, {"amount_shipping", 0}, {"amount_tax", 0}};
  session["shipping_cost"] = nullptr;
  session["shipping_address_collection"] = nullptr;
  session["status"] = "open";
  session["payment_status"] = "unpaid";
  session["payment_intent"] = nullptr;
  session["setup_future_usage"] = param_of(params, "payment_intent_data[setup_future_usage]");  // kept for completion
  sessions[id] = session;
  json::object answer = session;
  answer.erase("setup_future_usage");  // not a field of Stripe's session object
  return ok_json(answer);
}

ReceiverResponse StripeFixtureServer::State::list_payment_methods(const FormParams& params) {
  const std::string customer = param_of(params, "customer");
  if (customers.count(customer) == 0) {
    return stripe_error(404, "invalid_request_error", "No such customer: '" + customer + "'", "customer", "resource_missing");
  }
  json::array data;
  const auto it = saved.find(customer);
  if (it != saved.end()) {
    for (auto pm = it->second.rbegin(); pm != it->second.rend(); ++pm) data.push_back(payment_methods.at(*pm));  // newest first
  }
  const std::string limit = param_of(params, "limit");
  if (!limit.empty() && data.size() > static_cast<std::size_t>(std::stoll(limit))) data.resize(static_cast<std::size_t>(std::stoll(limit)));
  return ok_json(json::object{{"object", "list"}, {"data", std::move(data)}, {"has_more", false},
                              {"url", "/v1/payment_methods"}});
}

ReceiverResponse StripeFixtureServer::State::create_price(const FormParams& params) {
  const std::string amount = param_of(params, "unit_amount");
  json::object price = price_object(new_id("price"), param_of(params, "product"), amount.empty() ? 0 : std::stoll(amount),
                                    param_of(params, "currency"));
  price["metadata"] = metadata_of(params, "metadata");
  prices[std::string(price.at("id").as_string())] = price;
  return ok_json(price);
}

ReceiverResponse StripeFixtureServer::State::list_prices(const FormParams& params) {
  json::array data;
  for (const auto& [id, price] : prices) {
    bool match = true;
    for (std::string_view field : {"product", "currency", "type"}) {
      const std::string wanted = param_of(params, field);
      if (!wanted.empty() && price.at(field).as_string() != wanted) match = false;
    }
    if (match) data.push_back(price);
  }
  return ok_json(json::object{{"object", "list"}, {"data", std::move(data)}, {"has_more", false}, {"url", "/v1/prices"}});
}

ReceiverResponse StripeFixtureServer::State::create_payment_intent(const FormParams& params) {
  const std::string customer = param_of(params, "customer");
  const std::string payment_method = param_of(params, "payment_method");
  const auto cards = saved.find(customer);
  const bool attached = cards != saved.end() &&
                        std::find(cards->second.begin(), cards->second.end(), payment_method) != cards->second.end();
  if (!attached) {
    return stripe_error(400, "invalid_request_error",
                        "The provided PaymentMethod " + payment_method + " is not attached to customer " + customer,
                        "payment_method", "resource_missing");
  }
  json::object intent = example("payment_intent");
  const std::string id = new_id("pi");
  const std::string charge = new_id("ch");
  intent["id"] = id;
  intent["client_secret"] = id + "_secret_fixture";
  intent["amount"] = std::stoll(param_of(params, "amount"));
  intent["amount_received"] = intent["amount"];
  intent["currency"] = param_of(params, "currency");
  intent["customer"] = customer;
  intent["payment_method"] = payment_method;
  intent["metadata"] = metadata_of(params, "metadata");
  intent["last_payment_error"] = nullptr;
  intent["next_action"] = nullptr;
  intent["canceled_at"] = nullptr;
  if (!next_decline.empty()) {
    json::object error{{"type", "card_error"}, {"code", "card_declined"}, {"decline_code", next_decline},
                       {"message", "Your card was declined."}, {"charge", charge}};
    intent["status"] = "requires_payment_method";
    error["payment_intent"] = intent;
    next_decline.clear();
    return ReceiverResponse{402, json::serialize(json::object{{"error", std::move(error)}}), {}};
  }
  intent["status"] = "succeeded";
  intent["latest_charge"] = charge;
  return ok_json(intent);
}

ReceiverResponse StripeFixtureServer::State::route(const std::string& method, const std::string& route,
                                                   const std::string& path, const FormParams& params) {
  const std::string id = route.ends_with("{id}") ? path.substr(path.rfind('/') + 1) : std::string();
  if (method == "POST" && route == "/v1/customers") return create_customer(params);
  if (method == "GET" && route == "/v1/customers/{id}") return get_customer(id);
  if (method == "POST" && route == "/v1/checkout/sessions") return create_session(params);
  if (method == "GET" && route == "/v1/payment_methods") return list_payment_methods(params);
  if (method == "GET" && route == "/v1/payment_methods/{id}") {
    if (payment_methods.count(id) == 0) return stripe_error(404, "invalid_request_error", "No such PaymentMethod: '" + id + "'");
    return ok_json(payment_methods.at(id));
  }
  if (method == "POST" && route == "/v1/prices") return create_price(params);
  if (method == "GET" && route == "/v1/prices") return list_prices(params);
  if (method == "GET" && route == "/v1/prices/{id}") {
    if (prices.count(id) == 0) return stripe_error(404, "invalid_request_error", "No such price: '" + id + "'", "id", "resource_missing");
    return ok_json(prices.at(id));
  }
  if (method == "POST" && route == "/v1/payment_intents") return create_payment_intent(params);
  return stripe_error(404, "invalid_request_error", "Unrecognized request URL (" + method + ": " + path + ")");
}

Result<std::unique_ptr<StripeFixtureServer>> StripeFixtureServer::start() {
  const char* source = std::getenv("TALLY_SOURCE_DIR");
  if (source == nullptr) return Status::error(Status::Code::not_found, "TALLY_SOURCE_DIR is not set (ctest sets it)");
  const std::string path = std::string(source) + "/tests/stripe/fixtures.json";
  std::ifstream file(path);
  if (!file) return Status::error(Status::Code::not_found, "cannot read " + path);
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  json::error_code ec;
  json::value all = json::parse(text, ec);
  if (ec || !all.is_object() || !all.as_object().contains("resources")) {
    return Status::error(Status::Code::corruption, path + ": not the Stripe fixtures");
  }
  std::unique_ptr<StripeFixtureServer> server(new StripeFixtureServer());
  server->state_ = std::make_unique<State>();
  server->state_->fixtures = all.as_object().at("resources").as_object();
  auto receiver = HttpReceiver::start([raw = server.get()](const ReceivedRequest& request) { return raw->handle(request); });
  if (!receiver.is_ok()) return receiver.status();
  server->receiver_ = std::move(receiver.value());
  return server;
}

StripeFixtureServer::~StripeFixtureServer() { receiver_.reset(); }

// Auth, the parameters of the call, idempotency; then the route. Every refusal is a violation.
ReceiverResponse StripeFixtureServer::handle(const ReceivedRequest& request) {
  std::lock_guard lock(state_->mutex);
  StripeCall call;
  call.method = request.method;
  const std::size_t query = request.target.find('?');
  call.path = request.target.substr(0, query);
  const std::string* key = request.header("idempotency-key");
  if (key != nullptr) call.idempotency_key = *key;
  const auto refuse = [&](ReceiverResponse response, const std::string& why) {
    state_->violations.push_back(call.method + " " + call.path + ": " + why);
    call.status = response.status;
    state_->calls.push_back(call);
    return response;
  };
  const std::string* auth = request.header("authorization");
  if (auth == nullptr || *auth != std::string("Bearer ") + api_key) {
    return refuse(stripe_error(401, "invalid_request_error", "Invalid API Key provided"), "no or wrong bearer key");
  }
  const bool post = request.method == "POST";
  const std::string* type = request.header("content-type");
  if (post && (type == nullptr || type->find("application/x-www-form-urlencoded") != 0)) {
    return refuse(stripe_error(400, "invalid_request_error", "bodies must be form-encoded"), "not form-encoded");
  }
  Result<FormParams> params = decode_form(post ? std::string_view(request.body)
                                               : query == std::string::npos ? std::string_view()
                                                                            : std::string_view(request.target).substr(query + 1));
  if (!params.is_ok()) return refuse(stripe_error(400, "invalid_request_error", params.status().message()), params.status().message());
  call.params = params.value();
  const std::string route = route_of(call.path);
  const std::vector<ParamSpec>* spec = documented_params(call.method, route);
  if (spec == nullptr) {
    return refuse(state_->route(call.method, route, call.path, call.params), "not a call Stripe has: " + route);
  }
  if (Status s = check_params(call.params, *spec); !s.is_ok()) {
    return refuse(stripe_error(400, "invalid_request_error", s.message(), s.field(), "parameter_invalid"), s.message());
  }
  if (post && call.idempotency_key.empty()) {
    return refuse(stripe_error(400, "invalid_request_error", "this server wants an Idempotency-Key on every POST"),
                  "POST without an Idempotency-Key");
  }
  const std::string fingerprint = call.method + " " + call.path + "?" + (post ? request.body : std::string());
  if (post) {
    const auto stored = state_->idempotency.find(call.idempotency_key);
    if (stored != state_->idempotency.end()) {
      if (stored->second.request != fingerprint) {
        return refuse(stripe_error(400, "idempotency_error",
                                   "Keys for idempotent requests can only be used with the same parameters they were "
                                   "first used with."),
                      "Idempotency-Key " + call.idempotency_key + " reused with other parameters");
      }
      ReceiverResponse replay = stored->second.response;
      replay.headers.push_back({"Idempotent-Replayed", "true"});
      call.status = replay.status;
      state_->calls.push_back(call);
      return replay;
    }
  }
  ReceiverResponse response = state_->route(call.method, route, call.path, call.params);
  if (post && response.status < 500) state_->idempotency[call.idempotency_key] = State::Stored{fingerprint, response};
  call.status = response.status;
  state_->calls.push_back(call);
  return response;
}

std::string StripeFixtureServer::add_price(std::string_view product, int64_t unit_amount_minor, std::string_view currency) {
  std::lock_guard lock(state_->mutex);
  json::object price = state_->price_object(state_->new_id("price"), std::string(product), unit_amount_minor,
                                            std::string(currency));
  const std::string id(price.at("id").as_string());
  state_->prices[id] = std::move(price);
  return id;
}

Result<std::string> StripeFixtureServer::complete_checkout(std::string_view session_id, std::string_view event_id,
                                                           int64_t created) {
  std::lock_guard lock(state_->mutex);
  const auto it = state_->sessions.find(std::string(session_id));
  if (it == state_->sessions.end()) return Status::error(Status::Code::not_found, "no session " + std::string(session_id));
  json::object& session = it->second;
  session["status"] = "complete";
  session["payment_status"] = "paid";
  session["payment_intent"] = state_->new_id("pi");
  const bool save = session.at("setup_future_usage").as_string() == "off_session";
  const json::value customer = session.at("customer");
  if (save && customer.is_string()) {
    json::object card = state_->example("payment_method");
    const std::string id = state_->new_id("pm");
    card["id"] = id;
    card["customer"] = customer;
    card["allow_redisplay"] = "always";
    state_->payment_methods[id] = card;
    state_->saved[std::string(customer.as_string())].push_back(id);
  }
  json::object shown = session;
  shown.erase("setup_future_usage");
  json::object event = state_->example("event");
  event["id"] = event_id;
  event["type"] = "checkout.session.completed";
  event["created"] = created;
  event["data"] = json::object{{"object", std::move(shown)}};
  return json::serialize(event);
}

void StripeFixtureServer::decline_next_payment(std::string decline_code) {
  std::lock_guard lock(state_->mutex);
  state_->next_decline = std::move(decline_code);
}

std::vector<StripeCall> StripeFixtureServer::calls() const {
  std::lock_guard lock(state_->mutex);
  return state_->calls;
}

std::vector<StripeCall> StripeFixtureServer::calls_to(std::string_view method, std::string_view path_prefix) const {
  std::vector<StripeCall> out;
  for (StripeCall& call : calls()) {
    if (call.method == method && call.path.starts_with(path_prefix)) out.push_back(std::move(call));
  }
  return out;
}

std::vector<std::string> StripeFixtureServer::violations() const {
  std::lock_guard lock(state_->mutex);
  return state_->violations;
}

json::value StripeFixtureServer::fixture(std::string_view resource) const {
  std::lock_guard lock(state_->mutex);
  return state_->fixtures.at(resource);
}

std::string StripeFixtureServer::base_url() const { return receiver_->url(); }

StripeConfig StripeFixtureServer::client_config() const {
  StripeConfig config;
  config.base_url = base_url();
  config.api_key = api_key;
  return config;
}

}  // namespace tally::connectors::testing
