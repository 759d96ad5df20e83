// Comparison of a measured powder scan with patterns simulated from candidate structures:
//  - peak-list matching (which of the strongest simulated lines the scan shows, after one
//    global 2-theta zero shift), the usual check that a structure explains a scan;
//  - whole-profile similarity on a common 2-theta grid (cosine of background-subtracted,
//    broadened profiles, maximized over a small relative shift), used to rank candidate
//    structures for a scan (retrieval / phase identification).
//
// Functions here are pure and thread-safe.
#ifndef MATALIGN_XRD_MATCH_H_
#define MATALIGN_XRD_MATCH_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "xrd/pattern.h"
#include "xrd/peaks.h"

namespace matalign::xrd {

// Peak-search settings for noise-free simulated patterns (SimulatePattern): no smoothing, and
// every maximum with at least 0.5% of the pattern's range as prominence is a peak.
PeakOptions SimulatedPeakOptions();

struct PeakMatchOptions {
  // Number of strongest simulated peaks that are scored (by height); 0 = all. Default: 10.
  int strongest = 10;
  // Number of strongest measured peaks (by prominence, which discounts the background) used
  // for measured_explained_fraction; 0 = all. Default: 10.
  int strongest_measured = 10;
  // A simulated peak counts as found if a measured peak lies within this distance of it
  // (after the shift), degrees 2-theta. Default: 0.1 (about one lab peak width).
  double tolerance = 0.1;
  // Fit one global zero shift (FitZeroShift with the range and step below and `tolerance`);
  // false = no shift. Default: true.
  bool fit_zero_shift = true;
  // Search range of the zero shift, degrees. Default: [-1, 1].
  double min_shift = -1.0;
  double max_shift = 1.0;
  // Step of the exhaustive shift scan, degrees. Default: 0.002.
  double scan_step = 0.002;
  // Ratio of the wavelength of a companion line to the simulated one (e.g. Cu K-alpha2 /
  // K-alpha1 = kCuKAlpha2 / kCuKAlpha1 = 1.00249 for a scan from an unmonochromated Cu tube),
  // or 0 for none. Measured peaks at a companion position of a simulated peak then count as
  // explained in measured_explained_fraction. Must be 0 or in [1, 1.1]. Default: 0.
  double companion_wavelength_ratio = 0;

  // Returns InvalidArgument naming the first field out of range.
  absl::Status Validate() const;
};

// One scored simulated peak and the measured peak nearest to it after the shift.
struct MatchedPeak {
  double simulated_two_theta = 0;  // simulated position, before the shift, degrees
  double simulated_height = 0;     // simulated peak height (pattern units)
  double measured_two_theta = 0;   // nearest measured peak to simulated + shift, degrees
  double measured_height = 0;      // its height (measured units)
  double offset = 0;               // measured - (simulated + shift), degrees
  bool matched = false;            // |offset| <= tolerance
};

struct PeakMatchResult {
  double zero_shift = 0;  // fitted shift (measured ~= simulated + zero_shift), degrees
  // The scored simulated peaks, strongest first. Several may share one measured peak (lines
  // that the measurement does not resolve).
  std::vector<MatchedPeak> peaks;
  int num_matched = 0;           // peaks with matched == true
  double matched_fraction = 0;   // num_matched / peaks.size()
  double mean_abs_offset = 0;    // mean |offset| of the matched peaks; 0 if none matched
  double weighted_fraction = 0;  // simulated height of matched peaks / height of all scored
  int num_measured_scored = 0;   // strongest measured peaks scored (<= strongest_measured)
  // Share of those measured peaks within `tolerance` of some simulated peak or its companion
  // (all simulated peaks, shifted): low when the scan holds phases the structure does not
  // explain.
  double measured_explained_fraction = 0;
  // Positions of the scored measured peaks that are not explained, strongest first (degrees).
  std::vector<double> unexplained_measured;
};

// Matches simulated peaks (from SimulatePattern + FindPeaks with SimulatedPeakOptions) against
// measured peaks (FindPeaks on the scan): fits the zero shift on the strongest simulated
// positions against all measured positions (if options.fit_zero_shift), then pairs each of the
// strongest simulated peaks with the nearest measured peak and scores the pairs.
// Returns InvalidArgument if the options are invalid, either list is empty, or a position or
// height is not finite.
absl::StatusOr<PeakMatchResult> MatchPeakLists(const std::vector<Peak>& simulated,
                                               const std::vector<Peak>& measured,
                                               const PeakMatchOptions& options = {});

struct SimilarityOptions {
  // Step of the common grid, degrees. Default: 0.02 (a usual scan step).
  double step = 0.02;
  // The grid spans the overlap of the two patterns' 2-theta ranges, clipped to
  // [two_theta_min, two_theta_max], degrees. Default: 0 to 180 (the whole overlap).
  double two_theta_min = 0.0;
  double two_theta_max = 180.0;
  // Background removal by SNIP peak clipping (Ryan et al., NIM B 34, 396 (1988)) with
  // clipping windows up to this half-width, degrees; 0 = none. It should exceed the widest
  // peak cluster; on a curved background (an amorphous hump) the clipped curve sags below
  // the background by roughly curvature * window^2 / 2, and broad residuals weigh heavily in
  // the cosine, so it should not be much wider either. Default: 1.5.
  double background_window = 1.5;
  // Standard deviation of the Gaussian that broadens both profiles, degrees; 0 = none.
  // Makes the score tolerant to small peak displacements and width differences.
  // Default: 0.1.
  double broadening_sigma = 0.1;
  // Relative shifts of the two profiles in [-max_shift, max_shift] (whole grid steps) are
  // tried and the best cosine is kept: absorbs a zero error of the scan. Default: 0.5.
  double max_shift = 0.5;
  // Compare square roots of the background-subtracted intensities, which lessens the weight
  // of the strongest lines (texture and intensity errors) but raises that of whatever the
  // background removal leaves (noise, a curved background): with it a noise-free LaB6 scan on
  // an amorphous hump scores 0.84 against its own simulation instead of 0.99. Default: false.
  bool sqrt_intensity = false;

  // Returns InvalidArgument naming the first field out of range.
  absl::Status Validate() const;
};

struct SimilarityResult {
  // Cosine of the two processed profiles at the best shift, in [0, 1] (both are >= 0):
  // 1 for identical patterns (up to scale and a background the clipping removes).
  double cosine = 0;
  // The shift d (degrees, a multiple of the grid step) at which a(x) best matches b(x - d):
  // for a = measured and b = simulated, measured ~= simulated + d as in FitZeroShift.
  double shift = 0;
  int num_points = 0;  // grid points compared
};

// Compares patterns `a` and `b` (either may be measured or simulated; they need not share
// sampling or scale): both are resampled onto a grid of options.step over their common range
// (mean over each grid cell, negative values clipped to 0), the background is clipped away,
// the profiles are broadened, optionally square-rooted, and the cosine is maximized over
// the relative shift. Symmetric up to the sign of `shift`.
// Returns InvalidArgument if the options or a pattern are invalid, the common range is shorter
// than 10 grid steps, or either profile is zero there (nothing left after the background).
absl::StatusOr<SimilarityResult> PatternSimilarity(const XrdPattern& a, const XrdPattern& b,
                                                   const SimilarityOptions& options = {});

}  // namespace matalign::xrd

#endif  // MATALIGN_XRD_MATCH_H_
