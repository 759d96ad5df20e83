#include "corpus/synthesis_text.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "corpus/recipe_stats.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace matalign::corpus {
namespace {

using Composition = std::map<std::string, double>;

const Composition kBaTiO3 = {{"Ba", 1}, {"Ti", 1}, {"O", 3}};

// Hermetic statistics: a small derived-looking solid-state table plus the assumed routes.
RecipeStats TestStats() {
  RecipeStats s;
  RouteStats& r = s.routes["solid-state"];
  r.source = "derived";
  r.max_temperature_c = {600, 900, 1100, 1300, 1550};
  r.time_h = {1, 3, 6, 16, 48};
  r.heating_steps = {{1, 0.38}, {2, 0.4}, {3, 0.16}, {4, 0.06}};
  r.atmospheres = {{"", 0.47}, {"air", 0.42}, {"O2", 0.03}, {"Ar", 0.03}, {"H2", 0.05}};
  r.precursors["Ba"] = {{"BaCO3", 0.82, 82, {"Ba"}},
                        {"Ba(NO3)2", 0.03, 3, {"Ba"}},
                        {"BaTiO3", 0.02, 2, {"Ba", "Ti"}}};
  r.precursors["Ti"] = {{"TiO2", 0.95, 95, {"Ti"}}};
  r.precursors["Sr"] = {{"SrCO3", 0.9, 90, {"Sr"}}};
  RouteStats& g = s.routes["sol-gel"];
  g.source = "derived";
  g.max_temperature_c = {300, 650, 850, 1100, 1400};
  g.time_h = {1, 3, 5, 10, 24};
  g.heating_steps = {{1, 0.27}, {2, 0.35}, {3, 0.38}};
  g.atmospheres = {{"", 0.5}, {"air", 0.5}};
  g.precursors["Ba"] = {{"Ba(NO3)2", 0.5, 50, {"Ba"}}, {"Ba(CH3COO)2", 0.1, 10, {"Ba"}}};
  g.precursors["Fe"] = {{"Fe(NO3)3·9H2O", 0.53, 53, {"Fe"}}, {"FeCl3", 0.1, 10, {"Fe"}}};
  AddAssumedRoutes(s);
  return s;
}

// ---- parsing numbers back from the text ----

std::vector<double> ParseTemperaturesC(const std::string& text) {
  static const std::regex kTemp(
      R"(((?:\d{1,3}(?:,\d{3})+)|\d+(?:\.\d+)?)\s?(°\s?C|oC|degC|℃|K)(?![A-Za-z/]))");
  std::vector<double> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kTemp);
       it != std::sregex_iterator(); ++it) {
    std::string digits = (*it)[1].str();
    digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());
    double v = std::stod(digits);
    if ((*it)[2].str() == "K") v -= 273.15;
    out.push_back(v);
  }
  return out;
}

// Position (in words) of the first temperature, -1 if none.
int FirstTemperatureWord(const std::string& text) {
  static const std::regex kTemp(R"(\d[\d,.]*\s?(°\s?C|oC|degC|℃|K)(?![A-Za-z/]))");
  std::smatch m;
  if (!std::regex_search(text, m, kTemp)) return -1;
  const std::string before = text.substr(0, static_cast<std::size_t>(m.position(0)));
  return static_cast<int>(
      std::vector<std::string>(absl::StrSplit(before, ' ', absl::SkipEmpty())).size());
}

std::vector<double> ParseTimesH(const std::string& text) {
  static const std::regex kTime(
      R"((\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s(hours|hour|hrs|hr|h|minutes|mins|min|days|day)\b)",
      std::regex::ECMAScript | std::regex::icase);
  static const std::map<std::string, double> kWords = {
      {"one", 1},   {"two", 2},   {"three", 3}, {"four", 4}, {"five", 5},    {"six", 6},
      {"seven", 7}, {"eight", 8}, {"nine", 9},  {"ten", 10}, {"eleven", 11}, {"twelve", 12}};
  std::vector<double> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kTime);
       it != std::sregex_iterator(); ++it) {
    std::string n = (*it)[1].str();
    for (char& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    double v = kWords.count(n) ? kWords.at(n) : std::stod(n);
    const std::string unit = (*it)[2].str();
    if (absl::StartsWith(unit, "min")) v /= 60;
    if (absl::StartsWith(unit, "day")) v *= 24;
    out.push_back(v);
  }
  return out;
}

