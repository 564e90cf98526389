// HttpServer: the public face of api/server_core.h.
#include "api/http_server.h"

#include "api/routes.h"
#include "api/server_core.h"

namespace tally::api {

HttpServer::HttpServer(HttpServerOptions options, ViewReader& views, LogWriter& log, WaitOutcome wait,
                       MetricsSource metrics)
    : core_(std::make_unique<ServerCore>(std::move(options), views, log, std::move(wait), std::move(metrics))) {}

HttpServer::~HttpServer() = default;

Status HttpServer::add_route(Route route) { return core_->add_route(std::move(route)); }
Status HttpServer::start() { return core_->start(); }
uint16_t HttpServer::port() const { return core_->port(); }
std::vector<RouteSummary> HttpServer::routes() const { return core_->routes(); }
void HttpServer::stop() { core_->stop(); }

ApiResponse HttpServer::submit_events(const std::vector<std::string>& canonical_json, const ApiRequest& request) {
  try {
    return api::submit_events(core_->context(), canonical_json, request);
  } catch (const std::exception& e) {
    return ApiResponse::error(500, "internal", std::string("ingest failed: ") + e.what());
  }
}

}  // namespace tally::api
