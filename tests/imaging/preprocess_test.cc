#include "imaging/preprocess.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "common/file.h"
#include "tests/imaging/test_images.h"
#include "tests/test_util.h"

namespace matalign::imaging {
namespace {

using ::matalign::imaging::testing::Constant;
using ::matalign::imaging::testing::PaintBar;
using ::matalign::imaging::testing::Texture;

PreprocessOptions Plain(int size) {
  PreprocessOptions options;
  options.size = size;
  options.crop_data_bar = false;
  options.mean = 0.0f;
  options.stddev = 1.0f;
  return options;
}

TEST(PreprocessTest, OutputIsSquareOfTheConfiguredSize) {
  const Image image = Texture(448, 336, 0.0f, 1.0f, /*seed=*/1);
  for (int size : {224, 64, 500, 1}) {
    PreprocessOptions options;
    options.size = size;
    ASSERT_OK_AND_ASSIGN(const Image out, Preprocess(image, options));
    EXPECT_EQ(out.width, size);
    EXPECT_EQ(out.height, size);
    EXPECT_EQ(out.pixels.size(), static_cast<size_t>(size) * size);
  }
}

TEST(PreprocessTest, NormalizesEveryPixel) {
  // Same size as the output: no resampling, so the mapping is exact per pixel.
  Image image = Texture(32, 32, 0.0f, 1.0f, /*seed=*/2);
  image.source_bit_depth = 16;
  image.source_channels = 3;
  PreprocessOptions options = Plain(32);
  options.mean = 0.4f;
  options.stddev = 0.2f;
  ASSERT_OK_AND_ASSIGN(const Image out, Preprocess(image, options));
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    ASSERT_NEAR(out.pixels[i], (image.pixels[i] - 0.4f) / 0.2f, 1e-5f);
  }
  EXPECT_EQ(out.source_bit_depth, 16);
  EXPECT_EQ(out.source_channels, 3);
}

TEST(PreprocessTest, NormalizationStatisticsAfterResize) {
  // Uniform noise in [0, 1] has mean 0.5; area averaging keeps the mean and shrinks the
  // spread. With the default mean 0.5 / stddev 0.25 the output mean is about 0.
  const Image image = Texture(896, 672, 0.0f, 1.0f, /*seed=*/3);
  ASSERT_OK_AND_ASSIGN(const Image out, Preprocess(image));
  const double mean =
      std::accumulate(out.pixels.begin(), out.pixels.end(), 0.0) / out.pixels.size();
  EXPECT_NEAR(mean, 0.0, 0.01);
  ASSERT_OK_AND_ASSIGN(const Image constant, Preprocess(Constant(300, 200, 0.75f)));
  for (float p : constant.pixels) ASSERT_NEAR(p, 1.0f, 1e-5f);
}

// A landscape or portrait image with a marker block at the top-left corner of the centred
// square and a decoy outside it; with an exact 2:1 shrink the output is known pixel by pixel.
class CentreCropTest : public ::testing::TestWithParam<bool> {};

TEST_P(CentreCropTest, KeepsTheCentredSquare) {
  const bool landscape = GetParam();
  const int width = landscape ? 400 : 200;
  const int height = landscape ? 200 : 400;
  Image image = Constant(width, height, 0.0f);
  auto fill = [&](int x0, int y0, int w, int h) {
    for (int y = y0; y < y0 + h; ++y) {
      for (int x = x0; x < x0 + w; ++x) image.pixels[y * width + x] = 1.0f;
    }
  };
  // The centred square starts at 100 along the long side.
  const int mx = landscape ? 100 : 0;
  const int my = landscape ? 0 : 100;
  fill(mx, my, 20, 20);                                    // marker
  fill(landscape ? 0 : 150, landscape ? 150 : 0, 50, 50);  // decoy, outside the square
  ASSERT_OK_AND_ASSIGN(const Image out, Preprocess(image, Plain(100)));
  ASSERT_EQ(out.width, 100);
  for (int r = 0; r < 100; ++r) {
    for (int c = 0; c < 100; ++c) {
      const float expected = r < 10 && c < 10 ? 1.0f : 0.0f;
      ASSERT_NEAR(out.at(r, c), expected, 1e-5f) << "at (" << r << ", " << c << ")";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Orientations, CentreCropTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Landscape" : "Portrait";
                         });

TEST(PreprocessTest, UpscalesSmallImages) {
  Image image = Constant(50, 40, 0.25f);
  ASSERT_OK_AND_ASSIGN(const Image out, Preprocess(image, Plain(224)));
  EXPECT_EQ(out.width, 224);
  for (float p : out.pixels) ASSERT_NEAR(p, 0.25f, 1e-5f);
}

TEST(PreprocessTest, RemovesTheDataBarWhenAsked) {
  // Micrograph texture in [0.4, 0.8] over a black bar with white text.
  Image image = Texture(400, 300, 0.4f, 0.8f, /*seed=*/4);
  PaintBar(image, 270, 30, /*background=*/0.0f, /*ink=*/1.0f);
  PreprocessOptions options = Plain(128);
  options.crop_data_bar = true;
  ASSERT_OK_AND_ASSIGN(const Image cropped, Preprocess(image, options));
  const auto [lo, hi] = std::minmax_element(cropped.pixels.begin(), cropped.pixels.end());
  EXPECT_GE(*lo, 0.4f - 1e-5f);
  EXPECT_LE(*hi, 0.8f + 1e-5f);

  ASSERT_OK_AND_ASSIGN(const Image kept, Preprocess(image, Plain(128)));
  EXPECT_LT(*std::min_element(kept.pixels.begin(), kept.pixels.end()), 0.2f);
}

TEST(PreprocessTest, RealSemImageLoadsForTheModel) {
  MATALIGN_REAL_DATA_OR_SKIP(path, "sem_ncm/images/811_formation_037.jpg");
  ASSERT_OK_AND_ASSIGN(const std::string bytes, ReadFile(path));
  ASSERT_OK_AND_ASSIGN(const Image out, LoadForModel(bytes, path));
  EXPECT_EQ(out.width, 224);
  EXPECT_EQ(out.height, 224);
  for (float p : out.pixels) ASSERT_TRUE(std::isfinite(p));
  PreprocessOptions keep_bar;
  keep_bar.crop_data_bar = false;
  ASSERT_OK_AND_ASSIGN(const Image with_bar, LoadForModel(bytes, path, keep_bar));
  EXPECT_NE(out.pixels, with_bar.pixels);
}

TEST(PreprocessTest, RejectsBadOptions) {
  const Image image = Constant(8, 8, 0.5f);
  auto code = [&](PreprocessOptions options) { return Preprocess(image, options).status().code(); };
  PreprocessOptions options;
  options.size = 0;
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options.size = 100000;
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options = {};
  options.stddev = 0.0f;
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options = {};
  options.mean = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options = {};
  options.data_bar.uniform_fraction = 2.0f;
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
}

TEST(PreprocessTest, RejectsMalformedImages) {
  Image image = Constant(8, 8, 0.5f);
  image.height = 9;
  EXPECT_EQ(Preprocess(image).status().code(), absl::StatusCode::kInvalidArgument);
  image = Constant(8, 8, 0.5f);
  image.pixels[3] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(Preprocess(image).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LoadForModelTest, BadBytesNameTheSource) {
  const absl::Status status = LoadForModel("not an image", "upload-17.jpg").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("upload-17.jpg"), absl::string_view::npos) << status;
}

}  // namespace
}  // namespace matalign::imaging
