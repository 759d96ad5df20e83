// Synthetic secondary-electron (SE) micrographs of polycrystalline materials, with the
// information bar an SEM burns into its images, and a simple grain-size measurement.
//
// A micrograph is rendered as:
//   grains   a Voronoi tessellation of stratified seed points whose density follows the
//            requested grain size (mean linear intercept); each grain has its own SE yield
//            (channelling contrast) and a small topographic tilt; boundaries are bright (SE
//            edge effect);
//   pores    dark ellipses with bright rims, preferentially on grain boundaries, covering an
//            area fraction equal to the requested porosity;
//   defect   one of the Defect classes below;
//   detector beam blur, SE shot noise (Gaussian approximation of Poisson counts), slight blur;
//   data bar a uniform black band along the bottom (8.5% of the height) with two lines of
//            white text, "SEM HV: 15.0 kV  WD: 10.1 mm" and "MAG: x5000  Det: SE", and a
//            scale bar of a round length ("2 um", "500 nm") whose pixel length follows the
//            pixel size (at most 22% of the width).
// Everything random is drawn from the caller's Rng, so output is identical for the same
// stream on every run and thread count. All functions are thread-safe.
#ifndef MATALIGN_CORPUS_SEM_SYNTH_H_
#define MATALIGN_CORPUS_SEM_SYNTH_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "corpus/rng.h"
#include "imaging/image.h"

namespace matalign::corpus {

enum class Defect {
  kNone,
  kCrack,                // a dark jagged crack across the field
  kPoreCluster,          // a dense local group of pores
  kInclusion,            // a second-phase particle of distinctly different brightness
  kAbnormalGrainGrowth,  // a few grains 5-10x larger than the matrix
  kAgglomeration,        // clustered particles separated by dark gaps
};

// All defect classes, kNone first.
const std::vector<Defect>& AllDefects();
// "none" | "crack" | "pore_cluster" | "inclusion" | "abnormal_grain_growth" | "agglomeration".
absl::string_view DefectName(Defect defect);
// Inverse of DefectName; InvalidArgument naming the bad value otherwise.
absl::StatusOr<Defect> ParseDefect(absl::string_view name);

struct SemParams {
  // Mean linear-intercept grain size, um. Must be in [0.01, 1000].
  // Default: 1.0.
  double grain_size_um = 1.0;
  // Area fraction of pores in the micrograph, in [0, 0.6].
  // Default: 0.05.
  double porosity = 0.05;
  // Default: Defect::kNone.
  Defect defect = Defect::kNone;
  // Size of one pixel, um. 0 = derived from the grain size: ChooseMagnification picks the
  // microscope magnification (1-2-5 steps, x10 ... x500000) that puts the grain closest to
  // 20 px (12-32 px for grains of 0.02-100 um), and the pixel size is
  // kReferenceDisplayWidthUm / (magnification * width). An explicit value must give grains
  // of 2..200 px; the magnification printed on the bar is then derived from it.
  // Default: 0.
  double pixel_size_um = 0.0;
  // Image size in pixels, data bar included. Each in [128, 4096].
  // Default: 512 x 512.
  int width = 512;
  int height = 512;

  // Returns InvalidArgument naming the field when a value is out of range.
  absl::Status Validate() const;
};

// What RenderSem drew, for labels and tests.
struct SemInfo {
  double pixel_size_um = 0;        // um per pixel
  double magnification = 0;        // as printed on the bar (x...)
  int micrograph_rows = 0;         // rows above the data bar: rows [0, micrograph_rows)
  double scale_bar_um = 0;         // length the scale bar stands for
  int scale_bar_px = 0;            // its length in pixels
  double pore_fraction = 0;        // pore area fraction actually drawn (micrograph part)
  double voltage_kv = 0;           // printed HV
  double working_distance_mm = 0;  // printed WD
};

// The magnification convention: the field of view is 127 mm (the width of the classic
// 4x5-inch photo record) divided by the magnification.
inline constexpr double kReferenceDisplayWidthUm = 127000.0;

// Returns the magnification from {10, 20, 50, ..., 200000, 500000} whose pixel size
// (kReferenceDisplayWidthUm / magnification / width) puts grain_size_um closest (in log
// scale) to 20 pixels. Requires grain_size_um > 0 and width > 0.
double ChooseMagnification(double grain_size_um, int width);

// Renders a micrograph (params.width x params.height, gray levels in [0, 1], data bar at
// the bottom). Draws a deterministic sequence of numbers from `rng`. If `info` is not null,
// fills it. Returns InvalidArgument if params is invalid, Internal if OpenCV fails.
absl::StatusOr<imaging::Image> RenderSem(const SemParams& params, Rng& rng,
                                         SemInfo* info = nullptr);

// Estimates the mean linear-intercept grain size (um) of a micrograph with the given pixel
// size: a data bar found by imaging::DetectDataBar is removed first; then along every 4th
// row and column of the (lightly smoothed) micrograph the bright boundary ridges are
// counted, and the estimate is (solid length of the test lines) / (number of intercepts).
// Returns InvalidArgument if the image is malformed, pixel_size_um is not finite and > 0,
// or the micrograph part is smaller than 16 x 16 pixels; FailedPrecondition if no boundary
// is found at all.
absl::StatusOr<double> MeasureGrainSizeUm(const imaging::Image& image, double pixel_size_um);

}  // namespace matalign::corpus

#endif  // MATALIGN_CORPUS_SEM_SYNTH_H_
