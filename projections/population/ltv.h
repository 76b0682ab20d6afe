#pragma once

// Lifetime value: the BG/NBD purchase model (Fader, Hardie & Lee 2005,
// "Counting your customers the easy way") and the Gamma-Gamma spend model
// (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value"), fitted
// by maximum likelihood over a whole population, and the per-customer
// expectations that follow from the fitted parameters.
//
// Pure and deterministic: the fit sorts its inputs, starts from a fixed
// point and runs a Nelder-Mead search with a fixed iteration cap and
// tolerance, so the same customers in any order give bit-identical
// parameters. Time is in model units (weeks by default, see LtvRules).

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace crm::projections::ltv {

// One customer's purchase summary, in model time units.
struct CustomerSummary {
  double x = 0;           // repeat purchases (transactions after the first)
  double t_x = 0;         // time of the last purchase, since the first
  double t = 0;           // T: time observed, from the first purchase to as-of
  double mean_value = 0;  // mean value of the repeat purchases (x > 0)
};

struct BgNbdParams {
  double r = 0, alpha = 0, a = 0, b = 0;
};

struct GammaGammaParams {
  double p = 0, q = 0, gamma = 0;
};

// Gaussian hypergeometric 2F1(a, b; c; z) for 0 <= z < 1 by its power
// series, summed until a term is below 1e-15 of the sum (at most 100,000
// terms; kOutOfRange if that is not enough).
absl::StatusOr<double> Hyp2F1(double a, double b, double c, double z);

// Log-likelihood of one customer under BG/NBD (FHL 2005, eq. 6).
double BgNbdLogLikelihood(const BgNbdParams& p, const CustomerSummary& c);

// Log-likelihood of one repeat customer (x > 0) under Gamma-Gamma.
double GammaGammaLogLikelihood(const GammaGammaParams& p,
                               const CustomerSummary& c);

// Maximum-likelihood fits. kInvalidArgument when an input is out of range
// (negative x, t_x > T, non-positive T; for Gamma-Gamma a repeat customer
// with mean_value <= 0) naming the input's index, or when there are too few
// customers (BG/NBD: at least 4 and one with x > 0; Gamma-Gamma: at least
// 3 with x > 0). Customers with x = 0 are ignored by Gamma-Gamma.
absl::StatusOr<BgNbdParams> FitBgNbd(absl::Span<const CustomerSummary> cs);
absl::StatusOr<GammaGammaParams> FitGammaGamma(
    absl::Span<const CustomerSummary> cs);

// P(alive | x, t_x, T) (FHL 2005, eq. 11).
double ProbabilityAlive(const BgNbdParams& p, const CustomerSummary& c);

// E[Y(horizon) | x, t_x, T]: expected purchases in (T, T + horizon]
// (FHL 2005, eq. 10). Requires a > 1 for the closed form as printed; for
// a <= 1 the same expression is used (it stays finite for a != 1);
// kOutOfRange if 2F1 does not converge.
absl::StatusOr<double> ExpectedPurchases(const BgNbdParams& p,
                                         const CustomerSummary& c,
                                         double horizon);

// E[Z | x, mean]: the expected value of a future purchase (Gamma-Gamma);
// for x = 0 the population mean p·gamma / (q − 1). Requires q > 1.
double ExpectedSpend(const GammaGammaParams& p, const CustomerSummary& c);

// Discounted value over `horizon_units` whole periods:
//   margin · E[Z] · Σ_{k=1..H} (E[Y(k)] − E[Y(k−1)]) / (1 + d)^k
// with d the discount rate per period.
absl::StatusOr<double> LifetimeValue(const BgNbdParams& bg,
                                     const GammaGammaParams& gg,
                                     const CustomerSummary& c,
                                     int64_t horizon_units,
                                     double discount_per_period, double margin);

// The search both fits use: minimises f from `start` by Nelder-Mead
// (reflection 1, expansion 2, contraction 0.5, shrink 0.5; initial simplex
// start ± step on each axis), stopping when the spread of f over the
// simplex is below `tolerance` or after `max_iterations`. Deterministic.
struct NelderMeadResult {
  std::vector<double> x;
  double value = 0;
  int iterations = 0;
};
NelderMeadResult NelderMead(
    const std::function<double(const std::vector<double>&)>& f,
    std::vector<double> start, double step, double tolerance,
    int max_iterations);

}  // namespace crm::projections::ltv
