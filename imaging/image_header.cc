#include "imaging/image_header.h"

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace matalign::imaging {
namespace {

constexpr absl::string_view kPngSignature("\x89PNG\r\n\x1a\n", 8);

absl::Status Malformed(absl::string_view source, ImageFormat format, absl::string_view reason) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": malformed ", ImageFormatName(format), " header: ", reason));
}

std::uint32_t Be16(const unsigned char* p) { return (std::uint32_t{p[0]} << 8) | p[1]; }
std::uint32_t Be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}
std::uint32_t Le16(const unsigned char* p) { return (std::uint32_t{p[1]} << 8) | p[0]; }
std::uint32_t Le32(const unsigned char* p) {
  return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) |
         p[0];
}

absl::StatusOr<ImageHeader> ProbePng(const unsigned char* d, size_t n, absl::string_view source) {
  // Signature (8), IHDR length (4), "IHDR" (4), then 13 bytes of IHDR data.
  if (n < 8 + 8 + 13) return Malformed(source, ImageFormat::kPng, "truncated before IHDR end");
  if (Be32(d + 8) != 13 || absl::string_view(reinterpret_cast<const char*>(d + 12), 4) != "IHDR") {
    return Malformed(source, ImageFormat::kPng, "first chunk is not a 13-byte IHDR");
  }
  ImageHeader h;
  h.format = ImageFormat::kPng;
  h.width = Be32(d + 16);
  h.height = Be32(d + 20);
  h.bit_depth = d[24];
  const int color_type = d[25];
  if (h.width > 0x7fffffff || h.height > 0x7fffffff) {
    return Malformed(source, ImageFormat::kPng, "width or height exceeds 2^31 - 1");
  }
  // Colour types 0 gray, 2 RGB, 3 palette (expands to RGB), 4 gray + alpha, 6 RGBA.
  constexpr int kChannels[] = {1, 0, 3, 3, 2, 0, 4};
  if (color_type > 6 || kChannels[color_type] == 0) {
    return Malformed(source, ImageFormat::kPng, absl::StrCat("invalid colour type ", color_type));
  }
  h.channels = kChannels[color_type];
  if (h.bit_depth != 1 && h.bit_depth != 2 && h.bit_depth != 4 && h.bit_depth != 8 &&
      h.bit_depth != 16) {
    return Malformed(source, ImageFormat::kPng, absl::StrCat("invalid bit depth ", h.bit_depth));
  }
  return h;
}

