// Peak-list matching and profile similarity of powder patterns.
#include "xrd/match.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace matalign::xrd {
namespace {

// Most grid points PatternSimilarity builds (a 0..180 degree scan at a 0.0001 degree step);
// bounds work and memory on any input.
constexpr int kMaxSimilarityPoints = 1'800'001;
// Most clipping iterations / kernel radius / shifts, in grid points.
constexpr int kMaxWindowPoints = 20'000;
constexpr double kRadPerDegree = 3.14159265358979323846 / 180;

absl::Status CheckPeaks(const std::vector<Peak>& peaks, absl::string_view what) {
  if (peaks.empty()) return absl::InvalidArgumentError(absl::StrCat("MatchPeakLists: no ", what));
  for (size_t i = 0; i < peaks.size(); ++i) {
    if (!std::isfinite(peaks[i].two_theta) || !std::isfinite(peaks[i].height)) {
      return absl::InvalidArgumentError(
          absl::StrCat("MatchPeakLists: ", what, " ", i, " has a non-finite position or height"));
    }
  }
  return absl::OkStatus();
}

// Index of the element of the non-empty, ascending `sorted` nearest to `target`.
size_t NearestIndex(const std::vector<double>& sorted, double target) {
  const auto it = std::lower_bound(sorted.begin(), sorted.end(), target);
  if (it == sorted.end()) return sorted.size() - 1;
  const size_t i = static_cast<size_t>(it - sorted.begin());
  if (i == 0) return 0;
  return (target - sorted[i - 1] <= sorted[i] - target) ? i - 1 : i;
}

bool IsFiniteNonNegative(double value) { return std::isfinite(value) && value >= 0; }

// SNIP background: repeatedly replaces each point by the mean of its neighbours at distance
// k when that is lower, for k = 1..window (shrunk near the ends), and returns y minus the
// clipped curve, floored at 0.
std::vector<double> SubtractSnipBackground(const std::vector<double>& y, int window) {
  if (window < 1) return y;
  const int n = static_cast<int>(y.size());
  std::vector<double> v = y, w(y.size());
  for (int k = 1; k <= window; ++k) {
    for (int i = 0; i < n; ++i) {
      const int kk = std::min({k, i, n - 1 - i});
      w[i] = kk < 1 ? v[i] : std::min(v[i], 0.5 * (v[i - kk] + v[i + kk]));
    }
    v.swap(w);
  }
  std::vector<double> out(y.size());
  for (int i = 0; i < n; ++i) out[i] = std::max(0.0, y[i] - v[i]);
  return out;
}

// Gaussian convolution with sigma in points, truncated at 4 sigma; renormalized at the ends.
std::vector<double> Broaden(const std::vector<double>& y, double sigma_points) {
  if (sigma_points < 0.3) return y;
  const int radius =
      static_cast<int>(std::min<double>(kMaxWindowPoints, std::ceil(4 * sigma_points)));
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

// Resamples, broadens, clips the background and optionally square-roots one pattern.
absl::StatusOr<std::vector<double>> Profile(const XrdPattern& pattern, const GridOptions& grid,
                                            const SimilarityOptions& options) {
  absl::StatusOr<std::vector<float>> resampled = ResampleToGrid(pattern, grid);
  if (!resampled.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("PatternSimilarity: ", pattern.source, ": ", resampled.status().message()));
  }
  std::vector<double> y(resampled->begin(), resampled->end());
  // Broadening first also averages the counting noise, so that the clipped background follows
  // its mean rather than its lower envelope (which would leave noise above zero everywhere).
  y = Broaden(y, options.broadening_sigma / options.step);
  y = SubtractSnipBackground(
      y, static_cast<int>(std::lround(options.background_window / options.step)));
  if (options.sqrt_intensity) {
    for (double& v : y) v = std::sqrt(std::max(0.0, v));
  }
  return y;
}

}  // namespace

PeakOptions SimulatedPeakOptions() {
  PeakOptions options;
  options.smoothing_sigma = 0;
  options.min_relative_prominence = 0.005;
  return options;
}

