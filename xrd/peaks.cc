// Peak picking and zero-shift fitting / peak matching.
#include "xrd/peaks.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace matalign::xrd {
namespace {

// Kernel and prominence search are truncated so that cost stays bounded on any input.
constexpr int kMaxKernelRadius = 256;
constexpr int kMaxWindowPoints = 5000;

double MedianStep(const std::vector<double>& x) {
  std::vector<double> steps(x.size() - 1);
  for (size_t i = 1; i < x.size(); ++i) steps[i - 1] = x[i] - x[i - 1];
  std::nth_element(steps.begin(), steps.begin() + steps.size() / 2, steps.end());
  return steps[steps.size() / 2];
}

// Gaussian smoothing with sigma given in points; the kernel is renormalized at the ends.
std::vector<double> Smooth(const std::vector<double>& y, double sigma_points) {
  if (sigma_points < 0.3) return y;
  const int radius =
      static_cast<int>(std::min<double>(kMaxKernelRadius, std::ceil(4 * sigma_points)));
  std::vector<double> kernel(2 * radius + 1);
  for (int k = -radius; k <= radius; ++k) {
    kernel[k + radius] = std::exp(-0.5 * (k * k) / (sigma_points * sigma_points));
  }
  const int n = static_cast<int>(y.size());
  std::vector<double> out(n);
  for (int i = 0; i < n; ++i) {
    double sum = 0, weight = 0;
    const int lo = std::max(0, i - radius), hi = std::min(n - 1, i + radius);
    for (int j = lo; j <= hi; ++j) {
      sum += kernel[j - i + radius] * y[j];
      weight += kernel[j - i + radius];
    }
    out[i] = sum / weight;
  }
  return out;
}

absl::Status CheckFinite(absl::Span<const double> values, absl::string_view what) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(absl::StrCat(what, " position ", i, " is not finite"));
    }
  }
  return absl::OkStatus();
}

// Signed offset from `target` to the nearest value of the sorted, non-empty `sorted`.
double NearestOffset(const std::vector<double>& sorted, double target, double* nearest) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), target);
  double best = std::numeric_limits<double>::infinity();
  double best_value = sorted.front();
  if (it != sorted.end()) {
    best = *it - target;
    best_value = *it;
  }
  if (it != sorted.begin()) {
    const double left = *(it - 1) - target;
    if (std::fabs(left) <= std::fabs(best)) {
      best = left;
      best_value = *(it - 1);
    }
  }
  if (nearest != nullptr) *nearest = best_value;
  return best;
}

double TruncatedCost(absl::Span<const double> simulated, const std::vector<double>& measured,
                     double shift, double tolerance) {
  double cost = 0;
  for (double s : simulated) {
    const double d = std::min(std::fabs(NearestOffset(measured, s + shift, nullptr)), tolerance);
    cost += d * d;
  }
  return cost;
}

}  // namespace

