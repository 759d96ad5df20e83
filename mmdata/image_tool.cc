#include "mmdata/image_tool.h"

#include "common/status_macros.h"
#include "imaging/data_bar.h"
#include "imaging/image.h"

namespace matalign::mmdata {

absl::StatusOr<nlohmann::json> PrepareImage(const std::string& path,
                                            const imaging::PreprocessOptions& options,
                                            const std::string& out_png) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  MATALIGN_ASSIGN_OR_RETURN(imaging::Image image, imaging::ReadImageFile(path));
  MATALIGN_ASSIGN_OR_RETURN(imaging::DataBar bar, imaging::DetectDataBar(image, options.data_bar));
  MATALIGN_ASSIGN_OR_RETURN(imaging::Image input, imaging::Preprocess(image, options));
  nlohmann::json out = {
      {"file", path},
      {"width", image.width},
      {"height", image.height},
      {"bit_depth", image.source_bit_depth},
      {"channels", image.source_channels},
      {"data_bar",
       {{"found", bar.found}, {"top_row", bar.top_row}, {"bottom_row", bar.bottom_row}}},
      {"output",
       {{"size", input.width},
        {"mean", options.mean},
        {"stddev", options.stddev},
        {"data_bar_cropped", options.crop_data_bar && bar.found}}},
  };
  if (!out_png.empty()) {
    for (float& v : input.pixels) v = v * options.stddev + options.mean;
    MATALIGN_RETURN_IF_ERROR(imaging::WritePng(input, out_png));
    out["output"]["path"] = out_png;
  }
  return out;
}

}  // namespace matalign::mmdata
