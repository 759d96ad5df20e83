// Powder X-ray diffraction patterns: readers for two-column text scans (.xy/.dat/.txt/.csv)
// and PANalytical .xrdml, a writer for .xy, resampling onto a fixed 2-theta grid (the 1-D
// tensor-ready array) and rendering as an image.
//
// Every reader returns a validated XrdPattern or InvalidArgument whose message starts with
// the source (file name) and says what was wrong; none throws, asserts or crashes on
// arbitrary bytes. Readers are pure functions and thread-safe.
#ifndef MATALIGN_XRD_PATTERN_H_
#define MATALIGN_XRD_PATTERN_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace matalign::xrd {

// One powder scan. Invariants of every pattern returned by this library (ValidatePattern):
// two_theta and intensity have the same size (>= 2), all values are finite, and two_theta is
// strictly increasing, in degrees within [0, 180].
struct XrdPattern {
  std::vector<double> two_theta;  // [n] scattering angle 2-theta, degrees
  std::vector<double> intensity;  // [n] arbitrary units (see the readers)
  double wavelength = 0;          // Angstrom; 0 if the file does not say
  std::string source;             // file (or other origin) for messages
};

// Bounds that every pattern read from a file must respect.
struct PatternLimits {
  // Fewest points a pattern may have. Default: 16.
  int min_points = 16;
  // Most points a pattern may have (a guard against hostile input). Default: 2,000,000.
  int max_points = 2'000'000;

  absl::Status Validate() const;
};

// Returns OK if `pattern` satisfies the XrdPattern invariants and `limits`, else
// InvalidArgument naming pattern.source and the first violation.
absl::Status ValidatePattern(const XrdPattern& pattern, const PatternLimits& limits = {});

// Parses a two-column text scan: 2-theta (degrees) and intensity per line.
// - Columns are separated by whitespace or commas; on a line that contains ';' the columns
//   are separated by ';' (and whitespace) and ',' is read as a decimal comma. Columns after
//   the second (e.g. standard uncertainties) are ignored.
// - Lines starting with '#', '!', ';', '%' or '\'' are comments anywhere; text after '#' on
//   a data line is ignored. Other non-numeric lines ("header lines") are skipped only before
//   the first data line; after it they are an error with the line number (e.g. truncation).
// - A header/comment of the form `wavelength[:= "]1.5406` (case-insensitive) sets
//   XrdPattern::wavelength when the value is in (0.01, 10) Angstrom.
// - A scan stored in decreasing 2-theta is reversed; any other non-monotonic or repeated
//   2-theta is rejected, and so are NaN/inf and 2-theta outside [0, 180]. Negative
//   intensities are accepted (background-subtracted scans).
// Returns InvalidArgument (message starts with `source`) on any violation of the above or
// of `limits`.
absl::StatusOr<XrdPattern> ParseXy(absl::string_view content, absl::string_view source,
                                   const PatternLimits& limits = {});

// Parses a PANalytical XRDML document (any version: namespaces 1.x and 2.x, with
// <intensities> or <counts>). Reads the first <scan> whose <dataPoints> has
// <positions axis="2Theta"> given either as <startPosition>/<endPosition> (equidistant
// points) or as <listPositions>. Intensity is the stored counts multiplied by
// <beamAttenuationFactors> when present and divided by per-point <countingTimes> when present
// (a single <commonCountingTime> is a uniform scale and is not applied). The wavelength is
// <usedWavelength>/<kAlpha1>. Counts must be finite and non-negative.
// Returns InvalidArgument (message starts with `source`) for malformed XML, missing
// elements, count mismatches, non-numeric or negative values, or a violation of `limits`.
absl::StatusOr<XrdPattern> ParseXrdml(absl::string_view content, absl::string_view source,
                                      const PatternLimits& limits = {});

// Reads the pattern file at `path`, choosing the reader by extension: .xy .dat .txt .csv
// .asc -> ParseXy, .xrdml -> ParseXrdml. Returns NotFound if the file does not exist and
// InvalidArgument for other extensions or bad content.
// True if ReadPatternFile accepts the extension of `path` (case-insensitive).
bool IsPatternFileName(absl::string_view path);

absl::StatusOr<XrdPattern> ReadPatternFile(const std::string& path,
                                           const PatternLimits& limits = {});

// Formats `pattern` as .xy text: '#' comment lines (source, wavelength when known, point
// count) followed by "two_theta intensity" lines. ParseXy reads it back.
// Returns InvalidArgument if the pattern violates the XrdPattern invariants.
absl::StatusOr<std::string> FormatXy(const XrdPattern& pattern);

// Writes FormatXy(pattern) to `path` atomically (parent directories are created).
absl::Status WriteXy(const XrdPattern& pattern, const std::string& path);

// A fixed 2-theta grid: num_points equidistant values from two_theta_min to two_theta_max
// inclusive, i.e. point i is at min + i * (max - min) / (num_points - 1).
struct GridOptions {
  // First grid point, degrees. Default: 5.
  double two_theta_min = 5.0;
  // Last grid point, degrees. Default: 90 (the range of most lab Cu scans of oxides).
  double two_theta_max = 90.0;
  // Number of grid points (the length of the tensor). Default: 4096 (step ~0.021 deg,
  // close to the usual 0.02 deg scan step).
  int num_points = 4096;
  // When true, each grid value is the mean of the linearly interpolated pattern over the
  // grid cell [g - step/2, g + step/2] (clipped to the measured range), which suppresses
  // aliasing of noise when the scan is finer than the grid and equals plain interpolation
  // for linear data. When false, the plain linear interpolation at g. Default: true.
  bool average_over_cell = true;

  absl::Status Validate() const;
  // Returns the 2-theta value of grid point i.
  double TwoTheta(int i) const;
};

// Resamples `pattern` onto the grid of `options`: negative intensities are clipped to 0,
// then linear interpolation between measured points (see GridOptions::average_over_cell),
// 0 at grid points outside the measured 2-theta range, then division by the maximum so that
// the largest value is exactly 1.
// Returns the [num_points] array, or InvalidArgument if the options or pattern are invalid
// or no grid point inside the measured range has positive intensity.
absl::StatusOr<std::vector<float>> ResampleToGrid(const XrdPattern& pattern,
                                                  const GridOptions& options);

// Renders grid values (e.g. from ResampleToGrid; values are clipped to [0, 1]) as a filled
// white-on-black area plot: image[r * width + c] for row r (0 = top) and column c (2-theta
// increasing to the right). Column c covers values [c*n/width, (c+1)*n/width) and takes their
// maximum (so narrow peaks survive downsampling; with fewer values than columns the values
// are linearly interpolated). Column c is 1 in its bottom floor(v * height) rows, the
// fractional part v * height - floor(v * height) in the row above (anti-aliasing) and 0
// elsewhere.
// Returns the row-major [height, width] float image with values in [0, 1], or
// InvalidArgument if `values` is empty or non-finite, or width/height are outside [1, 8192].
absl::StatusOr<std::vector<float>> RenderPatternImage(absl::Span<const float> values, int width,
                                                      int height);

}  // namespace matalign::xrd

#endif  // MATALIGN_XRD_PATTERN_H_
