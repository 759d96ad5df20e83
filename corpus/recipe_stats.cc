#include "corpus/recipe_stats.h"

#include <algorithm>
#include <cmath>
#include <istream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "corpus/text_mined.h"
#include "materials/element.h"
#include "nlohmann/json.hpp"
// The xz-aware line reader of matalign_text (see the report: it is marked private to
// text/; corpus links matalign_text and reuses it instead of a second liblzma adapter).
#include "common/input_file.h"

namespace matalign::corpus {
namespace {

using json = nlohmann::json;

constexpr absl::string_view kFormatTag = "matalign-recipe-stats/1";
constexpr std::size_t kMaxJsonLineBytes = std::size_t{64} << 20;
constexpr int kMaxHeatingStepsKey = 6;  // 6 = "6 or more"

// Rounds to `decimals` decimal places (dividing by an exact power of ten keeps the
// shortest decimal form, e.g. 0.4987 rather than 0.49870000000000003).
double Round(double x, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(x * scale) / scale;
}

// Keys of the recipe records that the statistics never read; the sol-gel document (67 MB)
// is parsed without them to keep the DOM small.
bool IsUnusedKey(const std::string& key) {
  static const std::set<std::string>* const kUnused = new std::set<std::string>{
      "paragraph_string", "reaction",      "reaction_string",   "material_string", "material_name",
      "amounts_vars",     "elements_vars", "additives",         "token",           "mixing_device",
      "mixing_media",     "phase",         "oxygen_deficiency", "is_acronym",      "mp_id",
      "targets_string",   "release_date"};
  return kUnused->count(key) > 0;
}

// Returns true if `key` is exactly an element symbol ("Ba", not "BA" or "x").
bool IsElementSymbol(const std::string& key) {
  const materials::ElementInfo* info = materials::ElementBySymbol(key);
  return info != nullptr && key == info->symbol;
}

bool IsOhcn(const std::string& el) { return el == "O" || el == "H" || el == "C" || el == "N"; }

// The largest value of a condition list converted by `convert` (returning nullopt for an
// unusable unit), or nullopt if none is usable.
template <typename Convert>
std::optional<double> MaxCondition(const json& list, Convert convert) {
  std::optional<double> best;
  for (const ConditionEntry& entry : ConditionEntries(list)) {
    for (double v : entry.values) {
      const std::optional<double> converted = convert(v, entry.units);
      if (converted && (!best || *converted > *best)) best = converted;
    }
  }
  return best;
}

// Normalized atmosphere name, or "" for names that are not a gas (crucible materials,
// solvents mis-tagged by the text mining).
std::string NormalizeAtmosphere(std::string name) {
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::map<std::string, std::string>* const kNames =
      new std::map<std::string, std::string>{{"air", "air"},
                                             {"ambient", "air"},
                                             {"static air", "air"},
                                             {"flowing air", "air"},
                                             {"oxygen", "O2"},
                                             {"o2", "O2"},
                                             {"nitrogen", "N2"},
                                             {"n2", "N2"},
                                             {"argon", "Ar"},
                                             {"ar", "Ar"},
                                             {"hydrogen", "H2"},
                                             {"h2", "H2"},
                                             {"ar/h2", "Ar/H2"},
                                             {"h2/ar", "Ar/H2"},
                                             {"carbon monoxide", "CO"},
                                             {"co", "CO"},
                                             {"carbon dioxide", "CO2"},
                                             {"co2", "CO2"},
                                             {"vacuum", "vacuum"},
                                             {"helium", "He"},
                                             {"he", "He"},
                                             {"ammonia", "NH3"},
                                             {"nh3", "NH3"},
                                             {"n2/h2", "N2/H2"},
                                             {"h2/n2", "N2/H2"}};
  auto it = kNames->find(name);
  return it == kNames->end() ? "" : it->second;
}

// Short name of an operation type; "" for types that are not a step (StartingSynthesis).
std::string StepName(const std::string& type) {
  if (type == "MixingOperation" || type == "Mixing" || type == "SolutionMixing") return "mix";
  if (type == "LiquidGrinding" || type == "GrindingOperation") return "grind";
  if (type == "HeatingOperation") return "heat";
  if (type == "DryingOperation") return "dry";
  if (type == "ShapingOperation") return "shape";
  if (type == "QuenchingOperation") return "quench";
  return "";
}

const json* Field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

// Counters of one route while reading.
struct RouteAccumulator {
  int64_t num_recipes = 0;
  std::vector<double> max_temperatures;
  std::vector<double> times;
  std::map<int, int64_t> heating_steps;
  std::map<std::string, int64_t> atmospheres;
  std::map<std::string, int64_t> sequences;
  // element -> formula -> count; element -> total
  std::map<std::string, std::map<std::string, int64_t>> precursor_counts;
  std::map<std::string, int64_t> element_totals;
  std::map<std::string, std::vector<std::string>> formula_elements;
};

void AccumulateRecord(const json& record, RouteAccumulator& acc) {
  ++acc.num_recipes;
  // Precursors.
  if (const json* precursors = Field(record, "precursors"); precursors && precursors->is_array()) {
    for (const json& p : *precursors) {
      const json* formula_json = Field(p, "material_formula");
      if (formula_json == nullptr || !formula_json->is_string()) continue;
      const std::string formula = formula_json->get<std::string>();
      if (formula.empty()) continue;
      std::set<std::string> elements;
      if (const json* comps = Field(p, "composition"); comps && comps->is_array()) {
        for (const json& comp : *comps) {
          const json* els = Field(comp, "elements");
          if (els == nullptr || !els->is_object()) continue;
          for (auto it = els->begin(); it != els->end(); ++it) {
            if (IsElementSymbol(it.key()) && !IsOhcn(it.key())) elements.insert(it.key());
          }
        }
      }
      if (elements.empty()) continue;
      for (const std::string& el : elements) {
        ++acc.precursor_counts[el][formula];
        ++acc.element_totals[el];
      }
      acc.formula_elements.emplace(formula,
                                   std::vector<std::string>(elements.begin(), elements.end()));
    }
  }
  // Operations.
  const json* ops = Field(record, "operations");
  if (ops == nullptr || !ops->is_array()) return;
  std::vector<std::string> sequence;
  int heating_ops = 0;
  bool heated = false;
  double max_t = 0;
  double max_t_time = -1;
  std::string max_t_atmosphere;
  std::string first_atmosphere;
  for (const json& op : *ops) {
    const json* type = Field(op, "type");
    if (type == nullptr || !type->is_string()) continue;
    const std::string step = StepName(type->get<std::string>());
    if (step.empty()) continue;
    if (sequence.empty() || step == "heat" || sequence.back() != step) sequence.push_back(step);
    if (step != "heat") continue;
    ++heating_ops;
    const json* conditions = Field(op, "conditions");
    if (conditions == nullptr) continue;
    std::string atmosphere;
    if (const json* atm = Field(*conditions, "heating_atmosphere"); atm && atm->is_array()) {
      for (const json& a : *atm) {
        if (!a.is_string()) continue;
        atmosphere = NormalizeAtmosphere(a.get<std::string>());
        if (!atmosphere.empty()) break;
      }
    }
    if (first_atmosphere.empty()) first_atmosphere = atmosphere;
    const json* temps = Field(*conditions, "heating_temperature");
    if (temps == nullptr) continue;
    const std::optional<double> max_celsius =
        MaxCondition(*temps, [](double v, const std::string& u) { return ToCelsius(v, u); });
    if (!max_celsius) continue;
    const double t_c = *max_celsius;
    if (t_c < 20 || t_c > 3000) continue;  // text-mining noise
    if (heated && t_c <= max_t) continue;
    heated = true;
    max_t = t_c;
    max_t_atmosphere = atmosphere;
    max_t_time = -1;
    const json* times = Field(*conditions, "heating_time");
    auto to_hours = [](double v, const std::string& units) -> std::optional<double> {
      const double per = HoursPerUnit(units);
      if (per == 0) return std::nullopt;
      return v * per;
    };
    const std::optional<double> hours =
        times == nullptr ? std::nullopt : MaxCondition(*times, to_hours);
    if (hours && *hours > 0 && *hours <= 1000) max_t_time = *hours;
  }
  if (!sequence.empty()) ++acc.sequences[absl::StrJoin(sequence, ">")];
  if (!heated) return;
  acc.max_temperatures.push_back(max_t);
  if (max_t_time > 0) acc.times.push_back(max_t_time);
  ++acc.heating_steps[std::min(heating_ops, kMaxHeatingStepsKey)];
  ++acc.atmospheres[max_t_atmosphere.empty() ? first_atmosphere : max_t_atmosphere];
}

Quantiles ComputeQuantiles(std::vector<double> values, int decimals) {
  Quantiles q{};
  if (values.empty()) return q;
  std::sort(values.begin(), values.end());
  for (std::size_t i = 0; i < kQuantileLevels.size(); ++i) {
    const double pos = kQuantileLevels[i] * static_cast<double>(values.size() - 1);
    const std::size_t lo = static_cast<std::size_t>(pos);
    const std::size_t hi = std::min(lo + 1, values.size() - 1);
    const double frac = pos - static_cast<double>(lo);
    q[i] = Round(values[lo] + frac * (values[hi] - values[lo]), decimals);
  }
  return q;
}

RouteStats Finish(const RouteAccumulator& acc, const RecipeStatsOptions& options) {
  RouteStats out;
  out.source = "derived";
  out.num_recipes = acc.num_recipes;
  out.num_heated = static_cast<int64_t>(acc.max_temperatures.size());
  out.max_temperature_c = ComputeQuantiles(acc.max_temperatures, 0);
  out.time_h = ComputeQuantiles(acc.times, 2);
  const double heated = std::max<double>(1, static_cast<double>(out.num_heated));
  for (const auto& [n, count] : acc.heating_steps) {
    out.heating_steps[n] = Round(count / heated, 4);
  }
  for (const auto& [name, count] : acc.atmospheres) {
    out.atmospheres[name] = Round(count / heated, 4);
  }
  std::vector<std::pair<std::string, int64_t>> seqs(acc.sequences.begin(), acc.sequences.end());
  std::stable_sort(seqs.begin(), seqs.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  const double recipes = std::max<double>(1, static_cast<double>(acc.num_recipes));
  for (std::size_t i = 0;
       i < seqs.size() && i < static_cast<std::size_t>(options.max_operation_sequences); ++i) {
    out.operation_sequences.emplace_back(seqs[i].first, Round(seqs[i].second / recipes, 4));
  }
  for (const auto& [el, counts] : acc.precursor_counts) {
    const int64_t total = acc.element_totals.at(el);
    if (total < options.min_element_count) continue;
    std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    std::vector<PrecursorFrequency> list;
    for (const auto& [formula, count] : sorted) {
      if (static_cast<int>(list.size()) >= options.max_precursors_per_element) break;
      const double freq = static_cast<double>(count) / static_cast<double>(total);
      if (freq < options.min_precursor_frequency) break;
      list.push_back({formula, Round(freq, 4), count, acc.formula_elements.at(formula)});
    }
    if (!list.empty()) out.precursors[el] = std::move(list);
  }
  return out;
}

absl::Status ReadSolidState(const std::string& path, const RecipeStatsOptions& options,
                            RouteAccumulator& acc) {
  MATALIGN_ASSIGN_OR_RETURN(std::unique_ptr<InputFileBuffer> input,
                            InputFileBuffer::Open(path, options.max_decompressed_bytes));
  std::string line;
  std::size_t line_number = 0;
  while (input->ReadLine(&line, kMaxJsonLineBytes, line_number + 1)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": malformed JSON line"));
    }
    if (!record.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": a recipe record must be a JSON object"));
    }
    AccumulateRecord(record, acc);
  }
  MATALIGN_RETURN_IF_ERROR(input->status());
  if (acc.num_recipes == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no recipe records"));
  }
  return absl::OkStatus();
}

