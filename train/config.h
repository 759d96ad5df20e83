// A training configuration: configs/*.yaml (tiny, small, base). Torch-free.
//
//   model:     encoders/config.h ModelConfig (text.vocab_size comes from the tokenizer)
//   tokenizer: SentencePiece training for the synthesis texts
//   train:     optimization, objective, data and validation settings
#ifndef MATALIGN_TRAIN_CONFIG_H_
#define MATALIGN_TRAIN_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "encoders/config.h"
#include "nlohmann/json.hpp"

namespace matalign::train {

// Weight lambda of every loss term; 0 switches a term off.
struct LossWeights {
  double graph_text = 1.0;      // InfoNCE structure <-> synthesis text
  double graph_image = 1.0;     // InfoNCE structure <-> image
  double text_image = 1.0;      // InfoNCE synthesis text <-> image
  double property_graph = 1.0;  // InfoNCE target properties <-> structure
  double property_text = 1.0;   // InfoNCE target properties <-> synthesis text
  double property_head = 1.0;   // MSE of the property head (standardized targets)
  // Cross-entropy of the defect classifier. 5: at 1 the five InfoNCE terms own the image
  // encoder and the classifier stays at the class prior (tiny preset, 1000 materials:
  // validation accuracy 0.51 = share of "none"); at 5 it reaches 0.65 with structure->text
  // Recall@5 unchanged (0.49 vs 0.47).
  double defect_head = 5.0;
};

struct TokenizerConfig {
  // Vocabulary size of the SentencePiece BPE model trained on the training texts.
  // Default: 4000.
  int vocab_size = 4000;
};

struct TrainSettings {
  // Passes over the training split. Default: 20.
  int epochs = 20;
  // Global batch size (over all ranks; must be divisible by the world size). Default: 64.
  int batch_size = 64;
  // Peak learning rate after warmup, and the floor of the cosine decay. Defaults: 1e-3, 1e-5.
  double lr = 1e-3;
  double min_lr = 1e-5;
  // Linear warmup steps. Default: 100.
  int warmup_steps = 100;
  // AdamW decoupled weight decay (not applied to biases, norms, embeddings' positions or
  // the temperature). Default: 0.01.
  double weight_decay = 0.01;
  // Gradient norm clip; 0 = off. Default: 1.0.
  double grad_clip = 1.0;
  // Seed of initialization, shuffling, image choice and dropout. Default: 1.
  uint64_t seed = 1;
  // Symmetric InfoNCE (both directions, averaged); false = the one-directional form (query
  // modality retrieves the other). Default: true.
  bool symmetric = true;
  // Train only on materials that have structure, text and an image (the proposal's form);
  // false trains every material on the pairs it has (masked losses). Default: false.
  bool complete_triplets_only = false;
  // Curriculum: the first N epochs train structure-text (and property) pairs only; images
  // join afterwards. Default: 0 (off).
  int curriculum_epochs = 0;
  // Probability that a property (or the composition) of a material stays visible to the
  // property encoder in a training step, so partial targets work at query time.
  // Default: 0.7.
  double property_keep_prob = 0.7;
  // Image kinds used as the image modality; a material with several uses one chosen at
  // random each epoch. Default: [sem, xrd].
  std::vector<std::string> image_kinds = {"sem", "xrd"};
  LossWeights loss_weights;
  // Recall@k reported (and used for early stopping, structure -> text) on the validation
  // split every epoch. Default: 5.
  int recall_k = 5;
  // Stop after this many epochs without a better validation Recall@k; 0 = never.
  // Default: 5.
  int early_stopping_patience = 5;
  // The validation figure that picks the best epoch (its weights go into the bundle) and
  // drives early stopping: any key of the validation figures ("recall@5_g2t",
  // "mae_band_gap_ev", "defect_accuracy", ...); "mae_" keys are minimized, others maximized.
  // "" = the first of recall@k_g2t, recall@k_p2t, mae_<first head property>,
  // defect_accuracy, recall@k_g2v, recall@k_t2v that the validation split yields.
  // Default: "".
  std::string selection_metric;
  // Batches prepared ahead by the background loader. Default: 2.
  int prefetch = 2;
  // Use at most this many records of the manifest (in file order); 0 = all. Default: 0.
  int max_records = 0;
  // Mixed precision (bfloat16 autocast) when training on CUDA. Default: true.
  bool amp = true;
};

struct TrainConfig {
  encoders::ModelConfig model;
  TokenizerConfig tokenizer;
  TrainSettings train;

  // InvalidArgument naming the field.
  absl::Status Validate() const;
};

// Reads a YAML (or JSON) file. Unknown keys and wrong types are InvalidArgument naming the
// file and the key path; NotFound if the file is missing.
absl::StatusOr<TrainConfig> LoadTrainConfig(const std::string& path);
// Parses YAML text; `source` names it in errors.
absl::StatusOr<TrainConfig> ParseTrainConfig(const std::string& yaml, const std::string& source);
// The whole configuration (as recorded in checkpoints and bundle manifests).
nlohmann::json TrainConfigToJson(const TrainConfig& config);

}  // namespace matalign::train

#endif  // MATALIGN_TRAIN_CONFIG_H_
