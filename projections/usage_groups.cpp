#include "projections/usage_groups.h"

#include "engine/assert.h"

namespace tally {
namespace {

// "2026-11-05" for a day index (days since 1970-01-01 UTC): Howard Hinnant's civil_from_days.
std::string day_text(int64_t day) {
  const int64_t z = day + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return std::to_string(y) + (m < 10 ? "-0" : "-") + std::to_string(m) + (d < 10 ? "-0" : "-") + std::to_string(d);
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
