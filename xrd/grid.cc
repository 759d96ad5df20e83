// Resampling of patterns onto a fixed 2-theta grid and rendering as an image.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "xrd/pattern.h"

namespace matalign::xrd {
namespace {

constexpr int kMaxGridPoints = 1 << 22;
constexpr int kMaxImageSide = 8192;

// Piecewise-linear function through (x[i], y[i]) with its running integral, for O(log n)
// point values and cell averages.
class PiecewiseLinear {
 public:
  // Requires x strictly increasing, x.size() == y.size() >= 2.
  PiecewiseLinear(const std::vector<double>& x, std::vector<double> y)
      : x_(x), y_(std::move(y)), integral_(x.size(), 0.0) {
    for (size_t i = 1; i < x_.size(); ++i) {
      integral_[i] = integral_[i - 1] + 0.5 * (x_[i] - x_[i - 1]) * (y_[i] + y_[i - 1]);
    }
  }

  double front() const { return x_.front(); }
  double back() const { return x_.back(); }

  // Value at t; requires front() <= t <= back().
  double Value(double t) const {
    const size_t k = Segment(t);
    return ValueIn(k, t);
  }

  // Integral from front() to t; requires front() <= t <= back().
  double Integral(double t) const {
    const size_t k = Segment(t);
    return integral_[k] + 0.5 * (t - x_[k]) * (y_[k] + ValueIn(k, t));
  }

 private:
  // Index k of the segment [x[k], x[k+1]] that holds t.
  size_t Segment(double t) const {
    const auto it = std::upper_bound(x_.begin(), x_.end(), t);
    size_t k = it == x_.begin() ? 0 : static_cast<size_t>(it - x_.begin()) - 1;
    return std::min(k, x_.size() - 2);
  }
  double ValueIn(size_t k, double t) const {
    const double w = (t - x_[k]) / (x_[k + 1] - x_[k]);
    return y_[k] + w * (y_[k + 1] - y_[k]);
  }

  const std::vector<double>& x_;
  std::vector<double> y_;
  std::vector<double> integral_;
};

}  // namespace

absl::Status GridOptions::Validate() const {
  if (!std::isfinite(two_theta_min) || !std::isfinite(two_theta_max) || two_theta_min < 0 ||
      two_theta_max > 180 || two_theta_min >= two_theta_max) {
    return absl::InvalidArgumentError(
        absl::StrCat("GridOptions: need 0 <= two_theta_min < two_theta_max <= 180, got [",
                     two_theta_min, ", ", two_theta_max, "]"));
  }
  if (num_points < 2 || num_points > kMaxGridPoints) {
    return absl::InvalidArgumentError(absl::StrCat("GridOptions.num_points must be in [2, ",
                                                   kMaxGridPoints, "], got ", num_points));
  }
  return absl::OkStatus();
}

double GridOptions::TwoTheta(int i) const {
  return two_theta_min + i * (two_theta_max - two_theta_min) / (num_points - 1);
}

absl::StatusOr<std::vector<float>> ResampleToGrid(const XrdPattern& pattern,
                                                  const GridOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  PatternLimits limits;
  limits.min_points = 2;
  limits.max_points = std::numeric_limits<int>::max();
  MATALIGN_RETURN_IF_ERROR(ValidatePattern(pattern, limits));

  std::vector<double> clipped(pattern.intensity);
  for (double& v : clipped) v = std::max(v, 0.0);
  const PiecewiseLinear f(pattern.two_theta, std::move(clipped));
  const double half_cell =
      0.5 * (options.two_theta_max - options.two_theta_min) / (options.num_points - 1);

  std::vector<double> grid(options.num_points, 0.0);
  double max_value = 0;
  for (int i = 0; i < options.num_points; ++i) {
    const double g = options.TwoTheta(i);
    if (g < f.front() || g > f.back()) continue;
    double v = f.Value(g);
    if (options.average_over_cell) {
      const double lo = std::max(g - half_cell, f.front());
      const double hi = std::min(g + half_cell, f.back());
      if (hi - lo > 1e-9 * half_cell) v = (f.Integral(hi) - f.Integral(lo)) / (hi - lo);
    }
    v = std::max(v, 0.0);  // rounding in the integral difference
    grid[i] = v;
    max_value = std::max(max_value, v);
  }
  if (!(max_value > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        pattern.source, ": no positive intensity within the grid range [", options.two_theta_min,
        ", ", options.two_theta_max, "] degrees (pattern covers [", pattern.two_theta.front(), ", ",
        pattern.two_theta.back(), "])"));
  }
  std::vector<float> out(grid.size());
  for (size_t i = 0; i < grid.size(); ++i) {
    out[i] = static_cast<float>(std::min(grid[i] / max_value, 1.0));
  }
  return out;
}

absl::StatusOr<std::vector<float>> RenderPatternImage(absl::Span<const float> values, int width,
                                                      int height) {
  if (values.empty()) return absl::InvalidArgumentError("RenderPatternImage: no values");
  if (width < 1 || width > kMaxImageSide || height < 1 || height > kMaxImageSide) {
    return absl::InvalidArgumentError(
        absl::StrCat("RenderPatternImage: width and height must be in [1, ", kMaxImageSide,
                     "], got ", width, "x", height));
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("RenderPatternImage: value ", i, " is not finite"));
    }
  }
  const int64_t n = static_cast<int64_t>(values.size());
  std::vector<float> image(static_cast<size_t>(width) * height, 0.0f);
  for (int c = 0; c < width; ++c) {
    double v;
    if (n >= width) {
      const int64_t begin = c * n / width;
      const int64_t end = std::max<int64_t>((c + 1) * n / width, begin + 1);
      v = *std::max_element(values.begin() + begin, values.begin() + end);
    } else {
      const double pos = width == 1 ? 0.0 : static_cast<double>(c) * (n - 1) / (width - 1);
      const int64_t k = std::min<int64_t>(static_cast<int64_t>(pos), n - 1);
      const double w = pos - static_cast<double>(k);
      v = k + 1 < n ? values[k] + w * (values[k + 1] - values[k]) : values[k];
    }
    v = std::clamp(v, 0.0, 1.0);
    const double filled = v * height;
    const int full = std::min(height, static_cast<int>(std::floor(filled)));
    for (int r = height - full; r < height; ++r) image[static_cast<size_t>(r) * width + c] = 1.0f;
    const double fraction = filled - full;
    if (full < height && fraction > 0) {
      image[static_cast<size_t>(height - 1 - full) * width + c] = static_cast<float>(fraction);
    }
  }
  return image;
}

}  // namespace matalign::xrd
