#include "corpus/synthesis_text.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "materials/element.h"

namespace matalign::corpus {
namespace {

// ---- random helpers (only corpus/rng.h primitives: portable and deterministic) ----

bool Chance(Rng& rng, double p) { return Uniform01(rng) < p; }

const char* Pick(Rng& rng, std::initializer_list<const char*> options) {
  return *(options.begin() + UniformIndex(rng, options.size()));
}

template <typename T>
void Shuffle(std::vector<T>& v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[UniformIndex(rng, i)]);
}

// Draws a key of `weights` (in map order) with probability proportional to its weight;
// `fallback` when the weights sum to 0.
template <typename K>
K Draw(const std::map<K, double>& weights, Rng& rng, K fallback) {
  double total = 0;
  for (const auto& [k, w] : weights) total += std::max(0.0, w);
  if (total <= 0) return fallback;
  double u = Uniform01(rng) * total;
  for (const auto& [k, w] : weights) {
    u -= std::max(0.0, w);
    if (u < 0) return k;
  }
  return weights.rbegin()->first;
}

std::string Capitalize(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// ---- chemistry helpers ----

bool IsOhcn(const std::string& el) { return el == "O" || el == "H" || el == "C" || el == "N"; }

// Usual oxidation state of a cation for building salt formulas.
int Valence(const std::string& el) {
  static const std::map<std::string, int>* const kOverrides = new std::map<std::string, int>{
      {"Fe", 3}, {"Cr", 3}, {"Ag", 1}, {"Au", 3}, {"Pt", 4}, {"Pd", 2}, {"Tl", 1}, {"Pb", 2},
      {"Sn", 4}, {"Ce", 3}, {"V", 3},  {"Mo", 5}, {"W", 6},  {"Nb", 5}, {"Ta", 5}, {"Ru", 3},
      {"Rh", 3}, {"Ir", 3}, {"Cu", 2}, {"Mn", 2}, {"Co", 2}, {"Ni", 2}, {"Bi", 3}, {"Sb", 3},
      {"Ga", 3}, {"In", 3}, {"Ge", 4}, {"Si", 4}, {"Ti", 4}, {"Zr", 4}, {"Hf", 4}, {"Th", 4},
      {"U", 4},  {"B", 3},  {"Al", 3}, {"Sc", 3}, {"Y", 3},  {"Zn", 2}, {"Cd", 2}, {"Hg", 2}};
  if (auto it = kOverrides->find(el); it != kOverrides->end()) return it->second;
  const materials::ElementInfo* info = materials::ElementBySymbol(el);
  if (info == nullptr) return 2;
  if (info->group == 1) return 1;
  if (info->group == 2) return 2;
  if (info->group == 3 || info->group == 13) return 3;
  return 2;
}

std::string WithCount(const std::string& group, int n, bool parenthesize) {
  if (n == 1) return group;
  return parenthesize ? absl::StrCat("(", group, ")", n) : absl::StrCat(group, n);
}

std::string Nitrate(const std::string& el) {
  return absl::StrCat(el, WithCount("NO3", Valence(el), true));
}
std::string Chloride(const std::string& el) {
  return absl::StrCat(el, WithCount("Cl", Valence(el), false));
}
std::string Acetate(const std::string& el) {
  return absl::StrCat(el, WithCount("CH3COO", Valence(el), true));
}
std::string Oxide(const std::string& el) {
  const int v = Valence(el);
  if (v % 2 == 0) return absl::StrCat(el, v == 2 ? "O" : absl::StrCat("O", v / 2));
  return absl::StrCat(el, "2O", v == 1 ? "" : std::to_string(v));
}

// Anions and metalloids whose precursors are not a salt of the element.
std::string AnionPrecursor(const std::string& el, absl::string_view route, Rng& rng) {
  const bool wet = route == "hydrothermal" || route == "co-precipitation" || route == "sol-gel" ||
                   route == "colloidal";
  if (el == "S") return wet ? Pick(rng, {"Na2S·9H2O", "CH4N2S", "S"}) : "S";
  if (el == "Se") return wet ? Pick(rng, {"Na2SeO3", "Se"}) : "Se";
  if (el == "Te") return wet ? Pick(rng, {"Na2TeO3", "Te"}) : "Te";
  if (el == "F") return Pick(rng, {"NH4F", "NaF"});
  if (el == "Cl") return Pick(rng, {"NH4Cl", "NaCl"});
  if (el == "Br") return "KBr";
  if (el == "I") return "KI";
  if (el == "P") return Pick(rng, {"NH4H2PO4", "(NH4)2HPO4"});
  if (el == "Si") return wet ? "Si(OC2H5)4" : "SiO2";
  if (el == "B") return "H3BO3";
  if (el == "As") return wet ? "Na2HAsO4" : "As";
  return "";
}

bool IsSolubleSalt(const std::string& formula) {
  for (const char* anion : {"NO3", "Cl", "CH3COO", "C2H3O2", "SO4", "acac"}) {
    if (formula.find(anion) != std::string::npos) return true;
  }
  return false;
}

// A table entry of `route`'s statistics usable for `el` in a target with `elements`.
struct Candidate {
  std::string formula;
  double weight;
  std::vector<std::string> elements;
};

void AddCandidates(const RecipeStats& stats, absl::string_view route, const std::string& el,
                   const std::set<std::string>& elements, bool soluble_only,
                   std::vector<Candidate>& out) {
  const RouteStats* r = stats.Find(route);
  if (r == nullptr) return;
  auto it = r->precursors.find(el);
  if (it == r->precursors.end()) return;
  for (const PrecursorFrequency& p : it->second) {
    bool fits = true;
    for (const std::string& e : p.elements) fits = fits && elements.count(e) > 0;
    if (!fits || (soluble_only && !IsSolubleSalt(p.formula))) continue;
    out.push_back({p.formula, p.frequency, p.elements});
  }
}

// Chooses the precursors of `composition` for `route` (see the header).
std::vector<std::string> ChoosePrecursors(const std::map<std::string, double>& composition,
                                          const std::string& route, const RecipeStats& stats,
                                          Rng& rng) {
  std::set<std::string> elements;
  for (const auto& [el, amount] : composition) elements.insert(el);
  const bool has_oxygen = elements.count("O") > 0;
  bool only_ohcn = true;
  for (const std::string& el : elements) only_ohcn = only_ohcn && IsOhcn(el);

  std::vector<std::string> out;
  auto add = [&out](const std::string& f) {
    if (!f.empty() && std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
  };
  if (only_ohcn) {
    static const std::map<std::string, std::string>* const kGas =
        new std::map<std::string, std::string>{
            {"C", "CH4"}, {"N", "NH3"}, {"O", "O2"}, {"H", "H2"}};
    for (const std::string& el : elements) add(kGas->at(el));
    return out;
  }
  std::set<std::string> covered;
  for (const std::string& el : elements) {
    if (IsOhcn(el) || covered.count(el) > 0) continue;
    std::vector<Candidate> candidates;
    std::string fallback;
    const bool elemental =
        route == "cvd" || ((route == "melt-quench" || route == "ball-milling") && !has_oxygen);
    if (elemental) {
      if (route == "cvd" && el == "Si") {
        fallback = "SiH4";
      } else {
        fallback = el;
      }
    } else if (route == "solid-state" || route == "melt-quench" || route == "ball-milling") {
      AddCandidates(stats, "solid-state", el, elements, false, candidates);
      fallback = AnionPrecursor(el, route, rng);
      if (fallback.empty()) fallback = Oxide(el);
    } else if (route == "sol-gel") {
      AddCandidates(stats, "sol-gel", el, elements, false, candidates);
      fallback = AnionPrecursor(el, route, rng);
      if (fallback.empty()) fallback = Nitrate(el);
    } else {  // hydrothermal, co-precipitation, colloidal
      AddCandidates(stats, "sol-gel", el, elements, true, candidates);
      AddCandidates(stats, "solid-state", el, elements, true, candidates);
      fallback = AnionPrecursor(el, route, rng);
      if (fallback.empty()) {
        if (route == "colloidal") {
          fallback = Chance(rng, 0.5) ? Acetate(el) : Chloride(el);
        } else {
          fallback = Chance(rng, 0.5) ? Nitrate(el) : Chloride(el);
        }
      }
    }
    // A small chance of the rule-based compound keeps rare choices in the corpus.
    if (candidates.empty() || Chance(rng, 0.05)) {
      add(fallback);
      covered.insert(el);
      continue;
    }
    std::map<std::size_t, double> weights;
    for (std::size_t i = 0; i < candidates.size(); ++i) weights[i] = candidates[i].weight;
    const Candidate& c = candidates[Draw<std::size_t>(weights, rng, 0)];
    add(c.formula);
    for (const std::string& e : c.elements) covered.insert(e);
  }
  if (route == "cvd" && has_oxygen) add("O2");
  if (route == "cvd" && elements.count("N") > 0) add("NH3");
  if (route == "cvd" && elements.count("C") > 0) add("CH4");
  return out;
}

// ---- number and unit formatting ----

// Formats x with at most `decimals` decimals, without trailing zeros.
std::string Num(double x, int decimals) {
  std::string s = absl::StrFormat("%.*f", decimals, x);
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  return s;
}

// "1,100" or "1100" for integers >= 1000.
std::string WithThousands(const std::string& digits, Rng& rng) {
  if (digits.size() == 4 && digits.find('.') == std::string::npos && Chance(rng, 0.2)) {
    return absl::StrCat(digits.substr(0, 1), ",", digits.substr(1));
  }
  return digits;
}

// One text's unit conventions, fixed for the whole text (authors are consistent).
struct UnitStyle {
  const char* celsius;  // "°C", " °C", "oC", " degC", "℃"
  bool space_before_c;
  bool kelvin;           // temperatures written in K
  int hour_style;        // 0 "h", 1 "hrs", 2 "hours", 3 "hr"
  bool words_for_small;  // "two hours"
  bool decimal_zero;     // "900.0 °C"
};

UnitStyle ChooseUnitStyle(Rng& rng) {
  UnitStyle s;
  s.celsius = Pick(rng, {"°C", "°C", "°C", "oC", "degC", "℃", "° C"});
  s.space_before_c = Chance(rng, 0.6);
  s.kelvin = Chance(rng, 0.12);
  s.hour_style = static_cast<int>(UniformIndex(rng, 4));
  s.words_for_small = Chance(rng, 0.25);
  s.decimal_zero = Chance(rng, 0.05);
  return s;
}

std::string Temperature(double t_c, const UnitStyle& s, Rng& rng) {
  if (s.kelvin) {
    return absl::StrCat(WithThousands(Num(std::round(t_c + 273.15), 0), rng), " K");
  }
  std::string digits = Num(t_c, 0);
  if (s.decimal_zero) digits += ".0";
  return absl::StrCat(WithThousands(digits, rng), s.space_before_c ? " " : "", s.celsius);
}

// Temperature unit for rates, "°C/min" in the text's style.
std::string RateUnit(const UnitStyle& s) {
  return absl::StrCat(s.kelvin ? "K" : s.celsius, "/min");
}

const char* NumberWord(int n) {
  static const char* const kWords[] = {"zero",  "one",   "two",  "three", "four",   "five",  "six",
                                       "seven", "eight", "nine", "ten",   "eleven", "twelve"};
  return (n >= 0 && n <= 12) ? kWords[n] : nullptr;
}

std::string Duration(double hours, const UnitStyle& s, Rng& rng) {
  const double minutes = hours * 60;
  if (hours < 1.5 && std::abs(minutes - std::round(minutes)) < 1e-6 &&
      (hours < 1 || Chance(rng, 0.5))) {
    const int m = static_cast<int>(std::round(minutes));
    return absl::StrCat(m, " ", Pick(rng, {"min", "min", "minutes", "mins"}));
  }
  if (hours >= 24 && std::fmod(hours, 24) == 0 && Chance(rng, 0.4)) {
    const int d = static_cast<int>(hours / 24);
    const char* w = s.words_for_small ? NumberWord(d) : nullptr;
    return absl::StrCat(w ? w : std::to_string(d).c_str(), d == 1 ? " day" : " days");
  }
  std::string number = Num(hours, 2);
  const bool integer = std::fmod(hours, 1) == 0;
  if (integer && s.words_for_small && hours <= 12) number = NumberWord(static_cast<int>(hours));
  static const char* const kUnits[] = {"h", "hrs", "hours", "hr"};
  const char* unit = kUnits[s.hour_style];
  if (hours == 1 && (s.hour_style == 2 || s.hour_style == 1)) unit = "hour";
  return absl::StrCat(number, " ", unit);
}

// ---- the schedule ----

struct Step {
  double t_c;
  double hours;
};

double RoundTemperature(double t, Rng& rng) {
  const double unit = t >= 400 ? (Chance(rng, 0.6) ? 50 : 10) : (Chance(rng, 0.5) ? 10 : 5);
  return std::max(unit, std::round(t / unit) * unit);
}

double RoundHours(double h, Rng& rng) {
  if (h < 1) return std::max(5.0, std::round(h * 60 / 5) * 5) / 60;  // whole 5 min
  if (h < 4 && Chance(rng, 0.5)) return std::round(h * 2) / 2;
  return std::max(1.0, std::round(h));
}

std::vector<Step> ChooseSchedule(const std::string& route, const RouteStats& r, Rng& rng) {
  std::map<int, double> counts;
  for (const auto& [n, f] : r.heating_steps) counts[std::clamp(n, 1, 3)] += f;
  int n = Draw<int>(counts, rng, 1);
  if (route == "hydrothermal" || route == "colloidal" || route == "cvd") n = 1;
  const double t_max = RoundTemperature(SampleQuantiles(r.max_temperature_c, rng), rng);
  const double h_max = RoundHours(std::max(1.0 / 12, SampleQuantiles(r.time_h, rng)), rng);
  std::vector<Step> steps;
  if (route == "melt-quench") {
    steps.push_back({t_max, h_max});
    if (n >= 2) {
      steps.push_back(
          {RoundTemperature(Uniform(rng, 300, 550), rng), RoundHours(Uniform(rng, 1, 10), rng)});
    }
    return steps;
  }
  for (int i = 0; i + 1 < n; ++i) {
    double t = RoundTemperature(t_max * Uniform(rng, 0.5, 0.85), rng);
    t = std::max(150.0, std::min(t, t_max - 50));
    steps.push_back({t, RoundHours(std::max(1.0 / 12, SampleQuantiles(r.time_h, rng)), rng)});
  }
  std::sort(steps.begin(), steps.end(), [](const Step& a, const Step& b) { return a.t_c < b.t_c; });
  steps.push_back({t_max, h_max});
  return steps;
}

// ---- prose ----

std::string JoinList(const std::vector<std::string>& items, Rng& rng) {
  if (items.size() == 1) return items[0];
  const bool oxford = Chance(rng, 0.5);
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      if (i + 1 == items.size()) {
        out += (oxford && items.size() > 2) ? ", and " : " and ";
      } else {
        out += ", ";
      }
    }
    out += items[i];
  }
  return out;
}

std::string AtmospherePhrase(const std::string& atm, Rng& rng) {
  if (atm.empty()) return "";
  if (atm == "air")
    return Pick(rng, {" in air", " in static air", " under ambient atmosphere", " in flowing air",
                      " in an air atmosphere"});
  if (atm == "vacuum") return Pick(rng, {" under vacuum", " in vacuum"});
  static const std::map<std::string, std::string>* const kNames =
      new std::map<std::string, std::string>{{"O2", "oxygen"},
                                             {"N2", "nitrogen"},
                                             {"Ar", "argon"},
                                             {"H2", "hydrogen"},
                                             {"Ar/H2", "Ar/H2 (5% H2)"},
                                             {"N2/H2", "forming gas (N2/H2)"},
                                             {"CO", "CO"},
                                             {"CO2", "CO2"},
                                             {"He", "helium"},
                                             {"NH3", "ammonia"}};
  auto it = kNames->find(atm);
  const std::string name = it == kNames->end() ? atm : it->second;
  const std::string formula = atm;
  switch (UniformIndex(rng, 5)) {
    case 0:
      return absl::StrCat(" under flowing ", name);
    case 1:
      return absl::StrCat(" in ", formula, " atmosphere");
    case 2:
      return absl::StrCat(" under a ", formula, " flow");
    case 3:
      return absl::StrCat(" in a stream of ", name);
    default:
      return absl::StrCat(" under ", formula);
  }
}

struct Vocabulary {
  std::vector<const char*> verbs;  // past participles
  std::vector<const char*> nouns;
};

Vocabulary HeatingVocabulary(const std::string& route, bool final_step) {
  if (route == "solid-state") {
    return final_step
               ? Vocabulary{{"sintered", "fired", "calcined", "annealed", "heat-treated", "heated"},
                            {"sintering", "firing", "calcination", "annealing", "heat treatment"}}
               : Vocabulary{
                     {"calcined", "pre-calcined", "fired", "heated", "pre-heated", "heat-treated"},
                     {"calcination", "pre-calcination", "firing", "heat treatment"}};
  }
  if (route == "melt-quench") {
    return final_step ? Vocabulary{{"melted", "fused", "molten"}, {"melting", "fusion"}}
                      : Vocabulary{{"annealed", "heat-treated"}, {"annealing", "heat treatment"}};
  }
  return Vocabulary{{"calcined", "annealed", "heat-treated", "fired", "heated"},
                    {"calcination", "annealing", "heat treatment", "firing"}};
}

// Sentence builder state for one text.
struct Writer {
  Rng& rng;
  UnitStyle units;
  std::vector<std::string> sentences;
  // False for a writer whose first sentence is appended to an introductory clause.
  bool capitalize = true;