bool IsJpegSof(unsigned m) {
  // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
  return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

absl::StatusOr<ImageHeader> ProbeJpeg(const unsigned char* d, size_t n, absl::string_view source) {
  size_t pos = 2;  // after SOI (FF D8)
  while (true) {
    // Like libjpeg, skip garbage up to the next 0xFF, then any fill bytes (0xFF 0xFF ...).
    while (pos < n && d[pos] != 0xFF) ++pos;
    while (pos < n && d[pos] == 0xFF) ++pos;
    if (pos >= n) return Malformed(source, ImageFormat::kJpeg, "no frame header (SOFn) found");
    const unsigned marker = d[pos++];
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // no length field
    if (marker == 0xD9 || marker == 0xDA) {
      return Malformed(source, ImageFormat::kJpeg, "scan data or end of image before SOFn");
    }
    if (pos + 2 > n) return Malformed(source, ImageFormat::kJpeg, "truncated marker segment");
    const size_t length = Be16(d + pos);
    if (length < 2) return Malformed(source, ImageFormat::kJpeg, "segment length below 2");
    if (IsJpegSof(marker)) {
      // Length (2), precision (1), height (2), width (2), component count (1).
      if (length < 8 || pos + 8 > n) {
        return Malformed(source, ImageFormat::kJpeg, "truncated frame header");
      }
      ImageHeader h;
      h.format = ImageFormat::kJpeg;
      h.bit_depth = d[pos + 2];
      h.height = Be16(d + pos + 3);
      h.width = Be16(d + pos + 5);
      h.channels = d[pos + 7];
      if (h.channels == 0) return Malformed(source, ImageFormat::kJpeg, "zero components");
      return h;
    }
    pos += length;
  }
}

// Reads the first value of a SHORT (3) or LONG (4) TIFF field; the value is inline when it
// fits in 4 bytes, else at an offset.
absl::StatusOr<std::int64_t> TiffFirstValue(const unsigned char* d, size_t n, size_t entry, bool le,
                                            absl::string_view source) {
  auto u16 = [&](size_t at) { return le ? Le16(d + at) : Be16(d + at); };
  auto u32 = [&](size_t at) { return le ? Le32(d + at) : Be32(d + at); };
  const std::uint32_t type = u16(entry + 2);
  const std::uint32_t count = u32(entry + 4);
  if (count == 0) return Malformed(source, ImageFormat::kTiff, "tag with zero values");
  size_t value_at = entry + 8;
  const size_t size = type == 3 ? 2 : type == 4 ? 4 : 0;
  if (size == 0) {
    return Malformed(source, ImageFormat::kTiff, absl::StrCat("unexpected field type ", type));
  }
  if (static_cast<std::uint64_t>(count) * size > 4) {
    value_at = u32(entry + 8);
    if (value_at > n || n - value_at < size) {
      return Malformed(source, ImageFormat::kTiff, "tag value offset outside the file");
    }
  }
  return static_cast<std::int64_t>(size == 2 ? u16(value_at) : u32(value_at));
}

absl::StatusOr<ImageHeader> ProbeTiff(const unsigned char* d, size_t n, absl::string_view source) {
  const bool le = d[0] == 'I';
  auto u16 = [&](size_t at) { return le ? Le16(d + at) : Be16(d + at); };
  auto u32 = [&](size_t at) { return le ? Le32(d + at) : Be32(d + at); };
  if (n < 8) return Malformed(source, ImageFormat::kTiff, "truncated before first IFD offset");
  const size_t ifd = u32(4);
  if (ifd < 8 || ifd > n || n - ifd < 2) {
    return Malformed(source, ImageFormat::kTiff, "first IFD offset outside the file");
  }
  const size_t entries = u16(ifd);
  if ((n - ifd - 2) / 12 < entries) {
    return Malformed(source, ImageFormat::kTiff, "first IFD runs past the end of the file");
  }
  ImageHeader h;
  h.format = ImageFormat::kTiff;
  h.bit_depth = 1;  // TIFF defaults when the tags are absent
  h.channels = 1;
  for (size_t i = 0; i < entries; ++i) {
    const size_t entry = ifd + 2 + 12 * i;
    const std::uint32_t tag = u16(entry);
    if (tag != 256 && tag != 257 && tag != 258 && tag != 277) continue;
    auto value = TiffFirstValue(d, n, entry, le, source);
    if (!value.ok()) return value.status();
    switch (tag) {
      case 256:
        h.width = *value;
        break;
      case 257:
        h.height = *value;
        break;
      case 258:
        h.bit_depth = static_cast<int>(*value);
        break;
      case 277:
        h.channels = static_cast<int>(*value);
        break;
    }
  }
  return h;
}

}  // namespace

absl::string_view ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kTiff:
      return "tiff";
  }
  return "unknown";
}

absl::StatusOr<ImageHeader> ProbeImageHeader(absl::string_view bytes, absl::string_view source) {
  if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": empty image data"));
  const auto* d = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  absl::StatusOr<ImageHeader> header;
  if (bytes.substr(0, 8) == kPngSignature) {
    header = ProbePng(d, n, source);
  } else if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) {
    header = ProbeJpeg(d, n, source);
  } else if (n >= 4 && ((d[0] == 'I' && d[1] == 'I' && d[2] == 42 && d[3] == 0) ||
                        (d[0] == 'M' && d[1] == 'M' && d[2] == 0 && d[3] == 42))) {
    header = ProbeTiff(d, n, source);
  } else if (n >= 4 && ((d[0] == 'I' && d[1] == 'I' && d[2] == 43 && d[3] == 0) ||
                        (d[0] == 'M' && d[1] == 'M' && d[2] == 0 && d[3] == 43))) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": BigTIFF is not supported (only classic TIFF)"));
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": unrecognised image format (expected a PNG, JPEG or TIFF signature)"));
  }
  if (!header.ok()) return header.status();
  if (header->width <= 0 || header->height <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", ImageFormatName(header->format),
                                                   " header declares a zero-size image (",
                                                   header->width, "x", header->height, ")"));
  }
  return header;
}

}  // namespace matalign::imaging
