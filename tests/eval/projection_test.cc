#include "eval/projection.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace matalign::eval {
namespace {

// n points t * direction + noise in `direction.size()` dimensions, t = -5 .. 5 evenly.
std::vector<float> NoisyLine(const std::vector<double>& direction, int n, double noise,
                             std::vector<double>* t_out) {
  std::mt19937 rng(123);
  std::normal_distribution<double> gauss(0.0, noise);
  std::vector<float> points;
  for (int i = 0; i < n; ++i) {
    const double t = -5 + 10.0 * i / (n - 1);
    t_out->push_back(t);
    for (double u : direction) points.push_back(static_cast<float>(t * u + gauss(rng)));
  }
  return points;
}

TEST(PcaTest, RecoversTheDominantAxisOfANoisyLine) {
  const double norm = std::sqrt(14.0);
  const std::vector<double> u = {1 / norm, 2 / norm, 3 / norm};
  std::vector<double> t;
  const std::vector<float> points = NoisyLine(u, 101, 0.01, &t);
  std::vector<double> explained;
  ASSERT_OK_AND_ASSIGN(std::vector<double> proj, Pca(points, 3, 2, &explained));
  ASSERT_EQ(proj.size(), 202u);
  ASSERT_EQ(explained.size(), 2u);
  EXPECT_GT(explained[0], 0.999);
  EXPECT_LT(explained[1], 0.001);
  EXPECT_GE(explained[1], 0.0);
  // The axis is +u (largest loading, u[2], positive), so the first coordinate is t minus its
  // mean (0), up to the noise.
  for (size_t i = 0; i < t.size(); ++i) EXPECT_NEAR(proj[2 * i], t[i], 0.05) << "row " << i;
}

TEST(PcaTest, SignConventionMakesTheLargestLoadingPositive) {
  // The same line walked the other way: the axis is still +u, so the coordinates flip.
  const double norm = std::sqrt(14.0);
  const std::vector<double> minus_u = {-1 / norm, -2 / norm, -3 / norm};
  std::vector<double> t;
  const std::vector<float> points = NoisyLine(minus_u, 51, 0.01, &t);
  ASSERT_OK_AND_ASSIGN(std::vector<double> proj, Pca(points, 3, 1));
  ASSERT_EQ(proj.size(), 51u);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_NEAR(proj[i], -t[i], 0.05) << "row " << i;
}

TEST(PcaTest, AxisAlignedCrossExactly) {
  // (+-2, 0) and (0, +-1): variances 8/3 along x and 2/3 along y, total 10/3.
  const std::vector<float> points = {2, 0, -2, 0, 0, 1, 0, -1};
  std::vector<double> explained;
  ASSERT_OK_AND_ASSIGN(std::vector<double> proj, Pca(points, 2, 2, &explained));
  const std::vector<double> expected = {2, 0, -2, 0, 0, 1, 0, -1};
  ASSERT_EQ(proj.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(proj[i], expected[i], 1e-9) << i;
  EXPECT_NEAR(explained[0], 0.8, 1e-9);
  EXPECT_NEAR(explained[1], 0.2, 1e-9);
}

TEST(PcaTest, ComponentsAreUncorrelatedAndSortedOnRandomData) {
  // Random data with distinct spreads per (rotated) direction: the projections onto the
  // returned axes must have a diagonal covariance with decreasing variances, and all axes
  // together must explain everything.
  const int n = 400;
  const int dim = 5;
  std::mt19937 rng(7);
  std::normal_distribution<double> gauss(0.0, 1.0);
  const double scales[dim] = {5, 3, 2, 1, 0.5};
  std::vector<float> points;
  for (int i = 0; i < n; ++i) {
    double z[dim];
    for (int k = 0; k < dim; ++k) z[k] = scales[k] * gauss(rng);
    // A fixed mixing so that the axes are not the coordinate axes.
    for (int k = 0; k < dim; ++k) {
      points.push_back(static_cast<float>(z[k] + 0.3 * z[(k + 1) % dim] + 1.5));
    }
  }
  std::vector<double> explained;
  ASSERT_OK_AND_ASSIGN(std::vector<double> proj, Pca(points, dim, dim, &explained));
  double total = 0;
  for (int c = 0; c < dim; ++c) {
    total += explained[c];
    if (c > 0) {
      EXPECT_LE(explained[c], explained[c - 1] + 1e-12);
    }
  }
  EXPECT_NEAR(total, 1.0, 1e-9);
  for (int a = 0; a < dim; ++a) {
    double mean = 0;
    for (int i = 0; i < n; ++i) mean += proj[i * dim + a];
    EXPECT_NEAR(mean / n, 0.0, 1e-9);  // coordinates of centred data
    for (int b = a + 1; b < dim; ++b) {
      double cov = 0;
      for (int i = 0; i < n; ++i) cov += proj[i * dim + a] * proj[i * dim + b];
      EXPECT_NEAR(cov / (n - 1), 0.0, 1e-6) << a << "," << b;
    }
  }
}

TEST(PcaTest, RepeatedEigenvalueGivesOrthonormalAxes) {
  // (+-1, 0) and (0, +-1): every direction has the same variance.
  const std::vector<float> points = {1, 0, -1, 0, 0, 1, 0, -1};
  std::vector<double> explained;
  ASSERT_OK_AND_ASSIGN(std::vector<double> proj, Pca(points, 2, 2, &explained));
  EXPECT_NEAR(explained[0], 0.5, 1e-9);
  EXPECT_NEAR(explained[1], 0.5, 1e-9);
  for (int i = 0; i < 4; ++i) {  // orthonormal axes preserve each point's length
    EXPECT_NEAR(proj[2 * i] * proj[2 * i] + proj[2 * i + 1] * proj[2 * i + 1], 1.0, 1e-9);
  }
}

TEST(PcaTest, DeterministicAcrossCalls) {
  std::vector<double> t;
  const std::vector<float> points = NoisyLine({0.6, 0.8}, 30, 0.5, &t);
  ASSERT_OK_AND_ASSIGN(std::vector<double> a, Pca(points, 2, 2));
  ASSERT_OK_AND_ASSIGN(std::vector<double> b, Pca(points, 2, 2));
  EXPECT_EQ(a, b);
}

TEST(PcaTest, IdenticalPointsProjectToZeroWithUndefinedShares) {
  std::vector<double> explained;
  ASSERT_OK_AND_ASSIGN(std::vector<double> proj, Pca({1, 2, 1, 2, 1, 2}, 2, 2, &explained));
  for (double v : proj) EXPECT_EQ(v, 0.0);
  EXPECT_TRUE(std::isnan(explained[0]));
  EXPECT_TRUE(std::isnan(explained[1]));
}

TEST(PcaTest, RejectsBadArguments) {
  const std::vector<float> four = {1, 2, 3, 4};
  EXPECT_EQ(Pca({1, 2}, 2, 1).status().code(), absl::StatusCode::kInvalidArgument);  // n = 1
  EXPECT_EQ(Pca(four, 0, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Pca(four, 3, 1).status().code(), absl::StatusCode::kInvalidArgument);  // 4 % 3
  EXPECT_EQ(Pca(four, 2, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Pca(four, 2, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Pca({1, 2, std::numeric_limits<float>::quiet_NaN(), 4}, 2, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_OK(Pca(four, 2, 2));
}

}  // namespace
}  // namespace matalign::eval
