#include "corpus/text_mined.h"

#include "absl/strings/ascii.h"

namespace matalign::corpus {

std::optional<double> ToCelsius(double value, absl::string_view units) {
  const absl::string_view u = absl::StripAsciiWhitespace(units);
  if (u == "C" || u == "\u00b0C" || u == "\u2103" || u == "oC" || u == "degC") return value;
  if (u == "K") return value - 273.15;
  return std::nullopt;
}

double HoursPerUnit(absl::string_view unit) {
  const std::string u = absl::AsciiStrToLower(absl::StripAsciiWhitespace(unit));
  if (u == "h" || u == "hr" || u == "hrs" || u == "hour" || u == "hours") return 1;
  if (u == "min" || u == "mins" || u == "minute" || u == "minutes") return 1.0 / 60;
  if (u == "s" || u == "sec" || u == "secs" || u == "second" || u == "seconds") return 1.0 / 3600;
  if (u == "d" || u == "day" || u == "days") return 24;
  if (u == "wk" || u == "week" || u == "weeks") return 168;
  return 0;
}

std::vector<ConditionEntry> ConditionEntries(const nlohmann::json& list) {
  std::vector<ConditionEntry> out;
  if (!list.is_array()) return out;
  for (const nlohmann::json& entry : list) {
    if (!entry.is_object()) continue;
    ConditionEntry e;
    if (auto it = entry.find("units"); it != entry.end() && it->is_string()) {
      e.units = it->get<std::string>();
    }
    if (auto it = entry.find("values"); it != entry.end() && it->is_array()) {
      for (const nlohmann::json& v : *it) {
        if (v.is_number()) e.values.push_back(v.get<double>());
      }
    }
    if (e.values.empty()) {
      for (const char* key : {"max_value", "min_value"}) {
        auto m = entry.find(key);
        if (m != entry.end() && m->is_number()) {
          e.values.push_back(m->get<double>());
          break;
        }
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace matalign::corpus
