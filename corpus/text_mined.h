// Internal to matalign_corpus: the pieces of the text-mined recipe JSON (solid-state and
// sol-gel datasets) that both the recipe importer and the statistics read, so that units
// and value lists are interpreted in one place. Included only by corpus .cc files.
#ifndef MATALIGN_CORPUS_TEXT_MINED_H_
#define MATALIGN_CORPUS_TEXT_MINED_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace matalign::corpus {

// `value` in `units` ("C", "°C", "℃", "oC", "degC", "K") as degrees Celsius, or nullopt for
// an unknown unit.
std::optional<double> ToCelsius(double value, absl::string_view units);

// Hours per `unit` (h/hr/hrs/hour(s), min/mins/minute(s), s/sec/second(s), d/day(s),
// wk/week(s); case and surrounding spaces ignored), or 0 for an unknown unit.
double HoursPerUnit(absl::string_view unit);

// One condition entry of the datasets: {"values": [...], "min_value", "max_value",
// "units"}. The numbers are `values`, or max_value (else min_value) when values is empty.
struct ConditionEntry {
  std::vector<double> values;
  std::string units;
};
// Entries of a condition list (e.g. conditions.heating_temperature); non-objects skipped.
std::vector<ConditionEntry> ConditionEntries(const nlohmann::json& list);

}  // namespace matalign::corpus

#endif  // MATALIGN_CORPUS_TEXT_MINED_H_
