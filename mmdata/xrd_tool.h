// `mmdata xrd`: simulate a powder pattern from a structure, or read a measured scan; write
// it as .xy, render it as the CNN's image, and list its strongest peaks.
#ifndef MATALIGN_MMDATA_XRD_TOOL_H_
#define MATALIGN_MMDATA_XRD_TOOL_H_

#include <string>

#include "absl/status/statusor.h"
#include "materials/structure_io.h"
#include "nlohmann/json.hpp"
#include "xrd/pattern.h"
#include "xrd/simulate.h"

namespace matalign::mmdata {

struct XrdToolOptions {
  materials::StructureReadOptions read;
  xrd::SimulationOptions simulation;
  xrd::GridOptions grid;
  // Output .xy path; empty = none.
  std::string out_xy;
  // Output PNG of the rendered pattern image; empty = none.
  std::string out_png;
  // Rendered image size. Default: 512 x 256.
  int image_width = 512;
  int image_height = 256;
  // Strongest peaks to list. Default: 10.
  int num_peaks = 10;
};

// Simulates (structure file) or reads (pattern file, see xrd::IsPatternFileName) `path` and writes
// what `options` asks. Returns {file, kind: simulated|measured, wavelength, points,
// two_theta_min/max, peaks: [{two_theta, relative_height}], outputs}.
absl::StatusOr<nlohmann::json> RunXrd(const std::string& path, const XrdToolOptions& options);

}  // namespace matalign::mmdata

#endif  // MATALIGN_MMDATA_XRD_TOOL_H_
