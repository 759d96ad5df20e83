// Recognising an image format and reading its dimensions from the header alone, so that
// absurd or empty images are refused before any codec allocates pixel memory.
#ifndef MATALIGN_IMAGING_IMAGE_HEADER_H_
#define MATALIGN_IMAGING_IMAGE_HEADER_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matalign::imaging {

enum class ImageFormat { kPng, kJpeg, kTiff };

// Returns "png", "jpeg" or "tiff".
absl::string_view ImageFormatName(ImageFormat format);

// What the header says about the (first) image in a file.
struct ImageHeader {
  ImageFormat format = ImageFormat::kPng;
  // As declared by the header; both > 0 when returned by ProbeImageHeader.
  std::int64_t width = 0;
  std::int64_t height = 0;
  // Bits per sample and samples per pixel as declared (PNG: 1/2/4/8/16 bits and 1-4
  // channels; JPEG: 8 or 12 bits, 1/3/4 components; TIFF: first BitsPerSample value and
  // SamplesPerPixel, defaults 1 and 1 when the tags are absent).
  int bit_depth = 0;
  int channels = 0;
};

// Recognises PNG, JPEG and classic (not Big-) TIFF by their signatures and reads the
// dimensions of the first image: PNG's IHDR, JPEG's first SOFn frame header, TIFF's first
// IFD. Reads only within `bytes`; never trusts a length or offset without checking it.
// Returns InvalidArgument naming `source` for empty or unrecognised data, a truncated or
// malformed header, or a zero width or height.
absl::StatusOr<ImageHeader> ProbeImageHeader(absl::string_view bytes, absl::string_view source);

}  // namespace matalign::imaging

#endif  // MATALIGN_IMAGING_IMAGE_HEADER_H_
