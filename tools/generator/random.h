#pragma once

// Portable, reproducible randomness for the sample generator. Everything here
// is built from integer arithmetic and the IEEE-754 basic operations (+, -,
// *, /, sqrt), which are exactly rounded on every conforming platform, so a
// seed gives the same numbers with any compiler or standard library. The
// std:: distributions (and libm's log/exp) give no such guarantee.

#include <cstdint>

namespace crm::generator {

// splitmix64's finaliser: a bijective 64-bit mix. Used to derive independent
// seeds from (run seed, customer index, purpose).
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Natural logarithm of x > 0 (returns -745 for x <= 0), accurate to a few
// ulps, computed only with basic operations so results are reproducible.
double DetLog(double x);
// e^x for x in [-700, 700] (clamped outside), accurate to a few ulps.
double DetExp(double x);
// x^y = e^(y ln x) for x > 0.
double DetPow(double x, double y);

// A splitmix64 generator: 8 bytes of state, so a million customers can each
// keep their own stream cheaply. Statistically good enough for sample data.
// A value type; not thread-safe (each thread or customer has its own).
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}

  uint64_t state() const { return state_; }

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n); n > 0. (Multiply-shift; the bias is below 2^-32 for
  // the small n used here.)
  uint64_t Uniform(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >>
                                 64);
  }
  // Uniform integer in [lo, hi], lo <= hi.
  int64_t Range(int64_t lo, int64_t hi) {
    return lo +
           static_cast<int64_t>(Uniform(static_cast<uint64_t>(hi - lo) + 1));
  }
  // Uniform in [0, 1), 53 random bits.
  double Double() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in (0, 1]: safe to take the log of.
  double OpenDouble() {
    return (static_cast<double>(Next() >> 11) + 1.0) * 0x1.0p-53;
  }
  bool Bernoulli(double p) { return Double() < p; }

  // Exponential with the given mean.
  double Exponential(double mean) { return -mean * DetLog(OpenDouble()); }
  // Standard normal (Marsaglia's polar method).
  double Normal();
  // exp(N(mu, sigma^2)).
  double LogNormal(double mu, double sigma) {
    return DetExp(mu + sigma * Normal());
  }
  // Pareto with minimum xm and tail index alpha: P(X > x) = (xm / x)^alpha.
  double Pareto(double xm, double alpha) {
    return xm * DetPow(OpenDouble(), -1.0 / alpha);
  }
  // Gamma(shape, scale 1) (Marsaglia and Tsang); shape > 0.
  double Gamma(double shape);

  // Index drawn with probability weights[i] / sum(weights); n > 0.
  int Weighted(const int* weights, int n);
  template <int N>
  int Weighted(const int (&weights)[N]) {
    return Weighted(weights, N);
  }

 private:
  uint64_t state_;
};

}  // namespace crm::generator
