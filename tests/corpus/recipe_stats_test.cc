#include "corpus/recipe_stats.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/file.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace matalign::corpus {
namespace {

using ::matalign::testing::TempDir;

// The derived statistics of the real recipes, computed once for the suite (~2 s).
class RealRecipeStatsTest : public ::testing::Test {
 protected:
  static const RecipeStats* stats() { return stats_; }
  static void SetUpTestSuite() {
    auto dir = RealDataDir();
    if (!dir) return;
    auto s = DeriveRecipeStats(*dir + "/recipes/solid_state_recipes.jsonl.xz",
                               *dir + "/recipes/sol_gel_recipes.json.xz");
    if (s.ok())
      stats_ = new RecipeStats(*std::move(s));
    else
      status_ = new absl::Status(s.status());
  }
  static void TearDownTestSuite() {
    delete stats_;
    stats_ = nullptr;
    delete status_;
    status_ = nullptr;
  }
  void SetUp() override {
    MATALIGN_REAL_DATA_OR_SKIP(ss, "recipes/solid_state_recipes.jsonl.xz");
    MATALIGN_REAL_DATA_OR_SKIP(sg, "recipes/sol_gel_recipes.json.xz");
    ASSERT_TRUE(stats_ != nullptr) << (status_ ? status_->ToString() : "not derived");
  }

 private:
  static inline RecipeStats* stats_ = nullptr;
  static inline absl::Status* status_ = nullptr;
};

TEST_F(RealRecipeStatsTest, SolidStateQuantilesAreSane) {
  const RouteStats* ss = stats()->Find("solid-state");
  ASSERT_NE(ss, nullptr);
  EXPECT_EQ(ss->source, "derived");
  EXPECT_GT(ss->num_recipes, 20000);
  EXPECT_GT(ss->num_heated, 10000);
  const double median = ss->max_temperature_c[2];
  EXPECT_GE(median, 800);
  EXPECT_LE(median, 1300);
  for (std::size_t i = 1; i < ss->max_temperature_c.size(); ++i) {
    EXPECT_LE(ss->max_temperature_c[i - 1], ss->max_temperature_c[i]);
    EXPECT_LE(ss->time_h[i - 1], ss->time_h[i]);
  }
  EXPECT_GT(ss->time_h[2], 0.5);
  EXPECT_LT(ss->time_h[2], 100);
  double steps = 0;
  for (const auto& [n, f] : ss->heating_steps) steps += f;
  EXPECT_NEAR(steps, 1.0, 1e-3);
  EXPECT_GT(ss->atmospheres.at("air"), 0.2);
  ASSERT_FALSE(ss->operation_sequences.empty());
  EXPECT_TRUE(absl::StrContains(ss->operation_sequences[0].first, "heat"));
}

TEST_F(RealRecipeStatsTest, BariumCarbonateIsTheTopSolidStatePrecursor) {
  const RouteStats* ss = stats()->Find("solid-state");
  ASSERT_NE(ss, nullptr);
  ASSERT_TRUE(ss->precursors.count("Ba"));
  const std::vector<PrecursorFrequency>& ba = ss->precursors.at("Ba");
  ASSERT_FALSE(ba.empty());
  EXPECT_EQ(ba[0].formula, "BaCO3");
  EXPECT_GT(ba[0].frequency, 0.5);
  EXPECT_EQ(ba[0].elements, std::vector<std::string>{"Ba"});
  EXPECT_LE(ba.size(), 6u);
  for (const auto& [el, list] : ss->precursors) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      EXPECT_GE(list[i].frequency, 0.01) << el;
      if (i > 0) {
        EXPECT_LE(list[i].frequency, list[i - 1].frequency) << el;
      }
    }
  }
  // No precursor table for O/H/C/N.
  EXPECT_EQ(ss->precursors.count("O"), 0u);
  EXPECT_EQ(ss->precursors.count("C"), 0u);
}

