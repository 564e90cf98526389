// Usage attribution (SPEC §7, §14): the dimensions a roll-up can be grouped by, shared by
// GET /api/v1/org/{org}/usage?group_by= and `tally usage --group-by`. Pure.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "projections/views.h"

namespace tally {

// model, member, workspace, project (or office), agent, provider, billing_path, and day (UTC).
inline constexpr std::array<std::string_view, 8> usage_dimensions = {
    "model", "member", "workspace", "project", "agent", "provider", "billing_path", "day"};

bool is_usage_dimension(std::string_view name);
// "model, member, workspace, project, agent, provider, billing_path or day", for error messages.
std::string usage_dimension_choices();
// The group a roll-up cell falls in: its model, member id, … or its day as "2026-11-05".
// REQUIRES: is_usage_dimension(dimension).
std::string usage_group_key(const UsageRollup& rollup, std::string_view dimension);

}  // namespace tally
