#include "tools/generator/random.h"

#include <cmath>
#include <cstring>

namespace crm::generator {
namespace {

constexpr double kLn2Hi = 6.93147180369123816490e-01;  // high bits of ln 2
constexpr double kLn2Lo = 1.90821492927058770002e-10;  // ln 2 - kLn2Hi
constexpr double kSqrtHalf = 0.70710678118654752440;

}  // namespace

double DetLog(double x) {
  if (!(x > 0)) return -745.0;
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int e = static_cast<int>((bits >> 52) & 0x7ff);
  if (e == 0) {  // subnormal: scale up exactly
    x *= 0x1.0p54;
    std::memcpy(&bits, &x, sizeof bits);
    e = static_cast<int>((bits >> 52) & 0x7ff) - 54;
  }
  e -= 1022;
  // m in [0.5, 1), x = m * 2^e.
  bits = (bits & 0x000fffffffffffffULL) | 0x3fe0000000000000ULL;
  double m;
  std::memcpy(&m, &bits, sizeof m);
  if (m < kSqrtHalf) {
    m *= 2.0;
    --e;
  }
  // ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716.
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double sum = 1.0 / 23.0;
  for (int k = 21; k >= 1; k -= 2) sum = 1.0 / k + s2 * sum;
  const double ln_m = 2.0 * s * sum;
  return e * kLn2Hi + (ln_m + e * kLn2Lo);
}

double DetExp(double x) {
  if (x > 700.0) x = 700.0;
  if (x < -700.0) x = -700.0;
  // x = k ln 2 + r, |r| <= ln2 / 2.
  const double kf = x * 1.44269504088896340736 + (x >= 0 ? 0.5 : -0.5);
  const int k = static_cast<int>(kf);  // truncation: rounds to nearest
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;
  // Taylor series to r^14 / 14!: error below 1e-17 for |r| <= 0.35.
  double sum = 1.0;
  for (int n = 14; n >= 1; --n) sum = 1.0 + r * sum / n;
  return std::ldexp(sum, k);  // exact scaling by 2^k
}

double DetPow(double x, double y) { return DetExp(y * DetLog(x)); }

double Rng::Normal() {
  for (;;) {
    const double u = 2.0 * Double() - 1.0;
    const double v = 2.0 * Double() - 1.0;
    const double s = u * u + v * v;
    if (s > 0.0 && s < 1.0) return u * std::sqrt(-2.0 * DetLog(s) / s);
  }
}

double Rng::Gamma(double shape) {
  if (shape < 1.0) {
    // Gamma(a) = Gamma(a + 1) * U^(1/a).
    return Gamma(shape + 1.0) * DetPow(OpenDouble(), 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x;
    double v;
    do {
      x = Normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = OpenDouble();
    if (u < 1.0 - 0.0331 * (x * x) * (x * x)) return d * v;
    if (DetLog(u) < 0.5 * x * x + d * (1.0 - v + DetLog(v))) return d * v;
  }
}

int Rng::Weighted(const int* weights, int n) {
  int total = 0;
  for (int i = 0; i < n; ++i) total += weights[i];
  int64_t pick = static_cast<int64_t>(Uniform(static_cast<uint64_t>(total)));
  for (int i = 0; i < n; ++i) {
    pick -= weights[i];
    if (pick < 0) return i;
  }
  return n - 1;
}

}  // namespace crm::generator
