// Finding the information ("data") bar that scanning electron microscopes burn into their
// micrographs: a full-width band at the bottom (sometimes the top) edge on a uniform dark or
// bright background, carrying text and a scale bar, with a sharp horizontal boundary to the
// micrograph. It must be removed before the image is fed to a model.
//
// The detector uses row statistics only, no fixed pixel positions:
//   1. Walking inward from an edge, the first row with at least `uniform_fraction` of its
//      pixels within `tolerance` of the row median gives the bar background level; rows
//      before it must already look like bar rows (step 2). From then on a row is "solid"
//      when at least `uniform_fraction` of its pixels lie within `tolerance` of that level.
//   2. The walk continues over rows that are solid or have at least
//      `min_background_fraction` background pixels (text and scale-bar rows); the innermost
//      solid row reached is the bar's inner boundary.
//   3. Up to `max_transition_rows` blended rows (resampling / JPEG blur across the
//      boundary) whose mean lies clearly between the micrograph and the bar are added.
//   4. The bar is accepted only if it has at least `min_solid_rows` solid rows, it is at
//      most `max_height_fraction` of the image height, and the next `edge_check_rows` rows
//      beyond it are textured (neither at the bar level nor uniform in themselves): a sharp
//      edge between bar and micrograph. So uniform images and smooth gradients have no bar.
// Limitations: only horizontal bars at the top/bottom edge; a bar next to a featureless
// (uniform) stretch of micrograph is not reported, so the image is left uncropped.
#ifndef MATALIGN_IMAGING_DATA_BAR_H_
#define MATALIGN_IMAGING_DATA_BAR_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "imaging/image.h"

namespace matalign::imaging {

// A full-width horizontal band touching the top or bottom edge.
struct DataBar {
  bool found = false;
  // First and last row of the bar, both inclusive; meaningful only when found. A bottom bar
  // has bottom_row == height - 1, a top bar has top_row == 0.
  int top_row = 0;
  int bottom_row = 0;

  // Number of rows in the bar (0 if not found).
  int height() const { return found ? bottom_row - top_row + 1 : 0; }
};

struct DataBarOptions {
  // Largest |pixel - level| (pixels in [0, 1]) for a pixel to count as being at a level.
  // Default: 0.08 (about 20 of 255 gray levels; absorbs JPEG ringing around text).
  float tolerance = 0.08f;
  // Share of a row's pixels within `tolerance` of the row median for the row to be solid.
  // Bar background rows reach 0.996 on the NCM set, while smooth micrograph regions reach
  // 0.94 (a flat electrode surface filling most of a row), hence the high default.
  // Default: 0.98.
  float uniform_fraction = 0.98f;
  // Share of background pixels a text row inside the bar must keep.
  // Default: 0.3.
  float min_background_fraction = 0.3f;
  // Largest bar height as a share of the image height; also how far inward the search goes.
  // Default: 0.35.
  float max_height_fraction = 0.35f;
  // Fewest solid rows a bar must contain.
  // Default: 2.
  int min_solid_rows = 2;
  // Most blended rows at the bar's inner boundary that are counted as part of the bar.
  // Default: 2.
  int max_transition_rows = 2;
  // Rows beyond the bar (after transition rows) that must all be textured.
  // Default: 3.
  int edge_check_rows = 3;
  // Also look for a bar at the top edge (a bottom bar wins when both exist).
  // Default: true.
  bool search_top = true;

  // Returns InvalidArgument naming the field when a value is out of range.
  absl::Status Validate() const;
};

// Looks for a data bar at the bottom edge, then (if options.search_top) at the top edge.
// Returns found = false when there is none. Returns InvalidArgument if `image` is malformed
// (see ValidateImage) or `options` invalid. Cost: O(width * rows examined).
absl::StatusOr<DataBar> DetectDataBar(const Image& image, const DataBarOptions& options = {});

// Returns `image` without the rows of `bar` (a copy of `image` if !bar.found).
// Returns InvalidArgument if `image` is malformed or `bar` does not touch the top or bottom
// edge, lies outside the image, or covers all rows.
absl::StatusOr<Image> RemoveDataBar(const Image& image, const DataBar& bar);

}  // namespace matalign::imaging

#endif  // MATALIGN_IMAGING_DATA_BAR_H_
