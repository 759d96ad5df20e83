#include "mmdata/xrd_tool.h"

#include <algorithm>

#include "common/status_macros.h"
#include "imaging/image.h"
#include "xrd/peaks.h"

namespace matalign::mmdata {

absl::StatusOr<nlohmann::json> RunXrd(const std::string& path, const XrdToolOptions& options) {
  xrd::XrdPattern pattern;
  const bool measured = xrd::IsPatternFileName(path);
  if (measured) {
    MATALIGN_ASSIGN_OR_RETURN(pattern, xrd::ReadPatternFile(path));
  } else {
    MATALIGN_ASSIGN_OR_RETURN(materials::Structure st,
                              materials::ReadStructureFile(path, options.read));
    MATALIGN_ASSIGN_OR_RETURN(pattern, xrd::SimulatePattern(st, options.simulation));
  }
  MATALIGN_ASSIGN_OR_RETURN(std::vector<xrd::Peak> peaks, xrd::FindPeaks(pattern));
  peaks = xrd::StrongestPeaks(std::move(peaks), options.num_peaks);
  std::sort(peaks.begin(), peaks.end(),
            [](const xrd::Peak& a, const xrd::Peak& b) { return a.two_theta < b.two_theta; });
  double top = 0;
  for (const xrd::Peak& p : peaks) top = std::max(top, p.height);
  nlohmann::json peak_list = nlohmann::json::array();
  for (const xrd::Peak& p : peaks) {
    peak_list.push_back(
        {{"two_theta", p.two_theta}, {"relative_height", top > 0 ? 100.0 * p.height / top : 0.0}});
  }
  nlohmann::json out = {{"file", path},
                        {"kind", measured ? "measured" : "simulated"},
                        {"wavelength", pattern.wavelength},
                        {"points", pattern.two_theta.size()},
                        {"two_theta_min", pattern.two_theta.front()},
                        {"two_theta_max", pattern.two_theta.back()},
                        {"peaks", peak_list},
                        {"outputs", nlohmann::json::array()}};
  if (!options.out_xy.empty()) {
    MATALIGN_RETURN_IF_ERROR(xrd::WriteXy(pattern, options.out_xy));
    out["outputs"].push_back(options.out_xy);
  }
  if (!options.out_png.empty()) {
    MATALIGN_ASSIGN_OR_RETURN(std::vector<float> grid, xrd::ResampleToGrid(pattern, options.grid));
    imaging::Image image;
    image.width = options.image_width;
    image.height = options.image_height;
    MATALIGN_ASSIGN_OR_RETURN(image.pixels,
                              xrd::RenderPatternImage(grid, image.width, image.height));
    MATALIGN_RETURN_IF_ERROR(imaging::WritePng(image, options.out_png));
    out["outputs"].push_back(options.out_png);
  }
  return out;
}

}  // namespace matalign::mmdata
