// The training data: a manifest's records featurized once (graphs, token ids, preprocessed
// images, property targets), and the batches the trainer consumes, prepared ahead on a
// background thread.
#ifndef MATALIGN_TRAIN_DATASET_H_
#define MATALIGN_TRAIN_DATASET_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "corpus/record.h"
#include "encoders/featurize.h"
#include "materials/graph.h"
#include "text/tokenizer.h"
#include "train/config.h"

namespace matalign::train {

struct ExampleImage {
  std::string kind;             // "sem" | "xrd"
  std::vector<uint8_t> pixels;  // input_size^2, gray levels 0..255 after preprocessing
};

// One material, featurized. A modality that is absent (or failed to load) is empty.
struct Example {
  std::string id;
  corpus::Split split = corpus::Split::kTrain;
  std::optional<materials::StructureGraph> graph;
  std::vector<int32_t> tokens;  // [CLS] + pieces, truncated; empty = no text
  std::vector<ExampleImage> images;
  std::map<std::string, double> properties;   // physical values, as in the record
  std::map<std::string, double> composition;  // element -> amount
  int defect = -1;  // index into model.heads.defect_classes; -1 = unlabelled

  bool has_target() const { return !properties.empty() || !composition.empty(); }
};

struct DatasetOptions {
  // Featurization threads; 0 = one per hardware thread. Default: 0.
  int threads = 0;
  // Print progress and problems to stderr. Default: true.
  bool verbose = true;
};

// Featurized records plus what was learned from the training split.
struct Dataset {
  std::string manifest_path;
  std::string data_hash;  // sha256 of the manifest file
  std::vector<Example> examples;
  encoders::PropertyNormalization normalization;
  // Per-modality problems (unreadable structure, image, ...): count and first messages.
  int problems = 0;
  std::vector<std::string> problem_samples;

  // Indices of the examples in `split`.
  std::vector<int> Indices(corpus::Split split) const;
};

// Reads the manifest at `manifest_path` (or DIR/manifest.jsonl for a directory) and the
// files it names, and featurizes every record for `config.model` with `tokenizer`. A
// modality that cannot be read is dropped from that record and reported (Dataset::problems);
// a manifest that cannot be read is an error. With train.complete_triplets_only, records
// lacking structure, text or a usable image are left out.
absl::StatusOr<Dataset> LoadDataset(const std::string& manifest_path, const TrainConfig& config,
                                    const text::Tokenizer& tokenizer,
                                    const DatasetOptions& options = {});

// The synthesis texts of the training split of a manifest, for training the tokenizer (empty
// when the split has none).
absl::StatusOr<std::vector<std::string>> TrainingTexts(const std::string& manifest_path,
                                                       int max_records);

// Texts for a tokenizer when the training data has no synthesis text (a structure- or
// image-only benchmark): one recipe-like sentence per element, so the vocabulary covers
// element symbols. The text encoder of such a model is never trained.
std::vector<std::string> PlaceholderTokenizerTexts();

// Resolves DIR -> DIR/manifest.jsonl; a file path is returned as is.
std::string ManifestPathFor(const std::string& data);

// A batch: rows are materials; each modality lists the rows that have it.
struct Batch {
  int64_t size = 0;
  torch::Tensor graph_rows;  // [G] int64
  encoders::GraphBatch graphs;
  torch::Tensor text_rows;  // [T] int64
  encoders::TextBatch texts;
  torch::Tensor image_rows;    // [V] int64
  torch::Tensor images;        // [V, 1, S, S]
  torch::Tensor image_is_sem;  // [V] bool
  torch::Tensor target_rows;   // [P] int64
  encoders::PropertyBatch targets;
  torch::Tensor head_values;  // [B, H] standardized head targets (0 where missing)
  torch::Tensor head_mask;    // [B, H] float
  torch::Tensor defect;       // [B] int64, -1 = none

  Batch To(const torch::Device& device) const;
};

struct BatchOptions {
  bool with_images = true;       // false during the curriculum's first phase
  bool drop_properties = false;  // random property masking (training)
  double property_keep_prob = 1.0;
  uint64_t seed = 0;  // image choice and property masking
};

// The model input of one stored image: [1, S, S] float, normalized for its kind.
torch::Tensor ImageTensor(const ExampleImage& image, const encoders::ModelConfig& model);

// Builds the batch of `rows` (indices into dataset.examples).
Batch MakeBatch(const Dataset& dataset, const TrainConfig& config, const std::vector<int>& rows,
                const BatchOptions& options);

// Produces a sequence of batches on a background thread, `prefetch` ahead of the consumer.
// Thread-safe for one producer (internal) and one consumer.
class BatchLoader {
 public:
  // `plan` lists the rows of every batch in order. `dataset` and `config` must outlive the
  // loader.
  BatchLoader(const Dataset& dataset, const TrainConfig& config, std::vector<std::vector<int>> plan,
              BatchOptions options, int prefetch);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch, or nullopt after the last. Adds the time spent waiting to wait_seconds.
  std::optional<Batch> Next();
  double wait_seconds() const { return wait_seconds_; }

 private:
  void Run();

  const Dataset& dataset_;
  const TrainConfig& config_;
  std::vector<std::vector<int>> plan_;
  BatchOptions options_;
  size_t prefetch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> ready_;  // guarded by mu_
  size_t consumed_ = 0;
  bool stop_ = false;  // guarded by mu_
  double wait_seconds_ = 0;
  std::thread thread_;
};

}  // namespace matalign::train

#endif  // MATALIGN_TRAIN_DATASET_H_
