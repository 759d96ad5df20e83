#include "common/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <cmath>

#include "absl/strings/str_cat.h"

namespace matalign {
namespace {

// YAML -> JSON with plain scalars typed as YAML 1.2 core would (int, float, bool, null);
// quoted scalars stay strings.
nlohmann::json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& item : node) a.push_back(YamlToJson(item));
      return a;
    }
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : node) o[kv.first.as<std::string>()] = YamlToJson(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar:
      break;
  }
  const std::string s = node.Scalar();
  if (node.Tag() == "!") return s;  // quoted
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  try {
    size_t pos = 0;
    long long i = std::stoll(s, &pos);
    if (pos == s.size()) return i;
  } catch (...) {
  }
  try {
    size_t pos = 0;
    double d = std::stod(s, &pos);
    if (pos == s.size() && std::isfinite(d)) return d;
  } catch (...) {
  }
  return s;
}

}  // namespace

absl::StatusOr<nlohmann::json> ParseYamlAsJson(const std::string& yaml, const std::string& source) {
  try {
    return YamlToJson(YAML::Load(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid YAML: ", e.what()));
  }
}

}  // namespace matalign
