#include "imaging/image.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <string>
#include <vector>

#include "imaging/image_header.h"
#include "tests/imaging/test_images.h"
#include "tests/test_util.h"

namespace matalign::imaging {
namespace {

using ::matalign::imaging::testing::Texture;
using ::matalign::testing::TempDir;

// Sends stderr to /dev/null while alive: OpenCV (std::cerr), libjpeg and libtiff print
// a line for every corrupt buffer, and some tests below feed them hundreds on purpose.
// gtest reports failures on stdout, so nothing of the test's own output is lost.
class QuietStderr {
 public:
  QuietStderr() : saved_(::dup(STDERR_FILENO)) {
    std::fflush(stderr);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) {
      ::dup2(null, STDERR_FILENO);
      ::close(null);
    }
  }
  ~QuietStderr() {
    std::fflush(stderr);
    if (saved_ >= 0) {
      ::dup2(saved_, STDERR_FILENO);
      ::close(saved_);
    }
  }
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

 private:
  int saved_;
};

std::string Encode(const std::string& ext, const cv::Mat& mat,
                   const std::vector<int>& params = {}) {
  std::vector<uchar> buffer;
  EXPECT_TRUE(cv::imencode(ext, mat, buffer, params)) << ext;
  return std::string(buffer.begin(), buffer.end());
}

// A 1-channel matrix whose pixel (r, c) takes every value of the depth in turn.
cv::Mat Ramp(int rows, int cols, int depth) {
  cv::Mat mat(rows, cols, depth);
  const int levels = depth == CV_16U ? 65536 : 256;
  const int step = depth == CV_16U ? 997 : 1;  // coprime with 65536: covers many values
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const int v = ((r * cols + c) * step) % levels;
      if (depth == CV_16U) {
        mat.at<std::uint16_t>(r, c) = static_cast<std::uint16_t>(v);
      } else {
        mat.at<std::uint8_t>(r, c) = static_cast<std::uint8_t>(v);
      }
    }
  }
  return mat;
}

void ExpectMatchesRamp(const Image& image, const cv::Mat& ramp) {
  ASSERT_EQ(image.width, ramp.cols);
  ASSERT_EQ(image.height, ramp.rows);
  const bool wide = ramp.depth() == CV_16U;
  const float max_value = wide ? 65535.0f : 255.0f;
  for (int r = 0; r < ramp.rows; ++r) {
    for (int c = 0; c < ramp.cols; ++c) {
      const float expected =
          (wide ? ramp.at<std::uint16_t>(r, c) : ramp.at<std::uint8_t>(r, c)) / max_value;
      ASSERT_NEAR(image.at(r, c), expected, 1e-6f) << "at (" << r << ", " << c << ")";
    }
  }
}

void ExpectInvalidNaming(const absl::Status& status, const std::string& source) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find(source), absl::string_view::npos) << status;
}

// ---- Round trips through files written by OpenCV (PNG and TIFF, 8 and 16 bit). ----

struct CodecCase {
  const char* ext;
  int depth;
};

class CodecRoundTripTest : public ::testing::TestWithParam<CodecCase> {};

TEST_P(CodecRoundTripTest, DecodesExactValuesAndBitDepth) {
  const CodecCase& param = GetParam();
  const cv::Mat ramp = Ramp(37, 61, param.depth);
  const std::string bytes = Encode(param.ext, ramp);
  ASSERT_OK_AND_ASSIGN(const Image image, DecodeImage(bytes, "ramp"));
  EXPECT_EQ(image.source_bit_depth, param.depth == CV_16U ? 16 : 8);
  EXPECT_EQ(image.source_channels, 1);
  ExpectMatchesRamp(image, ramp);
}

INSTANTIATE_TEST_SUITE_P(Formats, CodecRoundTripTest,
                         ::testing::Values(CodecCase{".png", CV_8U}, CodecCase{".png", CV_16U},
                                           CodecCase{".tiff", CV_8U}, CodecCase{".tiff", CV_16U}),
                         [](const ::testing::TestParamInfo<CodecCase>& info) {
                           return std::string(info.param.ext + 1) +
                                  (info.param.depth == CV_16U ? "16" : "8");
                         });

