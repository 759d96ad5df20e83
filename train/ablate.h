// `mmtrain ablate`: the proposal's ablation. Trains, with the same config, seeds and budget,
// one model per modality subset (structure, text, image alone; each pair; all three) and a
// generalization run with material classes held out, evaluates each on the same test split
// (train/evaluate.h) and writes one table comparing them.
//
// A variant sees only its modalities in training: the other modalities are removed from the
// train and val records (a derived manifest in OUT/<variant>/), so the objective keeps the
// pairs and heads those modalities allow (structure: property head and target->structure;
// text: target->text; image: defect head; pairs add their InfoNCE term). Every variant is
// evaluated on the untouched test split, reporting only the figures its modalities can
// produce.
#ifndef MATALIGN_TRAIN_ABLATE_H_
#define MATALIGN_TRAIN_ABLATE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace matalign::train {

struct AblateOptions {
  // Training config (YAML), shared by every variant. Required.
  std::string config;
  // Corpus directory or manifest with train, val and test splits. Required.
  std::string data;
  // Report directory: OUT/report.{json,md}, OUT/<variant>/{manifest.jsonl, models/, run/,
  // eval/}. Required.
  std::string out;
  // Override of train.epochs; 0 = the config's. Default: 0.
  int epochs = 0;
  // Variants to run, from "structure", "text", "image", "structure+text", "structure+image",
  // "text+image", "tri-modal", "generalization"; empty = all. Default: {}.
  std::vector<std::string> variants;
  // The generalization run trains on this material class only and tests on the others.
  // Default: "crystalline".
  std::string train_class = "crystalline";
  // Keep a variant whose OUT/<variant>/eval/report.json exists instead of retraining it
  // (continue an interrupted ablation). Default: false.
  bool reuse = false;
  // "auto", "cpu" or "cuda". Default: "auto".
  std::string device = "auto";
  // Intra-op threads; 0 = hardware threads. Default: 0.
  int threads = 0;

  absl::Status Validate() const;
};

// The variant names in table order.
const std::vector<std::string>& AblationVariants();

// Runs the ablation and returns report.json's content ({"variants": {name: {"modalities",
// "train_seconds", "eval": <evaluation report>}}, "table": [...], ...}). Errors: those of
// LoadTrainConfig, Train and Evaluate, naming the variant.
absl::StatusOr<nlohmann::json> Ablate(const AblateOptions& options);

}  // namespace matalign::train

#endif  // MATALIGN_TRAIN_ABLATE_H_
