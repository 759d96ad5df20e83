#include "eval/plot.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"
#include "pugixml.hpp"
#include "tests/test_util.h"

namespace matalign::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Non-overlapping occurrences of `needle` in `haystack`.
int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// The SVG parsed as XML (fails the test if it is not well-formed), and the text of every
// <text> element in document order.
std::vector<std::string> Texts(const std::string& svg) {
  pugi::xml_document doc;
  const pugi::xml_parse_result parsed = doc.load_string(svg.c_str());
  EXPECT_TRUE(parsed) << parsed.description();
  EXPECT_STREQ(doc.document_element().name(), "svg");
  EXPECT_STREQ(doc.document_element().attribute("width").value(), "800");
  EXPECT_STREQ(doc.document_element().attribute("height").value(), "500");
  std::vector<std::string> texts;
  for (const pugi::xpath_node& node : doc.select_nodes("//text")) {
    texts.push_back(node.node().child_value());
  }
  return texts;
}

bool Contains(const std::vector<std::string>& texts, const std::string& s) {
  return std::find(texts.begin(), texts.end(), s) != texts.end();
}

ScatterPlot SixPoints() {
  ScatterPlot p;
  p.title = "Embedding <A&B>";
  p.x_label = "PC 1";
  p.y_label = "PC 2";
  p.x = {0, 1, 2, kNaN, 8, 10};
  p.y = {0, 5, 2, 1, 3, 1};
  p.group = {"oxide", "nitride", "oxide", "oxide", "alloy & co", "nitride"};
  return p;
}

TEST(ScatterSvgTest, TitleLegendAndOneCirclePerFinitePoint) {
  const std::string svg = RenderSvg(SixPoints());
  // 5 finite points + 3 legend markers.
  EXPECT_EQ(Count(svg, "<circle"), 8);
  EXPECT_EQ(Count(svg, "<rect"), 1);  // the background
  const std::vector<std::string> texts = Texts(svg);
  EXPECT_TRUE(Contains(texts, "Embedding <A&B>"));
  EXPECT_TRUE(Contains(texts, "PC 1"));
  EXPECT_TRUE(Contains(texts, "PC 2"));
  EXPECT_TRUE(Contains(texts, "oxide"));
  EXPECT_TRUE(Contains(texts, "nitride"));
  EXPECT_TRUE(Contains(texts, "alloy & co"));
  // Legend in order of first appearance.
  const auto oxide = std::find(texts.begin(), texts.end(), "oxide");
  const auto nitride = std::find(texts.begin(), texts.end(), "nitride");
  const auto alloy = std::find(texts.begin(), texts.end(), "alloy & co");
  EXPECT_LT(oxide, nitride);
  EXPECT_LT(nitride, alloy);
  // x spans 0..10 (plus a margin): nice ticks every 2.
  for (const char* tick : {"0", "2", "4", "6", "8", "10"}) {
    EXPECT_TRUE(Contains(texts, tick)) << tick;
  }
  EXPECT_FALSE(Contains(texts, "12"));
}

TEST(ScatterSvgTest, EscapesMarkup) {
  const std::string svg = RenderSvg(SixPoints());
  EXPECT_TRUE(absl::StrContains(svg, "Embedding &lt;A&amp;B&gt;"));
  EXPECT_TRUE(absl::StrContains(svg, "alloy &amp; co"));
  EXPECT_FALSE(absl::StrContains(svg, "<A&B>"));
  EXPECT_FALSE(absl::StrContains(svg, "alloy & co"));
}

TEST(ScatterSvgTest, UngroupedHasNoLegendAndPointsUseOneColour) {
  ScatterPlot p;
  p.x = {1, 2, 3};
  p.y = {3, 1, 2};
  const std::string svg = RenderSvg(p);
  EXPECT_EQ(Count(svg, "<circle"), 3);
  EXPECT_EQ(Count(svg, "fill=\"#1f77b4\""), 3);
}

TEST(ScatterSvgTest, GroupsBeyondThePaletteReuseColours) {
  ScatterPlot p;
  for (int i = 0; i < 13; ++i) {
    p.x.push_back(i);
    p.y.push_back(i);
    p.group.push_back("g" + std::to_string(i));
  }
  const std::string svg = RenderSvg(p);
  // Group 0 and group 12 share the first colour: 2 points + 2 legend markers.
  EXPECT_EQ(Count(svg, "<circle cx"), 26);
  EXPECT_EQ(Count(svg, "fill=\"#1f77b4\""), 4);
}

