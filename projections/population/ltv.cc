#include "projections/population/ltv.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace crm::projections::ltv {
namespace {

// log(exp(u) + exp(v)) without overflow.
double LogAddExp(double u, double v) {
  if (u == -std::numeric_limits<double>::infinity()) return v;
  if (v == -std::numeric_limits<double>::infinity()) return u;
  const double m = std::max(u, v);
  return m + std::log(std::exp(u - m) + std::exp(v - m));
}

// Inputs in one fixed order, so the sums (and hence the fit) do not depend
// on the order or partitioning the customers came in.
std::vector<CustomerSummary> Sorted(absl::Span<const CustomerSummary> cs) {
  std::vector<CustomerSummary> out(cs.begin(), cs.end());
  std::sort(out.begin(), out.end(),
            [](const CustomerSummary& l, const CustomerSummary& r) {
              return std::tie(l.x, l.t_x, l.t, l.mean_value) <
                     std::tie(r.x, r.t_x, r.t, r.mean_value);
            });
  return out;
}

absl::Status CheckSummary(const CustomerSummary& c, size_t i) {
  if (!(c.x >= 0) || !(c.t > 0) || !(c.t_x >= 0) || !(c.t_x <= c.t) ||
      (c.x == 0 && c.t_x != 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "customer summary ", i, ": need x >= 0, 0 <= t_x <= T, T > 0 and ",
        "t_x = 0 when x = 0, got x=", c.x, " t_x=", c.t_x, " T=", c.t));
  }
  return absl::OkStatus();
}

// Fixed search settings of both fits (average negative log-likelihood per
// customer, parameters as logarithms so they stay positive).
constexpr double kStep = 0.5;
constexpr double kTolerance = 1e-13;
constexpr int kMaxIterations = 4000;
constexpr int kRestarts = 3;

NelderMeadResult Minimise(
    const std::function<double(const std::vector<double>&)>& f,
    std::vector<double> start) {
  // Nelder-Mead can stall on a degenerate simplex; restarting from the best
  // point with a fresh simplex is the usual remedy (fixed count).
  NelderMeadResult best =
      NelderMead(f, std::move(start), kStep, kTolerance, kMaxIterations);
  for (int i = 0; i < kRestarts; ++i) {
    NelderMeadResult next =
        NelderMead(f, best.x, kStep / 4, kTolerance, kMaxIterations);
    next.iterations += best.iterations;
    if (!(next.value < best.value)) break;
    best = std::move(next);
  }
  return best;
}

}  // namespace

NelderMeadResult NelderMead(
    const std::function<double(const std::vector<double>&)>& f,
    std::vector<double> start, double step, double tolerance,
    int max_iterations) {
  const size_t n = start.size();
  std::vector<std::vector<double>> pts(n + 1, start);
  for (size_t i = 0; i < n; ++i) pts[i + 1][i] += step;
  std::vector<double> val(n + 1);
  for (size_t i = 0; i <= n; ++i) val[i] = f(pts[i]);
  std::vector<size_t> order(n + 1);
  auto point = [&](const std::vector<double>& centre, double coeff,
                   const std::vector<double>& from) {
    std::vector<double> out(n);
    for (size_t k = 0; k < n; ++k) {
      out[k] = centre[k] + coeff * (from[k] - centre[k]);
    }
    return out;
  };
  int it = 0;
  for (; it < max_iterations; ++it) {
    for (size_t i = 0; i <= n; ++i) order[i] = i;
    // Stable order: by value, ties by index.
    std::sort(order.begin(), order.end(), [&](size_t l, size_t r) {
      return std::tie(val[l], l) < std::tie(val[r], r);
    });
    const size_t lo = order[0], hi = order[n], second = order[n - 1];
    if (std::fabs(val[hi] - val[lo]) <= tolerance) break;
    std::vector<double> centre(n, 0.0);
    for (size_t i = 0; i <= n; ++i) {
      if (i == hi) continue;
      for (size_t k = 0; k < n; ++k) centre[k] += pts[i][k] / n;
    }
    std::vector<double> refl = point(centre, -1.0, pts[hi]);
    const double f_refl = f(refl);
    if (f_refl < val[lo]) {
      std::vector<double> exp = point(centre, -2.0, pts[hi]);
      const double f_exp = f(exp);
      if (f_exp < f_refl) {
        pts[hi] = std::move(exp);
        val[hi] = f_exp;
      } else {
        pts[hi] = std::move(refl);
        val[hi] = f_refl;
      }
      continue;
    }
    if (f_refl < val[second]) {
      pts[hi] = std::move(refl);
      val[hi] = f_refl;
      continue;
    }
    // Contraction: outside if the reflection improved on the worst point,
    // else inside.
    const bool outside = f_refl < val[hi];
    std::vector<double> con = point(centre, outside ? -0.5 : 0.5, pts[hi]);
    const double f_con = f(con);
    if (f_con < (outside ? f_refl : val[hi])) {
      pts[hi] = std::move(con);
      val[hi] = f_con;
      continue;
    }
    // Shrink towards the best point.
    for (size_t i = 0; i <= n; ++i) {
      if (i == lo) continue;
      pts[i] = point(pts[lo], 0.5, pts[i]);
      val[i] = f(pts[i]);
    }
  }
  size_t best = 0;
  for (size_t i = 1; i <= n; ++i) {
    if (val[i] < val[best]) best = i;
  }
  return {pts[best], val[best], it};
}

