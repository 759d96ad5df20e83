#include "client/target.h"

#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace matalign::client {

namespace {

using nlohmann::json;

constexpr std::initializer_list<const char*> kTopLevelKeys = {"properties", "composition",
                                                              "filters", "k"};
constexpr std::initializer_list<const char*> kFilterKeys = {"exclude_elements", "require_elements",
                                                            "routes", "material_classes"};

// Errors of one target file, each prefixed "<source>: <key path>: ".
class TargetParser {
 public:
  explicit TargetParser(absl::string_view source) : source_(source) {}

  absl::Status Error(absl::string_view path, absl::string_view what) const {
    return absl::InvalidArgumentError(path.empty() ? absl::StrCat(source_, ": ", what)
                                                   : absl::StrCat(source_, ": ", path, ": ", what));
  }

  absl::Status WrongType(absl::string_view path, absl::string_view expected,
                         const json& value) const {
    return Error(path, absl::StrCat("expected ", expected, ", got ", value.type_name()));
  }

  // InvalidArgument for the first key of `object` not in `allowed`.
  absl::Status CheckKeys(const json& object, absl::string_view path,
                         std::initializer_list<const char*> allowed) const {
    for (auto it = object.begin(); it != object.end(); ++it) {
      bool known = false;
      for (const char* key : allowed) known = known || it.key() == key;
      if (!known) {
        return Error(path, absl::StrCat("unknown key '", it.key(),
                                        "' (allowed: ", absl::StrJoin(allowed, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }

  // A finite number (JSON numbers are finite already; kept for values built in code).
  absl::StatusOr<double> Number(const json& value, const std::string& path) const {
    if (!value.is_number()) return WrongType(path, "a number", value);
    const double x = value.get<double>();
    if (!std::isfinite(x)) return Error(path, "must be finite");
    return x;
  }

  // An object of name -> number with non-empty names, into `out`.
  absl::Status NumberMap(const json& value, const std::string& path,
                         google::protobuf::Map<std::string, double>* out) const {
    if (!value.is_object()) return WrongType(path, "an object of name: number", value);
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (it.key().empty()) return Error(path, "names must not be empty");
      MATALIGN_ASSIGN_OR_RETURN(double x, Number(it.value(), absl::StrCat(path, ".", it.key())));
      (*out)[it.key()] = x;
    }
    return absl::OkStatus();
  }

  // A list of non-empty strings, into `out`.
  absl::Status StringList(const json& value, const std::string& path,
                          google::protobuf::RepeatedPtrField<std::string>* out) const {
    if (!value.is_array()) return WrongType(path, "a list of strings", value);
    for (size_t i = 0; i < value.size(); ++i) {
      const std::string item_path = absl::StrCat(path, "[", i, "]");
      if (!value[i].is_string()) return WrongType(item_path, "a string", value[i]);
      if (value[i].get<std::string>().empty()) return Error(item_path, "must not be empty");
      out->Add(value[i].get<std::string>());
    }
    return absl::OkStatus();
  }

  absl::Status Composition(const json& value, v1::TargetSpec* target) const {
    if (value.is_string()) {
      if (value.get<std::string>().empty()) return Error("composition", "must not be empty");
      target->set_formula(value.get<std::string>());
      return absl::OkStatus();
    }
    if (!value.is_object()) {
      return WrongType("composition", "a formula string or an object of element: amount", value);
    }
    if (value.empty()) return Error("composition", "must not be empty");
    MATALIGN_RETURN_IF_ERROR(NumberMap(value, "composition", target->mutable_composition()));
    for (const auto& [element, amount] : target->composition()) {
      if (!(amount > 0)) {
        return Error(absl::StrCat("composition.", element),
                     absl::StrCat("amount must be > 0, got ", amount));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Filters(const json& value, v1::Filter* filter) const {
    if (!value.is_object()) return WrongType("filters", "an object", value);
    MATALIGN_RETURN_IF_ERROR(CheckKeys(value, "filters", kFilterKeys));
    if (auto it = value.find("exclude_elements"); it != value.end()) {
      MATALIGN_RETURN_IF_ERROR(
          StringList(*it, "filters.exclude_elements", filter->mutable_excluded_elements()));
    }
    if (auto it = value.find("require_elements"); it != value.end()) {
      MATALIGN_RETURN_IF_ERROR(
          StringList(*it, "filters.require_elements", filter->mutable_required_elements()));
    }
    if (auto it = value.find("routes"); it != value.end()) {
      MATALIGN_RETURN_IF_ERROR(StringList(*it, "filters.routes", filter->mutable_routes()));
    }
    if (auto it = value.find("material_classes"); it != value.end()) {
      MATALIGN_RETURN_IF_ERROR(
          StringList(*it, "filters.material_classes", filter->mutable_material_classes()));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint32_t> K(const json& value) const {
    const bool integral =
        value.is_number_integer() ||
        (value.is_number_float() && value.get<double>() == std::floor(value.get<double>()));
    if (!integral) return WrongType("k", "an integer", value);
    const double k = value.get<double>();
    if (k < 1 || k > kMaxK) {
      return Error("k", absl::StrCat("must be in 1..", kMaxK, ", got ", value.dump()));
    }
    return static_cast<uint32_t>(k);
  }

 private:
  std::string source_;
};

}  // namespace

absl::StatusOr<v1::RecommendRequest> ParseTarget(absl::string_view json_text,
                                                 absl::string_view source) {
  TargetParser parser(source);
  json doc;
  try {
    doc = json::parse(json_text.begin(), json_text.end());
  } catch (const json::exception& e) {
    return parser.Error("", absl::StrCat("invalid JSON: ", e.what()));
  }
  if (!doc.is_object()) return parser.WrongType("", "a JSON object", doc);
  MATALIGN_RETURN_IF_ERROR(parser.CheckKeys(doc, "", kTopLevelKeys));

  v1::RecommendRequest request;
  v1::TargetSpec* target = request.mutable_target();
  if (auto it = doc.find("properties"); it != doc.end()) {
    MATALIGN_RETURN_IF_ERROR(parser.NumberMap(*it, "properties", target->mutable_properties()));
  }
  if (auto it = doc.find("composition"); it != doc.end()) {
    MATALIGN_RETURN_IF_ERROR(parser.Composition(*it, target));
  }
  if (auto it = doc.find("filters"); it != doc.end()) {
    MATALIGN_RETURN_IF_ERROR(parser.Filters(*it, request.mutable_filter()));
  }
  if (auto it = doc.find("k"); it != doc.end()) {
    MATALIGN_ASSIGN_OR_RETURN(uint32_t k, parser.K(*it));
    request.set_k(k);
  }
  if (target->properties().empty() && target->composition().empty() && target->formula().empty()) {
    return parser.Error("", "give at least one of 'properties' (non-empty) or 'composition'");
  }
  return request;
}

absl::StatusOr<v1::RecommendRequest> ReadTargetFile(const std::string& path) {
  MATALIGN_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 20));
  return ParseTarget(text, path);
}

}  // namespace matalign::client
