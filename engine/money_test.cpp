// The small pure pieces under the fold: checked money, credit formatting, UTC calendar periods,
// the Kafka partitioner, and the byte encodings of the fold state.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "engine/calendar.h"
#include "engine/money.h"
#include "engine/partitioner.h"
#include "engine/state_codec.h"

namespace tally {
namespace {

constexpr int64_t int64_max = std::numeric_limits<int64_t>::max();
constexpr int64_t int64_min = std::numeric_limits<int64_t>::min();
constexpr int64_t ms_per_day = 86'400'000;

// ---- Micros

BOOST_AUTO_TEST_CASE(checked_add_and_sub_report_overflow_instead_of_wrapping) {
  BOOST_TEST(checked_add(Micros(2), Micros(3)).value().value() == 5);
  BOOST_TEST(checked_add(Micros(-7), Micros(3)).value().value() == -4);
  BOOST_TEST(checked_add(Micros(int64_max - 1), Micros(1)).value().value() == int64_max);
  BOOST_TEST(!checked_add(Micros(int64_max), Micros(1)).has_value());
  BOOST_TEST(!checked_add(Micros(int64_min), Micros(-1)).has_value());
  BOOST_TEST(checked_add(Micros(int64_min), Micros(int64_max)).value().value() == -1);

  BOOST_TEST(checked_sub(Micros(2), Micros(3)).value().value() == -1);
  BOOST_TEST(checked_sub(Micros(int64_min + 1), Micros(1)).value().value() == int64_min);
  BOOST_TEST(!checked_sub(Micros(int64_min), Micros(1)).has_value());
  BOOST_TEST(!checked_sub(Micros(0), Micros(int64_min)).has_value());  // -INT64_MIN does not fit
  BOOST_TEST(!checked_sub(Micros(int64_max), Micros(-1)).has_value());
  BOOST_TEST(checked_sub(Micros(-1), Micros(int64_min)).value().value() == int64_max);
}

BOOST_AUTO_TEST_CASE(micros_compare_by_value) {
  BOOST_TEST((Micros(1) < Micros(2)));
  BOOST_TEST((Micros(-5) == Micros(-5)));
  BOOST_TEST(Micros().value() == 0);
}

// ---- format_credits: exact, 6 decimals, '-' for negatives.

BOOST_AUTO_TEST_CASE(format_credits_is_exact_with_six_decimals) {
  BOOST_TEST(format_credits(0) == "0.000000");
  BOOST_TEST(format_credits(1) == "0.000001");
  BOOST_TEST(format_credits(-1) == "-0.000001");
  BOOST_TEST(format_credits(1'500'000) == "1.500000");
  BOOST_TEST(format_credits(-1'500'000) == "-1.500000");
  BOOST_TEST(format_credits(100'000'000) == "100.000000");
  BOOST_TEST(format_credits(999'999) == "0.999999");
  BOOST_TEST(format_credits(1'000'000) == "1.000000");
  // INT64_MAX = 9223372036854775807, INT64_MIN = -9223372036854775808: no overflow in the magnitude.
  BOOST_TEST(format_credits(int64_max) == "9223372036854.775807");
  BOOST_TEST(format_credits(int64_min) == "-9223372036854.775808");
}

// ---- calendar: UTC day and month of event time, at the edges.

BOOST_AUTO_TEST_CASE(utc_day_floors_including_negative_times) {
  BOOST_TEST(utc_day(0) == 0);
  BOOST_TEST(utc_day(ms_per_day - 1) == 0);
  BOOST_TEST(utc_day(ms_per_day) == 1);
  BOOST_TEST(utc_day(-1) == -1);  // 1969-12-31T23:59:59.999
  BOOST_TEST(utc_day(-ms_per_day) == -1);
  BOOST_TEST(utc_day(-ms_per_day - 1) == -2);
  BOOST_TEST(utc_day(1709164800000) == 19782);      // 2024-02-29T00:00:00Z
  BOOST_TEST(utc_day(1709251200000 - 1) == 19782);  // 2024-02-29T23:59:59.999Z
  BOOST_TEST(utc_day(1709251200000) == 19783);      // 2024-03-01
}

struct MonthCase {
  int64_t unix_ms;
  int64_t year;
  unsigned month;
  const char* what;
};

BOOST_AUTO_TEST_CASE(utc_month_at_boundaries) {
  const MonthCase cases[] = {
      {0, 1970, 1, "epoch"},
      {-1, 1969, 12, "one ms before the epoch"},
      {-2678400000, 1969, 12, "1969-12-01T00:00Z"},
      {-2678400000 - 1, 1969, 11, "1969-11-30T23:59:59.999Z"},
      {-2208988800000, 1900, 1, "1900-01-01"},
      {-11670912000000, 1600, 3, "1600-03-01 (negative era)"},
      {-11670912000000 - 1, 1600, 2, "1600-02-29T23:59:59.999 (leap century)"},
      {1704067200000 - 1, 2023, 12, "2023-12-31T23:59:59.999Z: year end"},
      {1704067200000, 2024, 1, "2024-01-01T00:00Z"},
      {1709164800000, 2024, 2, "2024-02-29T00:00Z leap day"},
      {1709251200000 - 1, 2024, 2, "2024-02-29T23:59:59.999Z"},
      {1709251200000, 2024, 3, "2024-03-01T00:00Z"},
      {951782400000, 2000, 2, "2000-02-29 (divisible by 400: leap)"},
      {951868800000, 2000, 3, "2000-03-01"},
      {4107456000000, 2100, 2, "2100-02-28"},
      {4107456000000 + ms_per_day, 2100, 3, "2100-02-28 + 1 day = 2100-03-01 (not leap)"},
      {1769904000000 - 1, 2026, 1, "2026-01-31T23:59:59.999Z: month end"},
      {1769904000000, 2026, 2, "2026-02-01T00:00Z"},
      {1772323200000 - 1, 2026, 2, "2026-02-28T23:59:59.999Z"},
      {1772323200000, 2026, 3, "2026-03-01T00:00Z"},
  };
  for (const MonthCase& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      const int64_t month = utc_month(c.unix_ms);
      BOOST_TEST(month == (c.year - 1970) * 12 + static_cast<int64_t>(c.month) - 1);
      const YearMonth ym = year_month(month);
      BOOST_TEST(ym.year == c.year);
      BOOST_TEST(ym.month == c.month);
    }
  }
}

BOOST_AUTO_TEST_CASE(calendar_handles_the_largest_event_time) {
  // occurred_at_ms may be anything >= 0. Java: Instant.ofEpochMilli(Long.MAX_VALUE) is
  // +292278994-08-17T07:12:55.807Z; day 106751991167 since the epoch.
  BOOST_TEST(utc_day(int64_max) == 106751991167);
  const YearMonth ym = year_month(utc_month(int64_max));
  BOOST_TEST(ym.year == 292278994);
  BOOST_TEST(ym.month == 8u);
  BOOST_TEST(utc_month(int64_max) == (int64_t{292278994} - 1970) * 12 + 7);
}

BOOST_AUTO_TEST_CASE(utc_month_is_monotonic_over_days) {
  // Every day from 1899 to 2101: the month index never decreases and steps by at most one.
  int64_t previous = utc_month(-2240524800000);  // 1899-01-01
  int changes = 0;
  for (int64_t t = -2240524800000 + ms_per_day; t < 4165516800000; t += ms_per_day) {
    const int64_t month = utc_month(t);
    BOOST_REQUIRE(month - previous >= 0);
    BOOST_REQUIRE(month - previous <= 1);
    changes += month != previous ? 1 : 0;
    previous = month;
  }
  BOOST_TEST(changes == 203 * 12 - 1);  // 1899-01 .. 2101-12
}

BOOST_AUTO_TEST_CASE(civil_dates_and_day_indexes_round_trip) {
  BOOST_TEST(days_from_civil(1970, 1, 1) == 0);
  BOOST_TEST(days_from_civil(2000, 3, 1) == 11'017);  // the day after 2000-02-29
  BOOST_TEST(days_from_civil(1969, 12, 31) == -1);
  const CivilDate leap = civil_from_days(days_from_civil(2024, 2, 29));
  BOOST_TEST((leap.year == 2024 && leap.month == 2u && leap.day == 29u));
  // Every day from 1600 to 2400: the date steps by one day (day+1, or the 1st of the next month).
  CivilDate previous = civil_from_days(days_from_civil(1600, 1, 1) - 1);
  BOOST_TEST((previous.year == 1599 && previous.month == 12u && previous.day == 31u));
  for (int64_t day = days_from_civil(1600, 1, 1); day < days_from_civil(2400, 1, 1); ++day) {
    const CivilDate date = civil_from_days(day);
    const bool next_day = date.year == previous.year && date.month == previous.month && date.day == previous.day + 1;
    const bool next_month = date.day == 1u && ((date.year == previous.year && date.month == previous.month + 1) ||
                                               (date.year == previous.year + 1 && date.month == 1u && previous.month == 12u));
    BOOST_REQUIRE_MESSAGE(next_day || next_month, "day " << day);
    BOOST_REQUIRE_EQUAL(days_from_civil(date.year, date.month, date.day), day);
    previous = date;
  }
}

// ---- murmur2 / partition_for_key: the Java client's values (Kafka UtilsTest.testMurmur2).

BOOST_AUTO_TEST_CASE(murmur2_matches_kafka_java_client) {
  const std::pair<const char*, int32_t> cases[] = {
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
  };
  for (const auto& [key, expected] : cases) {
    BOOST_TEST_CONTEXT(key) { BOOST_TEST(static_cast<int32_t>(murmur2(key)) == expected); }
  }
}

BOOST_AUTO_TEST_CASE(partition_for_key_is_positive_hash_modulo_count) {
  // Java: Utils.toPositive(murmur2(key)) % numPartitions; toPositive = h & 0x7fffffff.
  // "21": -973932308 & 0x7fffffff = 1173551340; % 3 = 0, % 7 = 1173551340 - 7*167650191 = 3.
  BOOST_TEST(partition_for_key("21", 3) == 0);
  BOOST_TEST(partition_for_key("21", 7) == 3);
  // "abc": 479470107 (positive); % 4 = 3, % 10 = 7.
  BOOST_TEST(partition_for_key("abc", 4) == 3);
  BOOST_TEST(partition_for_key("abc", 10) == 7);
  // "foobar": -790332482 & 0x7fffffff = 1357151166; % 6 = 0, % 1024 = 1357151166 - 1024*1325342 = 958.
  BOOST_TEST(partition_for_key("foobar", 6) == 0);
  BOOST_TEST(partition_for_key("foobar", 1024) == 958);
  BOOST_TEST(partition_for_key("anything", 1) == 0);
  for (int32_t count = 1; count <= 64; ++count) {
    const int32_t p = partition_for_key("org-acme", count);
    BOOST_TEST((p >= 0 && p < count));
  }
}

// ---- state_codec: round trips and truncation.

// A grant with every field set (SPEC §12).
Grant sample_grant() {
  return Grant{"buy-1",       4,           GrantCategory::paid, 7,           1768435200000 + 86'400'000,
               1768435200000, 42,          Micros{100},         Micros{40},  Micros{30},
               Micros{10},    Micros{15},  Micros{5},           true,        1'000,
               "eur"};
}

OrgState sample_org() {
  OrgState o;
  o.home_partition = PartitionId{7};
  o.plan = Plan::enterprise;
  o.mode = BillingMode::deferred;
  o.opened = true;
  o.balance_micros = Micros{-123'456};
  o.totals = OrgTotals{Micros{1}, Micros{2}, Micros{3}, Micros{4}, Micros{5}, Micros{-6}, Micros{}, Micros{}};
  o.low_balance_threshold_micros = Micros{20'000'000};
  o.auto_refill = AutoRefillPolicy{true, Micros{21'000'000}, Micros{100'000'000}, 3, 30, "cus_123"};
  o.refill_pending = true;
  o.pending_signal_id = "7:42:recharge_requested:acme";
  o.refill_day = 20468;
  o.refills_in_day = 2;
  o.refill_month = 672;
  o.refills_in_month = 9;
  o.cap_signaled_day = 20467;
  o.cap_signaled_month = 671;
  o.waiting_on_cap = true;
  o.is_low = true;
  o.is_exhausted = false;
  o.history_entries = 99;
  o.last_occurred_at_ms = 1768435200000;
  return o;
}

PartitionState sample_partition() {
  PartitionState p;
  p.clock_ms = 1768435200123;
  p.rate_card.version = 4;
  p.rate_card.markup_bp = 15000;
  p.rate_card.byok_fee_bp = 250;
  p.rate_card.models["claude"] = ModelPrice{3, 15, 1, 4};
  p.rate_card.models["gpt"] = ModelPrice{2, 8, 0, 0};
  p.rate_card.sandbox_per_hour_micros["small"] = 360'000;
  p.members_over_limit.emplace("acme", "alice");
  p.members_over_limit.emplace("beta", "bob");
  p.cap_waiting_orgs.insert("acme");
  return p;
}

// Every proper prefix and every one-byte extension of `bytes` must be refused.
template <typename T>
void check_rejects_truncated(const std::string& bytes) {
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    T out{};
    BOOST_TEST_CONTEXT("prefix of " << size << " of " << bytes.size() << " bytes") {
      BOOST_TEST(!decode(std::string_view(bytes.data(), size), out));
    }
  }
  T out{};
  BOOST_TEST(!decode(bytes + '\0', out));
  std::string wrong_version = bytes;
  wrong_version[0] = static_cast<char>(state_format_version + 1);
  BOOST_TEST(!decode(wrong_version, out));
}

BOOST_AUTO_TEST_CASE(org_state_round_trips) {
  const OrgState org = sample_org();
  OrgState back;
  BOOST_TEST(decode(encode(org), back));
  BOOST_TEST((back == org));
  OrgState fresh;
  BOOST_TEST(decode(encode(OrgState{}), back));
  BOOST_TEST((back == fresh));
  check_rejects_truncated<OrgState>(encode(org));
}

// `state` round-trips, and every cut of its encoding after its first `plain_bytes` (inside a
// trailing section) is refused.
template <typename T>
void check_trailing_section(const T& state, std::size_t plain_bytes) {
  const std::string bytes = encode(state);
  T back;
  BOOST_TEST(decode(bytes, back));
  BOOST_TEST((back == state));
  for (std::size_t size = plain_bytes + 1; size < bytes.size(); ++size) {
    BOOST_TEST(!decode(std::string_view(bytes.data(), size), back));
  }
}

// SPEC §12: the grants section trails the org; a cut inside it is refused (a cut before it is an org
// without grants).
BOOST_AUTO_TEST_CASE(org_state_with_grants_round_trips) {
  OrgState org = sample_org();
  const std::size_t plain_bytes = encode(org).size();
  org.grants.push_back(sample_grant());
  Grant signup;
  signup.id = "signup";
  signup.source = 3;
  signup.offset = 1;
  signup.original_micros = Micros{9};
  org.grants.push_back(signup);
  org.overdraft_micros = Micros{11};
  org.totals.expired_micros = Micros{7};
  org.totals.voided_micros = Micros{8};
  check_trailing_section(org, plain_bytes);
}

BOOST_AUTO_TEST_CASE(closed_grant_round_trips) {
  const Grant grant = sample_grant();
  Grant back;
  BOOST_TEST(decode(encode(grant), back));
  BOOST_TEST((back == grant));
  check_rejects_truncated<Grant>(encode(grant));
}

BOOST_AUTO_TEST_CASE(org_state_with_bad_enum_is_refused) {
  std::string bytes = encode(sample_org());
  // Layout: version(1) home_partition(8) plan(1) mode(1) ...
  std::string bad_plan = bytes;
  bad_plan[9] = 3;
  OrgState out;
  BOOST_TEST(!decode(bad_plan, out));
  std::string bad_mode = bytes;
  bad_mode[10] = 0;
  BOOST_TEST(!decode(bad_mode, out));
}

BOOST_AUTO_TEST_CASE(member_state_round_trips) {
  const MemberState member{true, Micros{5'000'000}, 672, Micros{4'999'999}, true};
  MemberState back;
  BOOST_TEST(decode(encode(member), back));
  BOOST_TEST((back == member));
  check_rejects_truncated<MemberState>(encode(member));
}

BOOST_AUTO_TEST_CASE(key_record_round_trips) {
  const KeyRecord key{Digest128{1, 2}, Outcome::rejected, RejectReason::insufficient_balance};
  KeyRecord back;
  BOOST_TEST(decode(encode(key), back));
  BOOST_TEST((back == key));
  check_rejects_truncated<KeyRecord>(encode(key));
}

BOOST_AUTO_TEST_CASE(purchase_record_round_trips) {
  const PurchaseRecord purchase{Micros{100'000'000}, Micros{25'000'000}};
  PurchaseRecord back;
  BOOST_TEST(decode(encode(purchase), back));
  BOOST_TEST((back == purchase));
  check_rejects_truncated<PurchaseRecord>(encode(purchase));
}

BOOST_AUTO_TEST_CASE(partition_state_round_trips) {
  const PartitionState partition = sample_partition();
  PartitionState back;
  BOOST_TEST(decode(encode(partition), back));
  BOOST_TEST((back == partition));
  // Decoding into a used value replaces it entirely.
  PartitionState empty;
  BOOST_TEST(decode(encode(empty), back));
  BOOST_TEST((back == empty));
  check_rejects_truncated<PartitionState>(encode(partition));
}

// SPEC §12: the grant expiry and warning indexes trail the partition; a cut inside them is refused.
BOOST_AUTO_TEST_CASE(partition_state_with_grant_dues_round_trips) {
  PartitionState partition = sample_partition();
  const std::size_t plain_bytes = encode(partition).size();
  partition.grant_expiries.emplace(1768435200000 + 86'400'000, 42, "acme", "buy-1");
  partition.grant_warnings.emplace(1768435200000 - 6 * 86'400'000, 42, "acme", "buy-1");
  check_trailing_section(partition, plain_bytes);
}

BOOST_AUTO_TEST_CASE(encodings_are_deterministic_and_distinguish_values) {
  BOOST_TEST(encode(sample_org()) == encode(sample_org()));
  OrgState other = sample_org();
  other.balance_micros = Micros{other.balance_micros.value() + 1};
  BOOST_TEST(encode(other) != encode(sample_org()));
  BOOST_TEST(encode(sample_partition()) == encode(sample_partition()));
}

}  // namespace
}  // namespace tally
