#include "imaging/image.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <exception>
#include <new>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "imaging/image_header.h"

namespace matalign::imaging {
namespace {

// Sets width, height, pixels and source_bit_depth of `out` from a decoded matrix (8U or
// 16U; 1, 3 or 4 channels), converting colour to gray.
absl::Status MatToImage(const cv::Mat& decoded, absl::string_view source, Image& out) {
  double scale = 0;
  switch (decoded.depth()) {
    case CV_8U:
      out.source_bit_depth = 8;
      scale = 1.0 / 255.0;
      break;
    case CV_16U:
      out.source_bit_depth = 16;
      scale = 1.0 / 65535.0;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": unsupported sample type (OpenCV depth ", decoded.depth(),
                       "); only 8- and 16-bit unsigned images are supported"));
  }
  cv::Mat gray;
  switch (decoded.channels()) {
    case 1:
      gray = decoded;
      break;
    // Converting at the native depth keeps the peak memory low for large colour images;
    // the result is rounded to the source's own quantisation step.
    case 3:
      cv::cvtColor(decoded, gray, cv::COLOR_BGR2GRAY);
      break;
    case 4:
      cv::cvtColor(decoded, gray, cv::COLOR_BGRA2GRAY);
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": unsupported channel count ", decoded.channels()));
  }
  out.width = gray.cols;
  out.height = gray.rows;
  out.pixels.assign(static_cast<size_t>(gray.total()), 0.0f);
  cv::Mat dst(gray.rows, gray.cols, CV_32F, out.pixels.data());
  gray.convertTo(dst, CV_32F, scale);
  if (dst.data != reinterpret_cast<uchar*>(out.pixels.data())) {
    return absl::InternalError(absl::StrCat(source, ": OpenCV reallocated the output buffer"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateImage(const Image& image, absl::string_view source) {
  if (image.width <= 0 || image.height <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": image has zero or negative size (",
                                                   image.width, "x", image.height, ")"));
  }
  const auto expected = static_cast<std::uint64_t>(image.width) * image.height;
  if (image.pixels.size() != expected) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": image holds ", image.pixels.size(),
                                                   " pixels, expected ", image.width, "x",
                                                   image.height, " = ", expected));
  }
  const auto bad = std::find_if(image.pixels.begin(), image.pixels.end(),
                                [](float p) { return !std::isfinite(p); });
  if (bad == image.pixels.end()) return absl::OkStatus();
  const auto i = static_cast<size_t>(bad - image.pixels.begin());
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": pixel (", i / image.width, ", ", i % image.width, ") is not finite"));
}

absl::Status DecodeOptions::Validate() const {
  if (max_pixels <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("DecodeOptions.max_pixels must be positive, got ", max_pixels));
  }
  return absl::OkStatus();
}

absl::Status PngOptions::Validate() const {
  if (bit_depth != 8 && bit_depth != 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("PngOptions.bit_depth must be 8 or 16, got ", bit_depth));
  }
  if (compression < 0 || compression > 9) {
    return absl::InvalidArgumentError(
        absl::StrCat("PngOptions.compression must be in [0, 9], got ", compression));
  }
  return absl::OkStatus();
}

absl::StatusOr<Image> DecodeImage(absl::string_view bytes, absl::string_view source,
                                  const DecodeOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": image data of ", bytes.size(), " bytes exceeds 2 GiB"));
  }
  // The signature check also guarantees that only OpenCV's PNG, JPEG and TIFF decoders ever
  // see the bytes (this OpenCV build also carries EXR, DICOM, HDR, ... decoders).
  MATALIGN_ASSIGN_OR_RETURN(const ImageHeader header, ProbeImageHeader(bytes, source));
  const absl::string_view format = ImageFormatName(header.format);
  if (header.width > options.max_pixels / header.height) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", format, " header declares ", header.width, "x", header.height,
                     " pixels, more than the limit of ", options.max_pixels));
  }
  Image image;
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    // ANYDEPTH keeps 16-bit samples; ANYCOLOR keeps gray sources single-channel. Unlike
    // IMREAD_UNCHANGED, this applies the JPEG EXIF orientation (and drops alpha).
    const cv::Mat decoded = cv::imdecode(buffer, cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR);
    if (decoded.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": cannot decode ", format, " data (corrupt or truncated)"));
    }
    if (decoded.dims != 2 || decoded.total() == 0 ||
        static_cast<std::int64_t>(decoded.total()) > options.max_pixels) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": decoded ", format, " has ", decoded.cols, "x", decoded.rows,
                       " pixels, outside (0, ", options.max_pixels, "]"));
    }
    MATALIGN_RETURN_IF_ERROR(MatToImage(decoded, source, image));
    // The decoder reports 1 or 3 channels; the header knows about alpha and CMYK.
    image.source_channels = header.channels;
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": OpenCV failed to decode ", format, ": ", e.what()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(
        source, ": out of memory decoding ", header.width, "x", header.height, " ", format));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(source, ": decoding ", format, ": ", e.what()));
  }
  return image;
}

