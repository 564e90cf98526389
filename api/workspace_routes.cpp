// Who pays per workspace (SPEC §14, seeds 000 and 001):
//   PUT    /api/v1/org/{org}/workspaces/{ws}/billing  {"billing_path":"credits"|"byok"[,"project":P]}
//   GET    /api/v1/org/{org}/workspaces/{ws}/billing[?project=P]
//   DELETE /api/v1/org/{org}/workspaces/{ws}/billing[?project=P]
// A project (an office of the workspace) overrides its workspace; usage without a billing_path
// takes the (workspace, project) setting, else the workspace's, else the org's mode.
#include "api/command.h"
#include "api/commerce_shared.h"
#include "api/handler_util.h"
#include "api/routes.h"
#include "engine/event_factory.h"
#include "engine/limits.h"
#include "engine/pricing.h"
#include "tally/events_generated.h"

namespace tally::api {
namespace {

Result<std::string> workspace_param(const ApiRequest& request) {
  const std::string_view ws = request.path_param("ws");
  if (ws.empty() || ws.size() > limits::text_field_bytes_max) return Status::invalid("ws", "must be 1..1024 bytes");
  return std::string(ws);
}

// ?project=P, or "" for the workspace itself.
Result<std::string> project_query(const ApiRequest& request) {
  const std::optional<std::string_view> project = request.query_param("project");
  if (!project) return std::string();
  if (project->empty() || project->size() > limits::text_field_bytes_max) {
    return Status::invalid("project", "must be 1..1024 bytes (leave it out for the whole workspace)");
  }
  return std::string(*project);
}

// What a route of this file names: the org, the workspace and the project ("" for none).
struct Workspace {
  std::string org;
  std::string ws;
  std::string project;
};

// The org, workspace and ?project= of `request`; the first bad one, named (400).
Result<Workspace> workspace_of(const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return org.status();
  Result<std::string> ws = workspace_param(request);
  if (!ws.is_ok()) return ws.status();
  Result<std::string> project = project_query(request);
  if (!project.is_ok()) return project.status();
  return Workspace{org.value(), ws.value(), project.value()};
}

const char* paid_by_name(PaidBy paid) {
  switch (paid) {
    case PaidBy::credits: return "credits";
    case PaidBy::byok: return "byok";
    case PaidBy::invoiced: return "invoiced";
  }
  return "credits";
}

// The settings of one workspace, and the path usage of (ws, project) takes.
boost::json::object workspace_json(const std::string& org, const std::string& ws, const std::string& project,
                                   const std::optional<OrgView>& view) {
  const OrgState state = view ? view->state : OrgState{};
  boost::json::object out;
  out["org_id"] = org;
  out["workspace"] = ws;
  const std::optional<BillingPath> own = state.workspace_billing.find(ws, "");
  out["billing_path"] = own ? boost::json::value(billing_path_name(*own)) : boost::json::value(nullptr);
  boost::json::array projects;
  for (const auto& [key, path] : state.workspace_billing.settings()) {
    if (key.first == ws && !key.second.empty()) {
      projects.push_back(boost::json::object{{"project", key.second}, {"billing_path", billing_path_name(path)}});
    }
  }
  out["projects"] = std::move(projects);
  out["org_billing_mode"] = billing_mode_name(state.mode);
  // What usage of (ws, project) without a billing_path is billed by: the setting it falls under,
  // else the org's mode; and who pays then (an enterprise or deferred org is invoiced).
  const std::optional<BillingPath> resolved = state.workspace_billing.resolve(ws, project);
  const bool own_project = !project.empty() && state.workspace_billing.find(ws, project).has_value();
  boost::json::object effective;
  effective["project"] = project.empty() ? boost::json::value(nullptr) : boost::json::value(project);
  effective["billing_path"] = resolved ? billing_path_name(*resolved) : billing_mode_name(state.mode);
  effective["from"] = !resolved ? "org" : own_project ? "project" : "workspace";
  const fb::BillingPath requested = !resolved ? fb::BillingPath::unset
                                    : *resolved == BillingPath::byok ? fb::BillingPath::byok
                                                                     : fb::BillingPath::credits;
  effective["paid_by"] = paid_by_name(paid_by(state, requested));
  out["effective"] = std::move(effective);
  return out;
}

std::function<Status(boost::json::object&)> render_workspace(ApiContext& ctx, const std::string& org,
                                                             const std::string& ws, const std::string& project) {
  return [&ctx, org, ws, project](boost::json::object& out) {
    Result<std::optional<OrgView>> view = read_org(ctx, org);
    if (!view.is_ok()) return view.status();
    out["workspace_billing"] = workspace_json(org, ws, project, view.value());
    return Status::ok();
  };
}

ApiResponse get_billing(ApiContext& ctx, const ApiRequest& request) {
  Result<Workspace> target = workspace_of(request);
  if (!target.is_ok()) return error_response(target.status());
  const Workspace& at = target.value();
  Result<std::optional<OrgView>> view = read_org(ctx, at.org);
  if (!view.is_ok()) return error_response(view.status());
  if (!view.value()) return ApiResponse::error(404, "org_not_found", "no org " + at.org + " in the ledger", "org");
  return ApiResponse::json(200, to_json_text(workspace_json(at.org, at.ws, at.project, view.value())));
}

ApiResponse put_billing(ApiContext& ctx, const ApiRequest& request) {
  Result<Workspace> target = workspace_of(request);
  if (!target.is_ok()) return error_response(target.status());
  const Workspace& at = target.value();
  Result<boost::json::object> body = body_object(request);
  if (!body.is_ok()) return error_response(body.status());
  if (Status s = no_unknown_members(body.value(), {"billing_path", "project"}); !s.is_ok()) return error_response(s);
  Result<std::string> path = member_string(body.value(), "billing_path", 16, std::nullopt);
  if (!path.is_ok()) return error_response(path.status());
  if (path.value() != "credits" && path.value() != "byok") {
    return ApiResponse::error(400, "invalid_argument", "must be credits or byok", "billing_path");
  }
  Result<std::string> in_body = member_string(body.value(), "project", limits::text_field_bytes_max, at.project);
  if (!in_body.is_ok()) return error_response(in_body.status());
  if (!at.project.empty() && in_body.value() != at.project) {
    return ApiResponse::error(400, "invalid_argument", "differs from ?project=", "project");
  }
  const std::string office = in_body.value();
  const BillingPath chosen = path.value() == "byok" ? BillingPath::byok : BillingPath::credits;
  return run_org_command(
      ctx, request, at.org, [&](const EventHeader& h) { return make_workspace_billing_set(h, at.ws, office, chosen); },
      render_workspace(ctx, at.org, at.ws, office));
}

ApiResponse delete_billing(ApiContext& ctx, const ApiRequest& request) {
  Result<Workspace> target = workspace_of(request);
  if (!target.is_ok()) return error_response(target.status());
  const Workspace& at = target.value();
  return run_org_command(
      ctx, request, at.org,
      [&](const EventHeader& h) { return make_workspace_billing_set(h, at.ws, at.project, std::nullopt); },
      render_workspace(ctx, at.org, at.ws, at.project));
}

Route route(HttpMethod method, RouteAuth auth, ApiResponse (*handler)(ApiContext&, const ApiRequest&), bool blocking,
            ApiContext& ctx) {
  return Route{method, "/api/v1/org/{org}/workspaces/{ws}/billing", std::move(auth),
               [handler, &ctx](const ApiRequest& request) { return handler(ctx, request); }, blocking,
               method != HttpMethod::get};
}

}  // namespace

std::vector<Route> workspace_routes(ApiContext& ctx) {
  return {
      route(HttpMethod::get, RouteAuth::org_read(), get_billing, false, ctx),
      route(HttpMethod::put, RouteAuth::org_command(), put_billing, true, ctx),
      route(HttpMethod::delete_, RouteAuth::org_command(), delete_billing, true, ctx),
  };
}

}  // namespace tally::api
