#include "encoders/config.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/json_reader.h"
#include "common/status_macros.h"

namespace matalign::encoders {
namespace {

absl::Status Range(const char* field, double value, double lo, double hi) {
  if (!(value >= lo && value <= hi)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.", field, ": ", value, " is outside [", lo, ", ", hi, "]"));
  }
  return absl::OkStatus();
}

absl::Status UniqueNames(const char* field, const std::vector<std::string>& names) {
  std::set<std::string> seen;
  for (const std::string& n : names) {
    if (n.empty()) return absl::InvalidArgumentError(absl::StrCat("model.", field, ": empty name"));
    if (!seen.insert(n).second) {
      return absl::InvalidArgumentError(absl::StrCat("model.", field, ": '", n, "' twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ModelConfig::Validate() const {
  MATALIGN_RETURN_IF_ERROR(Range("embed_dim", embed_dim, 2, 8192));
  MATALIGN_RETURN_IF_ERROR(Range("graph.layers", graph.layers, 1, 64));
  MATALIGN_RETURN_IF_ERROR(Range("graph.hidden", graph.hidden, 1, 8192));
  MATALIGN_RETURN_IF_ERROR(Range("graph.cutoff", graph.cutoff, 0.5, 20));
  MATALIGN_RETURN_IF_ERROR(Range("graph.max_neighbors", graph.max_neighbors, 1, 256));
  MATALIGN_RETURN_IF_ERROR(Range("graph.num_rbf", graph.num_rbf, 1, 1024));
  MATALIGN_RETURN_IF_ERROR(Range("text.layers", text.layers, 1, 64));
  MATALIGN_RETURN_IF_ERROR(Range("text.heads", text.heads, 1, 128));
  MATALIGN_RETURN_IF_ERROR(Range("text.hidden", text.hidden, 1, 8192));
  if (text.hidden % text.heads != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.text.heads: ", text.heads, " does not divide hidden ", text.hidden));
  }
  MATALIGN_RETURN_IF_ERROR(Range("text.ffn", text.ffn, 1, 65536));
  MATALIGN_RETURN_IF_ERROR(Range("text.max_length", text.max_length, 2, 512));
  MATALIGN_RETURN_IF_ERROR(Range("text.vocab_size", text.vocab_size, 6, 1 << 20));
  MATALIGN_RETURN_IF_ERROR(Range("text.dropout", text.dropout, 0, 0.9));
  if (image.depth != 18 && image.depth != 34 && image.depth != 50) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.image.depth: ", image.depth, " (expected 18, 34 or 50)"));
  }
  MATALIGN_RETURN_IF_ERROR(Range("image.base_width", image.base_width, 4, 1024));
  MATALIGN_RETURN_IF_ERROR(Range("image.input_size", image.input_size, 32, 1024));
  if (image.norm != "batch" && image.norm != "group") {
    return absl::InvalidArgumentError(
        absl::StrCat("model.image.norm: '", image.norm, "' (expected batch or group)"));
  }
  if (image.norm == "group" && image.base_width % 4 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("model.image.base_width: ", image.base_width,
                                                   " must be a multiple of 4 with norm group"));
  }
  MATALIGN_RETURN_IF_ERROR(Range("property.hidden", property.hidden, 1, 8192));
  MATALIGN_RETURN_IF_ERROR(UniqueNames("property.properties", property.properties));
  if (property.properties.empty() && !property.use_composition) {
    return absl::InvalidArgumentError(
        "model.property: no properties and use_composition false leave the property encoder "
        "without input");
  }
  MATALIGN_RETURN_IF_ERROR(Range("heads.hidden", heads.hidden, 1, 8192));
  MATALIGN_RETURN_IF_ERROR(UniqueNames("heads.properties", heads.properties));
  MATALIGN_RETURN_IF_ERROR(UniqueNames("heads.defect_classes", heads.defect_classes));
  if (heads.defect_classes.size() == 1) {
    return absl::InvalidArgumentError("model.heads.defect_classes: need at least 2 classes");
  }
  MATALIGN_RETURN_IF_ERROR(Range("min_temperature", min_temperature, 1e-4, 10));
  MATALIGN_RETURN_IF_ERROR(Range("max_temperature", max_temperature, min_temperature, 10));
  MATALIGN_RETURN_IF_ERROR(
      Range("init_temperature", init_temperature, min_temperature, max_temperature));
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ModelConfigFromJson(const nlohmann::json& json) {
  ModelConfig c;
  JsonObjectReader r(json, "model");
  r.Read("embed_dim", &c.embed_dim);
  r.Read("init_temperature", &c.init_temperature);
  r.Read("min_temperature", &c.min_temperature);
  r.Read("max_temperature", &c.max_temperature);
  {
    JsonObjectReader g(r.Object("graph"), r.KeyPath("graph"));
    g.Read("layers", &c.graph.layers);
    g.Read("hidden", &c.graph.hidden);
    g.Read("cutoff", &c.graph.cutoff);
    g.Read("max_neighbors", &c.graph.max_neighbors);
    g.Read("num_rbf", &c.graph.num_rbf);
    r.Merge(g.Finish());
  }
  {
    JsonObjectReader t(r.Object("text"), r.KeyPath("text"));
    t.Read("layers", &c.text.layers);
    t.Read("heads", &c.text.heads);
    t.Read("hidden", &c.text.hidden);
    t.Read("ffn", &c.text.ffn);
    t.Read("max_length", &c.text.max_length);
    t.Read("vocab_size", &c.text.vocab_size);
    t.Read("dropout", &c.text.dropout);
    r.Merge(t.Finish());
  }
  {
    JsonObjectReader i(r.Object("image"), r.KeyPath("image"));
    i.Read("depth", &c.image.depth);
    i.Read("base_width", &c.image.base_width);
    i.Read("input_size", &c.image.input_size);
    i.Read("norm", &c.image.norm);
    r.Merge(i.Finish());
  }
  {
    JsonObjectReader p(r.Object("property"), r.KeyPath("property"));
    p.Read("properties", &c.property.properties);
    p.Read("use_composition", &c.property.use_composition);
    p.Read("hidden", &c.property.hidden);
    r.Merge(p.Finish());
  }
  {
    JsonObjectReader h(r.Object("heads"), r.KeyPath("heads"));
    h.Read("properties", &c.heads.properties);
    h.Read("defect_classes", &c.heads.defect_classes);
    h.Read("hidden", &c.heads.hidden);
    r.Merge(h.Finish());
  }
  MATALIGN_RETURN_IF_ERROR(r.Finish());
  MATALIGN_RETURN_IF_ERROR(c.Validate());
  return c;
}

nlohmann::json ModelConfigToJson(const ModelConfig& c) {
  return {
      {"embed_dim", c.embed_dim},
      {"init_temperature", c.init_temperature},
      {"min_temperature", c.min_temperature},
      {"max_temperature", c.max_temperature},
      {"graph",
       {{"layers", c.graph.layers},
        {"hidden", c.graph.hidden},
        {"cutoff", c.graph.cutoff},
        {"max_neighbors", c.graph.max_neighbors},
        {"num_rbf", c.graph.num_rbf}}},
      {"text",
       {{"layers", c.text.layers},
        {"heads", c.text.heads},
        {"hidden", c.text.hidden},
        {"ffn", c.text.ffn},
        {"max_length", c.text.max_length},
        {"vocab_size", c.text.vocab_size},
        {"dropout", c.text.dropout}}},
      {"image",
       {{"depth", c.image.depth},
        {"base_width", c.image.base_width},
        {"input_size", c.image.input_size},
        {"norm", c.image.norm}}},
      {"property",
       {{"properties", c.property.properties},
        {"use_composition", c.property.use_composition},
        {"hidden", c.property.hidden}}},
      {"heads",
       {{"properties", c.heads.properties},
        {"defect_classes", c.heads.defect_classes},
        {"hidden", c.heads.hidden}}},
  };
}

}  // namespace matalign::encoders
