// `mmtrain bench-real`: the encoders against public measured / DFT data whose published
// numbers we can compare with (docs/results/). Each benchmark takes its training data and,
// separately, a test file or folder of the same format; without a test set it splits the
// training data. Each writes OUT/report.json (and report.md) and returns the same JSON.
//
//   perov5  structure encoder + property head on heat_all (eV per 5-atom cell), with and
//           without contrastive pre-training on synthetic text / XRD simulated from the same
//           structures
//   sem     image encoder + head on labelled SEM micrographs (composition x state, and state
//           alone), stratified k-fold cross-validation
//   xrd     measured scans against structures through simulated patterns (BiFeO3 peak match,
//           retrieval of each scan's phase among candidate structures)
#ifndef MATALIGN_TRAIN_BENCH_REAL_H_
#define MATALIGN_TRAIN_BENCH_REAL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace matalign::train {

struct BenchRealOptions {
  // Training data: perov5 CSV; SEM folder with labels.csv; XRD folder of scans and CIFs.
  // Required.
  std::string train;
  // Test data of the same format; "" = split `train`. Default: "".
  std::string test;
  // Report directory (created). Required.
  std::string out;
  // Training config (YAML) overriding the benchmark's preset in configs/; "" = the preset.
  // Default: "".
  std::string config;
  // Override of train.epochs of the config; 0 = the config's. Default: 0.
  int epochs = 0;
  // Use at most this many training / test items; 0 = all (for quick runs and tests).
  // Default: 0.
  int max_items = 0;
  // Cross-validation folds (sem, when `test` is empty). Default: 5.
  int folds = 5;
  // Share of the training data held out for validation (early stopping). Default: 0.1.
  double val_fraction = 0.1;
  // "auto", "cpu" or "cuda". Default: "auto".
  std::string device = "auto";
  // Intra-op threads; 0 = hardware threads. Default: 0.
  int threads = 0;
  // Seed of splits, folds and training. Default: 1.
  uint64_t seed = 1;

  absl::Status Validate() const;
};

// perov5: `train` (and `test`) are perov5 CSVs. Without `test`, 10% of the training rows
// (seeded) are the test split; `val_fraction` of the rest validates (early stopping on
// mae_heat_all). Three runs of configs/bench-perov5.yaml (or `config`, which must have a
// heat_all head), all written under OUT/work/perov5/: (1) the structure encoder + head from
// scratch; (2) contrastive pre-training (structure-text, structure-XRD, text-XRD InfoNCE, no
// head, at most 30 epochs) on synthetic synthesis texts and simulated XRD images made for
// exactly the train + val structures (no label is used; test structures are never seen);
// (3) run 1 again initialized from run 2's bundle. Both heads are evaluated on the same test
// split. report.json:
//   "data": {"train_file", "test_file" (null = split), "imported", "skipped", "train", "val",
//            "test", ...}
//   "plain", "pretrained": {"n", "mae", "rmse", "pearson", "spearman" (test split, eV/cell),
//            "training": {"seconds", "best_epoch", "epochs_run", "selection_metric",
//            "val", "bundle", ...}, "eval_seconds"}; "pretrained"."pretraining": the same
//            "training" figures of run 2 plus "corpus": {"records", "problems", ...}
//   "dummy": {"n", "mae", "rmse", "training_mean"} (predicting the training mean)
//   "pretraining_mae_change" (pretrained - plain), "pretraining_lowers_mae"
//   "reference": [{"model", "mae", "source"}] (Matbench perovskites), "config",
//   "pretrain_config", "config_file", "machine", "seed", "seconds"
// Errors: InvalidArgument (options, config), NotFound (input, preset), those of the importer,
// Train and Evaluate.
absl::StatusOr<nlohmann::json> BenchRealPerov5(const BenchRealOptions& options);

// sem: `train` (and `test`) are SEM folders with labels.csv (corpus::ImportSemFolder) whose
// columns "class" (composition x state) and "state" are the two tasks. The classifier of
// configs/bench-sem.yaml (or `config`: image_kinds must include sem, defect_head weight > 0)
// learns each task's sorted training class names. Without `test`: `folds`-fold stratified
// cross-validation of the training images; with it, one run trained on `train` and tested
// on `test`. `val_fraction` of each training part (stratified) validates (defect_accuracy).
// report.json:
//   "data": {"train_file", "test_file", "train_images", "test_images", "skipped", "folds", ...}
//   "tasks": {"composition_state" | "state": {"classes", "class_counts", "evaluation",
//            "runs": [{"fold" (null for a test folder), "train", "val", "test" (images),
//            "n" (evaluated), "accuracy", "f1_macro", "roc_auc_ovr", "confusion",
//            "training": {...}}], "accuracy" | "f1_macro" | "roc_auc_ovr": {"mean", "std"
//            (population, over runs), "n"}, "confusion" (summed [truth][predicted]),
//            "test_items", "test_items_without_known_class", "pooled_accuracy",
//            "majority_class", "majority_class_accuracy", "train_seconds"}}
//   "config", "config_file", "machine", "seed", "seconds"
// Errors as BenchRealPerov5; InvalidArgument when a task has fewer than 2 classes or fewer
// labelled images than folds.
absl::StatusOr<nlohmann::json> BenchRealSem(const BenchRealOptions& options);
absl::StatusOr<nlohmann::json> BenchRealXrd(const BenchRealOptions& options);

}  // namespace matalign::train

#endif  // MATALIGN_TRAIN_BENCH_REAL_H_
