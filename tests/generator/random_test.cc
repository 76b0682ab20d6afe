#include "tools/generator/random.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace crm::generator {
namespace {

TEST(DetMathTest, LogMatchesLibmClosely) {
  for (double x : {1e-300, 1e-10, 0.001, 0.1, 0.5, 0.70710678, 1.0, 1.5, 2.0,
                   3.0, 10.0, 12345.678, 1e100, 1e300}) {
    EXPECT_NEAR(DetLog(x), std::log(x),
                1e-14 * std::max(1.0, std::fabs(std::log(x))))
        << x;
  }
  EXPECT_EQ(DetLog(1.0), 0.0);
  EXPECT_EQ(DetLog(0.0), -745.0);
  EXPECT_EQ(DetLog(-1.0), -745.0);
}

TEST(DetMathTest, ExpMatchesLibmClosely) {
  for (double x : {-700.0, -50.0, -1.0, -0.3, 0.0, 0.2, 0.5, 1.0, 2.5, 10.0,
                   100.0, 700.0}) {
    EXPECT_NEAR(DetExp(x) / std::exp(x), 1.0, 1e-14) << x;
  }
  EXPECT_EQ(DetExp(0.0), 1.0);
  EXPECT_NEAR(DetPow(2.0, 10.0), 1024.0, 1e-10);
}

// The generator's output is only reproducible if these are: the values are
// fixed forever (splitmix64 reference outputs for seed 0 and 1234567).
TEST(RngTest, MatchesSplitMix64Reference) {
  Rng a(0);
  EXPECT_EQ(a.Next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(a.Next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(a.Next(), 0x06c45d188009454fULL);
  Rng b(1234567);
  EXPECT_EQ(b.Next(), 6457827717110365317ULL);
  EXPECT_EQ(b.Next(), 3203168211198807973ULL);
}

TEST(RngTest, SamplersHaveTheirMeans) {
  Rng rng(42);
  const int n = 200000;
  double exp_sum = 0, norm_sum = 0, norm_sq = 0, gamma_sum = 0, gamma_small = 0;
  int64_t uni_sum = 0;
  int tail = 0;
  for (int i = 0; i < n; ++i) {
    exp_sum += rng.Exponential(3.0);
    const double z = rng.Normal();
    norm_sum += z;
    norm_sq += z * z;
    gamma_sum += rng.Gamma(2.5);
    gamma_small += rng.Gamma(0.5);
    uni_sum += rng.Range(1, 6);
    if (rng.Pareto(1.0, 1.5) > 10.0) ++tail;
  }
  EXPECT_NEAR(exp_sum / n, 3.0, 0.05);
  EXPECT_NEAR(norm_sum / n, 0.0, 0.01);
  EXPECT_NEAR(norm_sq / n, 1.0, 0.02);
  EXPECT_NEAR(gamma_sum / n, 2.5, 0.03);
  EXPECT_NEAR(gamma_small / n, 0.5, 0.01);
  EXPECT_NEAR(static_cast<double>(uni_sum) / n, 3.5, 0.02);
  // P(X > 10) = 10^-1.5 = 0.0316.
  EXPECT_NEAR(static_cast<double>(tail) / n, 0.0316, 0.002);
}

TEST(RngTest, UniformStaysInRangeAndWeightedFollowsWeights) {
  Rng rng(7);
  int counts[3] = {0, 0, 0};
  static constexpr int kW[] = {1, 0, 3};
  for (int i = 0; i < 40000; ++i) {
    const uint64_t u = rng.Uniform(5);
    ASSERT_LT(u, 5u);
    const double d = rng.Double();
    ASSERT_GE(d, 0.0);
    ASSERT_LT(d, 1.0);
    ++counts[rng.Weighted(kW)];
  }
  EXPECT_EQ(counts[1], 0);
  EXPECT_NEAR(counts[2] / 40000.0, 0.75, 0.01);
}

}  // namespace
}  // namespace crm::generator