TEST_F(RealRecipeStatsTest, SolGelIsDerivedAndOtherRoutesAreAssumed) {
  const RouteStats* sg = stats()->Find("sol-gel");
  ASSERT_NE(sg, nullptr);
  EXPECT_EQ(sg->source, "derived");
  EXPECT_GT(sg->num_recipes, 5000);
  // Sol-gel precursors are mostly nitrates: Fe -> Fe(NO3)3·9H2O.
  ASSERT_TRUE(sg->precursors.count("Fe"));
  EXPECT_TRUE(absl::StrContains(sg->precursors.at("Fe")[0].formula, "NO3"));
  for (const std::string& route : KnownRoutes()) {
    const RouteStats* r = stats()->Find(route);
    ASSERT_NE(r, nullptr) << route;
    if (route != "solid-state" && route != "sol-gel") {
      EXPECT_EQ(r->source, "assumed") << route;
      EXPECT_EQ(r->num_recipes, 0) << route;
    }
  }
}

TEST_F(RealRecipeStatsTest, JsonRoundTripOfRealStats) {
  TempDir tmp;
  const std::string path = tmp.Join("stats.json");
  ASSERT_OK(WriteRecipeStats(*stats(), path));
  ASSERT_OK_AND_ASSIGN(RecipeStats back, LoadRecipeStats(path));
  EXPECT_EQ(RecipeStatsToJson(back), RecipeStatsToJson(*stats()));
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFile(path));
  EXPECT_LT(text.size(), 100u * 1024);  // a data file of a few tens of KB
}

RecipeStats SmallStats() {
  RecipeStats s;
  RouteStats& r = s.routes["solid-state"];
  r.source = "derived";
  r.num_recipes = 10;
  r.num_heated = 8;
  r.max_temperature_c = {700, 900, 1000, 1200, 1400};
  r.time_h = {1, 4, 10, 12, 48};
  r.heating_steps = {{1, 0.5}, {2, 0.5}};
  r.atmospheres = {{"", 0.25}, {"air", 0.75}};
  r.operation_sequences = {{"mix>heat", 0.6}, {"mix>heat>grind>heat", 0.4}};
  r.precursors["Ba"] = {{"BaCO3", 0.8, 8, {"Ba"}}, {"Ba(NO3)2", 0.2, 2, {"Ba"}}};
  r.precursors["Ti"] = {{"TiO2", 1.0, 10, {"Ti"}}};
  AddAssumedRoutes(s);
  return s;
}

TEST(RecipeStatsTest, JsonRoundTrip) {
  const RecipeStats s = SmallStats();
  const std::string json = RecipeStatsToJson(s);
  ASSERT_OK_AND_ASSIGN(RecipeStats back, RecipeStatsFromJson(json, "mem"));
  EXPECT_EQ(RecipeStatsToJson(back), json);
  const RouteStats* r = back.Find("solid-state");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->max_temperature_c, s.routes.at("solid-state").max_temperature_c);
  EXPECT_EQ(r->precursors.at("Ba")[1].formula, "Ba(NO3)2");
  EXPECT_EQ(r->operation_sequences[1].first, "mix>heat>grind>heat");
  EXPECT_EQ(back.routes.size(), KnownRoutes().size());
  EXPECT_EQ(back.Find("hydrothermal")->source, "assumed");
}

TEST(RecipeStatsTest, AddAssumedRoutesKeepsDerivedOnes) {
  const RecipeStats s = SmallStats();
  EXPECT_EQ(s.routes.at("solid-state").source, "derived");
  EXPECT_EQ(s.routes.at("solid-state").max_temperature_c[0], 700);
  EXPECT_EQ(s.routes.at("sol-gel").source, "assumed");
}

TEST(RecipeStatsTest, LoadRejectsBadFiles) {
  TempDir tmp;
  struct Case {
    const char* name;
    std::string text;
    const char* expect;
  };
  std::string good = RecipeStatsToJson(SmallStats());
  auto replace = [&good](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    if (pos != std::string::npos) s.replace(pos, from.size(), to);
    return s;
  };
  const std::vector<Case> cases = {
      {"notjson.json", "{not json", "malformed JSON"},
      {"format.json", replace("matalign-recipe-stats/1", "other/2"), "format"},
      {"decreasing.json", replace("\"p25\":900.0", "\"p25\":600.0"), "quantiles decrease"},
      {"freq.json", replace("\"air\":0.75", "\"air\":1.75"), "outside [0, 1]"},
      {"source.json", replace("\"source\": \"derived\"", "\"source\": \"guessed\""), "source"},
      {"element.json",
       replace(absl::StrContains(good, "\"Ti\":[") ? "\"Ti\":[" : "\"Ti\": [", "\"Xx\":["),
       "not an element symbol"},
  };
  for (const Case& c : cases) {
    const std::string path = tmp.Join(c.name);
    ASSERT_OK(WriteFileAtomic(path, c.text));
    auto s = LoadRecipeStats(path);
    ASSERT_FALSE(s.ok()) << c.name;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_TRUE(absl::StrContains(s.status().message(), path)) << s.status();
    EXPECT_TRUE(absl::StrContains(s.status().message(), c.expect)) << s.status();
  }
  EXPECT_EQ(LoadRecipeStats(tmp.Join("missing.json")).status().code(), absl::StatusCode::kNotFound);
}

