#include "xrd/peaks.h"

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "tests/test_util.h"

namespace matalign::xrd {
namespace {

// Gaussian peaks (position, height, fwhm 0.12) on a sloped background with Poisson-like
// noise of relative size `noise`, sampled every `step` degrees from 10 to 80.
XrdPattern Synthetic(const std::vector<std::pair<double, double>>& peaks, double noise,
                     double step = 0.01, unsigned seed = 7) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  XrdPattern p;
  p.source = "synthetic";
  const double sigma = 0.12 / 2.3548;
  for (double t = 10; t <= 80; t += step) {
    double y = 500 - 2 * t;
    for (const auto& [centre, height] : peaks) {
      y += height * std::exp(-0.5 * (t - centre) * (t - centre) / (sigma * sigma));
    }
    y += noise * std::sqrt(y) * gauss(rng);
    p.two_theta.push_back(t);
    p.intensity.push_back(y);
  }
  return p;
}

TEST(FindPeaksTest, FindsOffGridPeaksWithoutSpuriousOnes) {
  const std::vector<std::pair<double, double>> truth = {
      {21.3337, 3000}, {32.0051, 10000}, {32.3123, 6000}, {45.678, 1500}, {71.2222, 800}};
  const XrdPattern p = Synthetic(truth, 1.0);
  ASSERT_OK_AND_ASSIGN(std::vector<Peak> peaks, FindPeaks(p));
  ASSERT_EQ(peaks.size(), truth.size());
  for (size_t i = 0; i < truth.size(); ++i) {
    EXPECT_NEAR(peaks[i].two_theta, truth[i].first, 0.01) << i;
    EXPECT_GT(peaks[i].prominence, 0.5 * truth[i].second) << i;
  }
  const std::vector<Peak> top = StrongestPeaks(peaks, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_NEAR(top[0].two_theta, 32.0051, 0.01);
  EXPECT_NEAR(top[1].two_theta, 32.3123, 0.01);
  EXPECT_EQ(StrongestPeaks(peaks, 100).size(), peaks.size());
  EXPECT_EQ(PeakPositions(top).size(), 2u);
}

TEST(FindPeaksTest, NoiseFreeRefinementIsSubStep) {
  const XrdPattern p = Synthetic({{40.0037, 1000}}, 0.0, 0.02);
  PeakOptions options;
  options.smoothing_sigma = 0;
  ASSERT_OK_AND_ASSIGN(std::vector<Peak> peaks, FindPeaks(p, options));
  ASSERT_EQ(peaks.size(), 1u);
  EXPECT_NEAR(peaks[0].two_theta, 40.0037, 0.002);
}

TEST(FindPeaksTest, PlateauFlatAndErrors) {
  XrdPattern p;
  p.source = "plateau";
  const double values[] = {0, 1, 2, 5, 5, 5, 2, 1, 0, 0};
  for (int i = 0; i < 10; ++i) {
    p.two_theta.push_back(10 + i);
    p.intensity.push_back(values[i]);
  }
  PeakOptions options;
  options.smoothing_sigma = 0;
  options.prominence_window = 20;
  ASSERT_OK_AND_ASSIGN(std::vector<Peak> peaks, FindPeaks(p, options));
  ASSERT_EQ(peaks.size(), 1u);
  EXPECT_DOUBLE_EQ(peaks[0].two_theta, 14.0);
  EXPECT_DOUBLE_EQ(peaks[0].prominence, 5.0);

  XrdPattern flat = p;
  for (double& v : flat.intensity) v = 3;
  ASSERT_OK_AND_ASSIGN(std::vector<Peak> none, FindPeaks(flat, options));
  EXPECT_TRUE(none.empty());

  PeakOptions bad;
  bad.min_relative_prominence = 0;
  EXPECT_EQ(FindPeaks(p, bad).status().code(), absl::StatusCode::kInvalidArgument);
  XrdPattern broken = p;
  broken.intensity.pop_back();
  EXPECT_EQ(FindPeaks(broken).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FitZeroShiftTest, RecoversShiftAmongDistractors) {
  const std::vector<double> simulated = {22.39, 31.73, 32.01, 39.41, 45.69,
                                         51.26, 56.87, 57.05, 66.5,  75.2};
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> jitter(-0.02, 0.02);
  std::uniform_real_distribution<double> anywhere(10, 90);
  for (double true_shift : {0.3, -0.45, 0.0}) {
    std::vector<double> measured;
    for (double s : simulated) measured.push_back(s + true_shift + jitter(rng));
    for (int i = 0; i < 15; ++i) measured.push_back(anywhere(rng));  // impurity/noise peaks
    ASSERT_OK_AND_ASSIGN(double shift, FitZeroShift(simulated, measured));
    EXPECT_NEAR(shift, true_shift, 0.015);
    ASSERT_OK_AND_ASSIGN(std::vector<PeakMatch> matches, MatchPeaks(simulated, measured, shift));
    ASSERT_EQ(matches.size(), simulated.size());
    for (const PeakMatch& m : matches) EXPECT_LE(std::fabs(m.offset), 0.05);
  }
}

TEST(FitZeroShiftTest, RespectsRangeAndRejectsBadInput) {
  const std::vector<double> simulated = {20, 30, 40};
  const std::vector<double> measured = {22, 32, 42};  // +2 is outside [-1, 1]
  ASSERT_OK_AND_ASSIGN(double shift, FitZeroShift(simulated, measured));
  EXPECT_GE(shift, -1.0);
  EXPECT_LE(shift, 1.0);
  ZeroShiftOptions wide;
  wide.min_shift = -3;
  wide.max_shift = 3;
  ASSERT_OK_AND_ASSIGN(double wide_shift, FitZeroShift(simulated, measured, wide));
  EXPECT_NEAR(wide_shift, 2.0, 1e-9);

  EXPECT_EQ(FitZeroShift({}, measured).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FitZeroShift(simulated, {}).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<double> nan = {std::nan("")};
  EXPECT_EQ(FitZeroShift(nan, measured).status().code(), absl::StatusCode::kInvalidArgument);
  ZeroShiftOptions bad;
  bad.tolerance = 0;
  EXPECT_EQ(FitZeroShift(simulated, measured, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MatchPeaks(simulated, {}, 0).status().code(), absl::StatusCode::kInvalidArgument);

  ASSERT_OK_AND_ASSIGN(std::vector<PeakMatch> m, MatchPeaks({20.0}, {19.0, 20.5, 23.0}, 0.25));
  EXPECT_DOUBLE_EQ(m[0].measured_two_theta, 20.5);
  EXPECT_DOUBLE_EQ(m[0].offset, 0.25);
}

}  // namespace
}  // namespace matalign::xrd