bool Contains(const std::vector<double>& values, double x, double tol) {
  for (double v : values) {
    if (std::abs(v - x) <= tol) return true;
  }
  return false;
}

bool MentionsAtmosphere(const std::string& text, const std::string& atm) {
  static const std::map<std::string, std::vector<std::string>> kWords = {
      {"air", {"air", "ambient"}}, {"O2", {"O2", "oxygen"}},   {"N2", {"N2", "nitrogen"}},
      {"Ar", {"Ar", "argon"}},     {"H2", {"H2", "hydrogen"}}, {"Ar/H2", {"Ar/H2"}}};
  auto it = kWords.find(atm);
  if (it == kWords.end()) return absl::StrContains(text, atm);
  for (const std::string& w : it->second) {
    if (absl::StrContains(text, w)) return true;
  }
  return false;
}

// Checks that the structured fields agree with the text.
void ExpectConsistent(const SynthesisRecipe& r, absl::string_view route) {
  SCOPED_TRACE(r.text);
  EXPECT_EQ(r.route, route);
  ASSERT_FALSE(r.text.empty());
  ASSERT_FALSE(r.precursors.empty());
  ASSERT_GE(r.temperatures_c.size(), 1u);
  ASSERT_LE(r.temperatures_c.size(), 3u);
  ASSERT_EQ(r.temperatures_c.size(), r.times_h.size());
  for (const std::string& p : r.precursors) {
    EXPECT_TRUE(absl::StrContains(r.text, p)) << "precursor " << p;
  }
  const std::vector<double> temps = ParseTemperaturesC(r.text);
  for (double t : r.temperatures_c) {
    EXPECT_GT(t, 0);
    EXPECT_TRUE(Contains(temps, t, 1.0)) << "temperature " << t << " C";
  }
  const std::vector<double> times = ParseTimesH(r.text);
  for (double h : r.times_h) {
    EXPECT_GT(h, 0);
    EXPECT_TRUE(Contains(times, h, 1e-3)) << "time " << h << " h";
  }
  if (!r.atmosphere.empty()) {
    EXPECT_TRUE(MentionsAtmosphere(r.text, r.atmosphere)) << "atmosphere " << r.atmosphere;
  }
}

TEST(SynthesisTextTest, SameSeedSameRecipe) {
  const RecipeStats stats = TestStats();
  for (const std::string& route : KnownRoutes()) {
    Rng a(42), b(42);
    ASSERT_OK_AND_ASSIGN(SynthesisRecipe ra, GenerateSynthesis(kBaTiO3, route, stats, a));
    ASSERT_OK_AND_ASSIGN(SynthesisRecipe rb, GenerateSynthesis(kBaTiO3, route, stats, b));
    EXPECT_EQ(ra.text, rb.text);
    EXPECT_EQ(ra.precursors, rb.precursors);
    EXPECT_EQ(ra.temperatures_c, rb.temperatures_c);
    EXPECT_EQ(ra.times_h, rb.times_h);
    EXPECT_EQ(ra.atmosphere, rb.atmosphere);
    EXPECT_EQ(a(), b());  // the same number of draws
  }
  Rng c(43), d(44);
  EXPECT_NE(GenerateSynthesis(kBaTiO3, "solid-state", stats, c)->text,
            GenerateSynthesis(kBaTiO3, "solid-state", stats, d)->text);
}

TEST(SynthesisTextTest, SampleTextIsConsistent) {
  const RecipeStats stats = TestStats();
  Rng rng(1);
  ASSERT_OK_AND_ASSIGN(SynthesisRecipe r, GenerateSynthesis(kBaTiO3, "solid-state", stats, rng));
  std::cout << "sample: " << r.text << "\n";
  ExpectConsistent(r, "solid-state");
}

TEST(SynthesisTextTest, EveryRouteGeneratesConsistentRecipes) {
  const RecipeStats stats = TestStats();
  const std::vector<Composition> compositions = {
      kBaTiO3,
      {{"Fe", 2}, {"O", 3}},
      {{"La", 0.5}, {"Sr", 0.5}, {"Mn", 1}, {"O", 3}},
      {{"Cd", 1}, {"Se", 1}},
      {{"Zr", 0.6}, {"Cu", 0.3}, {"Al", 0.1}},
      {{"Li", 1}, {"Fe", 1}, {"P", 1}, {"O", 4}},
      {{"Si", 1}, {"O", 2}},
      {{"C", 1}},
  };
  for (const std::string& route : KnownRoutes()) {
    for (std::size_t c = 0; c < compositions.size(); ++c) {
      for (uint64_t seed = 0; seed < 25; ++seed) {
        Rng rng = StreamFor(seed, c, 7);
        ASSERT_OK_AND_ASSIGN(SynthesisRecipe r,
                             GenerateSynthesis(compositions[c], route, stats, rng));
        ExpectConsistent(r, route);
        if (HasFatalFailure() || HasFailure()) return;
      }
    }
  }
}