absl::Status ReadSolGel(const std::string& path, const RecipeStatsOptions& options,
                        std::map<std::string, RouteAccumulator>& accs) {
  MATALIGN_ASSIGN_OR_RETURN(std::unique_ptr<InputFileBuffer> input,
                            InputFileBuffer::Open(path, options.max_decompressed_bytes));
  std::istream stream(input.get());
  json::parser_callback_t drop_unused = [](int /*depth*/, json::parse_event_t event, json& parsed) {
    return !(event == json::parse_event_t::key && IsUnusedKey(parsed.get<std::string>()));
  };
  json doc = json::parse(stream, drop_unused, /*allow_exceptions=*/false);
  MATALIGN_RETURN_IF_ERROR(input->status());
  if (doc.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": malformed JSON"));
  const json* reactions = Field(doc, "reactions");
  if (reactions == nullptr || !reactions->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected an object with a \"reactions\" array"));
  }
  if (reactions->empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no reactions"));
  for (std::size_t i = 0; i < reactions->size(); ++i) {
    const json& record = (*reactions)[i];
    if (!record.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": reactions[", i, "]: a recipe record must be a JSON object"));
    }
    std::string route = "sol-gel";
    if (const json* type = Field(record, "synthesis_type");
        type && type->is_string() && !type->get<std::string>().empty()) {
      route = type->get<std::string>();
    }
    AccumulateRecord(record, accs[route]);
  }
  return absl::OkStatus();
}