absl::Status PeakMatchOptions::Validate() const {
  if (strongest < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("PeakMatchOptions.strongest must be >= 0, got ", strongest));
  }
  if (strongest_measured < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("PeakMatchOptions.strongest_measured must be >= 0, got ", strongest_measured));
  }
  if (!(tolerance > 0) || !std::isfinite(tolerance)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PeakMatchOptions.tolerance must be > 0, got ", tolerance));
  }
  if (!(companion_wavelength_ratio == 0 ||
        (companion_wavelength_ratio >= 1 && companion_wavelength_ratio <= 1.1))) {
    return absl::InvalidArgumentError(
        absl::StrCat("PeakMatchOptions.companion_wavelength_ratio must be 0 or in [1, 1.1], got ",
                     companion_wavelength_ratio));
  }
  if (fit_zero_shift) {
    ZeroShiftOptions zero;
    zero.min_shift = min_shift;
    zero.max_shift = max_shift;
    zero.scan_step = scan_step;
    zero.tolerance = tolerance;
    absl::Status status = zero.Validate();
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("PeakMatchOptions: ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PeakMatchResult> MatchPeakLists(const std::vector<Peak>& simulated,
                                               const std::vector<Peak>& measured,
                                               const PeakMatchOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  MATALIGN_RETURN_IF_ERROR(CheckPeaks(simulated, "simulated peaks"));
  MATALIGN_RETURN_IF_ERROR(CheckPeaks(measured, "measured peaks"));

  const std::vector<Peak> scored =
      StrongestPeaks(simulated, options.strongest > 0 ? options.strongest : -1);
  const std::vector<double> scored_positions = PeakPositions(scored);
  std::vector<Peak> measured_sorted = measured;
  std::stable_sort(measured_sorted.begin(), measured_sorted.end(),
                   [](const Peak& a, const Peak& b) { return a.two_theta < b.two_theta; });
  const std::vector<double> measured_positions = PeakPositions(measured_sorted);

  PeakMatchResult result;
  if (options.fit_zero_shift) {
    ZeroShiftOptions zero;
    zero.min_shift = options.min_shift;
    zero.max_shift = options.max_shift;
    zero.scan_step = options.scan_step;
    zero.tolerance = options.tolerance;
    MATALIGN_ASSIGN_OR_RETURN(result.zero_shift,
                              FitZeroShift(scored_positions, measured_positions, zero));
  }

  double height_all = 0, height_matched = 0, offset_sum = 0;
  for (const Peak& s : scored) {
    MatchedPeak m;
    m.simulated_two_theta = s.two_theta;
    m.simulated_height = s.height;
    const size_t j = NearestIndex(measured_positions, s.two_theta + result.zero_shift);
    m.measured_two_theta = measured_sorted[j].two_theta;
    m.measured_height = measured_sorted[j].height;
    m.offset = m.measured_two_theta - (s.two_theta + result.zero_shift);
    m.matched = std::fabs(m.offset) <= options.tolerance;
    height_all += IsFiniteNonNegative(s.height) ? s.height : 0;
    if (m.matched) {
      ++result.num_matched;
      offset_sum += std::fabs(m.offset);
      height_matched += IsFiniteNonNegative(s.height) ? s.height : 0;
    }
    result.peaks.push_back(m);
  }
  result.matched_fraction = static_cast<double>(result.num_matched) / result.peaks.size();
  result.mean_abs_offset = result.num_matched > 0 ? offset_sum / result.num_matched : 0;
  result.weighted_fraction = height_all > 0 ? height_matched / height_all : 0;

  std::vector<double> shifted;
  for (const Peak& p : simulated) {
    shifted.push_back(p.two_theta + result.zero_shift);
    if (options.companion_wavelength_ratio > 0) {
      // Bragg: sin(theta') = ratio * sin(theta); the zero shift applies to both lines.
      const double sin_theta =
          options.companion_wavelength_ratio * std::sin(0.5 * p.two_theta * kRadPerDegree);
      if (sin_theta < 1) {
        shifted.push_back(2 * std::asin(sin_theta) / kRadPerDegree + result.zero_shift);
      }
    }
  }
  std::sort(shifted.begin(), shifted.end());
  // Measured strength is prominence: heights include the background, which would favour
  // noise maxima where the background is high.
  std::vector<Peak> strongest_measured = measured;
  std::stable_sort(strongest_measured.begin(), strongest_measured.end(),
                   [](const Peak& a, const Peak& b) { return a.prominence > b.prominence; });
  if (options.strongest_measured > 0 &&
      strongest_measured.size() > static_cast<size_t>(options.strongest_measured)) {
    strongest_measured.resize(options.strongest_measured);
  }
  int explained = 0;
  for (const Peak& p : strongest_measured) {
    const size_t j = NearestIndex(shifted, p.two_theta);
    if (std::fabs(shifted[j] - p.two_theta) <= options.tolerance) {
      ++explained;
    } else {
      result.unexplained_measured.push_back(p.two_theta);
    }
  }
  result.num_measured_scored = static_cast<int>(strongest_measured.size());
  result.measured_explained_fraction = static_cast<double>(explained) / result.num_measured_scored;
  return result;
}

absl::Status SimilarityOptions::Validate() const {
  if (!(step > 0) || !std::isfinite(step)) {
    return absl::InvalidArgumentError(
        absl::StrCat("SimilarityOptions.step must be > 0, got ", step));
  }
  if (!std::isfinite(two_theta_min) || !std::isfinite(two_theta_max) || two_theta_min < 0 ||
      two_theta_max > 180 || two_theta_min >= two_theta_max) {
    return absl::InvalidArgumentError(
        absl::StrCat("SimilarityOptions: need 0 <= two_theta_min < two_theta_max <= 180, got [",
                     two_theta_min, ", ", two_theta_max, "]"));
  }
  struct Window {
    const char* name;
    double value;
  };
  for (const Window& w :
       {Window{"background_window", background_window},
        Window{"broadening_sigma", broadening_sigma}, Window{"max_shift", max_shift}}) {
    if (!IsFiniteNonNegative(w.value) || w.value / step > kMaxWindowPoints) {
      return absl::InvalidArgumentError(absl::StrCat("SimilarityOptions.", w.name,
                                                     " must be >= 0 and at most ", kMaxWindowPoints,
                                                     " steps, got ", w.value));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SimilarityResult> PatternSimilarity(const XrdPattern& a, const XrdPattern& b,
                                                   const SimilarityOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  PatternLimits limits;
  limits.min_points = 2;
  limits.max_points = std::numeric_limits<int>::max();
  MATALIGN_RETURN_IF_ERROR(ValidatePattern(a, limits));
  MATALIGN_RETURN_IF_ERROR(ValidatePattern(b, limits));

  const double lo = std::max({a.two_theta.front(), b.two_theta.front(), options.two_theta_min});
  const double hi = std::min({a.two_theta.back(), b.two_theta.back(), options.two_theta_max});
  const double span_steps = (hi - lo) / options.step;
  if (!(span_steps >= 10)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PatternSimilarity: ", a.source, " and ", b.source, " overlap in fewer than 10 steps of ",
        options.step, " degrees (common range [", lo, ", ", hi, "])"));
  }
  if (span_steps + 1 > kMaxSimilarityPoints) {
    return absl::InvalidArgumentError(
        absl::StrCat("PatternSimilarity: the common range [", lo, ", ", hi, "] at step ",
                     options.step, " needs more than ", kMaxSimilarityPoints, " points"));
  }
  GridOptions grid;
  grid.num_points = static_cast<int>(std::floor(span_steps + 1e-9)) + 1;
  grid.two_theta_min = lo;
  grid.two_theta_max = lo + (grid.num_points - 1) * options.step;
  grid.average_over_cell = true;
  MATALIGN_ASSIGN_OR_RETURN(std::vector<double> pa, Profile(a, grid, options));
  MATALIGN_ASSIGN_OR_RETURN(std::vector<double> pb, Profile(b, grid, options));

  double norm_a = 0, norm_b = 0;
  for (double v : pa) norm_a += v * v;
  for (double v : pb) norm_b += v * v;
  if (!(norm_a > 0) || !(norm_b > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PatternSimilarity: ", norm_a > 0 ? b.source : a.source,
                     " has no intensity above its background in [", lo, ", ", hi, "]"));
  }
  const double norm = std::sqrt(norm_a) * std::sqrt(norm_b);
  const int n = grid.num_points;
  const int max_steps =
      std::min(n - 1, static_cast<int>(std::floor(options.max_shift / options.step + 1e-9)));
  SimilarityResult result;
  result.num_points = n;
  double best = -1;
  int best_shift = 0;
  for (int s = -max_steps; s <= max_steps; ++s) {
    // a[i] against b[i - s].
    double dot = 0;
    const int i_lo = std::max(0, s), i_hi = std::min(n, n + s);
    for (int i = i_lo; i < i_hi; ++i) dot += pa[i] * pb[i - s];
    const double cosine = dot / norm;
    if (cosine > best + 1e-12 || (cosine >= best - 1e-12 && std::abs(s) < std::abs(best_shift))) {
      best = std::max(best, cosine);
      best_shift = s;
    }
  }
  result.cosine = std::clamp(best, 0.0, 1.0);
  result.shift = best_shift * options.step;
  return result;
}

}  // namespace matalign::xrd
