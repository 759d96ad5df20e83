// The report helpers shared by eval, ablate and bench-real.
#include "train/report.h"

#include <filesystem>

#include "common/file.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace matalign::train {
namespace {

using ::matalign::testing::TempDir;

TEST(ReportTest, FiguresAreFormattedForTables) {
  EXPECT_EQ(FormatFigure(nullptr), "n/a");
  EXPECT_EQ(FormatFigure(42), "42");
  EXPECT_EQ(FormatFigure(0.123456), "0.123");
  EXPECT_EQ(FormatFigure(123.456), "123.5");
  EXPECT_EQ(FormatFigure(1.5e-5), "1.50e-05");
  EXPECT_EQ(FormatFigure(0.0), "0.000");
  EXPECT_EQ(FormatFigure("cpu"), "cpu");
}

TEST(ReportTest, MarkdownTableEscapesPipes) {
  EXPECT_EQ(MarkdownTable({"a", "b"}, {{"1", "x|y"}}), "| a | b |\n|---|---|\n| 1 | x\\|y |\n");
}

TEST(ReportTest, EvalMarkdownHasATablePerSection) {
  nlohmann::json r = {
      {"data", {{"split", "test"}, {"materials", 10}}},
      {"regression",
       {{"band_gap_ev",
         {{"n", 10}, {"mae", 0.5}, {"rmse", 0.7}, {"pearson", 0.9}, {"spearman", nullptr}}}}},
      {"defect",
       {{"n", 3},
        {"classes", {"none", "crack"}},
        {"accuracy", 2.0 / 3},
        {"precision_macro", 0.75},
        {"recall_macro", 0.75},
        {"f1_macro", 0.667},
        {"roc_auc_ovr", 1.0},
        {"per_class_f1", {0.667, 0.667}},
        {"confusion", {{1, 1}, {0, 1}}}}}};
  const std::string md = EvalReportMarkdown(r);
  EXPECT_NE(md.find("| band_gap_ev | 10 | 0.500 | 0.700 | 0.900 | n/a |"), std::string::npos) << md;
  EXPECT_NE(md.find("| none | 1 | 1 | 0.667 |"), std::string::npos) << md;
  EXPECT_EQ(md.find("## Synthesis recommendation"), std::string::npos);
}

TEST(ReportTest, WriteReportFilesCreatesTheDirectory) {
  TempDir dir;
  const std::string out = dir.Join("a/b");
  ASSERT_OK(WriteReportFiles({{"x", 1}}, "# t\n", out));
  ASSERT_OK_AND_ASSIGN(std::string json, ReadFile(out + "/report.json"));
  EXPECT_EQ(nlohmann::json::parse(json)["x"], 1);
  ASSERT_OK_AND_ASSIGN(std::string md, ReadFile(out + "/report.md"));
  EXPECT_EQ(md, "# t\n");
}

}  // namespace
}  // namespace matalign::train
