#include "calendar.h"

namespace tally {
namespace {
constexpr int64_t ms_per_day = 86'400'000;

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
}  // namespace

int64_t utc_day(int64_t unix_ms) { return floor_div(unix_ms, ms_per_day); }

int64_t utc_month(int64_t unix_ms) {
  const CivilDate date = civil_from_days(utc_day(unix_ms));
  return (date.year - 1970) * 12 + (static_cast<int64_t>(date.month) - 1);
}

CivilDate civil_from_days(int64_t days) {
  const int64_t z = days + 719468;
  const int64_t era = floor_div(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  return CivilDate{yoe + era * 400 + (month <= 2 ? 1 : 0), static_cast<unsigned>(month), static_cast<unsigned>(day)};
}

int64_t days_from_civil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = floor_div(year, 400);
  const int64_t yoe = year - era * 400;
  const int64_t mp = (static_cast<int64_t>(month) + 9) % 12;
  const int64_t doy = (153 * mp + 2) / 5 + static_cast<int64_t>(day) - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

YearMonth year_month(int64_t month_index) {
  return YearMonth{1970 + floor_div(month_index, 12),
                   static_cast<unsigned>(month_index - floor_div(month_index, 12) * 12 + 1)};
}

}  // namespace tally