absl::StatusOr<double> Hyp2F1(double a, double b, double c, double z) {
  if (!(z >= 0 && z < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("2F1: z must be in [0, 1), got ", z));
  }
  double term = 1, sum = 1;
  for (int j = 0; j < 100'000; ++j) {
    term *= (a + j) * (b + j) / ((c + j) * (j + 1)) * z;
    sum += term;
    if (std::fabs(term) < 1e-15 * std::fabs(sum)) return sum;
  }
  return absl::OutOfRangeError(
      absl::StrCat("2F1(", a, ", ", b, "; ", c, "; ", z, ") did not converge"));
}

double BgNbdLogLikelihood(const BgNbdParams& p, const CustomerSummary& c) {
  const double x = c.x;
  const double a1 =
      std::lgamma(p.r + x) - std::lgamma(p.r) + p.r * std::log(p.alpha);
  const double a2 = std::lgamma(p.a + p.b) + std::lgamma(p.b + x) -
                    std::lgamma(p.b) - std::lgamma(p.a + p.b + x);
  const double a3 = -(p.r + x) * std::log(p.alpha + c.t);
  const double a4 = x > 0 ? std::log(p.a) - std::log(p.b + x - 1) -
                                (p.r + x) * std::log(p.alpha + c.t_x)
                          : -std::numeric_limits<double>::infinity();
  return a1 + a2 + LogAddExp(a3, a4);
}

double GammaGammaLogLikelihood(const GammaGammaParams& p,
                               const CustomerSummary& c) {
  const double px = p.p * c.x;
  const double m = c.mean_value;
  return std::lgamma(px + p.q) - std::lgamma(px) - std::lgamma(p.q) +
         p.q * std::log(p.gamma) + (px - 1) * std::log(m) + px * std::log(c.x) -
         (px + p.q) * std::log(c.x * m + p.gamma);
}

absl::StatusOr<BgNbdParams> FitBgNbd(absl::Span<const CustomerSummary> cs) {
  size_t repeaters = 0;
  for (size_t i = 0; i < cs.size(); ++i) {
    if (absl::Status s = CheckSummary(cs[i], i); !s.ok()) return s;
    if (cs[i].x > 0) ++repeaters;
  }
  if (cs.size() < 4 || repeaters == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "BG/NBD fit needs at least 4 customers and one with a repeat "
        "purchase, got ",
        cs.size(), " customers, ", repeaters, " with repeats"));
  }
  const std::vector<CustomerSummary> sorted = Sorted(cs);
  auto nll = [&](const std::vector<double>& v) {
    const BgNbdParams p{std::exp(v[0]), std::exp(v[1]), std::exp(v[2]),
                        std::exp(v[3])};
    double sum = 0;
    for (const CustomerSummary& c : sorted) sum += BgNbdLogLikelihood(p, c);
    const double out = -sum / static_cast<double>(sorted.size());
    return std::isfinite(out) ? out : std::numeric_limits<double>::max();
  };
  const NelderMeadResult res = Minimise(nll, {0.0, 0.0, 0.0, 0.0});
  return BgNbdParams{std::exp(res.x[0]), std::exp(res.x[1]), std::exp(res.x[2]),
                     std::exp(res.x[3])};
}