// ---- JSON (de)serialization ----

// Writes `j` indented by one space per level, except that a container whose compact form
// fits in `line_width` characters stays on one line (a precursor entry, a quantile set).
void WriteJson(const json& j, int depth, std::size_t line_width, std::string& out) {
  std::string compact = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!(j.is_object() || j.is_array()) || compact.size() <= line_width) {
    out += compact;
    return;
  }
  const std::string pad(static_cast<std::size_t>(depth + 1), ' ');
  const bool object = j.is_object();
  out += object ? "{\n" : "[\n";
  bool first = true;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!first) out += ",\n";
    first = false;
    out += pad;
    if (object) {
      out += json(it.key()).dump();
      out += ": ";
    }
    WriteJson(*it, depth + 1, line_width, out);
  }
  out += "\n";
  out += std::string(static_cast<std::size_t>(depth), ' ');
  out += object ? "}" : "]";
}

// "p05", "p25", ... for kQuantileLevels[i].
std::string QuantileName(std::size_t i) {
  const int percent = static_cast<int>(std::round(kQuantileLevels[i] * 100));
  return absl::StrCat(percent < 10 ? "p0" : "p", percent);
}

json QuantilesToJson(const Quantiles& q) {
  json j = json::object();
  for (std::size_t i = 0; i < q.size(); ++i) {
    j[QuantileName(i)] = q[i];
  }
  return j;
}

