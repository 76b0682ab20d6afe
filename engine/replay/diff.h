#pragma once

// Comparing two stores of the same history (production and a replay, or
// two replays): per dimension a migration matrix old x new with customers
// and revenue per cell, the customers that moved, the account-manager load
// each side implies and the transitions each side raised.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "crm/v1/rules.pb.h"

namespace crm::replay {

// The compared dimensions, in report order.
enum class Dimension { kValueTier, kAbc, kLifecycle, kRfm, kCustomerClass };
inline constexpr int kDimensions = 5;
// "value_tier", "abc", "lifecycle", "rfm", "class".
const char* DimensionName(Dimension d);
// Short value label: "VIP", "A", "AT_RISK", "Champions", "KEY"; "none"
// for the zero value; "-" for kAbsent.
std::string ValueLabel(Dimension d, int value);
inline constexpr int kAbsent = -1;  // customer not on that side

// One customer of one side, as of the compared time.
struct CustomerRow {
  std::string customer_id;
  std::string account_manager;
  std::array<int, kDimensions> values{};  // enum numbers per Dimension
  int64_t revenue_minor = 0;              // lifetime net revenue
  int64_t grade_changes = 0;              // grade history entries
  int64_t stage_changes = 0;              // lifecycle history entries
  int64_t sla_breaches = 0;
};

// Reads every customer of the partition stores under `store_dir`
// (read-only), each advanced to `as_of` on a copy with `rules`, sorted by
// customer id.
absl::StatusOr<std::vector<CustomerRow>> LoadRows(const std::string& store_dir,
                                                  const v1::Rules& rules,
                                                  absl::Time as_of);

// The latest state as_of under `store_dir`; kNotFound when empty.
absl::StatusOr<absl::Time> LatestStateTime(const std::string& store_dir);

struct Cell {
  int64_t customers = 0;
  int64_t revenue_minor = 0;
};

struct Matrix {
  Dimension dimension;
  // (old value, new value) -> cell; kAbsent for a customer on one side only.
  std::map<std::pair<int, int>, Cell> cells;
  int64_t moved = 0;  // customers off the diagonal
};

struct Move {
  std::string customer_id;
  Dimension dimension;
  int from = 0;
  int to = 0;
  int64_t revenue_minor = 0;
};

// Account managers a class split needs: ceil(key / key_per_manager) +
// ceil(ordinary / ordinary_per_manager) + ceil(special /
// special_per_manager), per account manager.
struct ManagerLoad {
  std::string account_manager;  // "" = unassigned
  std::array<int64_t, 3> a{};   // key, ordinary, special on side A
  std::array<int64_t, 3> b{};
  int64_t managers_a = 0;
  int64_t managers_b = 0;
};

struct SideTotals {
  int64_t customers = 0;
  int64_t grade_changes = 0;
  int64_t stage_changes = 0;
  int64_t sla_breaches = 0;
  int64_t managers = 0;
};

struct DiffResult {
  std::vector<Matrix> matrices;       // one per Dimension, in order
  std::vector<Move> moves;            // by customer id, then dimension
  std::vector<ManagerLoad> managers;  // by account manager
  SideTotals a, b;
  int64_t customers_moved = 0;  // customers with any move
};

// Compares `a` and `b` (each sorted by customer id). Coverage ratios come
// from each side's rules.
DiffResult Compare(absl::Span<const CustomerRow> a,
                   absl::Span<const CustomerRow> b, const v1::Rules& rules_a,
                   const v1::Rules& rules_b);

}  // namespace crm::replay
