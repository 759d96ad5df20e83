// The recommend target file: every field, and every error a user can make, by message.
#include "client/target.h"

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace matalign::client {
namespace {

using ::matalign::testing::TempDir;

TEST(TargetTest, ParsesEveryField) {
  ASSERT_OK_AND_ASSIGN(v1::RecommendRequest r, ParseTarget(R"({
    "properties": {"band_gap_ev": 2.1, "formation_energy": -1},
    "composition": {"Ba": 1, "Ti": 1, "O": 3},
    "filters": {"exclude_elements": ["Pb", "Cd"], "require_elements": ["Ti"],
                "routes": ["sol-gel"], "material_classes": ["crystalline", "nano"]},
    "k": 5})",
                                                           "t.json"));
  EXPECT_EQ(r.target().properties().at("band_gap_ev"), 2.1);
  EXPECT_EQ(r.target().properties().at("formation_energy"), -1.0);
  EXPECT_EQ(r.target().composition().at("O"), 3.0);
  EXPECT_EQ(r.target().composition().size(), 3u);
  EXPECT_TRUE(r.target().formula().empty());
  ASSERT_EQ(r.filter().excluded_elements_size(), 2);
  EXPECT_EQ(r.filter().excluded_elements(1), "Cd");
  EXPECT_EQ(r.filter().required_elements(0), "Ti");
  EXPECT_EQ(r.filter().routes(0), "sol-gel");
  EXPECT_EQ(r.filter().material_classes(1), "nano");
  EXPECT_EQ(r.k(), 5u);
}

TEST(TargetTest, StringCompositionIsAFormula) {
  ASSERT_OK_AND_ASSIGN(v1::RecommendRequest r,
                       ParseTarget(R"({"composition": "BaTiO3"})", "t.json"));
  EXPECT_EQ(r.target().formula(), "BaTiO3");
  EXPECT_TRUE(r.target().composition().empty());
  EXPECT_TRUE(r.target().properties().empty());
  EXPECT_EQ(r.k(), 0u);  // the server's default
  EXPECT_FALSE(r.has_filter());
}

TEST(TargetTest, PropertiesAloneAreEnough) {
  ASSERT_OK_AND_ASSIGN(v1::RecommendRequest r,
                       ParseTarget(R"({"properties": {"band_gap_ev": 3}, "k": 10.0})", "t"));
  EXPECT_EQ(r.target().properties().at("band_gap_ev"), 3.0);
  EXPECT_EQ(r.k(), 10u);
}

struct ErrorCase {
  const char* name;
  const char* json;
  const char* message;  // the whole message after "t.json: "
};

class TargetErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(TargetErrorTest, IsInvalidArgumentWithMessage) {
  const ErrorCase& c = GetParam();
  auto r = ParseTarget(c.json, "t.json");
  ASSERT_FALSE(r.ok()) << c.name;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), std::string("t.json: ") + c.message) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, TargetErrorTest,
    ::testing::Values(
        ErrorCase{"UnknownTopLevelKey", R"({"properties": {"a": 1}, "kk": 3})",
                  "unknown key 'kk' (allowed: properties, composition, filters, k)"},
        ErrorCase{"UnknownFilterKey", R"({"composition": "TiO2", "filters": {"route": []}})",
                  "filters: unknown key 'route' (allowed: exclude_elements, require_elements, "
                  "routes, material_classes)"},
        ErrorCase{"NotAnObject", R"([1, 2])", "expected a JSON object, got array"},
        ErrorCase{"NeitherPropertiesNorComposition", R"({"k": 3})",
                  "give at least one of 'properties' (non-empty) or 'composition'"},
        ErrorCase{"EmptyProperties", R"({"properties": {}})",
                  "give at least one of 'properties' (non-empty) or 'composition'"},
        ErrorCase{"PropertiesNotObject", R"({"properties": [2.1]})",
                  "properties: expected an object of name: number, got array"},
        ErrorCase{"PropertyNotNumber", R"({"properties": {"band_gap_ev": "2.1"}})",
                  "properties.band_gap_ev: expected a number, got string"},
        ErrorCase{"CompositionWrongType", R"({"composition": 3})",
                  "composition: expected a formula string or an object of element: amount, "
                  "got number"},
        ErrorCase{"CompositionEmptyString", R"({"composition": ""})",
                  "composition: must not be empty"},
        ErrorCase{"CompositionAmountNotNumber", R"({"composition": {"Ba": "one"}})",
                  "composition.Ba: expected a number, got string"},
        ErrorCase{"CompositionAmountZero", R"({"composition": {"Ba": 0}})",
                  "composition.Ba: amount must be > 0, got 0"},
        ErrorCase{"FiltersNotObject", R"({"composition": "TiO2", "filters": ["Pb"]})",
                  "filters: expected an object, got array"},
        ErrorCase{"FilterNotList", R"({"composition": "TiO2", "filters": {"routes": "x"}})",
                  "filters.routes: expected a list of strings, got string"},
        ErrorCase{"FilterItemNotString",
                  R"({"composition": "TiO2", "filters": {"exclude_elements": ["Pb", 82]}})",
                  "filters.exclude_elements[1]: expected a string, got number"},
        ErrorCase{"KNotInteger", R"({"composition": "TiO2", "k": 2.5})",
                  "k: expected an integer, got number"},
        ErrorCase{"KString", R"({"composition": "TiO2", "k": "10"})",
                  "k: expected an integer, got string"},
        ErrorCase{"KZero", R"({"composition": "TiO2", "k": 0})", "k: must be in 1..1024, got 0"},
        ErrorCase{"KTooLarge", R"({"composition": "TiO2", "k": 5000})",
                  "k: must be in 1..1024, got 5000"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST(TargetTest, InvalidJsonNamesTheFile) {
  auto r = ParseTarget("{\"properties\": ", "t.json");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(r.status().message(), "t.json: invalid JSON")) << r.status();
}

TEST(TargetTest, NumberOverflowIsInvalid) {
  auto r = ParseTarget(R"({"properties": {"a": 1e999}})", "t.json");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
}

TEST(TargetTest, ReadsAFile) {
  TempDir dir;
  const std::string path = dir.Join("target.json");
  std::ofstream(path) << R"({"composition": "SrTiO3", "k": 3})";
  ASSERT_OK_AND_ASSIGN(v1::RecommendRequest r, ReadTargetFile(path));
  EXPECT_EQ(r.target().formula(), "SrTiO3");
  EXPECT_EQ(r.k(), 3u);

  auto missing = ReadTargetFile(dir.Join("nope.json"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "nope.json"));

  std::ofstream(path, std::ios::trunc) << R"({"bogus": 1})";
  auto bad = ReadTargetFile(path);
  EXPECT_TRUE(absl::StartsWith(bad.status().message(), path + ": unknown key 'bogus'"))
      << bad.status();
}

}  // namespace
}  // namespace matalign::client
