#pragma once

// Small exact helpers shared by the projections: UTC day numbers, money in
// minor units, overflow-free integer ratio comparisons. Header-only, pure.

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "crm/v1/events.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace crm::projections {

// Seconds per day; all windows are whole UTC days.
inline constexpr int64_t kSecondsPerDay = 86400;

// UTC day number (days since 1970-01-01) of `t`, rounding down.
inline int32_t DayOf(absl::Time t) {
  const int64_t s = absl::ToUnixSeconds(t);  // floors
  int64_t d = s / kSecondsPerDay;
  if (s % kSecondsPerDay < 0) --d;
  return static_cast<int32_t>(d);
}

// 00:00 UTC of day number `day`.
inline absl::Time DayStart(int64_t day) {
  return absl::FromUnixSeconds(day * kSecondsPerDay);
}

// FromProto (engine/base/time_util.h) with a fast path for whole seconds;
// the same instant.
inline absl::Time TimeOf(const google::protobuf::Timestamp& ts) {
  if (ts.nanos() == 0) return absl::FromUnixSeconds(ts.seconds());
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// The seconds and nanos of ToProto(t), with a fast path for whole seconds.
inline void TimestampParts(absl::Time t, int64_t* seconds, int32_t* nanos) {
  const int64_t secs = absl::ToUnixSeconds(t);
  const absl::Time whole = absl::FromUnixSeconds(secs);
  *seconds = secs;
  *nanos = t == whole
               ? 0
               : static_cast<int32_t>(absl::ToInt64Nanoseconds(t - whole));
}

// *ts = ToProto(t), field by field (no temporary message); the same fields.
inline void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  int64_t seconds = 0;
  int32_t nanos = 0;
  TimestampParts(t, &seconds, &nanos);
  ts->set_seconds(seconds);
  ts->set_nanos(nanos);
}

// A classifier's answer and the rule that decided it, e.g. "revenue_window
// 2000000 >= medium_min_minor 2000000".
template <typename T>
struct Classified {
  T value;
  std::string why;
};

inline absl::Duration Days(int64_t n) { return absl::Hours(24 * n); }

// Day number (days since 1970-01-01) of a proleptic Gregorian date; month
// 1..12, day may exceed the month's length (it carries into the next
// months, as absl::CivilDay normalizes). Howard Hinnant's days_from_civil.
inline int64_t DaysFromCivil(int64_t year, int month, int day) {
  const int64_t y = month <= 2 ? year - 1 : year;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;                          // [0, 399]
  const int64_t mp = month > 2 ? month - 3 : month + 9;       // [0, 11]
  const int64_t doy = (153 * mp + 2) / 5;                     // of the 1st
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  // [0, 146096]
  return era * 146097 + doe - 719468 + (day - 1);
}

// Year of day number `day` (proleptic Gregorian); Hinnant's civil_from_days.
inline int64_t YearOfDay(int64_t day) {
  const int64_t z = day + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;  // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);  // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                       // [0, 11]
  return yoe + era * 400 + (mp >= 10 ? 1 : 0);
}

// UTC day number of `t` for finite t (DayOf without the int32 narrowing).
inline int64_t DayNumber(absl::Time t) {
  const int64_t s = absl::ToUnixSeconds(t);  // floors
  int64_t d = s / kSecondsPerDay;
  if (s % kSecondsPerDay < 0) --d;
  return d;
}

// Money of `minor` units in `currency`.
inline v1::Money MakeMoney(int64_t minor, const std::string& currency) {
  v1::Money m;
  m.set_minor_units(minor);
  m.set_currency(currency);
  return m;
}

// True when a * b >= c * d, exactly (128-bit products).
inline bool ProductAtLeast(int64_t a, int64_t b, int64_t c, int64_t d) {
  return static_cast<__int128>(a) * b >= static_cast<__int128>(c) * d;
}

// a * b / c rounded toward zero, exactly; c != 0.
inline int64_t MulDiv(int64_t a, int64_t b, int64_t c) {
  return static_cast<int64_t>(static_cast<__int128>(a) * b / c);
}

}  // namespace crm::projections
