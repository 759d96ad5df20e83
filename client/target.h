// The recommend target file: a JSON object naming what a synthesis should achieve.
//
//   {"properties": {"band_gap_ev": 2.1, "formation_energy": -1.5},
//    "composition": "BaTiO3",                  // or {"Ba": 1, "Ti": 1, "O": 3}
//    "filters": {"exclude_elements": ["Pb"], "require_elements": ["Ti"],
//                "routes": ["sol-gel"], "material_classes": ["crystalline"]},
//    "k": 10}
//
// Every key is optional, but at least one of properties / composition must be given.
// Property names are not checked here: the server knows the model's names and rejects an
// unknown one with a message listing them.
#ifndef MATALIGN_CLIENT_TARGET_H_
#define MATALIGN_CLIENT_TARGET_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/matalign/v1/matalign.pb.h"

namespace matalign::client {

// The largest number of hits a Recommend or Search may ask for (the API's k: 1..1024, see
// proto/matalign/v1/matalign.proto).
inline constexpr uint32_t kMaxK = 1024;

// Parses a target file's text into a RecommendRequest: properties -> target.properties,
// a composition object -> target.composition, a composition string -> target.formula,
// filters -> filter (exclude_elements -> excluded_elements, require_elements ->
// required_elements, routes, material_classes), k -> k (absent: 0, the server's default).
// `source` (the file name) prefixes every error. Errors, all InvalidArgument: invalid
// JSON; a top level that is not an object; an unknown key at the top level or in filters
// (naming it and listing the allowed keys); a value of the wrong type (naming the key
// path and the expected type); non-finite numbers; composition amounts <= 0; empty names;
// k outside 1..kMaxK; neither properties nor composition given.
absl::StatusOr<v1::RecommendRequest> ParseTarget(absl::string_view json_text,
                                                 absl::string_view source);

// Reads the file at `path` and parses it with ParseTarget. Errors: those of ReadFile
// (NotFound if missing) and of ParseTarget.
absl::StatusOr<v1::RecommendRequest> ReadTargetFile(const std::string& path);

}  // namespace matalign::client

#endif  // MATALIGN_CLIENT_TARGET_H_
