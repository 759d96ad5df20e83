// YAML configuration files read as JSON, so that one reader (common/json_reader.h) checks
// every configuration the same way (training presets, the server's config).
#ifndef MATALIGN_COMMON_YAML_JSON_H_
#define MATALIGN_COMMON_YAML_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace matalign {

// Parses YAML text into JSON. Plain scalars are typed as YAML 1.2's core schema would
// (integer, float, bool, null); quoted scalars stay strings. InvalidArgument
// "<source>: not valid YAML: <reason>" on a syntax error.
absl::StatusOr<nlohmann::json> ParseYamlAsJson(const std::string& yaml, const std::string& source);

}  // namespace matalign

#endif  // MATALIGN_COMMON_YAML_JSON_H_