// ---- Our own PNG encoder. ----

class PngEncoderTest : public ::testing::TestWithParam<int> {};

TEST_P(PngEncoderTest, EncodeDecodeRoundTripsQuantizedValues) {
  const int bit_depth = GetParam();
  const float max_value = bit_depth == 16 ? 65535.0f : 255.0f;
  Image image = Texture(53, 29, 0.0f, 1.0f, /*seed=*/7);
  for (float& p : image.pixels) p = std::round(p * max_value) / max_value;
  PngOptions options;
  options.bit_depth = bit_depth;
  ASSERT_OK_AND_ASSIGN(const std::string png, EncodePng(image, options));
  ASSERT_OK_AND_ASSIGN(const Image back, DecodeImage(png, "encoded.png"));
  EXPECT_EQ(back.source_bit_depth, bit_depth);
  EXPECT_EQ(back.source_channels, 1);
  ASSERT_EQ(back.width, image.width);
  ASSERT_EQ(back.height, image.height);
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    ASSERT_NEAR(back.pixels[i], image.pixels[i], 1e-6f) << "pixel " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(BitDepths, PngEncoderTest, ::testing::Values(8, 16));

TEST(PngEncoderTest, ClampsOutOfRangeValues) {
  Image image = testing::Constant(4, 1, 0.0f);
  image.pixels = {-3.0f, 0.5f, 1.0f, 7.0f};
  ASSERT_OK_AND_ASSIGN(const std::string png, EncodePng(image));
  ASSERT_OK_AND_ASSIGN(const Image back, DecodeImage(png, "clamped.png"));
  EXPECT_FLOAT_EQ(back.pixels[0], 0.0f);
  EXPECT_FLOAT_EQ(back.pixels[1], 128.0f / 255.0f);
  EXPECT_FLOAT_EQ(back.pixels[2], 1.0f);
  EXPECT_FLOAT_EQ(back.pixels[3], 1.0f);
}

TEST(PngEncoderTest, RejectsBadImagesAndOptions) {
  Image image = testing::Constant(3, 2, 0.5f);
  PngOptions bad_depth;
  bad_depth.bit_depth = 12;
  EXPECT_EQ(EncodePng(image, bad_depth).status().code(), absl::StatusCode::kInvalidArgument);
  PngOptions bad_level;
  bad_level.compression = 10;
  EXPECT_EQ(EncodePng(image, bad_level).status().code(), absl::StatusCode::kInvalidArgument);

  Image short_pixels = image;
  short_pixels.pixels.pop_back();
  EXPECT_EQ(EncodePng(short_pixels).status().code(), absl::StatusCode::kInvalidArgument);
  Image empty;
  EXPECT_EQ(EncodePng(empty).status().code(), absl::StatusCode::kInvalidArgument);
  Image nan = image;
  nan.pixels[4] = std::nanf("");
  const absl::Status status = EncodePng(nan).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("(1, 1)"), absl::string_view::npos) << status;
}

TEST(PngEncoderTest, WritePngThenReadImageFile) {
  TempDir dir;
  const std::string path = dir.Join("sub/out.png");
  Image image = Texture(20, 10, 0.0f, 1.0f, /*seed=*/3);
  PngOptions options;
  options.bit_depth = 16;
  ASSERT_OK(WritePng(image, path, options));
  ASSERT_OK_AND_ASSIGN(const Image back, ReadImageFile(path));
  EXPECT_EQ(back.source_bit_depth, 16);
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    ASSERT_NEAR(back.pixels[i], image.pixels[i], 0.5f / 65535.0f + 1e-7f);
  }
}

TEST(ReadImageFileTest, MissingFileIsNotFound) {
  TempDir dir;
  EXPECT_EQ(ReadImageFile(dir.Join("nope.png")).status().code(), absl::StatusCode::kNotFound);
}

// ---- JPEG and colour. ----

