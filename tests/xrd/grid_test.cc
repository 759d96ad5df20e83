#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tests/test_util.h"
#include "xrd/pattern.h"

namespace matalign::xrd {
namespace {

// A triangle peak of half-width `half` centred at `centre` on a flat background of 1,
// sampled from `start` to `end` in `step` steps.
XrdPattern Triangle(double centre, double half, double start, double end, double step) {
  XrdPattern p;
  p.source = "triangle";
  for (double t = start; t <= end + 1e-9; t += step) {
    p.two_theta.push_back(t);
    p.intensity.push_back(1 + 100 * std::max(0.0, 1 - std::fabs(t - centre) / half));
  }
  return p;
}

size_t ArgMax(const std::vector<float>& v) {
  return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

TEST(GridOptionsTest, Validate) {
  GridOptions options;
  EXPECT_OK(options.Validate());
  EXPECT_DOUBLE_EQ(options.TwoTheta(0), 5.0);
  EXPECT_DOUBLE_EQ(options.TwoTheta(options.num_points - 1), 90.0);
  for (auto mutate : std::vector<void (*)(GridOptions&)>{
           [](GridOptions& o) { o.num_points = 1; },
           [](GridOptions& o) { o.two_theta_min = 90; },
           [](GridOptions& o) { o.two_theta_max = 200; },
           [](GridOptions& o) { o.two_theta_min = std::nan(""); },
       }) {
    GridOptions bad;
    mutate(bad);
    EXPECT_EQ(bad.Validate().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ResampleToGridTest, TrianglePeakKeepsItsPosition) {
  GridOptions options;  // 5..90, 4096 points
  const double grid_step = (options.two_theta_max - options.two_theta_min) / 4095;
  for (bool average : {true, false}) {
    options.average_over_cell = average;
    for (double centre : {31.7254, 45.5, 62.013}) {
      const XrdPattern p = Triangle(centre, 0.1, 10, 80, 0.0054);
      ASSERT_OK_AND_ASSIGN(std::vector<float> grid, ResampleToGrid(p, options));
      ASSERT_EQ(grid.size(), 4096u);
      const size_t peak = ArgMax(grid);
      EXPECT_NEAR(options.TwoTheta(static_cast<int>(peak)), centre, grid_step);
      EXPECT_FLOAT_EQ(grid[peak], 1.0f);
      // Zero outside the measured range [10, 80].
      EXPECT_EQ(grid[0], 0.0f);
      EXPECT_EQ(grid.back(), 0.0f);
      // Inside it the background is 1/101 of the peak (a bit more after cell averaging,
      // which lowers the sharp apex).
      const int at_20 = static_cast<int>(std::lround((20 - 5) / grid_step));
      EXPECT_GE(grid[at_20], 1.0 / 101 - 1e-6);
      EXPECT_LE(grid[at_20], 1.0 / 90);
    }
  }
}

TEST(ResampleToGridTest, LinearDataIsInterpolatedExactly) {
  XrdPattern p;
  p.source = "ramp";
  for (int i = 0; i <= 100; ++i) {  // coarse: 1-degree steps, intensity = 2theta
    p.two_theta.push_back(i);
    p.intensity.push_back(i);
  }
  GridOptions options;
  options.two_theta_min = 10;
  options.two_theta_max = 90;
  options.num_points = 161;  // 0.5-degree steps
  for (bool average : {true, false}) {
    options.average_over_cell = average;
    ASSERT_OK_AND_ASSIGN(std::vector<float> grid, ResampleToGrid(p, options));
    for (int i = 0; i < options.num_points; ++i) {
      EXPECT_NEAR(grid[i], options.TwoTheta(i) / 90.0, 1e-6) << i;
    }
  }
}

TEST(ResampleToGridTest, NegativeClippedAndErrors) {
  XrdPattern p = Triangle(30, 1, 20, 40, 0.1);
  for (double& v : p.intensity) v -= 50;  // background now negative
  ASSERT_OK_AND_ASSIGN(std::vector<float> grid, ResampleToGrid(p, GridOptions{}));
  EXPECT_GE(*std::min_element(grid.begin(), grid.end()), 0.0f);
  EXPECT_FLOAT_EQ(*std::max_element(grid.begin(), grid.end()), 1.0f);

  const XrdPattern outside = Triangle(120, 1, 100, 140, 0.1);
  auto none = ResampleToGrid(outside, GridOptions{});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("triangle"), absl::string_view::npos);

  XrdPattern broken = p;
  broken.two_theta[3] = broken.two_theta[2];
  EXPECT_EQ(ResampleToGrid(broken, GridOptions{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  GridOptions bad;
  bad.num_points = 0;
  EXPECT_EQ(ResampleToGrid(p, bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RenderPatternImageTest, ShapeAndFilledArea) {
  std::vector<float> values(1000, 0.25f);
  values[500] = 1.0f;  // one narrow peak must survive 4x downsampling (max pooling)
  ASSERT_OK_AND_ASSIGN(std::vector<float> image, RenderPatternImage(values, 250, 64));
  ASSERT_EQ(image.size(), 250u * 64u);
  auto at = [&](int r, int c) { return image[static_cast<size_t>(r) * 250 + c]; };
  for (float v : image) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LE(v, 1.0f);
  }
  // Column 125 holds value 500: fully white.
  for (int r = 0; r < 64; ++r) EXPECT_EQ(at(r, 125), 1.0f) << r;
  // Other columns: the bottom 16 rows (0.25 * 64) white, the rest black.
  EXPECT_EQ(at(63, 0), 1.0f);
  EXPECT_EQ(at(48, 0), 1.0f);
  EXPECT_EQ(at(47, 0), 0.0f);
  EXPECT_EQ(at(0, 0), 0.0f);
}

TEST(RenderPatternImageTest, UpsamplingAntiAliasingAndErrors) {
  const std::vector<float> values = {0.0f, 1.0f};
  ASSERT_OK_AND_ASSIGN(std::vector<float> image, RenderPatternImage(values, 3, 10));
  // Middle column interpolates to 0.5: 5 white rows from the bottom.
  EXPECT_EQ(image[9 * 3 + 1], 1.0f);
  EXPECT_EQ(image[5 * 3 + 1], 1.0f);
  EXPECT_EQ(image[4 * 3 + 1], 0.0f);
  EXPECT_EQ(image[9 * 3 + 0], 0.0f);
  ASSERT_OK_AND_ASSIGN(std::vector<float> aa, RenderPatternImage(std::vector<float>{0.55f}, 1, 10));
  EXPECT_NEAR(aa[4], 0.5f, 1e-5);  // the partially covered row above the 5 full ones

  EXPECT_EQ(RenderPatternImage({}, 10, 10).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RenderPatternImage(values, 0, 10).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RenderPatternImage(values, 10, 100000).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<float> nan = {0.5f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_EQ(RenderPatternImage(nan, 10, 10).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RenderPatternImageTest, RealScanEndToEnd) {
  MATALIGN_REAL_DATA_OR_SKIP(path, "xrd/Fe2O3-Nb2O5_900C_60min.xrdml");
  ASSERT_OK_AND_ASSIGN(XrdPattern p, ReadPatternFile(path));
  ASSERT_OK_AND_ASSIGN(std::vector<float> grid, ResampleToGrid(p, GridOptions{}));
  EXPECT_FLOAT_EQ(*std::max_element(grid.begin(), grid.end()), 1.0f);
  EXPECT_EQ(grid[0], 0.0f);  // 5 degrees is below the scan start (9.9)
  ASSERT_OK_AND_ASSIGN(std::vector<float> image, RenderPatternImage(grid, 512, 128));
  EXPECT_EQ(image.size(), 512u * 128u);
}

}  // namespace
}  // namespace matalign::xrd