TEST(SynthesisTextTest, PrecursorsFollowTheStatistics) {
  const RecipeStats stats = TestStats();
  std::map<std::string, int> counts;
  for (uint64_t i = 0; i < 400; ++i) {
    Rng rng = StreamFor(5, i, 1);
    ASSERT_OK_AND_ASSIGN(SynthesisRecipe r, GenerateSynthesis(kBaTiO3, "solid-state", stats, rng));
    for (const std::string& p : r.precursors) ++counts[p];
    // Every cation supplied; no second Ti source when BaTiO3 is chosen.
    bool ba = false, ti = false;
    for (const std::string& p : r.precursors) {
      ba = ba || absl::StrContains(p, "Ba");
      ti = ti || absl::StrContains(p, "Ti");
    }
    EXPECT_TRUE(ba && ti) << absl::StrJoin(r.precursors, ", ");
  }
  EXPECT_GT(counts["BaCO3"], 250);  // ~0.82 * 0.95 of 400
  EXPECT_GT(counts["TiO2"], 300);
  // Sol-gel draws nitrates; hydrothermal only soluble salts.
  Rng rng(9);
  ASSERT_OK_AND_ASSIGN(SynthesisRecipe h,
                       GenerateSynthesis({{"Fe", 2}, {"O", 3}}, "hydrothermal", stats, rng));
  ASSERT_EQ(h.precursors.size(), 1u);
  EXPECT_TRUE(absl::StrContains(h.precursors[0], "NO3") || absl::StrContains(h.precursors[0], "Cl"))
      << h.precursors[0];
  ASSERT_OK_AND_ASSIGN(SynthesisRecipe m, GenerateSynthesis({{"Zr", 0.6}, {"Cu", 0.3}, {"Al", 0.1}},
                                                            "melt-quench", stats, rng));
  EXPECT_EQ(m.precursors, (std::vector<std::string>{"Al", "Cu", "Zr"}));
}

TEST(SynthesisTextTest, TemperaturesFollowTheRouteQuantiles) {
  const RecipeStats stats = TestStats();
  std::vector<double> maxima;
  for (uint64_t i = 0; i < 500; ++i) {
    Rng rng = StreamFor(11, i, 2);
    ASSERT_OK_AND_ASSIGN(SynthesisRecipe r, GenerateSynthesis(kBaTiO3, "solid-state", stats, rng));
    maxima.push_back(*std::max_element(r.temperatures_c.begin(), r.temperatures_c.end()));
    // The last step is the hottest for solid-state (pre-calcination first).
    EXPECT_EQ(r.temperatures_c.back(), maxima.back());
  }
  std::sort(maxima.begin(), maxima.end());
  EXPECT_NEAR(maxima[250], 1100, 60);
  EXPECT_GE(maxima.front(), 300);
  EXPECT_LE(maxima.back(), 1700);
}

TEST(SynthesisTextTest, PhrasingIsDiverse) {
  const RecipeStats stats = TestStats();
  for (const std::string& route : {std::string("solid-state"), std::string("sol-gel")}) {
    std::set<std::string> prefixes;
    std::set<std::string> texts;
    std::map<int, int> first_temp_positions;
    for (uint64_t i = 0; i < 200; ++i) {
      Rng rng = StreamFor(3, i, 4);
      ASSERT_OK_AND_ASSIGN(SynthesisRecipe r, GenerateSynthesis(kBaTiO3, route, stats, rng));
      std::vector<std::string> words = absl::StrSplit(r.text, ' ', absl::SkipEmpty());
      words.resize(std::min<std::size_t>(words.size(), 5));
      prefixes.insert(absl::StrJoin(words, " "));
      texts.insert(r.text);
      ++first_temp_positions[FirstTemperatureWord(r.text)];
    }
    std::cout << route << ": distinct texts " << texts.size() << "/200, distinct 5-word prefixes "
              << prefixes.size() << ", distinct first-temperature word positions "
              << first_temp_positions.size() << "\n";
    EXPECT_EQ(texts.size(), 200u);
    EXPECT_GT(prefixes.size(), 30u) << route;
    EXPECT_GT(first_temp_positions.size(), 15u) << route;
    int most = 0;
    for (const auto& [pos, n] : first_temp_positions) most = std::max(most, n);
    EXPECT_LT(most, 40) << "the first temperature sits at one position too often";
  }
}