TEST(DecodeImageTest, JpegDecodesCloseToSource) {
  cv::Mat smooth(64, 64, CV_8U);
  for (int r = 0; r < 64; ++r) {
    for (int c = 0; c < 64; ++c)
      smooth.at<std::uint8_t>(r, c) = static_cast<std::uint8_t>(2 * r + c);
  }
  const std::string jpeg = Encode(".jpg", smooth, {cv::IMWRITE_JPEG_QUALITY, 95});
  ASSERT_OK_AND_ASSIGN(const ImageHeader header, ProbeImageHeader(jpeg, "smooth.jpg"));
  EXPECT_EQ(header.format, ImageFormat::kJpeg);
  EXPECT_EQ(header.width, 64);
  EXPECT_EQ(header.height, 64);
  ASSERT_OK_AND_ASSIGN(const Image image, DecodeImage(jpeg, "smooth.jpg"));
  EXPECT_EQ(image.source_bit_depth, 8);
  EXPECT_EQ(image.source_channels, 1);
  double abs_error = 0;
  for (int r = 0; r < 64; ++r) {
    for (int c = 0; c < 64; ++c) abs_error += std::fabs(image.at(r, c) - (2 * r + c) / 255.0f);
  }
  EXPECT_LT(abs_error / (64 * 64), 2.0 / 255.0);
}

TEST(DecodeImageTest, RealSemJpeg) {
  MATALIGN_REAL_DATA_OR_SKIP(path, "sem_ncm/images/333_000.jpg");
  ASSERT_OK_AND_ASSIGN(const Image image, ReadImageFile(path));
  EXPECT_EQ(image.width, 448);
  EXPECT_EQ(image.height, 336);
  EXPECT_EQ(image.source_bit_depth, 8);
  EXPECT_EQ(image.source_channels, 1);
  for (float p : image.pixels) ASSERT_TRUE(p >= 0.0f && p <= 1.0f);
}

TEST(DecodeImageTest, ColourBecomesLuma) {
  // BGR patches: pure blue, green, red, white.
  for (const char* ext : {".png", ".tiff", ".jpg"}) {
    SCOPED_TRACE(ext);
    cv::Mat bgr(8, 32, CV_8UC3, cv::Scalar(0, 0, 0));
    bgr(cv::Rect(0, 0, 8, 8)).setTo(cv::Scalar(255, 0, 0));
    bgr(cv::Rect(8, 0, 8, 8)).setTo(cv::Scalar(0, 255, 0));
    bgr(cv::Rect(16, 0, 8, 8)).setTo(cv::Scalar(0, 0, 255));
    bgr(cv::Rect(24, 0, 8, 8)).setTo(cv::Scalar(255, 255, 255));
    ASSERT_OK_AND_ASSIGN(const Image image, DecodeImage(Encode(ext, bgr), ext));
    EXPECT_EQ(image.source_channels, 3);
    const float tol = std::string(ext) == ".jpg" ? 0.05f : 1.0f / 255.0f;
    EXPECT_NEAR(image.at(4, 4), 0.114f, tol);
    EXPECT_NEAR(image.at(4, 12), 0.587f, tol);
    EXPECT_NEAR(image.at(4, 20), 0.299f, tol);
    EXPECT_NEAR(image.at(4, 28), 1.0f, tol);
  }
}

TEST(DecodeImageTest, SixteenBitColourAndAlpha) {
  cv::Mat bgra(4, 4, CV_16UC4, cv::Scalar(0, 65535, 0, 1000));
  ASSERT_OK_AND_ASSIGN(const Image image, DecodeImage(Encode(".png", bgra), "bgra16.png"));
  EXPECT_EQ(image.source_bit_depth, 16);
  EXPECT_EQ(image.source_channels, 4);
  EXPECT_NEAR(image.at(0, 0), 0.587f, 1e-3f);  // alpha is ignored
}

// ---- Bad input. ----

// Signature, IHDR with the given fields and a correct CRC, then IEND: no image data.
std::string PngHeaderOnly(std::uint32_t width, std::uint32_t height, int bit_depth = 8,
                          int color_type = 0) {
  auto be32 = [](std::uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  std::string ihdr = "IHDR" + be32(width) + be32(height);
  ihdr += {static_cast<char>(bit_depth), static_cast<char>(color_type), 0, 0, 0};
  const auto crc = static_cast<std::uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(ihdr.data()), static_cast<uInt>(ihdr.size())));
  return std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + ihdr + be32(crc) + be32(0) + "IEND" +
         be32(0xAE426082u);
}

