#include "imaging/preprocess.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <new>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace matalign::imaging {
namespace {

constexpr int kMaxSize = 8192;

// Square crop + resize + normalize of rows [first_row, first_row + rows) of a validated
// image.
absl::StatusOr<Image> ResizeAndNormalize(const Image& image, int first_row, int rows,
                                         const PreprocessOptions& options) {
  const int side = std::min(image.width, rows);
  const int x0 = (image.width - side) / 2;
  const int y0 = first_row + (rows - side) / 2;
  Image out;
  out.width = options.size;
  out.height = options.size;
  out.source_bit_depth = image.source_bit_depth;
  out.source_channels = image.source_channels;
  try {
    out.pixels.assign(static_cast<size_t>(options.size) * options.size, 0.0f);
    const cv::Mat src(image.height, image.width, CV_32F, const_cast<float*>(image.pixels.data()));
    const cv::Mat square = src(cv::Rect(x0, y0, side, side));
    cv::Mat dst(options.size, options.size, CV_32F, out.pixels.data());
    if (side == options.size) {
      square.copyTo(dst);
    } else {
      cv::resize(square, dst, dst.size(), 0, 0,
                 side > options.size ? cv::INTER_AREA : cv::INTER_LINEAR);
    }
    dst.convertTo(dst, CV_32F, 1.0 / options.stddev,
                  -static_cast<double>(options.mean) / options.stddev);
    if (dst.data != reinterpret_cast<uchar*>(out.pixels.data())) {
      return absl::InternalError("Preprocess: OpenCV reallocated the output buffer");
    }
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("Preprocess: OpenCV failed: ", e.what()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("Preprocess: out of memory");
  }
  return out;
}

}  // namespace

absl::Status PreprocessOptions::Validate() const {
  if (size < 1 || size > kMaxSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("PreprocessOptions.size must be in [1, ", kMaxSize, "], got ", size));
  }
  if (!std::isfinite(mean)) {
    return absl::InvalidArgumentError("PreprocessOptions.mean must be finite");
  }
  if (!std::isfinite(stddev) || stddev <= 0.0f) {
    return absl::InvalidArgumentError(
        absl::StrCat("PreprocessOptions.stddev must be finite and > 0, got ", stddev));
  }
  if (crop_data_bar) {
    absl::Status s = data_bar.Validate();
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("PreprocessOptions.data_bar: ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Image> Preprocess(const Image& image, const PreprocessOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  MATALIGN_RETURN_IF_ERROR(ValidateImage(image, "Preprocess"));
  DataBar bar;
  if (options.crop_data_bar) {
    MATALIGN_ASSIGN_OR_RETURN(bar, DetectDataBar(image, options.data_bar));
  }
  // The detector only reports bars touching one edge and leaving rows over.
  const int first_row = bar.found && bar.top_row == 0 ? bar.bottom_row + 1 : 0;
  return ResizeAndNormalize(image, first_row, image.height - bar.height(), options);
}

absl::StatusOr<Image> LoadForModel(absl::string_view bytes, absl::string_view source,
                                   const PreprocessOptions& options,
                                   const DecodeOptions& decode_options) {
  MATALIGN_ASSIGN_OR_RETURN(const Image image, DecodeImage(bytes, source, decode_options));
  absl::StatusOr<Image> out = Preprocess(image, options);
  if (!out.ok()) {
    return absl::Status(out.status().code(), absl::StrCat(source, ": ", out.status().message()));
  }
  return out;
}

}  // namespace matalign::imaging
