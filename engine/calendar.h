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
// The proleptic Gregorian date of a day index (days since 1970-01-01), and back: Howard Hinnant's
// civil_from_days and days_from_civil (month 1..12, day 1..31). The one copy of the calendar
// arithmetic: statements, usage days and the fold's months all use it.
struct CivilDate { int64_t year; unsigned month; unsigned day; };
CivilDate civil_from_days(int64_t days);
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);

}  // namespace tally