TEST(LineSvgTest, NonFiniteValuesBreakTheLine) {
  LinePlot p;
  p.title = "loss";
  p.series.push_back({"train", {0, 1, 2, 3, 4, 5}, {1, 0.8, 0.6, kNaN, 0.4, 0.3}});
  // An isolated point between two breaks is drawn as a dot.
  p.series.push_back(
      {"val", {0, 1, 2, 3}, {0.9, kNaN, 0.7, std::numeric_limits<double>::infinity()}});
  const std::string svg = RenderSvg(p);
  EXPECT_EQ(Count(svg, "<polyline"), 2);  // train: 0..2 and 4..5
  EXPECT_EQ(Count(svg, "<circle"), 2);    // val: the points at x = 0 and x = 2
  const std::vector<std::string> texts = Texts(svg);
  EXPECT_TRUE(Contains(texts, "loss"));
  EXPECT_TRUE(Contains(texts, "train"));
  EXPECT_TRUE(Contains(texts, "val"));
}

TEST(LineSvgTest, LogAxisSkipsNonPositiveValuesAndTicksDecades) {
  LinePlot p;
  p.log_y = true;
  p.series.push_back({"", {0, 1, 2, 3, 4}, {1000, 10, 0, 1, 0.01}});
  const std::string svg = RenderSvg(p);
  EXPECT_EQ(Count(svg, "<polyline"), 2);  // 1000, 10 | 0 (skipped) | 1, 0.01
  const std::vector<std::string> texts = Texts(svg);
  for (const char* tick : {"0.01", "0.1", "1", "10", "100", "1000"}) {
    EXPECT_TRUE(Contains(texts, tick)) << tick;
  }
  EXPECT_FALSE(Contains(texts, "0.001"));
}

TEST(BarSvgTest, OneRectPerFiniteValueWithLabels) {
  BarPlot p;
  p.title = "R@10 by modality";
  p.y_label = "recall";
  p.categories = {"struct", "text", "image"};
  p.series.push_back({"ours", {0.12345, 0.5, 0.75}});
  p.series.push_back({"baseline", {0.1, kNaN, 0.25}});
  const std::string svg = RenderSvg(p);
  // Background + 5 bars + 2 legend swatches.
  EXPECT_EQ(Count(svg, "<rect"), 8);
  const std::vector<std::string> texts = Texts(svg);
  for (const char* s : {"R@10 by modality", "recall", "struct", "text", "image", "ours", "baseline",
                        "0.123", "0.5", "0.75", "0.1", "0.25"}) {
    EXPECT_TRUE(Contains(texts, s)) << s;
  }
}

TEST(BarSvgTest, NegativeValuesGrowDownFromZero) {
  BarPlot p;
  p.categories = {"a", "b"};
  p.series.push_back({"", {-2, 3}});
  const std::string svg = RenderSvg(p);
  EXPECT_EQ(Count(svg, "<rect"), 3);  // no legend for one unnamed series
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(svg.c_str()));
  std::vector<pugi::xml_node> bars;
  for (const pugi::xpath_node& n : doc.select_nodes("//rect")) bars.push_back(n.node());
  ASSERT_EQ(bars.size(), 3u);
  // The bars share the zero line: a's top edge and b's bottom edge.
  const double a_top = bars[1].attribute("y").as_double();
  const double b_bottom =
      bars[2].attribute("y").as_double() + bars[2].attribute("height").as_double();
  EXPECT_NEAR(a_top, b_bottom, 0.11);
  // Heights in proportion 2 : 3.
  EXPECT_NEAR(bars[1].attribute("height").as_double() / bars[2].attribute("height").as_double(),
              2.0 / 3, 0.01);
}

// ---- WritePlot ----------------------------------------------------------------------------

void ExpectPng800x500(const std::string& path) {
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  const cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty()) << path;
  EXPECT_EQ(image.cols, 800);
  EXPECT_EQ(image.rows, 500);
  // Not blank: something darker than white was drawn.
  double min_value = 255;
  cv::minMaxLoc(image.reshape(1), &min_value);
  EXPECT_LT(min_value, 128);
}

