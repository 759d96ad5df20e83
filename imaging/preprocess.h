// Turning a decoded micrograph into a model input: data-bar removal, square resize/crop and
// normalization. All functions are thread-safe.
#ifndef MATALIGN_IMAGING_PREPROCESS_H_
#define MATALIGN_IMAGING_PREPROCESS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "imaging/data_bar.h"
#include "imaging/image.h"

namespace matalign::imaging {

struct PreprocessOptions {
  // Side of the square output, in pixels; must be in [1, 8192].
  // Default: 224.
  int size = 224;
  // Detect the SEM data bar and remove it before resizing (no-op when none is found).
  // Default: true.
  bool crop_data_bar = true;
  // Detector settings used when crop_data_bar is set.
  // Default: DataBarOptions{}.
  DataBarOptions data_bar;
  // Output pixel = (input pixel - mean) / stddev, with input pixels in [0, 1]. Must be
  // finite.
  // Default: 0.5.
  float mean = 0.5f;
  // Must be finite and > 0.
  // Default: 0.25.
  float stddev = 0.25f;

  // Returns InvalidArgument naming the field when a value is out of range.
  absl::Status Validate() const;
};

// Prepares `image` (pixels in [0, 1]) for a model:
//   1. if options.crop_data_bar, removes the detected data bar;
//   2. takes the centred square of side min(width, height) (offsets rounded down) and
//      resizes it to size x size, area interpolation when shrinking and bilinear when
//      enlarging; this is resizing the shorter side to `size` and centre-cropping, without
//      the rounding of an intermediate image;
//   3. normalizes every pixel to (x - mean) / stddev.
// Returns a size x size image, i.e. a tensor of shape [1, size, size] in row-major order;
// source_bit_depth and source_channels are copied from `image`.
// Returns InvalidArgument if `image` is malformed (see ValidateImage) or `options` invalid.
absl::StatusOr<Image> Preprocess(const Image& image, const PreprocessOptions& options = {});

// DecodeImage(bytes, source, decode_options) followed by Preprocess(image, options). Errors
// name `source`.
absl::StatusOr<Image> LoadForModel(absl::string_view bytes, absl::string_view source,
                                   const PreprocessOptions& options = {},
                                   const DecodeOptions& decode_options = {});

}  // namespace matalign::imaging

#endif  // MATALIGN_IMAGING_PREPROCESS_H_