TEST(SynthesisTextTest, RejectsBadInput) {
  const RecipeStats stats = TestStats();
  Rng rng(1);
  auto s = GenerateSynthesis({{"Ba", 1}, {"Xx", 1}, {"O", 2}}, "solid-state", stats, rng);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.status().message(), "Xx")) << s.status();
  EXPECT_EQ(GenerateSynthesis({{"ba", 1}}, "solid-state", stats, rng).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateSynthesis({}, "solid-state", stats, rng).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateSynthesis({{"Ba", -1}}, "solid-state", stats, rng).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateSynthesis({{"Ba", NAN}}, "solid-state", stats, rng).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto bad_route = GenerateSynthesis(kBaTiO3, "alchemy", stats, rng);
  EXPECT_EQ(bad_route.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad_route.status().message(), "alchemy"));
  RecipeStats empty;
  EXPECT_EQ(GenerateSynthesis(kBaTiO3, "solid-state", empty, rng).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SynthesisTextTest, ChooseRouteFollowsTheRules) {
  const Composition metallic = {{"Zr", 0.6}, {"Cu", 0.4}};
  std::map<std::string, int> crystalline_oxide, nano;
  for (uint64_t i = 0; i < 1000; ++i) {
    Rng rng = StreamFor(1, i, 3);
    ++crystalline_oxide[ChooseRoute(MaterialClass::kCrystalline, kBaTiO3, rng)];
    ++nano[ChooseRoute(MaterialClass::kNano, kBaTiO3, rng)];
    EXPECT_EQ(ChooseRoute(MaterialClass::kAmorphous, metallic, rng), "melt-quench");
    const std::string glass = ChooseRoute(MaterialClass::kAmorphous, {{"Si", 1}, {"O", 2}}, rng);
    EXPECT_TRUE(glass == "melt-quench" || glass == "sol-gel") << glass;
  }
  EXPECT_EQ(crystalline_oxide.size(), 4u);
  EXPECT_GT(crystalline_oxide["solid-state"], 400);
  EXPECT_EQ(crystalline_oxide.count("colloidal"), 0u);
  EXPECT_EQ(nano.size(), 4u);
  EXPECT_EQ(nano.count("solid-state"), 0u);
}

TEST(SynthesisTextTest, CompositionFormula) {
  EXPECT_EQ(CompositionFormula(kBaTiO3), "BaTiO3");
  EXPECT_EQ(CompositionFormula({{"La", 0.5}, {"Sr", 0.5}, {"Mn", 1}, {"O", 3}}), "Sr0.5La0.5MnO3");
}

TEST(SynthesisTextTest, RealStatisticsDriveTheGenerator) {
  MATALIGN_REAL_DATA_OR_SKIP(ss, "recipes/solid_state_recipes.jsonl.xz");
  MATALIGN_REAL_DATA_OR_SKIP(sg, "recipes/sol_gel_recipes.json.xz");
  ASSERT_OK_AND_ASSIGN(RecipeStats stats, DeriveRecipeStats(ss, sg));
  const std::vector<Composition> compositions = {kBaTiO3,
                                                 {{"Li", 1}, {"Co", 1}, {"O", 2}},
                                                 {{"Y", 3}, {"Al", 5}, {"O", 12}},
                                                 {{"Bi", 1}, {"Fe", 1}, {"O", 3}},
                                                 {{"Cd", 1}, {"S", 1}}};
  int ba_carbonate = 0;
  for (const std::string& route : KnownRoutes()) {
    for (std::size_t c = 0; c < compositions.size(); ++c) {
      for (uint64_t seed = 0; seed < 20; ++seed) {
        Rng rng = StreamFor(seed, c, 9);
        ASSERT_OK_AND_ASSIGN(SynthesisRecipe r,
                             GenerateSynthesis(compositions[c], route, stats, rng));
        ExpectConsistent(r, route);
        if (HasFailure()) return;
        if (route == "solid-state" && c == 0) {
          ba_carbonate += std::count(r.precursors.begin(), r.precursors.end(), "BaCO3");
        }
      }
    }
  }
  EXPECT_GE(ba_carbonate, 12);  // ~0.78 of 20
}

}  // namespace
}  // namespace matalign::corpus
