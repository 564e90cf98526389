#include "projections/usage_groups.h"

#include "engine/assert.h"
#include "engine/calendar.h"

namespace tally {
namespace {

// "2026-11-05" for a day index (days since 1970-01-01 UTC).
std::string day_text(int64_t day) {
  const CivilDate date = civil_from_days(day);
  const auto two = [](unsigned v) { return (v < 10 ? "-0" : "-") + std::to_string(v); };
  return std::to_string(date.year) + two(date.month) + two(date.day);
}

}  // namespace

bool is_usage_dimension(std::string_view name) {
  for (std::string_view dimension : usage_dimensions) {
    if (dimension == name) return true;
  }
  return false;
}

std::string usage_dimension_choices() {
  std::string out;
  for (std::size_t i = 0; i < usage_dimensions.size(); ++i) {
    if (i > 0) out += i + 1 == usage_dimensions.size() ? " or " : ", ";
    out += usage_dimensions[i];
  }
  return out;
}

std::string usage_group_key(const UsageRollup& r, std::string_view dimension) {
  if (dimension == "model") return r.model;
  if (dimension == "member") return r.member_id;
  if (dimension == "workspace") return r.workspace;
  if (dimension == "project") return r.project;
  if (dimension == "agent") return r.agent_id;
  if (dimension == "provider") return r.provider;
  if (dimension == "billing_path") return r.billing_path;
  TALLY_ASSERT(dimension == "day", "a usage dimension");
  return day_text(r.day);
}

}  // namespace tally