absl::StatusOr<Image> ReadImageFile(const std::string& path, const DecodeOptions& options) {
  MATALIGN_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path));
  return DecodeImage(bytes, path, options);
}

absl::StatusOr<std::string> EncodePng(const Image& image, const PngOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  MATALIGN_RETURN_IF_ERROR(ValidateImage(image, "EncodePng"));
  const bool wide = options.bit_depth == 16;
  const float max_value = wide ? 65535.0f : 255.0f;
  try {
    cv::Mat mat(image.height, image.width, wide ? CV_16U : CV_8U);
    for (int r = 0; r < image.height; ++r) {
      const float* src = image.pixels.data() + static_cast<size_t>(r) * image.width;
      for (int c = 0; c < image.width; ++c) {
        const float v = src[c];
        // !(v > 0) is also true for NaN.
        const float clamped = !(v > 0.0f) ? 0.0f : (v > 1.0f ? 1.0f : v);
        const float scaled = std::floor(clamped * max_value + 0.5f);
        if (wide) {
          mat.at<std::uint16_t>(r, c) = static_cast<std::uint16_t>(scaled);
        } else {
          mat.at<std::uint8_t>(r, c) = static_cast<std::uint8_t>(scaled);
        }
      }
    }
    std::vector<uchar> buffer;
    if (!cv::imencode(".png", mat, buffer, {cv::IMWRITE_PNG_COMPRESSION, options.compression})) {
      return absl::InternalError("EncodePng: OpenCV's PNG encoder failed");
    }
    return std::string(buffer.begin(), buffer.end());
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("EncodePng: OpenCV failed: ", e.what()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("EncodePng: out of memory encoding ", image.width, "x", image.height));
  }
}

absl::StatusOr<std::string> EncodeJpeg(const Image& image, int quality) {
  if (quality < 1 || quality > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("EncodeJpeg: quality ", quality, " is outside 1..100"));
  }
  MATALIGN_RETURN_IF_ERROR(ValidateImage(image, "EncodeJpeg"));
  try {
    cv::Mat mat(image.height, image.width, CV_8U);
    for (int r = 0; r < image.height; ++r) {
      const float* src = image.pixels.data() + static_cast<size_t>(r) * image.width;
      for (int c = 0; c < image.width; ++c) {
        const float v = src[c];
        const float clamped = !(v > 0.0f) ? 0.0f : (v > 1.0f ? 1.0f : v);
        mat.at<std::uint8_t>(r, c) = static_cast<std::uint8_t>(std::floor(clamped * 255.0f + 0.5f));
      }
    }
    std::vector<uchar> buffer;
    if (!cv::imencode(".jpg", mat, buffer, {cv::IMWRITE_JPEG_QUALITY, quality})) {
      return absl::InternalError("EncodeJpeg: OpenCV's JPEG encoder failed");
    }
    return std::string(buffer.begin(), buffer.end());
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("EncodeJpeg: OpenCV failed: ", e.what()));
  }
}

absl::Status WritePng(const Image& image, const std::string& path, const PngOptions& options) {
  auto encoded = EncodePng(image, options);
  if (!encoded.ok()) {
    return absl::Status(encoded.status().code(),
                        absl::StrCat(path, ": ", encoded.status().message()));
  }
  return WriteFileAtomic(path, *encoded);
}

}  // namespace matalign::imaging
