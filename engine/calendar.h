// UTC calendar periods of event time, for member-limit months and refill caps. Pure integer math
// (Howard Hinnant's days-from-civil), no time zone database, no clock.
#pragma once

#include <cstdint>

namespace tally {

// Days since 1970-01-01 (UTC) of a Unix-ms time; floors for negative times.
int64_t utc_day(int64_t unix_ms);
// Months since 1970-01 (UTC): year * 12 + month - 1 relative to 1970.
int64_t utc_month(int64_t unix_ms);
// "2026-11" for a month index.
struct YearMonth { int64_t year; unsigned month; };
YearMonth year_month(int64_t month_index);

}  // namespace tally