absl::Status FieldError(absl::string_view source, absl::string_view where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", where, ": ", what));
}

absl::StatusOr<const json*> Require(const json& obj, const char* key, absl::string_view source,
                                    absl::string_view where) {
  const json* f = Field(obj, key);
  if (f == nullptr) return FieldError(source, where, absl::StrCat("missing \"", key, "\""));
  return f;
}

absl::StatusOr<double> RequireNumber(const json& obj, const char* key, absl::string_view source,
                                     absl::string_view where) {
  MATALIGN_ASSIGN_OR_RETURN(const json* f, Require(obj, key, source, where));
  if (!f->is_number()) {
    return FieldError(source, where, absl::StrCat("\"", key, "\" must be a number"));
  }
  const double v = f->get<double>();
  if (!std::isfinite(v)) {
    return FieldError(source, where, absl::StrCat("\"", key, "\" must be finite"));
  }
  return v;
}

absl::Status CheckFrequency(double f, absl::string_view source, absl::string_view where) {
  if (!(f >= 0 && f <= 1)) {
    return FieldError(source, where, absl::StrCat("frequency ", f, " outside [0, 1]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Quantiles> QuantilesFromJson(const json& obj, const char* key,
                                            absl::string_view source, absl::string_view where) {
  MATALIGN_ASSIGN_OR_RETURN(const json* f, Require(obj, key, source, where));
  const std::string here = absl::StrCat(where, ".", key);
  if (!f->is_object()) return FieldError(source, here, "must be an object");
  Quantiles q{};
  for (std::size_t i = 0; i < q.size(); ++i) {
    const std::string name = QuantileName(i);
    MATALIGN_ASSIGN_OR_RETURN(q[i], RequireNumber(*f, name.c_str(), source, here));
    if (q[i] < 0) return FieldError(source, here, absl::StrCat(name, " is negative"));
    if (i > 0 && q[i] < q[i - 1]) {
      return FieldError(source, here, absl::StrCat("quantiles decrease at ", name));
    }
  }
  return q;
}

absl::StatusOr<RouteStats> RouteFromJson(const json& r, absl::string_view source,
                                         const std::string& where) {
  if (!r.is_object()) return FieldError(source, where, "must be an object");
  RouteStats out;
  MATALIGN_ASSIGN_OR_RETURN(const json* src, Require(r, "source", source, where));
  if (!src->is_string() || (*src != "derived" && *src != "assumed")) {
    return FieldError(source, where, "\"source\" must be \"derived\" or \"assumed\"");
  }
  out.source = src->get<std::string>();
  MATALIGN_ASSIGN_OR_RETURN(double num_recipes, RequireNumber(r, "num_recipes", source, where));
  MATALIGN_ASSIGN_OR_RETURN(double num_heated, RequireNumber(r, "num_heated", source, where));
  if (num_recipes < 0 || num_heated < 0) {
    return FieldError(source, where, "counts must not be negative");
  }
  out.num_recipes = static_cast<int64_t>(num_recipes);
  out.num_heated = static_cast<int64_t>(num_heated);
  MATALIGN_ASSIGN_OR_RETURN(out.max_temperature_c,
                            QuantilesFromJson(r, "max_temperature_c", source, where));
  MATALIGN_ASSIGN_OR_RETURN(out.time_h, QuantilesFromJson(r, "time_h", source, where));

  MATALIGN_ASSIGN_OR_RETURN(const json* steps, Require(r, "heating_steps", source, where));
  if (!steps->is_object() || steps->empty()) {
    return FieldError(source, where, "\"heating_steps\" must be a non-empty object");
  }
  for (auto it = steps->begin(); it != steps->end(); ++it) {
    int n = 0;
    if (!absl::SimpleAtoi(it.key(), &n) || n < 1) {
      return FieldError(source, where, absl::StrCat("bad heating step count \"", it.key(), "\""));
    }
    if (!it->is_number()) return FieldError(source, where, "heating_steps values must be numbers");
    MATALIGN_RETURN_IF_ERROR(CheckFrequency(it->get<double>(), source, where));
    out.heating_steps[n] = it->get<double>();
  }
  MATALIGN_ASSIGN_OR_RETURN(const json* atms, Require(r, "atmospheres", source, where));
  if (!atms->is_object()) return FieldError(source, where, "\"atmospheres\" must be an object");
  for (auto it = atms->begin(); it != atms->end(); ++it) {
    if (!it->is_number()) return FieldError(source, where, "atmospheres values must be numbers");
    MATALIGN_RETURN_IF_ERROR(CheckFrequency(it->get<double>(), source, where));
    out.atmospheres[it.key()] = it->get<double>();
  }
  MATALIGN_ASSIGN_OR_RETURN(const json* seqs, Require(r, "operation_sequences", source, where));
  if (!seqs->is_array()) {
    return FieldError(source, where, "\"operation_sequences\" must be an array");
  }
  for (const json& s : *seqs) {
    if (!s.is_array() || s.size() != 2 || !s[0].is_string() || !s[1].is_number()) {
      return FieldError(source, where,
                        "operation_sequences entries must be [\"mix>heat\", frequency]");
    }
    MATALIGN_RETURN_IF_ERROR(CheckFrequency(s[1].get<double>(), source, where));
    out.operation_sequences.emplace_back(s[0].get<std::string>(), s[1].get<double>());
  }
  MATALIGN_ASSIGN_OR_RETURN(const json* precursors, Require(r, "precursors", source, where));
  if (!precursors->is_object()) {
    return FieldError(source, where, "\"precursors\" must be an object");
  }
  for (auto it = precursors->begin(); it != precursors->end(); ++it) {
    const std::string here = absl::StrCat(where, ".precursors.", it.key());
    if (!IsElementSymbol(it.key())) return FieldError(source, here, "not an element symbol");
    if (!it->is_array()) return FieldError(source, here, "must be an array");
    std::vector<PrecursorFrequency>& list = out.precursors[it.key()];
    for (const json& p : *it) {
      // [formula, frequency, count, [elements]]
      if (!p.is_array() || p.size() != 4 || !p[0].is_string() || !p[1].is_number() ||
          !p[2].is_number() || !p[3].is_array()) {
        return FieldError(source, here, "entries must be [formula, frequency, count, [elements]]");
      }
      PrecursorFrequency pf;
      pf.formula = p[0].get<std::string>();
      pf.frequency = p[1].get<double>();
      MATALIGN_RETURN_IF_ERROR(CheckFrequency(pf.frequency, source, here));
      if (pf.formula.empty()) return FieldError(source, here, "empty formula");
      pf.count = static_cast<int64_t>(p[2].get<double>());
      for (const json& e : p[3]) {
        if (!e.is_string() || !IsElementSymbol(e.get<std::string>())) {
          return FieldError(source, here, absl::StrCat("bad element list of ", pf.formula));
        }
        pf.elements.push_back(e.get<std::string>());
      }
      list.push_back(std::move(pf));
    }
  }
  return out;
}

}  // namespace

const RouteStats* RecipeStats::Find(absl::string_view route) const {
  auto it = routes.find(std::string(route));
  return it == routes.end() ? nullptr : &it->second;
}

absl::Status RecipeStatsOptions::Validate() const {
  if (max_precursors_per_element < 1) {
    return absl::InvalidArgumentError("max_precursors_per_element must be >= 1");
  }
  if (!(min_precursor_frequency >= 0 && min_precursor_frequency < 1)) {
    return absl::InvalidArgumentError("min_precursor_frequency must be in [0, 1)");
  }
  if (min_element_count < 1) return absl::InvalidArgumentError("min_element_count must be >= 1");
  if (max_operation_sequences < 0) {
    return absl::InvalidArgumentError("max_operation_sequences must be >= 0");
  }
  if (max_decompressed_bytes == 0) {
    return absl::InvalidArgumentError("max_decompressed_bytes must be > 0");
  }
  return absl::OkStatus();
}

const std::vector<std::string>& KnownRoutes() {
  static const std::vector<std::string>* const kRoutes = new std::vector<std::string>{
      "solid-state",  "sol-gel",     "hydrothermal", "co-precipitation",
      "ball-milling", "melt-quench", "colloidal",    "cvd"};
  return *kRoutes;
}

absl::StatusOr<RecipeStats> DeriveRecipeStats(const std::string& solid_state_path,
                                              const std::string& sol_gel_path,
                                              const RecipeStatsOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  std::map<std::string, RouteAccumulator> accs;
  try {
    MATALIGN_RETURN_IF_ERROR(ReadSolidState(solid_state_path, options, accs["solid-state"]));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(solid_state_path, ": cannot read: ", e.what()));
  }
  try {
    MATALIGN_RETURN_IF_ERROR(ReadSolGel(sol_gel_path, options, accs));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(sol_gel_path, ": cannot read: ", e.what()));
  }
  RecipeStats stats;
  for (const auto& [route, acc] : accs) stats.routes[route] = Finish(acc, options);
  AddAssumedRoutes(stats);
  return stats;
}

