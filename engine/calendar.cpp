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
  // civil_from_days (H. Hinnant), reduced to year and month.
  int64_t z = utc_day(unix_ms) + 719468;
  const int64_t era = floor_div(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t year = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  if (month <= 2) ++year;
  return (year - 1970) * 12 + (month - 1);
}

YearMonth year_month(int64_t month_index) {
  return YearMonth{1970 + floor_div(month_index, 12),
                   static_cast<unsigned>(month_index - floor_div(month_index, 12) * 12 + 1)};
}

}  // namespace tally