  void Add(std::string s) {
    if (!s.empty()) sentences.push_back(capitalize ? Capitalize(std::move(s)) : std::move(s));
  }
  std::string T(double t) { return Temperature(t, units, rng); }
  std::string D(double h) { return Duration(h, units, rng); }
};

// One heating step as a sentence; `object` is what is heated ("powder", "pellets").
std::string HeatingSentence(Writer& w, const std::string& route, const Step& step, bool final_step,
                            const std::string& object, const std::string& atmosphere, bool first) {
  Rng& rng = w.rng;
  const Vocabulary vocab = HeatingVocabulary(route, final_step);
  const std::string verb = vocab.verbs[UniformIndex(rng, vocab.verbs.size())];
  const std::string noun = vocab.nouns[UniformIndex(rng, vocab.nouns.size())];
  const std::string T = w.T(step.t_c);
  const std::string D = w.D(step.hours);
  const std::string atm = AtmospherePhrase(atmosphere, rng);
  std::string rate;
  if (Chance(rng, 0.25)) {
    const int r = static_cast<int>(1 + UniformIndex(rng, 10));
    rate = Chance(rng, 0.5) ? absl::StrCat(" with a heating rate of ", r, " ", RateUnit(w.units))
                            : absl::StrCat(" (ramp ", r, " ", RateUnit(w.units), ")");
  }
  const char* be = (!object.empty() && object.back() == 's') ? "were" : "was";
  const char* adv = first ? Pick(rng, {"", "", "first ", "initially "})
                          : Pick(rng, {"", "then ", "subsequently ", "finally ", "next "});
  switch (UniformIndex(rng, 11)) {
    case 0:
      return absl::StrCat("the ", object, " ", be, " ", adv, verb, " at ", T, " for ", D, atm, rate,
                          ".");
    case 1:
      return absl::StrCat("the ", object, " ", be, " ", adv, verb, " for ", D, " at ", T, atm, rate,
                          ".");
    case 2:
      return absl::StrCat(first ? "" : "subsequently, ", "the ", object, " ", be, " ", verb, atm,
                          " at ", T, " for ", D, ".");
    case 3:
      return absl::StrCat("we ", adv, verb, " the ", object, " at ", T, " for ", D, atm, rate, ".");
    case 4:
      return absl::StrCat(noun, " was carried out at ", T, " for ", D, atm, rate, ".");
    case 5:
      return absl::StrCat("the ", object, " ", be, " heated to ", T, rate, " and held there for ",
                          D, atm, ".");
    case 6:
      return absl::StrCat(D, " of ", noun, " at ", T, atm, " followed.");
    case 7:
      return absl::StrCat("at ", T, ", the ", object, " ", be, " ", verb, " for ", D, atm, ".");
    case 8:
      return absl::StrCat("a ", noun, " step (", T, ", ", D, atm.empty() ? "" : ",", atm,
                          ") was applied to the ", object, ".");
    case 9:
      return absl::StrCat("the ", object, " ", be, Pick(rng, {"", " then"}), " ", verb, " in a ",
                          Pick(rng, {"muffle", "tube", "box"}), " furnace at ", T, " for ", D, atm,
                          ".");
    default:
      return absl::StrCat("this was followed by ", noun, " at ", T, " for ", D, atm, rate, ".");
  }
}

std::string Purity(Rng& rng) {
  return Pick(rng,
              {"99.9%", "99.99%", "99.5%", ">99%", "99.999%", "A.R. grade", "analytical grade"});
}

void PrecursorSentences(Writer& w, const std::string& route, const std::string& target,
                        std::vector<std::string> precursors) {
  Rng& rng = w.rng;
  Shuffle(precursors, rng);
  if (Chance(rng, 0.3)) {
    for (std::string& p : precursors) p = absl::StrCat(p, " (", Purity(rng), ")");
  }
  const std::string list = JoinList(precursors, rng);
  const bool wet =
      route != "solid-state" && route != "melt-quench" && route != "ball-milling" && route != "cvd";
  std::vector<std::string> options;
  options.push_back(absl::StrCat(list, " were used as starting materials."));
  options.push_back(absl::StrCat("the starting materials were ", list, "."));
  options.push_back(absl::StrCat("stoichiometric amounts of ", list, " were weighed."));
  options.push_back(absl::StrCat("appropriate amounts of ", list,
                                 " were weighed according to the nominal composition ", target,
                                 "."));
  options.push_back(absl::StrCat("we used ", list, " as precursors."));
  options.push_back(
      absl::StrCat(list, Pick(rng, {" served as", " were chosen as", " were employed as"}), " the ",
                   Pick(rng, {"raw materials", "reagents", "precursors"}), "."));
  options.push_back(absl::StrCat(
      "the precursors, ", list, ", were ",
      Pick(rng,
           {"purchased commercially", "used without further purification", "dried before use"}),
      "."));
  if (wet) {
    options.push_back(absl::StrCat(
        list, " were dissolved in ",
        Pick(rng, {"deionized water", "distilled water", "ethanol", "a water/ethanol mixture"}),
        "."));
    options.push_back(absl::StrCat("stoichiometric quantities of ", list, " were dissolved in ",
                                   Pick(rng, {"deionized water", "distilled water"}),
                                   " under magnetic stirring."));
  } else {
    options.push_back(absl::StrCat("powders of ", list,
                                   " were mixed in the molar ratio of the target compound."));
  }
  if (precursors.size() == 1) {
    options.push_back(absl::StrCat(precursors[0], " was used as the ",
                                   Pick(rng, {"precursor", "source material", "starting material"}),
                                   "."));
  }
  w.Add(options[UniformIndex(rng, options.size())]);
  if (Chance(rng, 0.2)) {
    w.Add(
        Pick(rng, {"all chemicals were of analytical grade and used as received.",
                   "all reagents were used without further purification.",
                   "the reagents were dried at 120 °C before weighing to remove adsorbed water."}));
  }
}

std::string Intro(Rng& rng, const std::string& route, const std::string& target) {
  static const std::map<std::string, std::vector<const char*>>* const kRouteNames =
      new std::map<std::string, std::vector<const char*>>{
          {"solid-state",
           {"a conventional solid-state reaction", "the ceramic method",
            "a high-temperature solid-state route", "solid-state synthesis"}},
          {"sol-gel",
           {"a sol-gel method", "the citrate sol-gel route", "a Pechini-type sol-gel process",
            "sol-gel synthesis"}},
          {"hydrothermal",
           {"a hydrothermal method", "a one-step hydrothermal route", "hydrothermal synthesis"}},
          {"co-precipitation",
           {"a co-precipitation method", "chemical co-precipitation", "a coprecipitation route"}},
          {"ball-milling",
           {"high-energy ball milling", "mechanical alloying", "a mechanochemical route"}},
          {"melt-quench",
           {"the melt-quenching technique", "conventional melt quenching", "a melt-quench method"}},
          {"colloidal",
           {"a colloidal hot-injection method", "a heat-up colloidal synthesis",
            "wet-chemical colloidal synthesis"}},
          {"cvd",
           {"chemical vapor deposition", "a CVD process", "thermal chemical vapour deposition"}}};
  const auto& names = kRouteNames->at(route);
  const std::string how = names[UniformIndex(rng, names.size())];
  switch (UniformIndex(rng, 8)) {
    case 0:
      return absl::StrCat(target, " was synthesized by ", how, ".");
    case 1:
      return absl::StrCat(Pick(rng, {"polycrystalline", "powder", "single-phase"}), " samples of ",
                          target, " were prepared via ", how, ".");
    case 2:
      return absl::StrCat("the ", target, " sample was obtained by ", how, ".");
    case 3:
      return absl::StrCat("we prepared ", target, " using ", how, ".");
    case 4:
      return absl::StrCat(how, " was used to prepare ", target, ".");
    case 5:
      return absl::StrCat("in a typical synthesis of ", target, " by ", how, ",");  // joined below
    case 6:
      return "";
    default:
      return absl::StrCat("the ", target, " ", Pick(rng, {"compound", "powder", "material"}),
                          " was ", Pick(rng, {"made", "prepared", "synthesized"}), " through ", how,
                          ".");
  }
}

// Route-specific sentences before the heating steps; returns the name of the heated object.
std::string PreparationSentences(Writer& w, const std::string& route, bool has_oxygen) {
  Rng& rng = w.rng;
  if (route == "solid-state") {
    const std::string grind = Pick(
        rng, {"the powders were thoroughly ground in an agate mortar for 30 min.",
              "the mixture was ball-milled in ethanol for 12 h.",
              "the reagents were mixed and ground with acetone in an agate mortar.",
              "the powders were homogenized by grinding.",
              "the mixture was wet-milled with zirconia balls in isopropanol for 24 h and dried."});
    w.Add(grind);
    if (Chance(rng, 0.35)) {
      w.Add(absl::StrCat(
          "the ", Pick(rng, {"powder", "mixture"}), " was ",
          Pick(rng, {"pressed into pellets", "uniaxially pressed into discs", "pelletized"}), " ",
          Pick(rng,
               {"under 10 MPa", "at 200 MPa", "under a pressure of 5 tons", "(13 mm diameter)"}),
          "."));
      return Pick(rng, {"pellets", "pellets", "discs"});
    }
    return Pick(rng, {"mixture", "powder", "mixed powder"});
  }
  if (route == "sol-gel") {
    w.Add(Pick(
        rng,
        {"citric acid was added as a chelating agent in a 1.5:1 molar ratio to the metal ions.",
         "citric acid and ethylene glycol were added to the solution.",
         "the solution was stirred and the pH was adjusted to 7 with ammonia.",
         "a chelating agent (citric acid, 2:1 molar ratio to total cations) was added."}));
    const std::string gel =
        Pick(rng, {"the solution was heated at 80 °C under stirring until a viscous gel formed.",
                   "the sol was evaporated at 90 °C to form a gel.",
                   "a transparent gel was obtained after stirring at 70 °C for 4 h."});
    const std::string dry = Pick(rng, {"the gel was dried at 120 °C overnight.",
                                       "the wet gel was dried in an oven at 110 °C for 12 h.",
                                       "drying at 150 °C gave a xerogel."});
    w.Add(gel);
    // Grinding before or after drying: both are common.
    if (Chance(rng, 0.5)) {
      w.Add(dry);
      w.Add(Pick(rng, {"the product was ground into a fine powder.",
                       "the dried material was crushed in an agate mortar."}));
    } else {
      w.Add(Pick(rng, {"the gel was broken up and ground.", "the wet gel was crushed."}));
      w.Add(dry);
    }
    return Pick(rng, {"powder", "xerogel", "precursor powder", "dried gel"});
  }
  if (route == "hydrothermal") {
    if (Chance(rng, 0.6)) {
      w.Add(Pick(rng, {"NaOH solution was added dropwise until the pH reached 10.",
                       "urea was added as the precipitating agent.",
                       "the pH was adjusted with ammonia solution."}));
    }
    w.Add(absl::StrCat("the ", Pick(rng, {"solution", "suspension", "mixture"}),
                       " was transferred into a ", Pick(rng, {"50 mL", "100 mL", "25 mL"}),
                       " Teflon-lined stainless-steel autoclave."));
    return Pick(rng, {"autoclave", "sealed autoclave"});
  }
  if (route == "co-precipitation") {
    w.Add(absl::StrCat("the solution was added dropwise into ",
                       Pick(rng, {"an ammonia solution", "a NaOH solution", "a Na2CO3 solution"}),
                       " under vigorous stirring, keeping the pH at ",
                       Pick(rng, {"9", "10", "9.5"}), "."));
    const std::string wash = Pick(
        rng,
        {"the precipitate was filtered and washed with deionized water several times.",
         "the precipitate was collected by centrifugation and washed with water and ethanol."});
    const std::string dry = Pick(
        rng, {"it was dried at 80 °C overnight.", "the precipitate was dried at 100 °C for 12 h."});
    w.Add(wash);
    w.Add(dry);
    return Pick(rng, {"precipitate", "dried precipitate", "precursor"});
  }
  if (route == "ball-milling") {
    w.Add(absl::StrCat("the powders were milled in a planetary ball mill at ",
                       Pick(rng, {"300", "400", "500"}), " rpm with a ball-to-powder ratio of ",
                       Pick(rng, {"10:1", "20:1", "15:1"}), " for ",
                       Pick(rng, {"10 h", "20 h", "5 h", "40 h"}),
                       Pick(rng, {" under argon.", ".", " in a hardened steel vial."})));
    return Pick(rng, {"milled powder", "as-milled powder", "powder"});
  }
  if (route == "melt-quench") {
    if (has_oxygen) {
      w.Add(Pick(rng, {"the batch was placed in a platinum crucible.",
                       "the mixture was loaded into an alumina crucible."}));
    } else {
      w.Add(Pick(rng, {"the elements were arc-melted several times to ensure homogeneity.",
                       "the charge was sealed in an evacuated quartz ampoule."}));
    }
    return Pick(rng, {"batch", "charge", "mixture"});
  }
  if (route == "colloidal") {
    w.Add(absl::StrCat(
        "they were mixed with ",
        Pick(rng, {"oleic acid and oleylamine", "1-octadecene and oleic acid", "oleylamine"}),
        " in a three-neck flask."));
    w.Add(Pick(rng, {"the mixture was degassed under vacuum at 110 °C for 30 min.",
                     "the flask was evacuated and refilled with nitrogen three times."}));
    return Pick(rng, {"reaction mixture", "solution"});
  }
  // cvd
  w.Add(absl::StrCat("the ", Pick(rng, {"source", "precursor"}), " was placed ",
                     Pick(rng, {"in the center of a quartz tube furnace",
                                "upstream of the substrate in a tube furnace"}),
                     ", with ", Pick(rng, {"a Si/SiO2 wafer", "c-plane sapphire", "Cu foil"}),
                     " as substrate."));
  return Pick(rng, {"furnace", "tube furnace", "reactor"});
}

// Route-specific closing sentences after the heating steps.
void ClosingSentences(Writer& w, const std::string& route) {
  Rng& rng = w.rng;
  if (route == "hydrothermal") {
    w.Add(Pick(rng,
               {"after cooling naturally, the product was centrifuged, washed with water and "
                "ethanol, and dried at 60 °C.",
                "the precipitate was collected, washed several times and dried in air at 80 °C."}));
    return;
  }
  if (route == "colloidal") {
    w.Add(Pick(rng,
               {"the nanocrystals were precipitated with ethanol and collected by centrifugation.",
                "after cooling, the particles were washed with hexane/ethanol and redispersed in "
                "toluene."}));
    return;
  }
  if (route == "melt-quench") return;  // quenching is written with the melting step
  if (Chance(rng, 0.4)) {
    w.Add(Pick(rng, {"the samples were furnace-cooled to room temperature.",
                     "the product was cooled to room temperature at 2 °C/min.",
                     "finally, the product was cooled naturally and ground for characterization.",
                     "the resulting powder was reground before characterization."}));
  }
}

std::string JoinSentences(const std::vector<std::string>& sentences) {
  return absl::StrJoin(sentences, " ");
}

}  // namespace