void AddAssumedRoutes(RecipeStats& stats) {
  struct Assumed {
    const char* route;
    Quantiles temperature_c;
    Quantiles time_h;
    std::map<int, double> steps;
    std::map<std::string, double> atmospheres;
    const char* sequence;
  };
  // Typical ranges from textbooks and reviews of each technique; NOT derived from data.
  static const std::vector<Assumed>* const kAssumed = new std::vector<Assumed>{
      // Autoclave treatment of aqueous salt solutions (Teflon liners limit T to ~250 C).
      {"hydrothermal",
       {120, 150, 180, 200, 230},
       {6, 12, 18, 24, 48},
       {{1, 1.0}},
       {{"", 1.0}},
       "mix>heat>dry"},
      // Precipitation with a base, drying, calcination of the precursor.
      {"co-precipitation",
       {400, 500, 600, 800, 1000},
       {2, 2, 4, 5, 10},
       {{1, 0.6}, {2, 0.4}},
       {{"air", 0.8}, {"", 0.2}},
       "mix>dry>heat"},
      // Mechanical alloying followed by a recovery / crystallization anneal.
      {"ball-milling",
       {300, 400, 500, 600, 800},
       {1, 2, 2, 4, 10},
       {{1, 0.9}, {2, 0.1}},
       {{"Ar", 0.6}, {"N2", 0.1}, {"air", 0.1}, {"", 0.2}},
       "grind>heat"},
      // Melting of the batch, quench; optional anneal below the glass transition.
      {"melt-quench",
       {900, 1100, 1300, 1450, 1600},
       {0.5, 1, 1, 2, 4},
       {{1, 0.7}, {2, 0.3}},
       {{"air", 0.6}, {"Ar", 0.2}, {"", 0.2}},
       "mix>heat>quench"},
      // Hot injection / heat-up synthesis of nanocrystals in high-boiling solvents.
      {"colloidal",
       {150, 200, 240, 280, 310},
       {0.05, 0.25, 0.5, 1, 3},
       {{1, 1.0}},
       {{"N2", 0.5}, {"Ar", 0.4}, {"", 0.1}},
       "mix>heat"},
      // Thermal CVD in a tube furnace.
      {"cvd",
       {500, 650, 800, 950, 1100},
       {0.25, 0.5, 1, 2, 4},
       {{1, 1.0}},
       {{"Ar", 0.4}, {"H2", 0.1}, {"Ar/H2", 0.3}, {"N2", 0.2}},
       "heat"},
      // Fallbacks if a stats file lacks the derived routes (e.g. real data absent).
      {"solid-state",
       {700, 900, 1000, 1200, 1400},
       {2, 6, 12, 24, 48},
       {{1, 0.5}, {2, 0.35}, {3, 0.15}},
       {{"air", 0.6}, {"", 0.4}},
       "mix>heat>grind>heat"},
      {"sol-gel",
       {400, 550, 700, 850, 1000},
       {1, 2, 3, 5, 12},
       {{1, 0.6}, {2, 0.3}, {3, 0.1}},
       {{"air", 0.6}, {"", 0.4}},
       "mix>dry>heat"},
  };
  for (const Assumed& a : *kAssumed) {
    if (stats.routes.count(a.route) > 0) continue;
    RouteStats r;
    r.source = "assumed";
    r.max_temperature_c = a.temperature_c;
    r.time_h = a.time_h;
    r.heating_steps = a.steps;
    r.atmospheres = a.atmospheres;
    r.operation_sequences.emplace_back(a.sequence, 1.0);
    stats.routes[a.route] = std::move(r);
  }
}