TEST(RecipeStatsTest, DeriveRejectsMalformedRecipeFiles) {
  TempDir tmp;
  const std::string ss = tmp.Join("ss.jsonl");
  const std::string sg = tmp.Join("sg.json");
  ASSERT_OK(WriteFileAtomic(
      ss,
      "{\"precursors\": [{\"material_formula\": \"BaCO3\", \"composition\": [{\"elements\": "
      "{\"Ba\": \"1\", \"C\": \"1\", \"O\": \"3\"}}]}], \"operations\": [{\"type\": "
      "\"HeatingOperation\", \"conditions\": {\"heating_temperature\": [{\"values\": "
      "[1173], \"units\": \"K\"}], \"heating_time\": [{\"values\": [120], \"units\": "
      "\"min\"}], \"heating_atmosphere\": [\"air\"]}}]}\n\nnot json\n"));
  ASSERT_OK(WriteFileAtomic(sg, "{\"reactions\": []}"));
  auto s = DeriveRecipeStats(ss, sg);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.status().message(), ss + ":3")) << s.status();

  // A valid pair: K and min are converted.
  ASSERT_OK(WriteFileAtomic(ss, ReadFile(ss).value().substr(0, ReadFile(ss).value().find('\n'))));
  EXPECT_FALSE(DeriveRecipeStats(ss, sg).ok());  // no reactions
  ASSERT_OK(WriteFileAtomic(
      sg, "{\"reactions\": [{\"synthesis_type\": \"sol-gel\", \"operations\": null}]}"));
  ASSERT_OK_AND_ASSIGN(RecipeStats stats, DeriveRecipeStats(ss, sg));
  const RouteStats* r = stats.Find("solid-state");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->num_recipes, 1);
  EXPECT_NEAR(r->max_temperature_c[2], 900, 1);
  EXPECT_NEAR(r->time_h[2], 2.0, 1e-9);
  EXPECT_DOUBLE_EQ(r->atmospheres.at("air"), 1.0);
  EXPECT_EQ(stats.Find("sol-gel")->num_recipes, 1);
  EXPECT_EQ(DeriveRecipeStats(tmp.Join("nope.jsonl"), sg).status().code(),
            absl::StatusCode::kNotFound);
  // min_element_count = 5 by default: one BaCO3 use is too few for a table.
  EXPECT_EQ(r->precursors.count("Ba"), 0u);
  RecipeStatsOptions options;
  options.min_element_count = 1;
  ASSERT_OK_AND_ASSIGN(RecipeStats stats1, DeriveRecipeStats(ss, sg, options));
  EXPECT_EQ(stats1.Find("solid-state")->precursors.at("Ba")[0].formula, "BaCO3");
}

TEST(RecipeStatsTest, SampleQuantilesFollowsTheDistribution) {
  const Quantiles q = {100, 200, 300, 400, 500};
  Rng rng(7);
  std::vector<double> xs;
  for (int i = 0; i < 20000; ++i) xs.push_back(SampleQuantiles(q, rng));
  std::sort(xs.begin(), xs.end());
  EXPECT_NEAR(xs[xs.size() / 2], 300, 10);
  EXPECT_NEAR(xs[xs.size() / 4], 200, 10);
  EXPECT_NEAR(xs[xs.size() * 95 / 100], 500, 10);
  EXPECT_GE(xs.front(), 50);
  EXPECT_LE(xs.back(), 550);
  Rng a(3), b(3);
  EXPECT_EQ(SampleQuantiles(q, a), SampleQuantiles(q, b));
}

}  // namespace
}  // namespace matalign::corpus