absl::Status PeakOptions::Validate() const {
  if (!(smoothing_sigma >= 0 && smoothing_sigma <= 10)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PeakOptions.smoothing_sigma must be in [0, 10], got ", smoothing_sigma));
  }
  if (!(min_relative_prominence > 0 && min_relative_prominence <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PeakOptions.min_relative_prominence must be in (0, 1], got ", min_relative_prominence));
  }
  if (!(prominence_window > 0 && prominence_window <= 180)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PeakOptions.prominence_window must be in (0, 180], got ", prominence_window));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Peak>> FindPeaks(const XrdPattern& pattern, const PeakOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  PatternLimits limits;
  limits.min_points = 3;
  limits.max_points = std::numeric_limits<int>::max();
  MATALIGN_RETURN_IF_ERROR(ValidatePattern(pattern, limits));
  const std::vector<double>& x = pattern.two_theta;
  const double step = MedianStep(x);
  const std::vector<double> s = Smooth(pattern.intensity, options.smoothing_sigma / step);
  const int n = static_cast<int>(s.size());
  const auto [min_it, max_it] = std::minmax_element(s.begin(), s.end());
  const double range = *max_it - *min_it;
  std::vector<Peak> peaks;
  if (!(range > 0)) return peaks;
  const double threshold = options.min_relative_prominence * range;
  const int window = static_cast<int>(
      std::min<double>(kMaxWindowPoints, std::ceil(options.prominence_window / step)));

  for (int i = 1; i < n - 1;) {
    if (!(s[i] > s[i - 1])) {
      ++i;
      continue;
    }
    int j = i;  // plateau [i, j]
    while (j + 1 < n && s[j + 1] == s[i]) ++j;
    if (j + 1 >= n || !(s[j + 1] < s[i])) {
      i = j + 1;
      continue;
    }
    const double height = s[i];
    double left_base = height;
    for (int k = i - 1; k >= 0 && k >= i - window; --k) {
      if (s[k] > height) break;
      left_base = std::min(left_base, s[k]);
    }
    double right_base = height;
    for (int k = j + 1; k < n && k <= j + window; ++k) {
      if (s[k] > height) break;
      right_base = std::min(right_base, s[k]);
    }
    const double prominence = height - std::max(left_base, right_base);
    if (prominence >= threshold) {
      Peak peak;
      peak.height = height;
      peak.prominence = prominence;
      if (i == j) {
        const double denom = s[i - 1] - 2 * s[i] + s[i + 1];
        double offset = denom < 0 ? 0.5 * (s[i - 1] - s[i + 1]) / denom : 0.0;
        offset = std::clamp(offset, -0.5, 0.5);
        const double local_step = offset < 0 ? x[i] - x[i - 1] : x[i + 1] - x[i];
        peak.two_theta = x[i] + offset * local_step;
      } else {
        peak.two_theta = 0.5 * (x[i] + x[j]);
      }
      peaks.push_back(peak);
    }
    i = j + 1;
  }
  return peaks;
}

std::vector<Peak> StrongestPeaks(std::vector<Peak> peaks, int n) {
  std::stable_sort(peaks.begin(), peaks.end(),
                   [](const Peak& a, const Peak& b) { return a.height > b.height; });
  if (n >= 0 && static_cast<size_t>(n) < peaks.size()) peaks.resize(n);
  return peaks;
}

std::vector<double> PeakPositions(const std::vector<Peak>& peaks) {
  std::vector<double> positions;
  positions.reserve(peaks.size());
  for (const Peak& p : peaks) positions.push_back(p.two_theta);
  return positions;
}

absl::Status ZeroShiftOptions::Validate() const {
  if (!std::isfinite(min_shift) || !std::isfinite(max_shift) || !(min_shift <= max_shift)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ZeroShiftOptions: need finite min_shift <= max_shift, got [", min_shift, ", ",
                     max_shift, "]"));
  }
  if (!(scan_step > 0) || !std::isfinite(scan_step) || (max_shift - min_shift) / scan_step > 1e7) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ZeroShiftOptions.scan_step must be > 0 and give at most 1e7 steps, got ", scan_step));
  }
  if (!(tolerance > 0) || !std::isfinite(tolerance)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ZeroShiftOptions.tolerance must be > 0, got ", tolerance));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> FitZeroShift(absl::Span<const double> simulated,
                                    absl::Span<const double> measured,
                                    const ZeroShiftOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  if (simulated.empty() || measured.empty()) {
    return absl::InvalidArgumentError("FitZeroShift: no simulated or no measured peaks");
  }
  MATALIGN_RETURN_IF_ERROR(CheckFinite(simulated, "FitZeroShift: simulated"));
  MATALIGN_RETURN_IF_ERROR(CheckFinite(measured, "FitZeroShift: measured"));
  std::vector<double> sorted(measured.begin(), measured.end());
  std::sort(sorted.begin(), sorted.end());
  const double tol = options.tolerance;

  const int steps =
      static_cast<int>(std::floor((options.max_shift - options.min_shift) / options.scan_step));
  double best_shift = options.min_shift;
  double best_cost = std::numeric_limits<double>::infinity();
  for (int k = 0; k <= steps + 1; ++k) {
    const double shift = std::min(options.min_shift + k * options.scan_step, options.max_shift);
    const double cost = TruncatedCost(simulated, sorted, shift, tol);
    if (cost < best_cost - 1e-12 ||
        (cost <= best_cost + 1e-12 && std::fabs(shift) < std::fabs(best_shift))) {
      best_cost = std::min(cost, best_cost);
      best_shift = shift;
    }
  }
  // ICP-style refinement on the peaks matched within the tolerance.
  for (int iteration = 0; iteration < 50; ++iteration) {
    double sum = 0;
    int matched = 0;
    for (double s : simulated) {
      const double offset = NearestOffset(sorted, s + best_shift, nullptr);
      if (std::fabs(offset) < tol) {
        sum += offset;
        ++matched;
      }
    }
    if (matched == 0) break;
    const double shift =
        std::clamp(best_shift + sum / matched, options.min_shift, options.max_shift);
    const double cost = TruncatedCost(simulated, sorted, shift, tol);
    if (!(cost < best_cost - 1e-15)) break;
    best_cost = cost;
    best_shift = shift;
  }
  return best_shift;
}

absl::StatusOr<std::vector<PeakMatch>> MatchPeaks(absl::Span<const double> simulated,
                                                  absl::Span<const double> measured, double shift) {
  if (measured.empty()) return absl::InvalidArgumentError("MatchPeaks: no measured peaks");
  if (!std::isfinite(shift)) return absl::InvalidArgumentError("MatchPeaks: shift not finite");
  MATALIGN_RETURN_IF_ERROR(CheckFinite(simulated, "MatchPeaks: simulated"));
  MATALIGN_RETURN_IF_ERROR(CheckFinite(measured, "MatchPeaks: measured"));
  std::vector<double> sorted(measured.begin(), measured.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<PeakMatch> matches;
  matches.reserve(simulated.size());
  for (double s : simulated) {
    PeakMatch match;
    match.simulated_two_theta = s;
    match.offset = NearestOffset(sorted, s + shift, &match.measured_two_theta);
    matches.push_back(match);
  }
  return matches;
}

}  // namespace matalign::xrd
