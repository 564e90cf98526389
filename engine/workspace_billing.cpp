#include "engine/workspace_billing.h"

namespace tally {

const char* billing_path_name(BillingPath path) { return path == BillingPath::byok ? "byok" : "credits"; }

WorkspaceBilling::WorkspaceBilling(Map settings) {
  if (!settings.empty()) map_ = std::make_shared<const Map>(std::move(settings));
}

const WorkspaceBilling::Map& WorkspaceBilling::settings() const {
  static const Map none;
  return map_ ? *map_ : none;
}

std::optional<BillingPath> WorkspaceBilling::find(std::string_view workspace, std::string_view project) const {
  if (!map_) return std::nullopt;
  const auto it = map_->find(std::pair<std::string_view, std::string_view>(workspace, project));
  if (it == map_->end()) return std::nullopt;
  return it->second;
}

std::optional<BillingPath> WorkspaceBilling::resolve(std::string_view workspace, std::string_view project) const {
  if (!map_) return std::nullopt;
  if (!project.empty()) {
    if (std::optional<BillingPath> office = find(workspace, project)) return office;
  }
  return find(workspace, {});
}

bool WorkspaceBilling::set(std::string_view workspace, std::string_view project, std::optional<BillingPath> path,
                           std::size_t settings_max) {
  const std::optional<BillingPath> now = find(workspace, project);
  if (now == path) return true;
  if (!now && size() >= settings_max) return false;
  auto copy = map_ ? std::make_shared<Map>(*map_) : std::make_shared<Map>();
  if (path) {
    (*copy)[Key(std::string(workspace), std::string(project))] = *path;
  } else {
    copy->erase(copy->find(std::pair<std::string_view, std::string_view>(workspace, project)));
  }
  if (copy->empty()) {
    map_.reset();
  } else {
    map_ = std::move(copy);
  }
  return true;
}

bool WorkspaceBilling::operator==(const WorkspaceBilling& other) const {
  return map_ == other.map_ || settings() == other.settings();
}

}  // namespace tally
