// From parsed inputs to encoder batches, identically in the trainer and the server:
// structure -> graph (materials/graph.h), text -> token ids (text/tokenizer.h),
// image -> preprocessed pixels (imaging/preprocess.h), target properties -> standardized
// values + mask + element fractions; then batching into tensors (encoders/model.h).
#ifndef MATALIGN_ENCODERS_FEATURIZE_H_
#define MATALIGN_ENCODERS_FEATURIZE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "encoders/config.h"
#include "encoders/model.h"
#include "imaging/preprocess.h"
#include "materials/graph.h"
#include "nlohmann/json.hpp"

namespace matalign::encoders {

// Mean and standard deviation of every named property over the training split; models see
// (value - mean) / stddev.
struct PropertyNormalization {
  std::map<std::string, std::pair<double, double>> stats;  // name -> (mean, stddev > 0)

  // Computes the statistics of `names` from `samples` (each a name -> value map; absent =
  // missing). A property with fewer than 2 values or no spread gets stddev 1.
  static PropertyNormalization Fit(
      const std::vector<std::string>& names,
      const std::vector<const std::map<std::string, double>*>& samples);
  // {"name": {"mean": m, "std": s}, ...}
  nlohmann::json ToJson() const;
  // InvalidArgument naming the key for a malformed object or stddev <= 0.
  static absl::StatusOr<PropertyNormalization> FromJson(const nlohmann::json& json);
};

materials::GraphOptions GraphOptionsFor(const ModelConfig& config);
// SEM micrographs have their data bar removed; XRD plots (kind "xrd") do not have one.
imaging::PreprocessOptions ImageOptionsFor(const ModelConfig& config, absl::string_view kind);

// The property encoder's input for one target.
struct PropertyTarget {
  std::vector<float> values;       // [P] standardized, 0 where missing
  std::vector<float> mask;         // [P] 1 where given
  std::vector<float> composition;  // [kNumElements] element fractions (all 0 if none given)
};

// Encodes `properties` (name -> physical value) and `composition` (element symbol ->
// amount) for the property encoder configured by `config`. With `strict`, a property the
// encoder does not know, an unknown element symbol, a non-finite value or a non-positive
// amount is InvalidArgument naming it (for user requests); otherwise unknown names are
// ignored (training records carry more properties than the encoder reads). A target with
// neither a known property nor a composition is InvalidArgument either way.
absl::StatusOr<PropertyTarget> EncodePropertyTarget(
    const std::map<std::string, double>& properties,
    const std::map<std::string, double>& composition, const PropertyEncoderConfig& config,
    const PropertyNormalization& normalization, bool strict);

// Batching. Pointers must be non-null.
GraphBatch CollateGraphs(const std::vector<const materials::StructureGraph*>& graphs);
// Pads every row with [PAD] to the longest one. Rows must be non-empty.
TextBatch CollateTokens(const std::vector<const std::vector<int32_t>*>& rows);
// Images of side `size` (size * size floats each) -> [B, 1, size, size].
torch::Tensor CollateImages(const std::vector<const std::vector<float>*>& images, int size);
PropertyBatch CollateTargets(const std::vector<const PropertyTarget*>& targets);

}  // namespace matalign::encoders

#endif  // MATALIGN_ENCODERS_FEATURIZE_H_
