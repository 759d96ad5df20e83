// Reading a configuration object out of JSON (or YAML converted to JSON) field by field,
// with the errors a user can act on: the full key path, the expected type, unknown keys.
//
//   JsonObjectReader r(json, "model.graph");
//   r.Read("layers", &config.layers);
//   r.Read("cutoff", &config.cutoff);
//   MATALIGN_RETURN_IF_ERROR(r.Finish());   // "model.graph.layerz: unknown key"
#ifndef MATALIGN_COMMON_JSON_READER_H_
#define MATALIGN_COMMON_JSON_READER_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace matalign {

// Not thread-safe; cheap to create. Missing keys leave the destination untouched (so the
// destination's default stands); a present key of the wrong type records an error.
class JsonObjectReader {
 public:
  // `json` must outlive the reader. A null `json` reads as an empty object; any other
  // non-object is an error reported by Finish(). `path` prefixes every message ("" = top).
  JsonObjectReader(const nlohmann::json& json, std::string path)
      : json_(json), path_(std::move(path)) {
    if (!json_.is_null() && !json_.is_object()) Fail(path_, "expected an object");
  }

  // Reads `key` into `out` (bool, integers, floating point, std::string, or std::vector
  // of those) if present.
  template <typename T>
  void Read(const char* key, T* out) {
    seen_.insert(key);
    if (!json_.is_object()) return;
    auto it = json_.find(key);
    if (it == json_.end() || it->is_null()) return;
    ReadValue(*it, KeyPath(key), out);
  }

  // The sub-object at `key` (null if absent) and its key path, for a nested reader.
  const nlohmann::json& Object(const char* key) {
    seen_.insert(key);
    static const nlohmann::json kNull;
    if (!json_.is_object()) return kNull;
    auto it = json_.find(key);
    return it == json_.end() ? kNull : *it;
  }
  std::string KeyPath(const char* key) const {
    return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
  }

  // Marks `key` as known without reading it (a section another reader handles).
  void Skip(const char* key) { seen_.insert(key); }

  // Records a nested reader's error.
  void Merge(const absl::Status& status) {
    if (!status.ok() && error_.ok()) error_ = status;
  }

  // The first error: a wrong type, or a key that no Read/Object/Skip named.
  absl::Status Finish() const {
    if (!error_.ok()) return error_;
    if (json_.is_object()) {
      for (auto it = json_.begin(); it != json_.end(); ++it) {
        if (!seen_.count(it.key())) {
          return absl::InvalidArgumentError(
              absl::StrCat(KeyPath(it.key().c_str()), ": unknown key"));
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  void Fail(const std::string& path, const std::string& what) {
    if (error_.ok()) error_ = absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
  }

  template <typename T>
  void ReadValue(const nlohmann::json& v, const std::string& path, T* out) {
    if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) return Fail(path, "expected true or false");
      *out = v.get<bool>();
    } else if constexpr (std::is_integral_v<T>) {
      // Read wide, then check the destination's range (no silent narrowing).
      long double x;
      if (v.is_number_integer()) {
        x = v.is_number_unsigned() ? static_cast<long double>(v.get<uint64_t>())
                                   : static_cast<long double>(v.get<int64_t>());
      } else if (v.is_number_float() && std::isfinite(v.get<double>()) &&
                 v.get<double>() == std::floor(v.get<double>())) {
        x = v.get<double>();
      } else {
        return Fail(path, "expected an integer");
      }
      if (x < static_cast<long double>(std::numeric_limits<T>::min()) ||
          x > static_cast<long double>(std::numeric_limits<T>::max())) {
        return Fail(path, "integer out of range");
      }
      *out = static_cast<T>(x);
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!v.is_number()) return Fail(path, "expected a number");
      *out = v.get<T>();
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) return Fail(path, "expected a string");
      *out = v.get<std::string>();
    } else {
      static_assert(std::is_same_v<T, std::vector<typename T::value_type>>);
      if (!v.is_array()) return Fail(path, "expected a list");
      T result(v.size());
      for (size_t i = 0; i < v.size(); ++i) {
        ReadValue(v[i], absl::StrCat(path, "[", i, "]"), &result[i]);
      }
      *out = std::move(result);
    }
  }

  const nlohmann::json& json_;
  std::string path_;
  std::set<std::string> seen_;
  absl::Status error_;
};

}  // namespace matalign

#endif  // MATALIGN_COMMON_JSON_READER_H_
