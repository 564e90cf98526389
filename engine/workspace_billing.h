// Who pays per workspace (SPEC §14, seeds 000 and 001): an org's settings of billing path by
// (workspace, project), the project being an office of the workspace or "" for the whole of it.
//
// A usage event without a billing_path resolves it: the (workspace, project) setting, else the
// workspace's, else none (the org's mode decides). An explicit billing_path always wins.
//
// Caveat: an OrgState is copied for every event the fold applies (a rejection must leave the org
// untouched), so the settings are shared between copies and copied only when one of them changes
// (copy on write). Equality compares contents.
//
// Pure (tally_core); a value type. Copies may be used from different threads (the shared map is
// immutable once shared).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tally {

// The two paths a workspace may be set to (values as fb::BillingPath's).
enum class BillingPath : uint8_t { credits = 1, byok = 2 };
const char* billing_path_name(BillingPath path);

class WorkspaceBilling {
 public:
  using Key = std::pair<std::string, std::string>;  // (workspace, project); project "" = the workspace
  struct KeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      const std::string_view a1(a.first), b1(b.first);
      if (a1 != b1) return a1 < b1;
      return std::string_view(a.second) < std::string_view(b.second);
    }
  };
  using Map = std::map<Key, BillingPath, KeyLess>;

  WorkspaceBilling() = default;
  explicit WorkspaceBilling(Map settings);

  // Every setting, ordered by (workspace, project).
  const Map& settings() const;
  std::size_t size() const { return map_ ? map_->size() : 0; }
  bool empty() const { return size() == 0; }

  // The setting of exactly (workspace, project), if any.
  std::optional<BillingPath> find(std::string_view workspace, std::string_view project) const;
  // The path usage of (workspace, project) is billed by when it names none: the (workspace,
  // project) setting, else the workspace's (project ""), else nullopt (the org's mode).
  std::optional<BillingPath> resolve(std::string_view workspace, std::string_view project) const;

  // Sets (path) or removes (nullopt) the setting of (workspace, project). Copies the shared map
  // first. Returns false, changing nothing, when adding a setting would exceed `settings_max`.
  bool set(std::string_view workspace, std::string_view project, std::optional<BillingPath> path,
           std::size_t settings_max);

  bool operator==(const WorkspaceBilling& other) const;

 private:
  std::shared_ptr<const Map> map_;  // null: no settings
};

}  // namespace tally
