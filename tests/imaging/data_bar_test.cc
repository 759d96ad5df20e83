#include "imaging/data_bar.h"

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "common/csv.h"
#include "common/file.h"
#include "tests/imaging/test_images.h"
#include "tests/test_util.h"

namespace matalign::imaging {
namespace {

using ::matalign::imaging::testing::Constant;
using ::matalign::imaging::testing::PaintBar;
using ::matalign::imaging::testing::Texture;

Image FlipVertically(const Image& image) {
  Image out = image;
  for (int r = 0; r < image.height; ++r) {
    std::copy_n(
        image.pixels.begin() + static_cast<std::ptrdiff_t>(r) * image.width, image.width,
        out.pixels.begin() + static_cast<std::ptrdiff_t>(image.height - 1 - r) * image.width);
  }
  return out;
}

// Every micrograph of the NCM set carries a bar at the bottom edge (seen by eye on a sample
// from each class: black background, white text, scale bar, about 7% of the height).
// Walks all images listed in labels.csv; also checks that the micrograph part alone has no
// bar and that the same bar is found at the top of the vertically flipped image.
TEST(DataBarTest, FoundAtTheBottomOfEveryRealSemImage) {
  MATALIGN_REAL_DATA_OR_SKIP(dir, "sem_ncm");
  ASSERT_OK_AND_ASSIGN(const std::string labels, ReadFile(dir + "/labels.csv"));
  ASSERT_OK_AND_ASSIGN(const std::vector<CsvRow> rows, ParseCsv(labels, "labels.csv"));
  ASSERT_GT(rows.size(), 1u);
  std::vector<int> heights;
  for (size_t i = 1; i < rows.size(); ++i) {  // row 0 is the header
    ASSERT_FALSE(rows[i].fields.empty());
    const std::string& name = rows[i].fields[0];
    SCOPED_TRACE(name);
    ASSERT_OK_AND_ASSIGN(const Image image, ReadImageFile(dir + "/images/" + name));
    ASSERT_OK_AND_ASSIGN(const DataBar bar, DetectDataBar(image));
    ASSERT_TRUE(bar.found);
    EXPECT_EQ(bar.bottom_row, image.height - 1);
    EXPECT_GE(bar.height(), image.height / 50);  // 2% .. 15% of the height
    EXPECT_LE(bar.height(), image.height * 15 / 100);
    heights.push_back(bar.height());

    ASSERT_OK_AND_ASSIGN(const Image micrograph, RemoveDataBar(image, bar));
    ASSERT_OK_AND_ASSIGN(const DataBar none, DetectDataBar(micrograph));
    EXPECT_FALSE(none.found) << "rows " << none.top_row << ".." << none.bottom_row;

    ASSERT_OK_AND_ASSIGN(const DataBar top, DetectDataBar(FlipVertically(image)));
    ASSERT_TRUE(top.found);
    EXPECT_EQ(top.top_row, 0);
    EXPECT_EQ(top.height(), bar.height());
  }
  EXPECT_EQ(heights.size(), rows.size() - 1);
  std::sort(heights.begin(), heights.end());
  const int median = heights[heights.size() / 2];
  std::cout << "data bar heights over " << heights.size() << " real SEM images: min "
            << heights.front() << ", median " << median << ", max " << heights.back() << " rows\n";
  RecordProperty("bar_height_min", heights.front());
  RecordProperty("bar_height_median", median);
  RecordProperty("bar_height_max", heights.back());
}

TEST(DataBarTest, SyntheticDarkBarAtTheBottom) {
  Image image = Texture(300, 200, 0.2f, 0.8f, /*seed=*/1);
  PaintBar(image, 180, 20, /*background=*/0.0f, /*ink=*/1.0f);
  ASSERT_OK_AND_ASSIGN(const DataBar bar, DetectDataBar(image));
  ASSERT_TRUE(bar.found);
  EXPECT_EQ(bar.top_row, 180);
  EXPECT_EQ(bar.bottom_row, 199);
  EXPECT_EQ(bar.height(), 20);
}

TEST(DataBarTest, SyntheticBrightBarAtTheTop) {
  Image image = Texture(256, 256, 0.0f, 0.7f, /*seed=*/2);
  PaintBar(image, 0, 30, /*background=*/1.0f, /*ink=*/0.0f);
  ASSERT_OK_AND_ASSIGN(const DataBar bar, DetectDataBar(image));
  ASSERT_TRUE(bar.found);
  EXPECT_EQ(bar.top_row, 0);
  EXPECT_EQ(bar.bottom_row, 29);

  DataBarOptions bottom_only;
  bottom_only.search_top = false;
  ASSERT_OK_AND_ASSIGN(const DataBar none, DetectDataBar(image, bottom_only));
  EXPECT_FALSE(none.found);
}

TEST(DataBarTest, BlendedBoundaryRowBelongsToTheBar) {
  Image image = Texture(200, 100, 0.5f, 0.9f, /*seed=*/3);
  PaintBar(image, 90, 10, /*background=*/0.0f, /*ink=*/1.0f);
  for (int c = 0; c < image.width; ++c) image.pixels[89 * image.width + c] *= 0.5f;
  ASSERT_OK_AND_ASSIGN(const DataBar bar, DetectDataBar(image));
  ASSERT_TRUE(bar.found);
  EXPECT_EQ(bar.top_row, 89);
}

TEST(DataBarTest, NoBarInImagesWithoutOne) {
  struct Case {
    const char* name;
    Image image;
  };
  std::vector<Case> cases;
  cases.push_back({"texture", Texture(320, 240, 0.0f, 1.0f, /*seed=*/4)});
  cases.push_back({"uniform", Constant(320, 240, 0.3f)});
  cases.push_back({"black", Constant(320, 240, 0.0f)});
  Image gradient = Constant(320, 240, 0.0f);
  for (int r = 0; r < gradient.height; ++r) {
    std::fill_n(gradient.pixels.begin() + r * gradient.width, gradient.width, r / 239.0f);
  }
  cases.push_back({"vertical gradient", gradient});
  Image band_inside = Texture(320, 240, 0.2f, 0.8f, /*seed=*/5);
  PaintBar(band_inside, 150, 20, 0.0f, 1.0f);  // a band that does not touch an edge
  cases.push_back({"band inside", band_inside});
  Image short_band = Texture(320, 240, 0.2f, 0.8f, /*seed=*/6);
  PaintBar(short_band, 239, 1, 0.0f, 1.0f);  // a one-row line is not a bar
  cases.push_back({"one-row line", short_band});
  Image tall_band = Texture(320, 240, 0.2f, 0.8f, /*seed=*/7);
  PaintBar(tall_band, 120, 120, 0.0f, 0.0f);  // plain, half the image: too tall
  cases.push_back({"half-height band", tall_band});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_OK_AND_ASSIGN(const DataBar bar, DetectDataBar(c.image));
    EXPECT_FALSE(bar.found) << "rows " << bar.top_row << ".." << bar.bottom_row;
  }
}

TEST(DataBarTest, RejectsMalformedImagesAndOptions) {
  Image bad = Constant(10, 10, 0.5f);
  bad.pixels.resize(99);
  EXPECT_EQ(DetectDataBar(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DetectDataBar(Image{}).status().code(), absl::StatusCode::kInvalidArgument);

  const Image good = Constant(10, 10, 0.5f);
  DataBarOptions options;
  options.tolerance = 0.0f;
  EXPECT_EQ(DetectDataBar(good, options).status().code(), absl::StatusCode::kInvalidArgument);
  options = {};
  options.max_height_fraction = 1.0f;
  EXPECT_EQ(DetectDataBar(good, options).status().code(), absl::StatusCode::kInvalidArgument);
  options = {};
  options.min_background_fraction = 0.99f;  // above uniform_fraction
  EXPECT_EQ(DetectDataBar(good, options).status().code(), absl::StatusCode::kInvalidArgument);
  options = {};
  options.edge_check_rows = 0;
  EXPECT_EQ(DetectDataBar(good, options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DataBarTest, TinyImagesAreHandled) {
  for (auto [w, h] : {std::pair<int, int>{1, 1}, {1, 50}, {50, 1}, {3, 3}}) {
    ASSERT_OK_AND_ASSIGN(const DataBar bar, DetectDataBar(Texture(w, h, 0.0f, 1.0f, 8)));
    EXPECT_FALSE(bar.found);
  }
}

TEST(RemoveDataBarTest, KeepsTheOtherRows) {
  Image image = Constant(4, 10, 0.0f);
  for (int r = 0; r < 10; ++r) std::fill_n(image.pixels.begin() + r * 4, 4, r / 10.0f);
  image.source_bit_depth = 16;

  DataBar bottom{true, 7, 9};
  ASSERT_OK_AND_ASSIGN(const Image without_bottom, RemoveDataBar(image, bottom));
  EXPECT_EQ(without_bottom.height, 7);
  EXPECT_EQ(without_bottom.width, 4);
  EXPECT_FLOAT_EQ(without_bottom.at(6, 0), 0.6f);
  EXPECT_EQ(without_bottom.source_bit_depth, 16);

  DataBar top{true, 0, 2};
  ASSERT_OK_AND_ASSIGN(const Image without_top, RemoveDataBar(image, top));
  EXPECT_EQ(without_top.height, 7);
  EXPECT_FLOAT_EQ(without_top.at(0, 0), 0.3f);

  ASSERT_OK_AND_ASSIGN(const Image same, RemoveDataBar(image, DataBar{}));
  EXPECT_EQ(same.pixels, image.pixels);

  for (const DataBar& bad : {DataBar{true, 3, 5}, DataBar{true, 0, 9}, DataBar{true, 8, 12},
                             DataBar{true, -1, 2}, DataBar{true, 9, 7}}) {
    EXPECT_EQ(RemoveDataBar(image, bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad.top_row << ".." << bad.bottom_row;
  }
}

}  // namespace
}  // namespace matalign::imaging