absl::StatusOr<GammaGammaParams> FitGammaGamma(
    absl::Span<const CustomerSummary> cs) {
  std::vector<CustomerSummary> repeaters;
  for (size_t i = 0; i < cs.size(); ++i) {
    if (absl::Status s = CheckSummary(cs[i], i); !s.ok()) return s;
    if (cs[i].x == 0) continue;
    if (!(cs[i].mean_value > 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "customer summary ", i, ": mean_value must be > 0 when x > 0, got ",
          cs[i].mean_value));
    }
    repeaters.push_back(cs[i]);
  }
  if (repeaters.size() < 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("Gamma-Gamma fit needs at least 3 customers with a "
                     "repeat purchase, got ",
                     repeaters.size()));
  }
  const std::vector<CustomerSummary> sorted = Sorted(repeaters);
  auto nll = [&](const std::vector<double>& v) {
    const GammaGammaParams p{std::exp(v[0]), std::exp(v[1]), std::exp(v[2])};
    double sum = 0;
    for (const CustomerSummary& c : sorted) {
      sum += GammaGammaLogLikelihood(p, c);
    }
    const double out = -sum / static_cast<double>(sorted.size());
    return std::isfinite(out) ? out : std::numeric_limits<double>::max();
  };
  const NelderMeadResult res = Minimise(nll, {0.0, 0.0, 0.0});
  return GammaGammaParams{std::exp(res.x[0]), std::exp(res.x[1]),
                          std::exp(res.x[2])};
}

double ProbabilityAlive(const BgNbdParams& p, const CustomerSummary& c) {
  if (c.x == 0) return 1.0;
  return 1.0 /
         (1.0 + p.a / (p.b + c.x - 1) *
                    std::pow((p.alpha + c.t) / (p.alpha + c.t_x), p.r + c.x));
}

absl::StatusOr<double> ExpectedPurchases(const BgNbdParams& p,
                                         const CustomerSummary& c,
                                         double horizon) {
  if (horizon <= 0) return 0.0;
  const double x = c.x;
  const double z = horizon / (p.alpha + c.t + horizon);
  absl::StatusOr<double> f = Hyp2F1(p.r + x, p.b + x, p.a + p.b + x - 1, z);
  if (!f.ok()) return f.status();
  const double bracket =
      1.0 - std::pow((p.alpha + c.t) / (p.alpha + c.t + horizon), p.r + x) * *f;
  const double num = (p.a + p.b + x - 1) / (p.a - 1) * bracket;
  return num * ProbabilityAlive(p, c);
}

double ExpectedSpend(const GammaGammaParams& p, const CustomerSummary& c) {
  if (c.x == 0) return p.p * p.gamma / (p.q - 1);
  return (p.gamma + c.mean_value * c.x) * p.p / (p.p * c.x + p.q - 1);
}

absl::StatusOr<double> LifetimeValue(
    const BgNbdParams& bg, const GammaGammaParams& gg, const CustomerSummary& c,
    int64_t horizon_units, double discount_per_period, double margin) {
  const double spend = ExpectedSpend(gg, c);
  double value = 0, prev = 0, factor = 1;
  for (int64_t k = 1; k <= horizon_units; ++k) {
    absl::StatusOr<double> e = ExpectedPurchases(bg, c, static_cast<double>(k));
    if (!e.ok()) return e.status();
    factor /= 1.0 + discount_per_period;
    value += (*e - prev) * factor;
    prev = *e;
  }
  return margin * spend * value;
}

}  // namespace crm::projections::ltv