TEST(WritePlotTest, WritesSvgAndDecodablePng) {
  testing::TempDir dir;
  const std::string stem = dir.Join("sub/embedding_by_class");
  ASSERT_OK(WritePlot(SixPoints(), stem));
  ExpectPng800x500(stem + ".png");
  ASSERT_TRUE(std::filesystem::exists(stem + ".svg"));
  EXPECT_GT(std::filesystem::file_size(stem + ".svg"), 0u);

  LinePlot line;
  line.title = "loss";
  line.y_label = "value";
  line.log_y = true;
  line.series.push_back({"train", {0, 1, 2}, {1, 0.5, 0.25}});
  ASSERT_OK(WritePlot(line, dir.Join("loss")));
  ExpectPng800x500(dir.Join("loss.png"));

  BarPlot bars;
  bars.categories = {"a", "b"};
  bars.series.push_back({"s", {1, 2}});
  ASSERT_OK(WritePlot(bars, dir.Join("bars")));
  ExpectPng800x500(dir.Join("bars.png"));
}

TEST(WritePlotTest, PngDrawsTheScatterColours) {
  // One big group of points at one spot: the PNG must contain the palette's first colour
  // (BGR 180, 119, 31) somewhere.
  testing::TempDir dir;
  ScatterPlot p;
  p.x = {0, 1};
  p.y = {0, 1};
  ASSERT_OK(WritePlot(p, dir.Join("s")));
  const cv::Mat image = cv::imread(dir.Join("s.png"), cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty());
  cv::Mat mask;
  cv::inRange(image, cv::Scalar(180, 119, 31), cv::Scalar(180, 119, 31), mask);
  EXPECT_GT(cv::countNonZero(mask), 0);
}

TEST(WritePlotTest, RejectsMismatchedLengths) {
  testing::TempDir dir;
  ScatterPlot scatter = SixPoints();
  scatter.y.pop_back();
  EXPECT_EQ(WritePlot(scatter, dir.Join("a")).code(), absl::StatusCode::kInvalidArgument);
  scatter = SixPoints();
  scatter.group.pop_back();
  EXPECT_EQ(WritePlot(scatter, dir.Join("a")).code(), absl::StatusCode::kInvalidArgument);

  LinePlot line;
  line.series.push_back({"a", {0, 1, 2}, {1, 2}});
  EXPECT_EQ(WritePlot(line, dir.Join("b")).code(), absl::StatusCode::kInvalidArgument);

  BarPlot bars;
  bars.categories = {"x", "y"};
  bars.series.push_back({"a", {1}});
  EXPECT_EQ(WritePlot(bars, dir.Join("c")).code(), absl::StatusCode::kInvalidArgument);

  EXPECT_FALSE(std::filesystem::exists(dir.Join("a.svg")));
  EXPECT_FALSE(std::filesystem::exists(dir.Join("a.png")));
}

TEST(WritePlotTest, RejectsPlotsWithoutAFinitePoint) {
  testing::TempDir dir;
  ScatterPlot scatter;
  scatter.x = {kNaN, 1};
  scatter.y = {1, std::numeric_limits<double>::infinity()};
  EXPECT_EQ(WritePlot(scatter, dir.Join("a")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WritePlot(ScatterPlot{}, dir.Join("a")).code(), absl::StatusCode::kInvalidArgument);

  LinePlot line;
  line.log_y = true;
  line.series.push_back({"a", {0, 1}, {0, -1}});  // nothing positive on a log axis
  EXPECT_EQ(WritePlot(line, dir.Join("b")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WritePlot(LinePlot{}, dir.Join("b")).code(), absl::StatusCode::kInvalidArgument);

  BarPlot bars;
  bars.categories = {"x"};
  bars.series.push_back({"a", {kNaN}});
  EXPECT_EQ(WritePlot(bars, dir.Join("c")).code(), absl::StatusCode::kInvalidArgument);
}

TEST(WritePlotTest, UnwritablePathIsInternalAndNamed) {
  testing::TempDir dir;
  // A regular file where a directory is needed.
  ASSERT_OK(WritePlot(SixPoints(), dir.Join("file")));
  const absl::Status status = WritePlot(SixPoints(), dir.Join("file.svg/plot"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(status.message(), "file.svg/plot")) << status;
}

}  // namespace
}  // namespace matalign::eval
