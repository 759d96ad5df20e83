// Grayscale images for MatAlign: decoding PNG/JPEG/TIFF (8 and 16 bit) into float pixels,
// and encoding them back to PNG. OpenCV does the codec work but stays out of this header.
//
// All functions here are thread-safe (they share no mutable state).
#ifndef MATALIGN_IMAGING_IMAGE_H_
#define MATALIGN_IMAGING_IMAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matalign::imaging {

// A single-channel float image.
struct Image {
  int width = 0;
  int height = 0;
  // Row-major, size height * width; pixel (row r, column c) is pixels[r * width + c].
  // Decoded images hold gray levels in [0, 1] (0 = black). Preprocess() output holds
  // normalized values (x - mean) / stddev instead.
  std::vector<float> pixels;
  // Bits per sample of the decoded source (8 or 16); 0 for images built in memory.
  int source_bit_depth = 0;
  // Channels declared by the source header (1 gray, 2 gray + alpha, 3 colour or palette,
  // 4 colour + alpha or CMYK); 0 for images built in memory. Alpha is ignored in decoding.
  int source_channels = 0;

  // Returns pixel (row, col); requires 0 <= row < height and 0 <= col < width.
  float at(int row, int col) const {
    return pixels[static_cast<size_t>(row) * static_cast<size_t>(width) + static_cast<size_t>(col)];
  }
};

// Returns OK if `image` is well formed: width > 0, height > 0,
// pixels.size() == width * height and every pixel finite. Otherwise InvalidArgument naming
// `source`, the first problem and, for a bad pixel, its (row, column).
absl::Status ValidateImage(const Image& image, absl::string_view source = "image");

struct DecodeOptions {
  // Largest accepted width * height. Checked from the file header before the pixels are
  // decoded (so a 20-byte PNG that claims 100000 x 100000 costs nothing) and again after.
  // Default: 64 Mpx (64 << 20).
  std::int64_t max_pixels = std::int64_t{64} << 20;

  // Returns InvalidArgument unless max_pixels > 0.
  absl::Status Validate() const;
};

// Decodes a PNG, JPEG or TIFF (first page) held in `bytes` into a grayscale image in
// [0, 1]: 8-bit samples are divided by 255, 16-bit ones by 65535, colour is converted with
// the ITU-R BT.601 luma weights. The format is recognised by its signature, not by a name.
// `source` (usually the file name) is used only in error messages.
// Returns InvalidArgument naming `source` and the reason for empty input, an unsupported
// or unrecognised format, a malformed header, a zero width or height, more than
// options.max_pixels pixels, sample types other than 8/16-bit unsigned, or data the codec
// cannot decode. Never throws and never aborts on any input bytes.
absl::StatusOr<Image> DecodeImage(absl::string_view bytes, absl::string_view source,
                                  const DecodeOptions& options = {});

// Reads and decodes the image file at `path` (see DecodeImage). Returns NotFound if the file
// does not exist; decode errors name `path`.
absl::StatusOr<Image> ReadImageFile(const std::string& path, const DecodeOptions& options = {});

struct PngOptions {
  // Bits per sample of the written PNG: 8 or 16.
  // Default: 8.
  int bit_depth = 8;
  // zlib compression level, 0 (none, fastest) to 9 (smallest).
  // Default: 3.
  int compression = 3;

  // Returns InvalidArgument unless bit_depth is 8 or 16 and compression is in [0, 9].
  absl::Status Validate() const;
};

// Encodes `image` as a one-channel PNG. Pixel values are clamped to [0, 1] and scaled to
// the full range of the bit depth with rounding.
// Returns InvalidArgument if `image` is malformed (see ValidateImage) or `options` invalid,
// Internal if the encoder fails.
absl::StatusOr<std::string> EncodePng(const Image& image, const PngOptions& options = {});

// EncodePng and write the result to `path` atomically (creating parent directories).
absl::Status WritePng(const Image& image, const std::string& path, const PngOptions& options = {});

// Encodes `image` (values clamped to [0, 1]) as an 8-bit grayscale baseline JPEG of the
// given quality (1..100), as SEM instruments commonly save micrographs. Deterministic for the
// same input and library build.
absl::StatusOr<std::string> EncodeJpeg(const Image& image, int quality = 90);

}  // namespace matalign::imaging

#endif  // MATALIGN_IMAGING_IMAGE_H_