std::string RecipeStatsToJson(const RecipeStats& stats) {
  json doc = json::object();
  doc["format"] = std::string(kFormatTag);
  doc["note"] =
      "Derived by scripts/derive-recipe-stats.sh from recipes/solid_state_recipes.jsonl.xz and "
      "recipes/sol_gel_recipes.json.xz. Routes with source \"assumed\" are typical literature "
      "ranges, not data. Temperatures in C (max heating temperature of a recipe), times in h "
      "(duration of that step); precursor entries are [formula, frequency, count, elements].";
  json routes = json::object();
  for (const auto& [name, r] : stats.routes) {
    json jr = json::object();
    jr["source"] = r.source;
    jr["num_recipes"] = r.num_recipes;
    jr["num_heated"] = r.num_heated;
    jr["max_temperature_c"] = QuantilesToJson(r.max_temperature_c);
    jr["time_h"] = QuantilesToJson(r.time_h);
    json steps = json::object();
    for (const auto& [n, f] : r.heating_steps) steps[std::to_string(n)] = f;
    jr["heating_steps"] = steps;
    json atms = json::object();
    for (const auto& [a, f] : r.atmospheres) atms[a] = f;
    jr["atmospheres"] = atms;
    json seqs = json::array();
    for (const auto& [s, f] : r.operation_sequences) seqs.push_back(json::array({s, f}));
    jr["operation_sequences"] = seqs;
    json precursors = json::object();
    for (const auto& [el, list] : r.precursors) {
      json jl = json::array();
      for (const PrecursorFrequency& p : list) {
        jl.push_back(json::array({p.formula, p.frequency, p.count, p.elements}));
      }
      precursors[el] = jl;
    }
    jr["precursors"] = precursors;
    routes[name] = jr;
  }
  doc["routes"] = routes;
  std::string out;
  WriteJson(doc, 0, 90, out);
  out += "\n";
  return out;
}

