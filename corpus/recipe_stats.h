// Statistics of real laboratory practice, derived from the text-mined synthesis recipes
// (recipes/solid_state_recipes.jsonl.xz and recipes/sol_gel_recipes.json.xz), that drive
// the synthetic synthesis texts (corpus/synthesis_text.h): per route the distribution of
// the maximum heating temperature and its duration, the number of heating steps, the
// atmospheres and the most common operation sequences; per element the precursor compounds
// that supply it. Routes the real data does not cover are added with typical literature
// ranges and marked source = "assumed" (see AddAssumedRoutes).
//
// The table is stored as JSON (data/recipe_stats.json, written by
// scripts/derive-recipe-stats.sh through `mmdata recipe-stats`).
#ifndef MATALIGN_CORPUS_RECIPE_STATS_H_
#define MATALIGN_CORPUS_RECIPE_STATS_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "corpus/rng.h"

namespace matalign::corpus {

// The quantile levels stored for every distribution: 5, 25, 50, 75, 95 %.
inline constexpr std::array<double, 5> kQuantileLevels = {0.05, 0.25, 0.50, 0.75, 0.95};

// Values at kQuantileLevels, non-decreasing.
using Quantiles = std::array<double, 5>;

// One precursor compound that supplies an element.
struct PrecursorFrequency {
  std::string formula;  // as written in the recipes, e.g. "BaCO3", "Mn(CH3COO)2·4H2O"
  // Share of the element's precursor uses that are this compound, in (0, 1].
  double frequency = 0;
  int64_t count = 0;  // number of uses
  // The elements of the compound other than O, H, C, N (sorted), e.g. {"Ba"}; the
  // generator uses a compound only when the target contains all of them.
  std::vector<std::string> elements;
};

// Statistics of one synthesis route.
struct RouteStats {
  // "derived" (counted from the real recipes) or "assumed" (typical literature ranges).
  std::string source;
  int64_t num_recipes = 0;  // recipes read for this route (0 when assumed)
  // Recipes with at least one heating step with a temperature (the sample of the two
  // distributions below).
  int64_t num_heated = 0;
  // Maximum heating temperature over the heating steps of a recipe, degrees Celsius.
  Quantiles max_temperature_c{};
  // Duration of the step with the maximum temperature, hours (recipes that state it).
  Quantiles time_h{};
  // Number of heating steps -> share of recipes (keys >= 1; heated recipes only).
  std::map<int, double> heating_steps;
  // Atmosphere of the heating steps -> share of heated recipes. Normalized names: "air",
  // "O2", "N2", "Ar", "H2", "Ar/H2", "CO", "CO2", "vacuum"; "" = not stated.
  std::map<std::string, double> atmospheres;
  // Most common operation sequences, e.g. "mix>heat>grind>heat" -> share of recipes,
  // in decreasing share. Steps: mix, grind, dry, shape, heat, quench.
  std::vector<std::pair<std::string, double>> operation_sequences;
  // Element symbol -> precursors supplying it, in decreasing frequency (the top
  // RecipeStatsOptions::max_precursors_per_element with frequency >= min_frequency).
  std::map<std::string, std::vector<PrecursorFrequency>> precursors;
};

struct RecipeStats {
  // Route name ("solid-state", "sol-gel", "hydrothermal", ...) -> statistics.
  std::map<std::string, RouteStats> routes;
  // Returns the route's statistics, or nullptr if the table has none.
  const RouteStats* Find(absl::string_view route) const;
};

struct RecipeStatsOptions {
  // Precursors kept per element and route.
  // Default: 6.
  int max_precursors_per_element = 6;
  // Smallest share of an element's precursor uses that is kept.
  // Default: 0.01.
  double min_precursor_frequency = 0.01;
  // Elements supplied fewer times than this in a route get no precursor list there.
  // Default: 5.
  int min_element_count = 5;
  // Operation sequences kept per route.
  // Default: 12.
  int max_operation_sequences = 12;
  // Largest decompressed size read from a recipe file (decompression-bomb guard).
  // Default: 1 GiB.
  uint64_t max_decompressed_bytes = uint64_t{1} << 30;

  absl::Status Validate() const;
};

// Reads both recipe files (plain or xz-compressed, detected from the content) and derives
// the statistics: "solid-state" from `solid_state_path` (JSON Lines), one route per
// "synthesis_type" of `sol_gel_path` ({"reactions": [...]}), then AddAssumedRoutes.
// Temperatures in K are converted to C, times in min/d to h; a heating step's value is the
// largest of its "values" (or "max_value" when "values" is empty). Records that lack a
// field are counted without it; a record that is not an object, or a file that is not
// JSON, is InvalidArgument naming the file and line / record index. NotFound if a file is
// missing.
absl::StatusOr<RecipeStats> DeriveRecipeStats(const std::string& solid_state_path,
                                              const std::string& sol_gel_path,
                                              const RecipeStatsOptions& options = {});

// Adds every route of KnownRoutes() that `stats` lacks with typical literature ranges
// (source "assumed", counts 0, no precursor lists: the generator builds the precursors of
// these routes from rules, see synthesis_text.h). Existing routes are left alone.
void AddAssumedRoutes(RecipeStats& stats);

// The routes the generator knows: solid-state, sol-gel, hydrothermal, co-precipitation,
// ball-milling, melt-quench, colloidal, cvd.
const std::vector<std::string>& KnownRoutes();

// Writes `stats` as JSON (format "matalign-recipe-stats/1") to `path`, atomically.
absl::Status WriteRecipeStats(const RecipeStats& stats, const std::string& path);
// Serializes / parses the JSON text of WriteRecipeStats. `source` names the text in errors.
std::string RecipeStatsToJson(const RecipeStats& stats);
absl::StatusOr<RecipeStats> RecipeStatsFromJson(absl::string_view json, absl::string_view source);

// Reads a file written by WriteRecipeStats. Errors: NotFound; InvalidArgument "<path>: ..."
// for malformed JSON, a wrong format tag, a missing or mistyped field, quantiles that
// decrease, or frequencies outside [0, 1].
absl::StatusOr<RecipeStats> LoadRecipeStats(const std::string& path);

// Draws a value from the distribution given by its quantiles: the inverse CDF through the
// points (level, value), linear between them; each outer 5 % tail is spread linearly over
// half the width of the adjacent 20 % band (the result is clamped at >= 0). Uses one draw
// of `rng`.
double SampleQuantiles(const Quantiles& q, Rng& rng);

}  // namespace matalign::corpus

#endif  // MATALIGN_CORPUS_RECIPE_STATS_H_
