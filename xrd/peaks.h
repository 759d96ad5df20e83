// Peak picking on powder patterns and matching of simulated against measured peak positions
// (with one global 2-theta zero shift), used to validate simulations against real scans.
//
// Functions here are pure and thread-safe.
#ifndef MATALIGN_XRD_PEAKS_H_
#define MATALIGN_XRD_PEAKS_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "xrd/pattern.h"

namespace matalign::xrd {

struct PeakOptions {
  // Standard deviation of the Gaussian smoothing applied before the search, degrees; 0
  // disables smoothing. Default: 0.02 (light: well below typical lab FWHM of ~0.1).
  double smoothing_sigma = 0.02;
  // A maximum is a peak if its prominence is at least this fraction of the smoothed
  // pattern's range (max - min). Default: 0.02.
  double min_relative_prominence = 0.02;
  // Prominence bases are sought at most this far (degrees) on each side of a maximum.
  // Default: 1.5.
  double prominence_window = 1.5;

  absl::Status Validate() const;
};

struct Peak {
  double two_theta = 0;   // refined position, degrees
  double height = 0;      // smoothed intensity at the maximum
  double prominence = 0;  // height above the higher of its two bases
};

// Finds the peaks of `pattern`:
// 1. the intensity is smoothed with a Gaussian of sigma options.smoothing_sigma (in points
//    of the median step; truncated at 4 sigma and at most 256 points each side;
//    renormalized at the ends);
// 2. every local maximum of the smoothed curve (a plateau counts once, at its middle) gets
//    a prominence as in topographic prominence / scipy.signal.peak_prominences: on each side
//    walk outwards until a higher point, the window (at most 5000 points) or the pattern
//    end, and take the lowest point on the way; prominence = height - the higher of the
//    two lowest points;
// 3. maxima with prominence >= min_relative_prominence * (max - min) are kept;
// 4. the position is refined to the vertex of the parabola through the three smoothed
//    points around the maximum (at most half a step from the grid point).
// Returns the peaks in increasing 2-theta, or InvalidArgument for invalid options or a
// pattern violating the XrdPattern invariants.
absl::StatusOr<std::vector<Peak>> FindPeaks(const XrdPattern& pattern,
                                            const PeakOptions& options = {});

// Returns the min(n, size) highest peaks (by height), highest first.
std::vector<Peak> StrongestPeaks(std::vector<Peak> peaks, int n);

// Returns the two_theta of each peak, in the same order.
std::vector<double> PeakPositions(const std::vector<Peak>& peaks);

struct ZeroShiftOptions {
  // Search range of the shift, degrees. Default: [-1, 1].
  double min_shift = -1.0;
  double max_shift = 1.0;
  // Step of the exhaustive scan over the range, degrees. Default: 0.002.
  double scan_step = 0.002;
  // Distance (degrees) up to which a peak counts as matched; farther distances are capped
  // at it in the cost. Default: 0.1.
  double tolerance = 0.1;

  absl::Status Validate() const;
};

// Fits one global zero shift `delta` (degrees) with measured ~= simulated + delta:
// minimizes the truncated quadratic cost sum_i min(dist_i(delta), tolerance)^2, where
// dist_i is the distance from simulated[i] + delta to the nearest measured position, first
// by scanning delta over [min_shift, max_shift] in scan_step steps (ties: the smaller
// |delta|), then refining as in ICP: delta += mean offset of the peaks matched within
// tolerance, repeated while the cost decreases (staying inside the range).
// Returns delta, or InvalidArgument if an input is empty or non-finite or the options are
// invalid. Positions need not be sorted.
absl::StatusOr<double> FitZeroShift(absl::Span<const double> simulated,
                                    absl::Span<const double> measured,
                                    const ZeroShiftOptions& options = {});

struct PeakMatch {
  double simulated_two_theta = 0;  // simulated peak, before the shift
  double measured_two_theta = 0;   // measured peak nearest to simulated + shift
  double offset = 0;               // measured - (simulated + shift), degrees
};

// For each simulated position (in order), the nearest measured position after adding
// `shift`. Returns InvalidArgument if `measured` is empty or a value is non-finite.
absl::StatusOr<std::vector<PeakMatch>> MatchPeaks(absl::Span<const double> simulated,
                                                  absl::Span<const double> measured, double shift);

}  // namespace matalign::xrd

#endif  // MATALIGN_XRD_PEAKS_H_
