#pragma once

// Small exact helpers shared by the projections: UTC day numbers, money in
// minor units, overflow-free integer ratio comparisons. Header-only, pure.

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "crm/v1/events.pb.h"

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

// A classifier's answer and the rule that decided it, e.g. "revenue_window
// 2000000 >= medium_min_minor 2000000".
template <typename T>
struct Classified {
  T value;
  std::string why;
};

inline absl::Duration Days(int64_t n) { return absl::Hours(24 * n); }

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