TEST(DecodeImageTest, EmptyBytes) {
  ExpectInvalidNaming(DecodeImage("", "empty.png").status(), "empty.png");
}

TEST(DecodeImageTest, RandomBytes) {
  QuietStderr quiet;
  std::mt19937 rng(42);
  for (int length : {1, 2, 3, 7, 8, 64, 1000, 100000}) {
    std::string bytes(static_cast<size_t>(length), '\0');
    for (char& b : bytes) b = static_cast<char>(rng());
    ExpectInvalidNaming(DecodeImage(bytes, "random.bin").status(), "random.bin");
  }
}

TEST(DecodeImageTest, UnsupportedFormatIsRejectedBeforeOpenCv) {
  QuietStderr quiet;
  const cv::Mat gray(8, 8, CV_8U, cv::Scalar(7));
  for (const char* ext : {".bmp", ".pgm", ".webp"}) {
    const absl::Status status = DecodeImage(Encode(ext, gray), "x").status();
    ExpectInvalidNaming(status, "x");
    EXPECT_NE(status.message().find("unrecognised image format"), absl::string_view::npos);
  }
  ExpectInvalidNaming(DecodeImage(std::string("II+\0\x08\0\0\0", 8), "big.tif").status(),
                      "big.tif");
}

TEST(DecodeImageTest, ZeroSizePngHeader) {
  QuietStderr quiet;
  for (auto [w, h] : {std::pair<std::uint32_t, std::uint32_t>{0, 0}, {0, 5}, {5, 0}}) {
    const absl::Status status = DecodeImage(PngHeaderOnly(w, h), "zero.png").status();
    ExpectInvalidNaming(status, "zero.png");
    EXPECT_NE(status.message().find("zero-size"), absl::string_view::npos) << status;
  }
}

TEST(DecodeImageTest, EnormousPngHeaderIsRefusedFromTheHeader) {
  const absl::Status status = DecodeImage(PngHeaderOnly(100000, 100000), "huge.png").status();
  ExpectInvalidNaming(status, "huge.png");
  EXPECT_NE(status.message().find("limit"), absl::string_view::npos) << status;
  ExpectInvalidNaming(DecodeImage(PngHeaderOnly(0xFFFFFFFFu, 1), "wide.png").status(), "wide.png");
}

TEST(DecodeImageTest, HeaderOnlyPngWithoutDataIsInvalid) {
  QuietStderr quiet;
  ExpectInvalidNaming(DecodeImage(PngHeaderOnly(16, 16), "nodata.png").status(), "nodata.png");
}

