// Synthetic synthesis protocols: a route chosen from the material class and composition,
// precursors and heating schedule drawn from the statistics of real recipes
// (corpus/recipe_stats.h), and the protocol written as prose in many phrasings, so that a
// model cannot read the numbers off by position.
//
// Deterministic: the output depends only on the arguments and the state of `rng` (no
// global state); the helpers of corpus/rng.h are used instead of std:: distributions.
#ifndef MATALIGN_CORPUS_SYNTHESIS_TEXT_H_
#define MATALIGN_CORPUS_SYNTHESIS_TEXT_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "corpus/recipe_stats.h"
#include "corpus/record.h"
#include "corpus/rng.h"

namespace matalign::corpus {

// Chooses a synthesis route for a material (one of KnownRoutes()):
//  - crystalline with oxygen: solid-state 0.50, sol-gel 0.25, co-precipitation 0.15,
//    hydrothermal 0.10;
//  - crystalline without oxygen (chalcogenides, halides, intermetallics): solid-state 0.75,
//    hydrothermal 0.15 (solvothermal), ball-milling 0.10;
//  - amorphous with oxygen (oxide glasses): melt-quench 0.6, sol-gel 0.4; amorphous without
//    oxygen (metallic / chalcogenide glasses): melt-quench;
//  - nano: colloidal 0.35, hydrothermal 0.30, ball-milling 0.20, cvd 0.15.
// Uses one draw of `rng`.
std::string ChooseRoute(MaterialClass material_class,
                        const std::map<std::string, double>& composition, Rng& rng);

// Writes a composition as a formula, cations first (by increasing electronegativity):
// {Ba:1, Ti:1, O:3} -> "BaTiO3", {La:0.5, Sr:0.5, Mn:1, O:3} -> "Sr0.5La0.5MnO3".
std::string CompositionFormula(const std::map<std::string, double>& composition);

// Generates a synthesis protocol for `composition` (element symbol -> amount per formula
// unit) by `route` (one of KnownRoutes()) and returns it with its text and structured
// fields (route, precursors, temperatures_c, times_h, atmosphere; doi empty).
//
// Precursors: one compound per element other than O, H, C, N (a compound can supply
// several; those elements get a gas precursor only when nothing else is in the target),
// drawn with the frequencies of the route's precursor table when the route is derived:
// solid-state uses the solid-state table (carbonates, oxides), sol-gel the sol-gel table
// (nitrates, acetates, alkoxides); hydrothermal, co-precipitation and colloidal use the
// soluble salts (nitrates, chlorides, acetates, sulfates) of both tables, else a nitrate or
// chloride built from the element's usual valence; melt-quench and ball-milling use the
// solid-state table when the target contains oxygen and the elements otherwise; cvd uses
// the elements (C as CH4, Si as SiH4, N as NH3, O as O2).
// Schedule: 1-3 heating steps (the route's step-count distribution, 3 = "3 or more"); the
// maximum temperature and its duration are drawn from the route's quantiles, earlier
// steps at 50-85 % of it (melt-quench: an optional anneal at 300-550 C after the melt).
// The text states every precursor, every heating temperature (in C or K) and duration
// (h, min or days; digits or words), and the atmosphere when there is one; sentence
// templates, synonyms, voice, unit styles and the order of independent steps vary.
//
// Errors: InvalidArgument for an empty composition, an unknown element symbol, an amount
// that is not finite and > 0, a route not in KnownRoutes(), or a route missing from
// `stats`.
absl::StatusOr<SynthesisRecipe> GenerateSynthesis(const std::map<std::string, double>& composition,
                                                  absl::string_view route, const RecipeStats& stats,
                                                  Rng& rng);

}  // namespace matalign::corpus

#endif  // MATALIGN_CORPUS_SYNTHESIS_TEXT_H_
