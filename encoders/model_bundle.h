// A trained MatAlign model as a bundle (bundle/bundle.h): the trainer saves one, the server
// loads one. The bundle holds manifest.json (version, created, config, input
// normalization, tokenizer, dimensions, data hash, metrics, library versions), one weight
// file per encoder and head ("graph_encoder.pt", ...: a torch::pickle_save'd dict of
// parameter name -> tensor, readable with torch.load in Python) and "tokenizer.model".
#ifndef MATALIGN_ENCODERS_MODEL_BUNDLE_H_
#define MATALIGN_ENCODERS_MODEL_BUNDLE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "encoders/config.h"
#include "encoders/featurize.h"
#include "encoders/model.h"
#include "nlohmann/json.hpp"
#include "text/tokenizer.h"

namespace matalign::encoders {

// A loaded bundle. Immutable after loading; share it with std::shared_ptr so requests in
// flight keep using it while a newer one is swapped in. The model is in eval() mode.
struct LoadedModel {
  std::string dir;
  std::string version;
  nlohmann::json manifest;
  ModelConfig config;
  MatAlignModel model{nullptr};
  std::unique_ptr<text::Tokenizer> tokenizer;
  PropertyNormalization normalization;
  torch::Device device = torch::kCPU;
};

// Serializes the parameters and buffers of `module` (recursively, dotted names).
std::vector<char> SaveModuleWeights(torch::nn::Module& module);
// Loads weights written by SaveModuleWeights into `module`, requiring exactly the same
// names and shapes. Errors (InvalidArgument, naming `source` and the tensor): unreadable
// data, a missing or unexpected tensor, a shape or dtype mismatch.
absl::Status LoadModuleWeights(torch::nn::Module& module, const std::vector<char>& data,
                               absl::string_view source);

// Everything the manifest records besides what SaveModelBundle derives from its arguments.
struct BundleMetadata {
  nlohmann::json train_config = nlohmann::json::object();  // the trainer's settings
  std::string data_hash;                                   // sha256 of the training manifest
  nlohmann::json metrics = nlohmann::json::object();       // validation figures
};

// Writes a new bundle version under `models_dir` (atomically) and returns its directory.
// `model` may live on any device. Errors: Internal on I/O failure.
absl::StatusOr<std::string> SaveModelBundle(const std::string& models_dir, MatAlignModel& model,
                                            const text::Tokenizer& tokenizer,
                                            const PropertyNormalization& normalization,
                                            const BundleMetadata& metadata);

// Reads and verifies the bundle at `dir` (checksums, manifest schema, config, every weight
// file's names and shapes against the config, tokenizer vocabulary against the text
// encoder) and loads it onto `device`. Errors name the bundle and what is wrong:
// NotFound (no bundle there), DataLoss (damaged file), FailedPrecondition (newer format),
// InvalidArgument (manifest or weights inconsistent with the config).
absl::StatusOr<std::shared_ptr<LoadedModel>> LoadModelBundle(const std::string& dir,
                                                             torch::Device device = torch::kCPU);

}  // namespace matalign::encoders

#endif  // MATALIGN_ENCODERS_MODEL_BUNDLE_H_
