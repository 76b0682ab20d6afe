#pragma once

// Population classes: pure functions over every customer's PopulationFacts
// at one as_of: ABC by cumulative revenue share, key / ordinary / special
// split and the account-manager coverage it implies, RFM quintile scores
// (with their cut points) and the RFM segment.

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "crm/v1/rules.pb.h"
#include "crm/v1/views.pb.h"

namespace crm::projections {

// Classifies the population. Deterministic: the result does not depend on
// the order of `facts` (ties are broken by customer id). kInvalidArgument if
// a customer id is empty or appears twice.
//
// - ABC: customers with window revenue > 0, ranked by revenue descending
//   (ties: id ascending); with `above` = revenue ranked above the customer
//   and `total` = the sum: A if above * 100 < total * a_max_cumulative_pct,
//   else B if above * 100 < total * b_max_cumulative_pct, else C. Others:
//   UNSPECIFIED.
// - Class: customers with has_orders, same ranking (zero revenue last, by
//   id); the top round(N * key_pct / 100) KEY, the bottom round(N *
//   special_pct / 100) SPECIAL, the rest ORDINARY (round = half up).
//   Others: UNSPECIFIED.
// - RFM: customers with has_orders; cut points QuintileCuts() of recency
//   days, frequency and monetary; scores RecencyScore / AscendingScore; the
//   segment RfmSegmentFor(r, f).
absl::StatusOr<v1::PopulationResult> ClassifyPopulation(
    absl::Span<const v1::PopulationFacts> facts, const v1::Rules& rules,
    absl::Time as_of);

// The lifetime-value model of a population (called by ClassifyPopulation
// with every customer whose facts have ltv inputs and T > 0): BG/NBD and
// Gamma-Gamma fitted on at most rules.ltv.fit_max_customers of them (the
// smallest FNV-1a hashes of the customer id). Not fitted (with why) when
// fewer than rules.ltv.min_customers, when a fit fails or when q <= 1.
v1::LtvModel FitLtvModel(absl::Span<const v1::PopulationFacts* const> customers,
                         const v1::Rules& rules);

// One customer's lifetime-value fields (ltv_computed, expected_purchases,
// probability_alive, lifetime_value_*, ltv_as_of = as_of, ltv_horizon_days)
// under a fitted `model`, from its facts alone: what ClassifyPopulation
// stores, so a pass record's model reproduces them exactly. False (entry
// untouched) when the model is not fitted, the facts have no ltv inputs
// with T > 0, or the expectation does not converge.
bool SetLtvFields(const v1::LtvModel& model, const v1::PopulationFacts& facts,
                  const google::protobuf::Timestamp& as_of,
                  v1::PopulationEntry* entry);

// Four quintile cut points of `values`: sorted ascending v, cut k (1..4) =
// v[k * n / 5]. Empty for no values.
std::vector<int64_t> QuintileCuts(std::vector<int64_t> values);

// 1 + the number of cuts <= value (frequency, monetary: more is better).
uint32_t AscendingScore(int64_t value, absl::Span<const int64_t> cuts);

// 5 - the number of cuts <= days (recency: fewer days is better).
uint32_t RecencyScore(int64_t days, absl::Span<const int64_t> cuts);

// The common R x F segment grid (R = row, F = column):
//   R 5: F1 New, F2-3 Potential Loyalists, F4-5 Champions
//   R 4: F1 Promising, F2-3 Potential Loyalists, F4-5 Loyal
//   R 3: F1-2 About to Sleep, F3 Need Attention, F4-5 Loyal
//   R 1-2: F1-2 Hibernating, F3-4 At Risk, F5 Can't Lose
// UNSPECIFIED outside 1..5.
v1::RfmSegment RfmSegmentFor(uint32_t r, uint32_t f);

}  // namespace crm::projections
