// The architecture of a MatAlign model: what the trainer builds, what a model bundle's
// manifest records, and what the server rebuilds before loading weights. Torch-free, so
// configuration can be read and checked without LibTorch.
//
// The same JSON object appears in a training config (YAML "model:" section) and in a bundle's
// manifest.json ("config.model"); ModelConfigFromJson reads both, ModelConfigToJson writes it.
#ifndef MATALIGN_ENCODERS_CONFIG_H_
#define MATALIGN_ENCODERS_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace matalign::encoders {

// Message-passing GNN over periodic structure graphs (materials/graph.h).
struct GraphEncoderConfig {
  // Message-passing layers. Default: 3.
  int layers = 3;
  // Width of the node states. Default: 128.
  int hidden = 128;
  // Graph construction: neighbour cutoff (Angstrom), neighbours per atom, Gaussian RBFs.
  // Defaults: 6.0, 12, 40 (materials::GraphOptions).
  double cutoff = 6.0;
  int max_neighbors = 12;
  int num_rbf = 40;
};

// Transformer encoder over SentencePiece tokens with a [CLS] readout.
struct TextEncoderConfig {
  // Transformer layers. Default: 4.
  int layers = 4;
  // Attention heads; must divide `hidden`. Default: 4.
  int heads = 4;
  // Model width. Default: 256.
  int hidden = 256;
  // Feed-forward width. Default: 1024.
  int ffn = 1024;
  // Longest token sequence, [CLS] included; longer texts are truncated. In [2, 512].
  // Default: 512.
  int max_length = 512;
  // Vocabulary size: set from the tokenizer by the trainer. Default: 8000.
  int vocab_size = 8000;
  // Dropout inside the transformer layers (training only). Default: 0.1.
  double dropout = 0.1;
};

// ResNet-style CNN over grayscale characterization images (SEM micrographs, XRD plots).
struct ImageEncoderConfig {
  // 18 or 34 (basic blocks) or 50 (bottleneck blocks). Default: 18.
  int depth = 18;
  // Channels of the first stage (ResNet: 64); stages have 1x, 2x, 4x, 8x. Default: 64.
  int base_width = 64;
  // Side of the square input in pixels (imaging::Preprocess). Default: 224.
  int input_size = 224;
  // "batch" (BatchNorm, as ResNet) or "group" (GroupNorm, independent of the batch
  // composition, so data-parallel training matches one process exactly). Default: "batch".
  std::string norm = "batch";
};

// MLP from a target specification (standardized properties + mask, element fractions) into
// the shared space, so a target can be searched against synthesis texts.
struct PropertyEncoderConfig {
  // The properties a target may specify, in this order. Default: none (composition only).
  std::vector<std::string> properties;
  // Also feed the element fractions of the target composition. Default: true.
  bool use_composition = true;
  // Hidden width. Default: 256.
  int hidden = 256;
};

// Prediction heads on top of the embeddings.
struct HeadsConfig {
  // Properties regressed from the structure embedding (2-layer MLP, standardized targets).
  // Default: none (no property head).
  std::vector<std::string> properties;
  // Defect classes predicted from the image embedding. Default: none (no classifier).
  std::vector<std::string> defect_classes;
  // Hidden width of both heads. Default: 128.
  int hidden = 128;
};

struct ModelConfig {
  // Dimension d of the shared embedding space. Default: 128.
  int embed_dim = 128;
  GraphEncoderConfig graph;
  TextEncoderConfig text;
  ImageEncoderConfig image;
  PropertyEncoderConfig property;
  HeadsConfig heads;
  // Initial InfoNCE temperature and the clamp applied to it during training.
  // Defaults: 0.07, [0.01, 1.0].
  double init_temperature = 0.07;
  double min_temperature = 0.01;
  double max_temperature = 1.0;

  // InvalidArgument naming the first field out of range (e.g. "model.text.heads: 3 does
  // not divide hidden 256").
  absl::Status Validate() const;
};

// Reads a model config from JSON. Missing keys keep their defaults; unknown keys and wrong
// types are InvalidArgument naming the key path ("model.graph.layerz: unknown key").
// Validates the result.
absl::StatusOr<ModelConfig> ModelConfigFromJson(const nlohmann::json& json);
// Every field, so the manifest documents the whole architecture.
nlohmann::json ModelConfigToJson(const ModelConfig& config);

}  // namespace matalign::encoders

#endif  // MATALIGN_ENCODERS_CONFIG_H_