TEST(DecodeImageTest, MaxPixelsOption) {
  const std::string png = Encode(".png", Ramp(64, 64, CV_8U));
  DecodeOptions options;
  options.max_pixels = 64 * 64 - 1;
  ExpectInvalidNaming(DecodeImage(png, "ramp.png", options).status(), "ramp.png");
  options.max_pixels = 64 * 64;
  EXPECT_OK(DecodeImage(png, "ramp.png", options));
  options.max_pixels = 0;
  EXPECT_EQ(DecodeImage(png, "ramp.png", options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DecodeImageTest, ZeroHeightJpegAndHugeTiffHeaders) {
  QuietStderr quiet;
  std::string jpeg = Encode(".jpg", Ramp(16, 16, CV_8U));
  const size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg[sof + 5] = 0;  // height, big-endian, after marker (2), length (2), precision (1)
  jpeg[sof + 6] = 0;
  ExpectInvalidNaming(DecodeImage(jpeg, "dnl.jpg").status(), "dnl.jpg");

  // Little-endian TIFF, one IFD with ImageWidth = ImageLength = 100000 (LONG).
  std::string tiff("II*\0\x08\0\0\0", 8);
  tiff += std::string("\x02\0", 2);
  tiff += std::string("\x00\x01\x04\x00\x01\x00\x00\x00\xA0\x86\x01\x00", 12);
  tiff += std::string("\x01\x01\x04\x00\x01\x00\x00\x00\xA0\x86\x01\x00", 12);
  tiff += std::string(4, '\0');
  ASSERT_OK_AND_ASSIGN(const ImageHeader header, ProbeImageHeader(tiff, "huge.tif"));
  EXPECT_EQ(header.width, 100000);
  const absl::Status status = DecodeImage(tiff, "huge.tif").status();
  ExpectInvalidNaming(status, "huge.tif");
  EXPECT_NE(status.message().find("limit"), absl::string_view::npos) << status;
}

TEST(DecodeImageTest, EveryTruncationOfAPngIsInvalid) {
  QuietStderr quiet;
  const std::string png = Encode(".png", Ramp(16, 16, CV_8U));
  for (size_t n = 0; n < png.size(); ++n) {
    ExpectInvalidNaming(DecodeImage(png.substr(0, n), "cut.png").status(), "cut.png");
  }
}

TEST(DecodeImageTest, TruncatedJpegAndTiffNeverCrash) {
  QuietStderr quiet;
  // libjpeg pads a truncated scan with gray and warns, so a cut JPEG may still decode.
  for (const char* ext : {".jpg", ".tiff"}) {
    const std::string bytes = Encode(ext, Ramp(16, 16, CV_8U));
    for (size_t n = 0; n < bytes.size(); ++n) {
      const absl::Status status = DecodeImage(bytes.substr(0, n), "cut").status();
      if (!status.ok()) ExpectInvalidNaming(status, "cut");
    }
  }
}

// Random byte flips of valid files: every result is a valid image or InvalidArgument.
TEST(DecodeImageTest, MutatedFilesNeverCrash) {
  QuietStderr quiet;
  std::mt19937 rng(1234);
  const cv::Mat texture = Ramp(24, 24, CV_8U);
  for (const char* ext : {".png", ".jpg", ".tiff"}) {
    const std::string original = Encode(ext, texture);
    for (int trial = 0; trial < 300; ++trial) {
      std::string bytes = original;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
      absl::StatusOr<Image> image = DecodeImage(bytes, "mutant");
      if (!image.ok()) {
        ExpectInvalidNaming(image.status(), "mutant");
        continue;
      }
      ASSERT_OK(ValidateImage(*image));
      for (float p : image->pixels) ASSERT_TRUE(p >= 0.0f && p <= 1.0f);
    }
  }
}

TEST(ProbeImageHeaderTest, ReadsDimensionsOfAllFormats) {
  const cv::Mat mat = Ramp(23, 41, CV_16U);
  for (const char* ext : {".png", ".tiff"}) {
    ASSERT_OK_AND_ASSIGN(const ImageHeader header, ProbeImageHeader(Encode(ext, mat), ext));
    EXPECT_EQ(header.width, 41);
    EXPECT_EQ(header.height, 23);
    EXPECT_EQ(header.bit_depth, 16);
    EXPECT_EQ(header.channels, 1);
  }
  ASSERT_OK_AND_ASSIGN(const ImageHeader header,
                       ProbeImageHeader(PngHeaderOnly(7, 9, 8, 6), "rgba.png"));
  EXPECT_EQ(header.channels, 4);
}

}  // namespace
}  // namespace matalign::imaging

namespace matalign::imaging {
namespace {

TEST(JpegEncoderTest, RoundTripsWithinJpegError) {
  Image image;
  image.width = 64;
  image.height = 48;
  image.source_bit_depth = 8;
  image.source_channels = 1;
  for (int r = 0; r < image.height; ++r) {
    for (int c = 0; c < image.width; ++c) image.pixels.push_back((r + c) / 112.0f);
  }
  auto jpeg = EncodeJpeg(image, 95);
  ASSERT_TRUE(jpeg.ok()) << jpeg.status();
  auto back = DecodeImage(*jpeg, "round.jpg");
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->width, 64);
  double err = 0;
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    err = std::max(err, static_cast<double>(std::fabs(back->pixels[i] - image.pixels[i])));
  }
  EXPECT_LT(err, 0.03);
  EXPECT_EQ(EncodeJpeg(image, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace matalign::imaging
