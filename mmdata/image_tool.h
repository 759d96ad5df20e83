// `mmdata image`: decode a micrograph, find its data bar, and write the model input as PNG.
#ifndef MATALIGN_MMDATA_IMAGE_TOOL_H_
#define MATALIGN_MMDATA_IMAGE_TOOL_H_

#include <string>

#include "absl/status/statusor.h"
#include "imaging/preprocess.h"
#include "nlohmann/json.hpp"

namespace matalign::mmdata {

// Reads the image at `path`, detects the data bar, preprocesses it with `options` and, if
// `out_png` is not empty, writes the preprocessed image (de-normalized to [0, 1]) there.
// Returns {file, width, height, bit_depth, channels, data_bar {found, top_row, bottom_row},
// output {size, mean, stddev, path}}.
absl::StatusOr<nlohmann::json> PrepareImage(const std::string& path,
                                            const imaging::PreprocessOptions& options,
                                            const std::string& out_png);

}  // namespace matalign::mmdata

#endif  // MATALIGN_MMDATA_IMAGE_TOOL_H_