std::string ChooseRoute(MaterialClass material_class,
                        const std::map<std::string, double>& composition, Rng& rng) {
  const bool oxide = composition.count("O") > 0;
  const double u = Uniform01(rng);
  auto pick = [u](std::initializer_list<std::pair<const char*, double>> table) {
    double acc = 0;
    for (const auto& [name, p] : table) {
      acc += p;
      if (u < acc) return std::string(name);
    }
    return std::string((table.end() - 1)->first);
  };
  switch (material_class) {
    case MaterialClass::kCrystalline:
      return oxide ? pick({{"solid-state", 0.5},
                           {"sol-gel", 0.25},
                           {"co-precipitation", 0.15},
                           {"hydrothermal", 0.1}})
                   : pick({{"solid-state", 0.75}, {"hydrothermal", 0.15}, {"ball-milling", 0.1}});
    case MaterialClass::kAmorphous:
      return oxide ? pick({{"melt-quench", 0.6}, {"sol-gel", 0.4}}) : "melt-quench";
    case MaterialClass::kNano:
      return pick(
          {{"colloidal", 0.35}, {"hydrothermal", 0.3}, {"ball-milling", 0.2}, {"cvd", 0.15}});
  }
  return "solid-state";
}

std::string CompositionFormula(const std::map<std::string, double>& composition) {
  std::vector<std::pair<double, std::string>> order;
  for (const auto& [el, amount] : composition) {
    const materials::ElementInfo* info = materials::ElementBySymbol(el);
    order.emplace_back(info != nullptr ? info->electronegativity : 0, el);
  }
  std::stable_sort(order.begin(), order.end());
  std::string out;
  for (const auto& [chi, el] : order) {
    const double amount = composition.at(el);
    out += el;
    if (std::abs(amount - 1) > 1e-9) out += Num(amount, 3);
  }
  return out;
}

