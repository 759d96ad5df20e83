// The training loop behind `mmtrain train`: tri-modal InfoNCE with a learnable temperature,
// masked pairs, optional curriculum, property and defect heads, AdamW with warmup + cosine,
// gradient clipping, validation Recall@k every epoch, early stopping, checkpoints with
// --resume, a JSONL metrics log, data-parallel ranks over c10d, and a model bundle at the end.
#ifndef MATALIGN_TRAIN_TRAINER_H_
#define MATALIGN_TRAIN_TRAINER_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "train/config.h"

namespace matalign::train {

struct TrainerOptions {
  // Manifest file or a directory holding manifest.jsonl. Required.
  std::string data;
  // Models directory; the bundle goes to <out>/<version>/. Required.
  std::string out;
  // Checkpoint, tokenizer and metrics.jsonl of this run. Default: "" = <out>/runs/latest.
  std::string run_dir;
  // Continue from <run_dir>/checkpoint.pt (same config and data required). Default: false.
  bool resume = false;
  // An existing SentencePiece model to use instead of training one. Default: "".
  std::string tokenizer;
  // A bundle directory whose weights initialize the model (fine-tuning after pre-training):
  // every parameter and buffer whose name and shape match is copied, the rest keep their
  // initialization. Its tokenizer is used unless `tokenizer` is set. Ignored with `resume`.
  // Default: "".
  std::string init_from;
  // "auto" (CUDA when available), "cpu" or "cuda". Default: "auto".
  std::string device = "auto";
  // Intra-op threads of this process; 0 = hardware threads / world_size. Default: 0.
  int threads = 0;
  // Data parallelism: this process's rank, the number of ranks, and the c10d rendezvous
  // ("file:<path>" or "tcp:<host>:<port>"; distributed/process_group.h). Defaults: 0, 1, "".
  int rank = 0;
  int world_size = 1;
  std::string rendezvous;
  // Stop (as if interrupted) after this many epochs of this invocation, leaving the
  // checkpoint and no bundle; 0 = run to the end. For tests of --resume. Default: 0.
  int stop_after_epochs = 0;
  // Print a progress line every n steps (rank 0 only); 0 = never. Default: 1.
  int log_every = 1;

  absl::Status Validate() const;
};

struct TrainResult {
  std::string bundle_dir;           // "" when stopped early by stop_after_epochs or on ranks > 0
  int epochs_run = 0;               // epochs completed by this invocation
  int best_epoch = -1;              // 1-based; -1 without validation data
  nlohmann::json best_metrics;      // validation figures of the best epoch
  std::string selection_metric;     // the validation figure that chose it ("" = none)
  double samples_per_second = 0;    // training samples (global) per second of training steps
  double loader_wait_fraction = 0;  // share of step time spent waiting for batches
};

// Trains `config` on `options.data`. Errors: InvalidArgument (options, config, data),
// FailedPrecondition (resume mismatch, too little data), Internal (I/O, torch).
absl::StatusOr<TrainResult> Train(const TrainConfig& config, const TrainerOptions& options);

}  // namespace matalign::train

#endif  // MATALIGN_TRAIN_TRAINER_H_