absl::StatusOr<RecipeStats> RecipeStatsFromJson(absl::string_view text, absl::string_view source) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    return absl::InvalidArgumentError(absl::StrCat(source, ": malformed JSON"));
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": expected a JSON object"));
  }
  const json* format = Field(doc, "format");
  if (format == nullptr || !format->is_string() || *format != std::string(kFormatTag)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": \"format\" must be \"", kFormatTag, "\""));
  }
  const json* routes = Field(doc, "routes");
  if (routes == nullptr || !routes->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": missing \"routes\" object"));
  }
  RecipeStats stats;
  try {
    for (auto it = routes->begin(); it != routes->end(); ++it) {
      MATALIGN_ASSIGN_OR_RETURN(stats.routes[it.key()],
                                RouteFromJson(*it, source, absl::StrCat("routes.", it.key())));
    }
  } catch (const std::exception& e) {  // defensive: type errors of nlohmann
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
  return stats;
}

absl::Status WriteRecipeStats(const RecipeStats& stats, const std::string& path) {
  return WriteFileAtomic(path, RecipeStatsToJson(stats));
}

absl::StatusOr<RecipeStats> LoadRecipeStats(const std::string& path) {
  MATALIGN_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return RecipeStatsFromJson(text, path);
}

double SampleQuantiles(const Quantiles& q, Rng& rng) {
  const double u = Uniform01(rng);
  double value;
  if (u < kQuantileLevels.front()) {
    const double lo = q[0] - 0.5 * (q[1] - q[0]);
    value = lo + (q[0] - lo) * (u / kQuantileLevels.front());
  } else if (u >= kQuantileLevels.back()) {
    const double hi = q[4] + 0.5 * (q[4] - q[3]);
    value = q[4] + (hi - q[4]) * ((u - kQuantileLevels.back()) / (1 - kQuantileLevels.back()));
  } else {
    std::size_t i = 0;
    while (i + 2 < kQuantileLevels.size() && u >= kQuantileLevels[i + 1]) ++i;
    const double frac = (u - kQuantileLevels[i]) / (kQuantileLevels[i + 1] - kQuantileLevels[i]);
    value = q[i] + frac * (q[i + 1] - q[i]);
  }
  return std::max(0.0, value);
}

}  // namespace matalign::corpus