absl::StatusOr<SynthesisRecipe> GenerateSynthesis(const std::map<std::string, double>& composition,
                                                  absl::string_view route, const RecipeStats& stats,
                                                  Rng& rng) {
  if (composition.empty()) {
    return absl::InvalidArgumentError("GenerateSynthesis: empty composition");
  }
  for (const auto& [el, amount] : composition) {
    const materials::ElementInfo* info = materials::ElementBySymbol(el);
    if (info == nullptr || el != info->symbol) {
      return absl::InvalidArgumentError(
          absl::StrCat("GenerateSynthesis: composition: unknown element \"", el, "\""));
    }
    if (!std::isfinite(amount) || amount <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("GenerateSynthesis: composition: amount of ",
                                                     el, " must be finite and > 0, got ", amount));
    }
  }
  const std::vector<std::string>& known = KnownRoutes();
  if (std::find(known.begin(), known.end(), route) == known.end()) {
    return absl::InvalidArgumentError(absl::StrCat("GenerateSynthesis: unknown route \"", route,
                                                   "\" (expected one of ",
                                                   absl::StrJoin(known, ", "), ")"));
  }
  const RouteStats* r = stats.Find(route);
  if (r == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("GenerateSynthesis: route \"", route, "\" is not in the recipe statistics"));
  }
  const std::string route_name(route);

  SynthesisRecipe recipe;
  recipe.route = route_name;
  recipe.precursors = ChoosePrecursors(composition, route_name, stats, rng);
  const std::vector<Step> steps = ChooseSchedule(route_name, *r, rng);
  for (const Step& s : steps) {
    recipe.temperatures_c.push_back(s.t_c);
    recipe.times_h.push_back(s.hours);
  }
  recipe.atmosphere = Draw<std::string>(r->atmospheres, rng, "");

  Writer w{rng, ChooseUnitStyle(rng), {}, true};
  const std::string target = CompositionFormula(composition);
  // Intro and precursor sentence in either order ("X was made by ..." / "Starting
  // materials were ...; X was made by ...").
  const std::string intro = Intro(rng, route_name, target);
  const bool intro_first = Chance(rng, 0.7);
  if (intro_first && !intro.empty() && intro.back() == ',') {
    // "In a typical synthesis of X by Y, <precursor sentence>"
    Writer inner{rng, w.units, {}, /*capitalize=*/false};
    PrecursorSentences(inner, route_name, target, recipe.precursors);
    w.Add(absl::StrCat(intro, " ", inner.sentences[0]));
    for (std::size_t i = 1; i < inner.sentences.size(); ++i) w.Add(inner.sentences[i]);
  } else {
    if (intro_first && !intro.empty()) w.Add(intro);
    PrecursorSentences(w, route_name, target, recipe.precursors);
    if (!intro_first && !intro.empty() && intro.back() != ',') w.Add(intro);
  }
  std::string object = PreparationSentences(w, route_name, composition.count("O") > 0);

  for (std::size_t i = 0; i < steps.size(); ++i) {
    const bool final_step = route_name == "melt-quench" ? i == 0 : i + 1 == steps.size();
    // The atmosphere is stated with the final (maximum-temperature) step, sometimes with
    // every step, sometimes in a sentence of its own.
    const bool atm_here = final_step || Chance(rng, 0.3);
    const bool separate_atm = !recipe.atmosphere.empty() && final_step && Chance(rng, 0.15);
    if (route_name == "hydrothermal") {
      w.Add(absl::StrCat(
          Pick(rng, {"the autoclave was sealed and", "the autoclave was", "it was then"}), " ",
          Pick(rng, {"heated at ", "maintained at ", "kept at "}), w.T(steps[i].t_c), " for ",
          w.D(steps[i].hours), Pick(rng, {" in an oven.", ".", " in an electric oven."})));
    } else if (route_name == "colloidal") {
      w.Add(absl::StrCat(Pick(rng, {"the solution was heated to ", "the temperature was raised to ",
                                    "under nitrogen, the mixture was heated to "}),
                         w.T(steps[i].t_c),
                         Pick(rng, {" and kept there for ", " and held for ",
                                    ", and the reaction proceeded for "}),
                         w.D(steps[i].hours), AtmospherePhrase(recipe.atmosphere, rng), "."));
    } else if (route_name == "cvd") {
      w.Add(absl::StrCat(
          Pick(rng, {"the furnace was heated to ", "the reactor temperature was raised to ",
                     "deposition was carried out at "}),
          w.T(steps[i].t_c), Pick(rng, {" for ", " over ", " during "}), w.D(steps[i].hours),
          AtmospherePhrase(recipe.atmosphere, rng),
          Pick(rng, {" with a flow of 100 sccm.", ".", " at ambient pressure."})));
    } else if (route_name == "melt-quench" && final_step) {
      w.Add(absl::StrCat(
          Pick(rng, {"the batch was melted at ", "melting was performed at ",
                     "the charge was held at "}),
          w.T(steps[i].t_c), " for ", w.D(steps[i].hours),
          AtmospherePhrase(atm_here ? recipe.atmosphere : "", rng),
          Pick(rng, {" and quenched onto a preheated steel plate.",
                     " and the melt was poured into a brass mold.", ", then quenched in water.",
                     " before melt spinning onto a copper wheel."})));
      object = Pick(rng, {"glass", "quenched sample", "glass samples"});
    } else {
      w.Add(HeatingSentence(w, route_name, steps[i], final_step, object,
                            (atm_here && !separate_atm) ? recipe.atmosphere : "",
                            i == 0 && steps.size() > 1));
      if (separate_atm) {
        w.Add(absl::StrCat(Pick(rng, {"this heat treatment was done", "the final firing took place",
                                      "all heating was performed"}),
                           AtmospherePhrase(recipe.atmosphere, rng), "."));
      }
      if (i + 1 < steps.size() && route_name != "melt-quench" && Chance(rng, 0.6)) {
        if (Chance(rng, 0.25)) {
          w.Add("the sample was re-ground and pressed into pellets.");
          object = "pellets";
        } else {
          w.Add(
              Pick(rng, {"the product was reground.", "after cooling, the powder was ground again.",
                         "intermediate grinding was performed."}));
          if (object == "mixture") object = "powder";
        }
      }
    }
  }
  ClosingSentences(w, route_name);
  recipe.text = JoinSentences(w.sentences);
  return recipe;
}

}  // namespace matalign::corpus
