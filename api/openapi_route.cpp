// GET /openapi.json: the API's own description (api/openapi.h), for platforms to generate clients.
#include "api/openapi.h"
#include "api/routes.h"

namespace tally::api {

std::vector<Route> openapi_routes(ApiContext& /*ctx*/) {
  return {Route{HttpMethod::get, "/openapi.json", RouteAuth::none(),
                [](const ApiRequest&) { return ApiResponse::json(200, std::string(openapi_json())); }, false, false}};
}

}  // namespace tally::api
