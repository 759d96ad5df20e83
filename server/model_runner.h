// ModelRunner: one loaded model bundle serving embeddings and head predictions, with a
// dynamic batcher per encoder (server/batcher.h). Inputs are parsed and featurized on the
// caller's thread (CIF parsing, tokenization, image decoding run in parallel across RPCs);
// only the encoder forward passes are batched.
//
// This header does not include LibTorch: the server's gRPC code links it without paying
// for torch headers. A runner is immutable once loaded and shared (std::shared_ptr) by the
// requests that use it, so a hot reload can swap in a new runner while calls on the old one
// finish.
#ifndef MATALIGN_SERVER_MODEL_RUNNER_H_
#define MATALIGN_SERVER_MODEL_RUNNER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/batcher.h"

namespace matalign::server {

struct ModelRunnerOptions {
  // "auto" (CUDA when present), "cpu" or "cuda". Default: "auto".
  std::string device = "auto";
  // Intra-op threads of the forward passes; 0 = every core. Process-wide in LibTorch.
  // Default: 0.
  int threads = 0;
  // Batching of every encoder.
  BatcherOptions batching;

  absl::Status Validate() const;
};

// A structure file's text; format "cif" | "poscar" | "xyz" | "" (detect).
struct StructureText {
  std::string content;
  std::string format;
  std::string name;  // for error messages
};

// An image file's bytes; kind "sem" | "xrd".
struct ImageBytes {
  std::string data;
  std::string kind;
  std::string name;
};

// What a recommendation should achieve: named properties (physical units) and/or a
// composition (element -> amount).
struct TargetSpec {
  std::map<std::string, double> properties;
  std::map<std::string, double> composition;
};

struct DefectPrediction {
  std::string label;                            // the most probable class
  std::map<std::string, double> probabilities;  // every class, summing to 1
};

// Called exactly once with the result (on a batcher thread, or inline for bad input).
template <typename T>
using Done = std::function<void(absl::StatusOr<T>)>;
// Returns true when the call was cancelled (its work is skipped).
using Cancelled = std::function<bool()>;

class ModelRunner {
 public:
  // Loads and verifies the bundle at `bundle_dir` (encoders::LoadModelBundle). Errors:
  // those of the bundle loader (NotFound, DataLoss naming the file, FailedPrecondition),
  // InvalidArgument for bad options or device "cuda" without CUDA.
  static absl::StatusOr<std::shared_ptr<ModelRunner>> Load(const std::string& bundle_dir,
                                                           const ModelRunnerOptions& options);
  ~ModelRunner();
  ModelRunner(const ModelRunner&) = delete;
  ModelRunner& operator=(const ModelRunner&) = delete;

  // Embeddings: L2-normalized, embed_dim() floats. Bad input (unparsable structure, text
  // without tokens, undecodable image, unknown target property) is InvalidArgument naming
  // the input; a full queue ResourceExhausted; a passed deadline DeadlineExceeded.
  void EmbedStructure(const StructureText& input, absl::Time deadline, Cancelled cancelled,
                      Done<std::vector<float>> done) const;
  void EmbedText(const std::string& text, absl::Time deadline, Cancelled cancelled,
                 Done<std::vector<float>> done) const;
  void EmbedImage(const ImageBytes& input, absl::Time deadline, Cancelled cancelled,
                  Done<std::vector<float>> done) const;
  // The property encoder's vector for `target` (searches synthesis texts).
  void EmbedTarget(const TargetSpec& target, absl::Time deadline, Cancelled cancelled,
                   Done<std::vector<float>> done) const;
  // Property head on the structure embedding, physical units. FailedPrecondition if the
  // bundle has no property head.
  void PredictProperties(const StructureText& input, absl::Time deadline, Cancelled cancelled,
                         Done<std::map<std::string, double>> done) const;
  // Defect classifier on the image embedding. FailedPrecondition without a classifier.
  void ClassifyDefect(const ImageBytes& input, absl::Time deadline, Cancelled cancelled,
                      Done<DefectPrediction> done) const;

  // Blocking forms of the above; `cancelled` may be empty (never cancelled).
  absl::StatusOr<std::vector<float>> EmbedStructure(const StructureText& input,
                                                    absl::Time deadline = absl::InfiniteFuture(),
                                                    Cancelled cancelled = nullptr) const;
  absl::StatusOr<std::vector<float>> EmbedText(const std::string& text,
                                               absl::Time deadline = absl::InfiniteFuture(),
                                               Cancelled cancelled = nullptr) const;
  absl::StatusOr<std::vector<float>> EmbedImage(const ImageBytes& input,
                                                absl::Time deadline = absl::InfiniteFuture(),
                                                Cancelled cancelled = nullptr) const;
  absl::StatusOr<std::vector<float>> EmbedTarget(const TargetSpec& target,
                                                 absl::Time deadline = absl::InfiniteFuture(),
                                                 Cancelled cancelled = nullptr) const;
  absl::StatusOr<std::map<std::string, double>> PredictProperties(
      const StructureText& input, absl::Time deadline = absl::InfiniteFuture(),
      Cancelled cancelled = nullptr) const;
  absl::StatusOr<DefectPrediction> ClassifyDefect(const ImageBytes& input,
                                                  absl::Time deadline = absl::InfiniteFuture(),
                                                  Cancelled cancelled = nullptr) const;

  const std::string& version() const;
  const std::string& dir() const;
  const nlohmann::json& manifest() const;
  int embed_dim() const;
  // "cpu" or "cuda:0".
  std::string device() const;
  // Names accepted in TargetSpec::properties.
  const std::vector<std::string>& target_properties() const;
  // What PredictProperties returns and the classes of ClassifyDefect (empty without heads).
  const std::vector<std::string>& predicted_properties() const;
  const std::vector<std::string>& defect_classes() const;
  // Batcher counters by encoder: "structure", "text", "image", "property".
  std::vector<std::pair<std::string, BatcherStats>> batcher_stats() const;

  // Stops accepting work and finishes what is queued (also done by the destructor).
  void Shutdown();

 private:
  struct Impl;
  explicit ModelRunner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace matalign::server

#endif  // MATALIGN_SERVER_MODEL_RUNNER_H_
